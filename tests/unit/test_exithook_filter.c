/* SPDX-License-Identifier: MIT */
/* The fixed exit-hook filter in the real kernel: a clean exit status goes
 * on without a round trip, any other is trapped, as is a fatal signal. */
#include <criterion/criterion.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exithook.h"
#include "util.h"

/* A child under the filter (clean codes 0 and 7) that does `what`; the
 * listener comes back over a socket. */
static pid_t child_under_filter(void (*what)(void), int *listener)
{
    struct exithook_prog p;
    struct intlist clean = {.v = (int[]){0, 7}, .n = 2};
    cr_assert_eq(exithook_compile(&p, true, NULL, false, &clean), 0);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int fd, err = exithook_install(&p, &fd);
        if (err < 0 || exithook_send(sv[1], &err, sizeof err, fd) < 0)
            _exit(99);
        close(fd);
        what();
        _exit(98);
    }
    close(sv[1]);
    int err = -1;
    cr_assert_eq(exithook_receive(sv[0], &err, sizeof err, listener), (ssize_t)sizeof err);
    cr_assert_geq(*listener, 0, "no listener: %d", err);
    close(sv[0]);
    exithook_prog_free(&p);
    return pid;
}

/* Whether the child ends within ms with nobody answering the listener. */
static bool ends_unaided(pid_t pid, int ms, int *status)
{
    for (int i = 0; i < ms / 10; i++) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return true;
        usleep(10000);
    }
    return false;
}

static void exit_0(void) { syscall(SYS_exit_group, 0); }
static void exit_7(void) { syscall(SYS_exit_group, 7 + 256); /* the status is the low byte */ }
static void exit_3(void) { syscall(SYS_exit_group, 3); }
static void abort_self(void) { syscall(SYS_tgkill, getpid(), getpid(), SIGABRT); }

static void check_trapped(pid_t pid, int fd, int nr, int want_status)
{
    int st;
    cr_assert_not(ends_unaided(pid, 300, &st), "the call must wait for crashbox");
    struct exithook_buffers b;
    cr_assert_eq(exithook_buffers_alloc(&b), 0);
    struct exithook_call c;
    cr_assert_eq(exithook_recv(fd, &b, &c), 0);
    cr_assert_eq(c.nr, nr);
    cr_assert(c.native);
    cr_assert_eq(exithook_continue(fd, &b, c.id), 0);
    exithook_buffers_free(&b);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_eq(st, want_status, "status %#x", st);
}

Test(exithook_filter, a_clean_exit_goes_on_in_the_kernel)
{
    int fd, st;
    pid_t pid = child_under_filter(exit_0, &fd);
    cr_assert(ends_unaided(pid, 5000, &st));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd);
    pid = child_under_filter(exit_7, &fd);
    cr_assert(ends_unaided(pid, 5000, &st));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    close(fd);
}

Test(exithook_filter, another_exit_and_a_fatal_signal_are_trapped)
{
    int fd;
    pid_t pid = child_under_filter(exit_3, &fd);
    check_trapped(pid, fd, SYS_exit_group, 3 << 8);
    close(fd);
    pid = child_under_filter(abort_self, &fd);
    check_trapped(pid, fd, SYS_tgkill, SIGABRT);
    close(fd);
}

#ifdef EXITHOOK_ARCH
/* What the kernel's seccomp action cache does at install time
 * (seccomp_is_const_allow): runs the program knowing only the architecture
 * and the syscall number. Returns the action, or -1 where the path loads
 * anything else (an argument): then the program runs at every such call. */
static long const_action(const struct sock_filter *f, size_t len, uint32_t nr)
{
    uint32_t a = 0;
    for (size_t pc = 0; pc < len; pc++) {
        const struct sock_filter *i = &f[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (i->k == offsetof(struct seccomp_data, nr))
                a = nr;
            else if (i->k == offsetof(struct seccomp_data, arch))
                a = EXITHOOK_ARCH;
            else
                return -1;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == i->k ? i->jt : i->jf;
            break;
        case BPF_JMP | BPF_JA:
            pc += i->k;
            break;
        case BPF_RET | BPF_K:
            return i->k;
        default:
            return -1;
        }
    }
    return -1;
}

Test(exithook_filter, every_call_but_the_trapped_ones_is_allowed_from_the_kernels_cache)
{
    struct sock_filter f[EXITHOOK_FILTER_MAX];
    size_t len = exithook_filter_build(f, (int[]){0, 7}, 2);
    for (uint32_t nr = 0; nr < 1024; nr++) {
        bool trapped = nr == SYS_exit_group || nr == SYS_kill || nr == SYS_tkill || nr == SYS_tgkill;
        long act = const_action(f, len, nr);
        if (trapped)
            cr_assert_eq(act, -1, "nr %u: its argument decides", nr);
        else
            cr_assert_eq(act, SECCOMP_RET_ALLOW, "nr %u: %ld (the program would run at every call)", nr, act);
    }
}
#endif
