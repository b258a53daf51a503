/* SPDX-License-Identifier: MIT */
#include "exithook.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

static const int fatal_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGQUIT};

static void ctx_releasep(scmp_filter_ctx *c)
{
    if (*c)
        seccomp_release(*c);
}

#ifdef EXITHOOK_ARCH
/* The low 32 bits of a syscall argument (an int: a status, a signal). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

/* A block that traps the call when the int argument at `off` is one of the
 * fatal signals: ld; jeq sig -> notify ...; ret allow; ret notify. */
static size_t signal_block(struct sock_filter *f, size_t n, unsigned off)
{
    size_t nsig = ARRAY_SIZE(fatal_signals);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off);
    for (size_t i = 0; i < nsig; i++)
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)fatal_signals[i],
                                               (unsigned char)(nsig - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    return n;
}

size_t exithook_filter_build(struct sock_filter *f, const int *clean, size_t nclean)
{
    size_t nsig = ARRAY_SIZE(fatal_signals);
    if (nclean > EXITHOOK_MAX_CLEAN)
        nclean = 0; /* every exit_group trapped: correct, only slower */
    enum { HEAD = 8 };
    size_t exit_at = HEAD, sig1_at = exit_at + 3 + nclean + 1, sig2_at = sig1_at + nsig + 3;
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EXITHOOK_ARCH, 0, HEAD - 1 - 2);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, (unsigned char)(exit_at - 4), 0);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kill, (unsigned char)(sig1_at - 5), 0);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tkill, (unsigned char)(sig1_at - 6), 0);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, (unsigned char)(sig2_at - 7), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    /* exit_group: a status the policy calls clean goes on in the kernel,
     * with no round trip to crashbox (status & 0xff, as wait(2) sees it). */
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
    f[n++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff);
    for (size_t i = 0; i < nclean; i++)
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)clean[i] & 0xff,
                                               (unsigned char)(nclean - i), 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    n = signal_block(f, n, ARG_LO(1)); /* kill(pid, sig), tkill(tid, sig) */
    n = signal_block(f, n, ARG_LO(2)); /* tgkill(tgid, tid, sig) */
    return n;
}
#endif

int exithook_compile(struct exithook_prog *prog, bool notify, const struct strlist *deny, bool deny_kill,
                     const struct intlist *clean)
{
    *prog = (struct exithook_prog){0};
#ifdef EXITHOOK_ARCH
    /* The usual case, the exit hook alone: a fixed program, without
     * libseccomp probing the kernel at every start. */
    if (notify && (!deny || deny->n == 0)) {
        size_t ncodes = clean && clean->n <= EXITHOOK_MAX_CLEAN ? clean->n : 0;
        prog->filter = malloc(EXITHOOK_FILTER_MAX * sizeof *prog->filter);
        if (!prog->filter)
            return -ENOMEM;
        prog->len = (unsigned short)exithook_filter_build(prog->filter, ncodes ? clean->v : NULL, ncodes);
        prog->listener = true;
        return 0;
    }
#else
    (void)clean;
#endif
    __attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    int r = 0;
    for (size_t i = 0; deny && r == 0 && i < deny->n; i++) {
        int nr = seccomp_syscall_resolve_name(deny->items[i]);
        if (nr == __NR_SCMP_ERROR)
            return -EINVAL;
        r = seccomp_rule_add(ctx, deny_kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    if (r == 0 && notify)
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(exit_group), 0);
    for (size_t i = 0; notify && r == 0 && i < ARRAY_SIZE(fatal_signals); i++) {
        scmp_datum_t sig = (scmp_datum_t)fatal_signals[i];
        r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(kill), 1, SCMP_A1(SCMP_CMP_EQ, sig));
        if (!r)
            r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(tkill), 1, SCMP_A1(SCMP_CMP_EQ, sig));
        if (!r)
            r = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(tgkill), 1, SCMP_A2(SCMP_CMP_EQ, sig));
    }
    if (r < 0)
        return r;
    /* libseccomp 2.5 exports BPF only to an fd: a memfd keeps it in memory. */
    _cleanup_close_ int mfd = memfd_create("crashbox-exithook", MFD_CLOEXEC);
    if (mfd < 0)
        return -errno;
    r = seccomp_export_bpf(ctx, mfd);
    if (r < 0)
        return r;
    struct stat st;
    if (fstat(mfd, &st) < 0)
        return -errno;
    if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
        st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    prog->filter = malloc((size_t)st.st_size);
    if (!prog->filter)
        return -ENOMEM;
    if (pread(mfd, prog->filter, (size_t)st.st_size, 0) != st.st_size) {
        exithook_prog_free(prog);
        return -EIO;
    }
    prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    prog->listener = notify;
    prog->denies = deny && deny->n;
    return 0;
}

