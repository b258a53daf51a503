/* Test helper for crashbox's integration tests: one binary, many roles.
 *   cbhelper sigecho N        print each signal received (its number), exit after N
 *   cbhelper info             print what the process inherited (mask, fds, pgrp, cwd)
 *   cbhelper orphans N MS     leave N orphans that exit after MS ms, run 2*MS ms
 *   cbhelper ignoreterm       ignore SIGTERM and SIGINT, print "ready", sleep
 *   cbhelper spew FILE [kill] copy FILE to stderr; with "kill", SIGKILL self after
 *   cbhelper ticker           print "tick" on stdout every 50 ms
 *   cbhelper grandchildren N  start N long sleepers, print their pids, sleep
 *   cbhelper drain            read stdin to its end, print the byte count
 *   cbhelper syscalls N [filtered]  make N cheap syscalls, print the nanoseconds taken;
 *                             "filtered": under a one-instruction allow-all seccomp filter
 *   cbhelper status           print the security lines of /proc/self/status
 *   cbhelper mkdir PATH       try mkdir(2), print "ok" or the errno name
 *   cbhelper rlimits          print the core, nofile, nproc and as limits
 *   cbhelper hog              touch memory 1 MiB at a time until killed (an OOM kill) */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static int sigecho(int n)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        siginfo_t si;
        int s = sigwaitinfo(&all, &si);
        if (s < 0) {
            i--;
            continue;
        }
        printf("%d\n", s);
        fflush(stdout);
    }
    return 0;
}

static int info(void)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/status", "re");
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "SigBlk:", 7) || !strncmp(buf, "SigIgn:", 7))
            fputs(buf, stdout);
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    int dfd = dirfd(d);
    struct dirent *e;
    printf("fds:");
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != dfd)
            printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
    char target[256];
    ssize_t n = readlink("/proc/self/fd/2", target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    printf("stderr: %s\n", target);
    printf("pid: %d\npgrp: %d\n", getpid(), getpgrp());
    printf("foreground: %d\n", isatty(0) ? tcgetpgrp(0) : -1);
    printf("cwd: %s\n", getcwd(buf, sizeof buf));
    fflush(stdout);
    return 0;
}

static int orphans(int n, long ms)
{
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            if (fork() == 0) { /* the orphan */
                msleep(ms);
                _exit(0);
            }
            _exit(0);
        }
        waitpid(p, NULL, 0);
    }
    printf("spawned\n");
    fflush(stdout);
    msleep(ms * 2 + 300);
    return 0;
}

static _Noreturn void ignoreterm(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}

static int spew(const char *path, int kill_self)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 2;
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        char *p = buf;
        while (n > 0) {
            ssize_t w = write(2, p, (size_t)n);
            if (w < 0)
                return 3;
            p += w;
            n -= w;
        }
    }
    if (kill_self)
        kill(getpid(), SIGKILL);
    return 0;
}

static _Noreturn void ticker(void)
{
    for (unsigned i = 0;; i++) {
        printf("tick %u\n", i);
        fflush(stdout);
        msleep(50);
    }
}

static _Noreturn void grandchildren(int n)
{
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            execlp("sleep", "sleep", "1000", (char *)NULL);
            _exit(127);
        }
        printf("%d\n", p);
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}

static int drain(void)
{
    static char buf[1 << 20];
    unsigned long long total = 0;
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        total += (unsigned long long)n;
    printf("%llu\n", total);
    return n < 0;
}

static int syscalls(long n, int filtered)
{
    /* The least a seccomp filter costs: the kernel's action cache knows
     * every call is allowed, yet the task takes the slow syscall entry. */
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &allow};
    if (filtered && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                     syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0))
        return 3;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return 0;
}

static int status(void)
{
    char buf[512];
    FILE *f = fopen("/proc/self/status", "re");
    static const char *const keys[] = {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:",
                                       "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"};
    while (f && fgets(buf, sizeof buf, f))
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            if (!strncmp(buf, keys[i], strlen(keys[i])))
                fputs(buf, stdout);
    if (f)
        fclose(f);
    return 0;
}

static int try_mkdir(const char *path)
{
    if (syscall(SYS_mkdir, path, 0700) == 0)
        printf("ok\n");
    else
        printf("%s\n", strerrorname_np(errno));
    return 0;
}

static int rlimits(void)
{
    static const struct { int r; const char *n; } l[] = {
        {RLIMIT_CORE, "core"}, {RLIMIT_NOFILE, "nofile"}, {RLIMIT_NPROC, "nproc"}, {RLIMIT_AS, "as"}};
    for (size_t i = 0; i < 4; i++) {
        struct rlimit rl;
        getrlimit(l[i].r, &rl);
        if (rl.rlim_cur == RLIM_INFINITY)
            printf("%s unlimited\n", l[i].n);
        else
            printf("%s %llu\n", l[i].n, (unsigned long long)rl.rlim_cur);
    }
    return 0;
}

static int hog(void)
{
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p)
            return 12;
        memset(p, 1, 1 << 20);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 64;
    const char *m = argv[1];
    if (!strcmp(m, "sigecho") && argc > 2)
        return sigecho(atoi(argv[2]));
    if (!strcmp(m, "info"))
        return info();
    if (!strcmp(m, "orphans") && argc > 3)
        return orphans(atoi(argv[2]), atol(argv[3]));
    if (!strcmp(m, "ignoreterm"))
        ignoreterm();
    if (!strcmp(m, "spew") && argc > 2)
        return spew(argv[2], argc > 3 && !strcmp(argv[3], "kill"));
    if (!strcmp(m, "ticker"))
        ticker();
    if (!strcmp(m, "grandchildren") && argc > 2)
        grandchildren(atoi(argv[2]));
    if (!strcmp(m, "syscalls") && argc > 2)
        return syscalls(atol(argv[2]), argc > 3 && !strcmp(argv[3], "filtered"));
    if (!strcmp(m, "status"))
        return status();
    if (!strcmp(m, "mkdir") && argc > 2)
        return try_mkdir(argv[2]);
    if (!strcmp(m, "rlimits"))
        return rlimits();
    if (!strcmp(m, "hog"))
        return hog();
    if (!strcmp(m, "drain"))
        return drain();
    return 64;
}
