/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

/* What the child reports on its socket, {stage, errno, step}: the exit
 * hook's listener (attached) or why there is none, and why it stopped
 * before running the command. Its end closing at execve says it runs. */
enum { SPAWN_STAGE_EXEC = 1, SPAWN_STAGE_SANDBOX = 2, SPAWN_STAGE_HOOK = 3, SPAWN_STAGE_FILES = 4 };

/* LISTEN_PID=<pid>, with no library call: it runs in the forked child. */
static void format_listen_pid(char *buf, pid_t pid)
{
    static const char prefix[] = "LISTEN_PID=";
    char digits[16];
    size_t n = 0;
    unsigned long v = (unsigned long)pid;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < sizeof digits);
    size_t at = sizeof prefix - 1;
    memcpy(buf, prefix, at);
    while (n && at < SPAWN_LISTEN_PID_SIZE - 1)
        buf[at++] = digits[--n];
    buf[at] = '\0';
}

/* The child's end when the command did not run: exit, not exit_group,
 * which the exit hook traps: crashbox, waiting for this child to exec or
 * end, could not answer. */
static _noreturn_ void child_exit(int code)
{
    for (;;)
        syscall(SYS_exit, code);
}

/* How the child says how its start went. Forked, or with a deny list to
 * install last: on a socket, {stage, errno, step} messages with the
 * listener attached, its end closing at the execve. Otherwise, sharing
 * crashbox's memory and, until the filter is in, its fd table
 * (CLONE_FILES): fields crashbox reads once clone returns, the listener
 * already in crashbox's table (no socket to make, send on and read). */
struct child_report {
    int sock;     /* -1: the fields */
    bool files;   /* the fd table is crashbox's until the child unshares it */
    int listener; /* the exit hook's, or -1 */
    int hook_err; /* why there is none (the hook wanted) */
    int stage;    /* SPAWN_STAGE_*: why the command did not run, 0 if it did */
    int err, step;
};

static void report_failure(struct child_report *rep, int stage, int err, int step)
{
    if (rep->sock < 0) {
        rep->stage = stage;
        rep->err = err;
        rep->step = step;
        return;
    }
    int msg[3] = {stage, err, step};
    (void)write(rep->sock, msg, sizeof msg);
}

/* The exit hook's filter (with the deny list, if any), then the listener
 * handed over. A deny list that cannot be installed stops the start: a
 * sandbox failure, with or without the exit hook in the same filter;
 * without a listener the service runs on, its capture post-mortem. */
static void install_hook(const struct spawn_request *req, struct child_report *rep)
{
    int listener = -1;
    int err = exithook_install(req->exit_hook, &listener);
    if (err < 0 && (!req->exit_hook->listener || req->exit_hook->denies)) {
        report_failure(rep, SPAWN_STAGE_SANDBOX, -err, SANDBOX_STEP_SECCOMP);
        child_exit(127);
    }
    if (!req->exit_hook->listener)
        return;
    if (rep->sock < 0) {
        rep->listener = listener; /* in crashbox's table: the child's copy goes at the execve */
        rep->hook_err = -err;
        return;
    }
    int msg[3] = {SPAWN_STAGE_HOOK, -err, 0};
    (void)exithook_send(rep->sock, msg, sizeof msg, listener);
    if (listener >= 0)
        close(listener);
}

/* Runs in the child: only async-signal-safe calls, and (sharing crashbox's
 * memory until execve) none that changes crashbox's state. Never returns. */