void exithook_prog_free(struct exithook_prog *prog)
{
    free(prog->filter);
    *prog = (struct exithook_prog){0};
}

int exithook_send(int sock, const void *buf, size_t len, int listener)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (listener >= 0) {
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof cbuf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &listener, sizeof listener);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int exithook_install(const struct exithook_prog *prog, int *listener)
{
    *listener = -1;
    struct sock_fprog fprog = {.len = prog->len, .filter = prog->filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                      prog->listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &fprog);
    if (fd < 0)
        return -errno;
    if (prog->listener)
        *listener = (int)fd;
    return 0;
}

ssize_t exithook_receive(int sock, void *buf, size_t len, int *listener)
{
    *listener = -1;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(listener, CMSG_DATA(cm), sizeof *listener);
    return n;
}

enum exithook_event exithook_classify(const struct exithook_call *c, pid_t service,
                                      bool caller_is_service, bool target_is_service_thread,
                                      int *code_or_signal)
{
    if (!caller_is_service || !c->native)
        return EXITHOOK_OTHER;
    switch (c->nr) {
    case SYS_exit_group:
        *code_or_signal = (int)c->args[0] & 0xff;
        return EXITHOOK_EXIT;
    case SYS_kill: {
        pid_t target = (pid_t)c->args[0];
        *code_or_signal = (int)c->args[1];
        /* itself, its own process group (0 or -service) */
        return target == service || target == 0 || target == -service || target_is_service_thread
                   ? EXITHOOK_SIGNAL
                   : EXITHOOK_OTHER;
    }
    case SYS_tkill:
        *code_or_signal = (int)c->args[1];
        return target_is_service_thread ? EXITHOOK_SIGNAL : EXITHOOK_OTHER;
    case SYS_tgkill:
        *code_or_signal = (int)c->args[2];
        return (pid_t)c->args[0] == service ? EXITHOOK_SIGNAL : EXITHOOK_OTHER;
    default:
        return EXITHOOK_OTHER;
    }
}

int exithook_buffers_alloc(struct exithook_buffers *b)
{
    *b = (struct exithook_buffers){0};
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    /* The larger of the kernel's size and ours. */
    b->req_size = sizes.seccomp_notif > sizeof *b->req ? sizes.seccomp_notif : sizeof *b->req;
    b->resp_size = sizes.seccomp_notif_resp > sizeof *b->resp ? sizes.seccomp_notif_resp : sizeof *b->resp;
    b->req = calloc(1, b->req_size);
    b->resp = calloc(1, b->resp_size);
    if (!b->req || !b->resp) {
        exithook_buffers_free(b);
        return -ENOMEM;
    }
    return 0;
}

void exithook_buffers_free(struct exithook_buffers *b)
{
    free(b->req);
    free(b->resp);
    *b = (struct exithook_buffers){0};
}

static bool is_native(uint32_t arch)
{
#ifdef EXITHOOK_ARCH
    return arch == EXITHOOK_ARCH;
#else
    return arch == seccomp_arch_native();
#endif
}

int exithook_recv(int fd, struct exithook_buffers *b, struct exithook_call *c)
{
    if (!b->req)
        return -ENOMEM;
    memset(b->req, 0, b->req_size); /* the kernel refuses a buffer that is not zeroed */
    /* Raw ioctls, not libseccomp's wrappers: those probe the kernel's
     * seccomp API at their first use, a dozen syscalls at every start. */
    int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, b->req) < 0 ? -errno : 0;
    if (r == 0) {
        *c = (struct exithook_call){
            .id = b->req->id,
            .tid = (pid_t)b->req->pid,
            .nr = b->req->data.nr,
            .native = is_native(b->req->data.arch),
        };
        memcpy(c->args, b->req->data.args, sizeof c->args);
    }
    return r;
}

bool exithook_still_valid(int fd, uint64_t id) { return ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

int exithook_continue(int fd, struct exithook_buffers *b, uint64_t id)
{
    if (!b->resp)
        return -ENOMEM;
    memset(b->resp, 0, b->resp_size);
    b->resp->id = id;
    b->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    return ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, b->resp) < 0 ? -errno : 0;
}
