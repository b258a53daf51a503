/* SPDX-License-Identifier: MIT */
#include "selfsandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "allowlist.h"
#include "caps.h"
#include "cgmount.h"
#include "exithook.h"
#include "proccaps.h"
#include "util.h"

/* What supervising, capturing and writing bundles use, by number: a call
 * this architecture lacks (the legacy ones on arm64) is left out when
 * building. seccomp: the exit hook's notification calls (filters only
 * narrow). */
static const int allowed_syscalls[] = {
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_openat, SYS_close, SYS_fstat,
    SYS_lseek, SYS_getdents64, SYS_readlinkat, SYS_faccessat, SYS_fcntl, SYS_flock, SYS_dup, SYS_dup3,
    SYS_pipe2, SYS_eventfd2, SYS_signalfd4, SYS_timerfd_create, SYS_timerfd_settime, SYS_ppoll, SYS_pselect6,
    SYS_ioctl, SYS_wait4, SYS_waitid, SYS_kill, SYS_tgkill, SYS_tkill, SYS_rt_sigaction, SYS_rt_sigprocmask,
    SYS_rt_sigreturn, SYS_rt_sigtimedwait, SYS_sigaltstack, SYS_tee, SYS_splice, SYS_mkdirat, SYS_unlinkat,
    SYS_renameat2, SYS_fsync, SYS_fdatasync, SYS_ftruncate, SYS_fchmod, SYS_fchown, SYS_fchownat, SYS_mmap,
    SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise, SYS_brk, SYS_futex, SYS_set_robust_list,
    SYS_get_robust_list, SYS_sched_yield, SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime,
    SYS_gettimeofday, SYS_getrandom, SYS_uname, SYS_getpid, SYS_getppid, SYS_gettid, SYS_getuid, SYS_geteuid,
    SYS_getgid, SYS_getegid, SYS_getpgid, SYS_setpgid, SYS_prctl, SYS_sendmsg, SYS_recvmsg, SYS_exit,
    SYS_exit_group, SYS_restart_syscall, SYS_sysinfo, SYS_getrusage, SYS_prlimit64, SYS_sched_getaffinity,
    SYS_clone, SYS_set_tid_address, SYS_seccomp,
#ifdef SYS_open
    SYS_open,
#endif
#ifdef SYS_close_range
    SYS_close_range,
#endif
#ifdef SYS_newfstatat
    SYS_newfstatat,
#endif
#ifdef SYS_stat
    SYS_stat,
#endif
#ifdef SYS_lstat
    SYS_lstat,
#endif
#ifdef SYS_statx
    SYS_statx,
#endif
#ifdef SYS_statmount
    SYS_statmount, /* where the memory cgroup is, at a crash (cgmount.h) */
#endif
#ifdef SYS_fstatfs
    SYS_fstatfs,
#endif
#ifdef SYS_statfs
    SYS_statfs,
#endif
#ifdef SYS_readlink
    SYS_readlink,
#endif
#ifdef SYS_access
    SYS_access,
#endif
#ifdef SYS_faccessat2
    SYS_faccessat2,
#endif
#ifdef SYS_dup2
    SYS_dup2,
#endif
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_select
    SYS_select,
#endif
#ifdef SYS_epoll_wait
    SYS_epoll_wait,
#endif
#ifdef SYS_mkdir
    SYS_mkdir,
#endif
#ifdef SYS_unlink
    SYS_unlink,
#endif
#ifdef SYS_rename
    SYS_rename,
#endif
#ifdef SYS_rseq
    SYS_rseq,
#endif
#ifdef SYS_time
    SYS_time,
#endif
#ifdef SYS_getpgrp
    SYS_getpgrp,
#endif
#ifdef SYS_sendto
    SYS_sendto,
#endif
#ifdef SYS_recvfrom
    SYS_recvfrom,
#endif
#ifdef SYS_getrlimit
    SYS_getrlimit,
#endif
#ifdef SYS_clone3
    SYS_clone3,
#endif
#ifdef SYS_membarrier
    SYS_membarrier,
#endif
#ifdef SYS_renameat
    SYS_renameat,
#endif
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
static int drop_capabilities(uint64_t keep, uint64_t bounding, pid_t service)
{
    keep |= caps_to_reach(service);
    int r = caps_drop_bounding(keep, bounding, true);
    return r < 0 ? r : caps_set(keep, true);
}

/* What [core] dump adds: attaching the service's threads. */
static const int core_syscalls[] = {SYS_ptrace};

/* The allowlist as a fixed program, a search tree over the numbers (see
 * allowlist.h for what a list of compares costs at install): another
 * architecture's calls, x32's and every call not listed get EPERM, never a
 * kill: a call missing from the list degrades a capture, it must not take
 * the supervisor (and the service) down. Pure. */
size_t self_filter_build(struct sock_filter *f, bool core)
{
#ifndef EXITHOOK_ARCH
    (void)f;
    (void)core;
    return 0; /* syscall numbers not known here: capabilities only */
#else
    int nrs[ARRAY_SIZE(allowed_syscalls) + ARRAY_SIZE(core_syscalls)];
    size_t n = ARRAY_SIZE(allowed_syscalls);
    memcpy(nrs, allowed_syscalls, sizeof allowed_syscalls);
    if (core) {
        memcpy(nrs + n, core_syscalls, sizeof core_syscalls);
        n += ARRAY_SIZE(core_syscalls);
    }
    /* First an instruction the kernel's action cache cannot emulate (X = A,
     * A being 0): at install the cache runs the program once for every
     * system call number of both architectures, 20 of the install's 65 us
     * here, to spare the calls it always allows running it later; crashbox,
     * idle but for a poll, makes few. Each then runs it (some 14
     * instructions, 20 to 75 ns more a call, measured). */
    f[0] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0);
    size_t len = allowlist_filter_build(f + 1, SELF_FILTER_CAP - 1, EXITHOOK_ARCH, nrs, n,
                                        SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
    return len ? len + 1 : 0;
#endif
}

int self_sandbox_apply(const struct policy *p, pid_t service, bool will_spawn_again, uint64_t bounding, char *what,
                      size_t whatlen)
{
    /* Signals to a service of another uid, /proc/PID of another uid, bundle
     * files' group and mode, and oom_score_adj. */
    uint64_t keep = 1ULL << CAP_KILL | 1ULL << CAP_SYS_PTRACE | 1ULL << CAP_DAC_OVERRIDE |
                    1ULL << CAP_DAC_READ_SEARCH | 1ULL << CAP_CHOWN | 1ULL << CAP_FOWNER |
                    1ULL << CAP_SYS_RESOURCE;
    if (will_spawn_again) /* the next service start applies the sandbox again */
        keep |= 1ULL << CAP_SETUID | 1ULL << CAP_SETGID | 1ULL << CAP_SETPCAP;
    const char *no_filter = will_spawn_again ? "as another process will be started" : NULL;
#if defined(__SANITIZE_ADDRESS__)
    /* LeakSanitizer stops the world with ptrace at exit: no filter there. */
    no_filter = no_filter ? no_filter : "in a sanitizer build";
#endif
#ifndef EXITHOOK_ARCH
    no_filter = no_filter ? no_filter : "on this architecture";
#endif
    /* The bounding set limits what an execve can give. Under the filter
     * there is no execve, and no_new_privs (set with it) already keeps one
     * to what crashbox holds: the drop, a prctl and a new set of
     * credentials a capability (34 as root), is for when there is none. */
    int r = drop_capabilities(keep, no_filter ? bounding : 0, service);
    if (r < 0) {
        snprintf(what, whatlen, "dropping capabilities");
        return r;
    }
    if (no_filter) {
        snprintf(what, whatlen, "capabilities dropped; no seccomp filter %s", no_filter);
        return 0;
    }
    struct sock_filter f[SELF_FILTER_CAP];
    struct sock_fprog prog = {.len = (unsigned short)self_filter_build(f, p->core_dump), .filter = f};
    if (!prog.len) {
        snprintf(what, whatlen, "building the seccomp allowlist");
        return -E2BIG;
    }
    /* TSYNC: every thread (the stderr relay too); a positive return names
     * a thread that could not be synchronized. */
    long t = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (t == 0)
        t = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
    if (t != 0) {
        snprintf(what, whatlen, "loading the seccomp filter");
        return t < 0 ? -errno : -EBUSY;
    }
    snprintf(what, whatlen, "capabilities dropped and a seccomp allowlist installed");
    return 0;
}