static _noreturn_ void child_exec(const struct spawn_request *req, pid_t parent, struct child_report *rep)
{
    int err;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) {
        /* The supervisor is already gone: do not start an orphan. */
        child_exit(EXIT_FAILURE);
    }
    if (rep->files) {
        /* The filter first, its listener landing in crashbox's table; then
         * a table of the child's own for what follows. Under this filter
         * (no deny list) only exit_group and the kill calls are watched,
         * none of which the child makes. */
        install_hook(req, rep);
        if (unshare(CLONE_FILES) < 0) {
            /* Refused after the probe allowed it (a filter on its flags):
             * crashbox starts the command again the other way. */
            report_failure(rep, SPAWN_STAGE_FILES, errno, 0);
            child_exit(127);
        }
    }
    if (setpgid(0, 0) < 0)
        goto fail;
    /* SIGTTOU is still blocked here, so a background caller may do this. */
    if (req->terminal_fd >= 0)
        (void)tcsetpgrp(req->terminal_fd, getpid());
    if (req->stderr_fd >= 0 && req->stderr_fd != STDERR_FILENO && dup2(req->stderr_fd, STDERR_FILENO) < 0)
        goto fail;
    for (int i = 0; i < 2; i++)
        if (req->shim_fds[i] >= 0 && fcntl(req->shim_fds[i], F_SETFD, 0) < 0)
            goto fail;
    if (req->listen_pid)
        format_listen_pid(req->listen_pid, getpid());
    signals_reset_for_exec();
    /* crashbox protects itself from the OOM killer; the service must not
     * inherit that: it gets the value crashbox started with. */
    if (req->oom_score_adj) {
        int ofd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (ofd >= 0) {
            (void)write(ofd, req->oom_score_adj, strlen(req->oom_score_adj));
            close(ofd);
        }
    }
    /* The sandbox in its fixed order, then seccomp last: from here on
     * exit_group is watched. A sandbox failure stops the start. */
    int step = 0;
    err = sandbox_apply(req->sandbox, &step);
    if (err < 0) {
        report_failure(rep, SPAWN_STAGE_SANDBOX, -err, step);
        child_exit(127);
    }
    if (req->exit_hook && !rep->files)
        install_hook(req, rep);
    /* No fd is closed here: crashbox's own are all close-on-exec, and what
     * crashbox inherited (a caller's fd 3, socket activation's listeners)
     * belongs to the service, as under any init. */
    execvpe(req->argv[0], req->argv, req->envp);
fail:
    report_failure(rep, SPAWN_STAGE_EXEC, errno, 0);
    child_exit(127);
}

struct child_args {
    const struct spawn_request *req;
    pid_t parent;
    struct child_report *rep;
};

static int child_main(void *arg)
{
    const struct child_args *a = arg;
    child_exec(a->req, a->parent, a->rep);
}

/* The child's stack for a command line up to some 8,000 arguments. */
#define CHILD_STACK_IN_FRAME (128 << 10)

/* The child, as posix_spawn starts one: in crashbox's memory, crashbox
 * waiting until its execve (CLONE_VM | CLONE_VFORK). A fork would copy the
 * page tables and mark every page crashbox wrote copy-on-write, each of
 * them a fault at crashbox's next write (0.1 to 0.2 ms a start, measured).
 * Forked instead: a child with a sandbox to apply, as glibc's set*id calls
 * signal every thread of the process they run in (which a child sharing
 * crashbox's memory would take for its own) and a change of credentials
 * may mark the memory it is in not dumpable; and under ASan, which would
 * keep the child's stack poisoning. */
/* Whether the child shares crashbox's memory (see start_child). */
static bool child_shares_memory(const struct spawn_request *req)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)req;
    return false;
#else
    return !(req->sandbox && req->sandbox->active);
#endif
}

static pid_t start_child(const struct spawn_request *req, pid_t parent, struct child_report *rep)
{
    if (!child_shares_memory(req)) {
        pid_t pid = fork();
        if (pid == 0)
            child_exec(req, parent, rep);
        /* Both sides set the group, so neither a signal nor tcsetpgrp
         * races it (a child sharing crashbox's memory set it before
         * crashbox goes on). */
        if (pid > 0)
            (void)setpgid(pid, pid);
        return pid;
    }
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (rep->files ? CLONE_FILES : 0);
    /* Its own stack: execvpe may copy argv onto it (a script). */
    size_t argc = 0;
    while (req->argv[argc])
        argc++;
    size_t size = ((argc + 8) * sizeof(char *) + (64 << 10) + 4095) & ~(size_t)4095;
    struct child_args a = {.req = req, .parent = parent, .rep = rep};
    if (size <= CHILD_STACK_IN_FRAME) {
        /* In this frame: crashbox sleeps in clone until the child's execve,
         * and no handler can run on its stack meanwhile (every signal but
         * the synchronous ones is blocked). An mmap'd one cost a map and an
         * unmap, the unmap a TLB shootdown on the CPU the child ran on. */
        char stack[CHILD_STACK_IN_FRAME] __attribute__((aligned(16)));
        return clone(child_main, stack + sizeof stack, flags, &a);
    }
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -1;
    pid_t pid = clone(child_main, (char *)stack + size, flags, &a);
    int saved = errno;
    munmap(stack, size);
    errno = saved;
    return pid;
}

