/* SPDX-License-Identifier: MIT */
#include "selfsandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "proccaps.h"
#include "util.h"

/* What supervising, capturing and writing bundles use. */
static const char *const allowed_syscalls[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "openat", "open", "close", "close_range",
    "fstat", "newfstatat", "stat", "lstat", "statx", "fstatfs", "statfs", "lseek", "getdents64",
    "readlink", "readlinkat", "access", "faccessat", "faccessat2", "fcntl", "flock", "dup", "dup2",
    "dup3", "pipe2", "eventfd2", "signalfd4", "timerfd_create", "timerfd_settime", "poll", "ppoll", "select", "pselect6", "epoll_wait",
    "ioctl", "wait4", "waitid", "kill", "tgkill", "tkill", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "tee", "splice", "mkdir", "mkdirat", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "fsync", "fdatasync", "ftruncate", "fchmod", "fchown", "fchownat",
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "futex", "set_robust_list",
    "get_robust_list", "rseq", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime",
    "gettimeofday", "time", "getrandom", "uname", "getpid", "getppid", "gettid", "getuid",
    "geteuid", "getgid", "getegid", "getpgrp", "getpgid", "setpgid", "prctl", "sendmsg", "recvmsg",
    "sendto", "recvfrom",
    "exit", "exit_group", "restart_syscall", "sysinfo", "getrusage", "prlimit64", "getrlimit",
    "sched_getaffinity", "clone", "clone3", "set_tid_address", "membarrier",
    /* libseccomp's notification calls (filters can only ever narrow) */
    "seccomp",
};

/* Without CAP_SYS_PTRACE, the kernel lets crashbox attach to the service
 * (the core dump) and read its /proc/PID/maps, smaps, environ and mem only
 * while crashbox's own permitted and effective sets hold every capability
 * of the service's permitted set (cap_ptrace_access_check). A root service
 * in a container with Docker's default capabilities is that case: crashbox
 * keeps what the service may hold, never more than it had; the seccomp
 * allowlist still denies the calls those capabilities serve. */
static uint64_t caps_to_reach(pid_t service)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) == 0 && d[0].effective & 1U << CAP_SYS_PTRACE)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)service);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    uint64_t caps;
    if (read_file_at(AT_FDCWD, path, 1 << 16, &buf, &len) < 0 || proc_status_caps(buf, len, &caps) < 0)
        return 0; /* the service is gone: nothing left to reach */
    return caps;
}

/* Crashbox may lack CAP_SETPCAP (an unprivileged run): it keeps what it
 * cannot drop from the bounding set, and narrows what it holds. */
static int drop_capabilities(uint64_t keep, pid_t service)
{
    keep |= caps_to_reach(service);
    int r = caps_drop_bounding(keep, true);
    return r < 0 ? r : caps_set(keep, true);
}

static void ctx_releasep(scmp_filter_ctx *c)
{
    if (*c)
        seccomp_release(*c);
}

/* What [core] dump adds: attaching the service's threads. */
static const char *const core_syscalls[] = {"ptrace"};

int self_sandbox_apply(const struct policy *p, pid_t service, bool will_spawn_again, char *what, size_t whatlen)
{
    /* Signals to a service of another uid, /proc/PID of another uid, bundle
     * files' group and mode, and oom_score_adj. */
    uint64_t keep = 1ULL << CAP_KILL | 1ULL << CAP_SYS_PTRACE | 1ULL << CAP_DAC_OVERRIDE |
                    1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_CHOWN | 1ULL << CAP_FOWNER |
                    1ULL << CAP_SYS_RESOURCE;
    if (will_spawn_again) /* the next service start applies the sandbox again */
        keep |= 1ULL << CAP_SETUID | 1ULL << CAP_SETGID | 1ULL << CAP_SETPCAP;
    int r = drop_capabilities(keep, service);
    if (r < 0) {
        snprintf(what, whatlen, "dropping capabilities");
        return r;
    }
    if (will_spawn_again) {
        snprintf(what, whatlen, "capabilities dropped; no seccomp filter, as another process will be started");
        return 0;
    }
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer stops the world with ptrace at exit: no filter there. */
    snprintf(what, whatlen, "capabilities dropped; no seccomp filter in a sanitizer build");
    return 0;
#endif
    /* Deny with EPERM, never kill: a call missing from the list degrades a
     * capture, it must not take the supervisor (and the service) down. */
    __attribute__((cleanup(ctx_releasep))) scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        snprintf(what, whatlen, "seccomp_init");
        return -ENOMEM;
    }
    for (size_t i = 0; i < ARRAY_SIZE(allowed_syscalls); i++) {
        int nr = seccomp_syscall_resolve_name(allowed_syscalls[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r < 0 && r != -EEXIST) {
            snprintf(what, whatlen, "seccomp rule for %s", allowed_syscalls[i]);
            return r;
        }
    }
    for (size_t i = 0; p->core_dump && i < ARRAY_SIZE(core_syscalls); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(core_syscalls[i]), 0);
        if (r < 0 && r != -EEXIST) {
            snprintf(what, whatlen, "seccomp rule for %s", core_syscalls[i]);
            return r;
        }
    }
    /* Every thread (the stderr relay too), and no new privileges. */
    if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
        (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0 || (r = seccomp_load(ctx)) < 0) {
        snprintf(what, whatlen, "loading the seccomp filter");
        return r;
    }
    snprintf(what, whatlen, "capabilities dropped and a seccomp allowlist installed");
    return 0;
}