/* The child's report, from the socket: the listener, then why the command
 * did not run if it did not (into rep's fields). */
static void read_report(int sock, struct child_report *rep)
{
    int msg[3] = {0, 0, 0};
    for (;;) {
        int fd;
        ssize_t n = exithook_receive(sock, msg, sizeof msg, &fd);
        if (n == (ssize_t)sizeof msg && msg[0] == SPAWN_STAGE_HOOK) {
            if (fd >= 0)
                rep->listener = fd;
            else
                rep->hook_err = msg[1] ? msg[1] : EIO;
            continue;
        }
        if (fd >= 0)
            close(fd);
        if (n == (ssize_t)sizeof msg) {
            rep->stage = msg[0];
            rep->err = msg[1];
            rep->step = msg[2];
        }
        return; /* the end of the socket (execve), or why the command did not run */
    }
}

/* Whether the child may unshare the fd table it shares with crashbox: a
 * seccomp profile may refuse unshare(2) (Docker's does, without
 * CAP_SYS_ADMIN). unshare(0) asks without changing anything. */
static bool unshare_allowed(void)
{
    static int allowed = -1;
    if (allowed < 0)
        allowed = syscall(SYS_unshare, 0) == 0;
    return allowed;
}

static int spawn_once(const struct spawn_request *req, struct spawn_result *res, bool files_ok);

int spawn_service(const struct spawn_request *req, struct spawn_result *res)
{
    return spawn_once(req, res, unshare_allowed());
}

static int spawn_once(const struct spawn_request *req, struct spawn_result *res, bool files_ok)
{
    *res = (struct spawn_result){.pid = -1, .notify_fd = -1};
    struct child_report rep = {.sock = -1, .listener = -1};
    bool hook_only = req->exit_hook && req->exit_hook->listener && !req->exit_hook->denies;
    bool fields = child_shares_memory(req) && (!req->exit_hook || (hook_only && files_ok));
    rep.files = fields && req->exit_hook;
    /* Otherwise one channel for the listener and the failures: a packet
     * socket keeps each report whole, passes the listener, and ends at the
     * execve. */
    int sv[2] = {-1, -1};
    if (!fields && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    rep.sock = sv[1];
    pid_t pid = start_child(req, getpid(), &rep);
    int saved = errno;
    if (sv[1] >= 0)
        close(sv[1]);
    if (pid < 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        return -saved;
    }
    res->pid = pid;
    if (sv[0] >= 0) {
        read_report(sv[0], &rep);
        close(sv[0]);
    }
    res->notify_fd = rep.listener;
    res->hook_errno = rep.hook_err;
    if (req->exit_hook && req->exit_hook->listener && res->notify_fd < 0 && !res->hook_errno)
        res->hook_errno = ENOMSG;
    if (rep.stage == SPAWN_STAGE_FILES) {
        closep(&res->notify_fd);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        return spawn_once(req, res, false);
    }
    if (rep.stage) {
        if (rep.stage == SPAWN_STAGE_SANDBOX) {
            res->sandbox_errno = rep.err ? rep.err : EIO;
            res->sandbox_step = rep.step;
        } else {
            res->exec_errno = rep.err ? rep.err : EIO;
        }
        /* Closing the listener lets the child's exit_group through. */
        closep(&res->notify_fd);
        res->notify_fd = -1;
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    return 0;
}
