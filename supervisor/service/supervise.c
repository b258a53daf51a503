/* SPDX-License-Identifier: MIT */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <time.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "capture.h"
#include "childexec.h"
#include "exithook.h"
#include "exitstatus.h"
#include "goparse.h"
#include "log.h"
#include "memrelease.h"
#include "reap.h"
#include "relay.h"
#include "sigtable.h"
#include "memwatch.h"
#include "metrics.h"
#include "oomprotect.h"
#include "preoom.h"
#include "proccaps.h"
#include "recovery.h"
#include "sandbox.h"
#include "selfsandbox.h"
#include "spawn.h"
#include "util.h"

/* The fault handler can reach no other state: these two fds are its world. */
static int fault_pipe[2] = {-1, -1};

static void on_fault_signal(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    if (si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL) {
        unsigned char b = (unsigned char)sig;
        int saved = errno;
        (void)write(fault_pipe[1], &b, 1);
        errno = saved;
        return;
    }
    /* A real fault in crashbox: never mask it. Die of it as we would have. */
    signal(sig, SIG_DFL);
    raise(sig);
}

int signals_take_over(void)
{
    if (pipe2(fault_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    sigset_t all;
    sigfillset(&all);
    struct sigaction sa = {.sa_sigaction = on_fault_signal, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigfillset(&sa.sa_mask);
    for (int s = 1; s < 32; s++) {
        if (signal_handling(s) != SIGH_FAULT)
            continue;
        sigdelset(&all, s);
        if (sigaction(s, &sa, NULL) < 0)
            return -errno;
    }
    if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
        return -errno;
    int fd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int signals_fault_fd(void) { return fault_pipe[0]; }

struct supervisor {
    const struct policy *policy;
    struct capture *capture;
    struct preoom *preoom;
    pid_t child;
    int terminal_fd; /* the terminal we handed to the child, or -1 */
    long long grace_deadline; /* ms, 0: none */
    long long release_at;     /* ms: when start-up's pages go back (give_back_startup), 0: done */
    bool escalated;
    bool stop_now; /* asked to stop outside the run: end the wait at once */
    struct reap_result reaped;
    struct relay *relay; /* its thread starts at the service's first bytes */
    /* What give_back_startup gave back, mapped again at the first watermark. */
    struct memrelease_range released[MEMRELEASE_MAX];
    size_t nreleased;
};

static void send_to_service(struct supervisor *s, int sig)
{
    pid_t target = s->policy->forward_to == FORWARD_GROUP ? -s->child : s->child;
    if (kill(target, sig) < 0 && errno != ESRCH)
        log_warn("cannot send %s to the service: %s", signal_name(sig), strerror(errno));
    else
        log_debug("forwarded %s to %s %d", signal_name(sig),
                  target < 0 ? "process group" : "pid", s->child);
}

/* A terminal we are in the foreground of, to hand to the child. */
static int foreground_terminal(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (isatty(fd) && tcgetpgrp(fd) == getpgrp())
            return fd;
    return -1;
}

/* The run: a signal is the service's (forwarded, or reaped for). */
static void run_on_signal(struct supervisor *s, int sig)
{
    switch (signal_handling(sig)) {
    case SIGH_REAP:
        reap_children(s->child, &s->reaped);
        if (s->reaped.main_stopped) {
            s->reaped.main_stopped = false;
            int stop = s->reaped.main_stop_signal;
            /* Stop with the service when a job-control stop halted it, so
             * the shell sees the whole job stopped and takes its terminal
             * back. SIGSTOP too (nano, mutt on Ctrl-Z stop themselves so),
             * but only on a terminal: elsewhere it is someone freezing the
             * service, who would resume it and not us. An init never stops. */
            bool job_stop = signal_handling(stop) == SIGH_JOB_CONTROL ||
                            (stop == SIGSTOP && s->terminal_fd >= 0);
            if (getpid() != 1 && job_stop) {
                log_debug("service stopped by %s; stopping too", signal_name(stop));
                raise(SIGSTOP);
            }
        }
        return;
    case SIGH_UNCATCHABLE:
        return;
    case SIGH_FORWARD:
    case SIGH_JOB_CONTROL:
    case SIGH_FAULT:
        break;
    }
    if (sig == SIGCONT && s->terminal_fd >= 0 && tcgetpgrp(s->terminal_fd) == getpgrp())
        (void)tcsetpgrp(s->terminal_fd, s->child); /* back from the shell's `fg` */
    send_to_service(s, sig);
    if (signal_starts_grace(sig) && !s->capture->stop_signal)
        s->capture->stop_signal = sig;
    if (signal_starts_grace(sig) && !s->grace_deadline) {
        s->grace_deadline = now_ms() + (long long)s->policy->grace_period_ms;
        if (!s->grace_deadline)
            s->grace_deadline = 1;
    }
}

/* After the service's exit, its descendants ending: a stop signal ends
 * the waiting; the rest has no one to go to. */
static void descendants_on_signal(struct supervisor *s, int sig)
{
    if (signal_starts_grace(sig))
        s->stop_now = true;
}

/* Between runs: a stop signal ends crashbox, a SIGCHLD is a straggler of
 * the last run. */
static void backoff_on_signal(struct supervisor *s, int sig)
{
    if (signal_starts_grace(sig)) {
        log_info("%s during the restart back-off: exiting", signal_name(sig));
        s->stop_now = true;
    } else if (sig == SIGCHLD) {
        struct reap_result rr = {0};
        reap_children(-1, &rr);
    }
}

/* One table of phase x signal: what a signal means depends on where the
 * supervisor is, and only there (s6-supervise keeps the same shape). */
enum phase { PHASE_RUN, PHASE_DESCENDANTS, PHASE_BACKOFF };
static void (*const on_signal[])(struct supervisor *, int) = {
    [PHASE_RUN] = run_on_signal,
    [PHASE_DESCENDANTS] = descendants_on_signal,
    [PHASE_BACKOFF] = backoff_on_signal,
};

static void drain_signalfd(struct supervisor *s, int sfd, enum phase ph)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        /* Our own write to a stderr whose reader is gone: not for the service. */
        if (si.ssi_signo == SIGPIPE && si.ssi_pid == (uint32_t)getpid())
            continue;
        on_signal[ph](s, (int)si.ssi_signo);
    }
}

/* Fault signals sent with kill(2) reach crashbox's handler, not the
 * signalfd; the handler passes them on here. */
static void drain_fault_pipe(struct supervisor *s)
{
    unsigned char b[32];
    ssize_t n;
    while ((n = read(signals_fault_fd(), b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++)
            on_signal[PHASE_RUN](s, b[i]);
}

static int poll_timeout(long long deadline)
{
    if (!deadline)
        return -1;
    long long left = deadline - now_ms();
    return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* The exit hook's listener in a poll set: a notification is answered (the
 * fd becomes -1 once the hook is let go). Once every process under the
 * filter has ended it hangs up: nothing more can come, and the hang-up
 * would wake each poll until SIGCHLD is read (some 120 times a start). */
static void on_listener(struct supervisor *s, struct pollfd *p)
{
    if (p->revents & POLLIN) {
        capture_on_notify(s->capture);
        p->fd = s->capture->notify_fd;
    } else if (p->revents & POLLHUP) {
        p->fd = -1;
    }
}

/* How long after the service's start crashbox gives back what start-up
 * used: the relay thread has reached its wait by then, even on a loaded
 * machine, so its own start-up is not faulted back in after the release. */
#define STARTUP_SETTLE_MS 100

/* Start-up is over (policy, filters, environment): the heap it freed, the
 * pages of code and constants it ran and the stack its deepest calls used
 * go back, not held for the life of the container. Planning allocates, so
 * the trim comes after it, and the release last: only what runs after it
 * (this loop, poll) comes back. A restart runs start-up again, and this. */
static void give_back_startup(struct supervisor *s)
{
    struct memrelease_range *rel = s->released;
    int n = memrelease_plan_self(rel, MEMRELEASE_MAX);
    if (n < 0) {
        log_debug("cannot give back start-up's pages: %s", strerror(-n));
        (void)malloc_trim(0);
        return;
    }
    uint64_t resident = 0;
    for (int i = 0; i < n; i++)
        resident += rel[i].rss;
    /* Said before: a log call after the release would fault its code back. */
    log_debug("giving back start-up's pages: %llu KiB of code and constants, and the stack below",
              (unsigned long long)(resident >> 10));
    (void)malloc_trim(0);
    (void)memrelease_apply(rel, (size_t)n);
    s->nreleased = (size_t)n;
}

/* Memory nears the limit: no release from now on, and what was given back
 * is mapped again, while the cgroup still has room to read it. */
static void keep_code_in_place(struct supervisor *s)
{
    s->release_at = 0;
    if (!s->nreleased)
        return;
    int r = memrelease_restore(s->released, s->nreleased);
    if (r < 0)
        log_debug("cannot map start-up's pages back: %s", strerror(-r));
    s->nreleased = 0;
}

/* Phase 1: the service runs. Returns when the main child has exited. */
static void run_until_exit(struct supervisor *s, int sfd)
{
    struct pollfd p[3 + 2 * MEMWATCH_MAX + 4 + 2] = {{.fd = sfd, .events = POLLIN},
                                             {.fd = signals_fault_fd(), .events = POLLIN},
                                             {.fd = s->capture->notify_fd, .events = POLLIN}};
    int mfds[2 * MEMWATCH_MAX + 4];
    short mev[2 * MEMWATCH_MAX + 4];
    size_t nm = preoom_fds(s->preoom, mfds, mev, ARRAY_SIZE(mfds));
    for (size_t i = 0; i < nm; i++)
        p[3 + i] = (struct pollfd){.fd = mfds[i], .events = mev[i]};
    size_t nr = s->relay ? relay_pollfds(s->relay, p + 3 + nm) : 0;
    /* A child that exited before the loop started sent SIGCHLD already. */
    while (!s->reaped.main_exited) {
        long long wake = s->escalated ? 0 : s->grace_deadline;
        if (s->release_at && (!wake || s->release_at < wake))
            wake = s->release_at;
        int n = poll(p, 3 + nm + nr, poll_timeout(wake));
        for (size_t i = 0; n > 0 && i < nr; i++) {
            struct pollfd *rp = &p[3 + nm + i];
            if (rp->revents & POLLIN) {
                relay_wake(s->relay); /* the first bytes: the relay's thread takes its fds */
                nr = 0;
            } else if (rp->revents) {
                rp->fd = -1; /* closed with nothing written: relay_finish() sees to it */
            }
        }
        if (n < 0 && errno != EINTR)
            log_warn("poll: %s", strerror(errno));
        /* The service waits in its last syscall: answer it first. */
        on_listener(s, &p[2]);
        for (size_t i = 0; i < nm; i++)
            if (p[3 + i].revents)
                if (preoom_on_event(s->preoom, p[3 + i].fd))
                    keep_code_in_place(s);
        if (p[0].revents)
            drain_signalfd(s, sfd, PHASE_RUN);
        if (p[1].revents)
            drain_fault_pipe(s);
        if (s->grace_deadline && !s->escalated && now_ms() >= s->grace_deadline &&
            !s->reaped.main_exited) {
            log_warn("service still running %llums after the stop signal; sending SIGKILL "
                     "to its process group",
                     (unsigned long long)s->policy->grace_period_ms);
            kill(-s->child, SIGKILL);
            kill(s->child, SIGKILL);
            s->escalated = true;
        }
        if (s->release_at && !s->reaped.main_exited && now_ms() >= s->release_at) {
            s->release_at = 0;
            give_back_startup(s);
        }
    }
}

/* A moment's look at what the service left behind: one that still works
 * (a crash watcher writing its report or uploading it) gets the descendant
 * grace to finish on its own. Returns true when none is left after it. */
static bool wait_for_working(struct supervisor *s, struct pollfd *p, struct leftovers *lo)
{
    (void)poll(NULL, 0, 100); /* the look: how much each works in 100 ms */
    leftovers_scan(lo, "/proc");
    size_t working = 0;
    /* A swarm (more than the list holds) is no crash watcher. */
    for (size_t i = 0; lo->n < LEFTOVERS_MAX && i < lo->n; i++)
        if (lo->v[i].working) {
            working++;
            lo->v[i].graced = true;
            log_info("pid %d (%s), left behind by the service, is still working (writing a crash report or "
                     "uploading it?): descendant_grace of %llu ms before SIGTERM",
                     (int)lo->v[i].pid, lo->v[i].comm, (unsigned long long)s->policy->descendant_grace_ms);
        }
    if (!working)
        return false;
    long long until = now_ms() + (long long)s->policy->descendant_grace_ms;
    while (now_ms() < until && !s->reaped.no_children && descendants_signal("/proc", 0) > 0) {
        if (poll(p, 2, 50) > 0)
            on_listener(s, &p[1]);
        reap_children(s->child, &s->reaped);
    }
    return s->reaped.no_children || descendants_signal("/proc", 0) == 0;
}

/* Phase 2: the processes the service left behind get SIGTERM, then SIGKILL
 * after the descendant grace, until none is left to reap. */
static void end_descendants(struct supervisor *s, int sfd)
{
    reap_children(s->child, &s->reaped);
    if (s->reaped.no_children)
        return;
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = s->capture->notify_fd, .events = POLLIN}};
    struct leftovers *lo = &s->capture->leftovers;
    if (leftovers_scan(lo, "/proc") && wait_for_working(s, p, lo))
        return;
    leftovers_signalled(lo, "/proc", SIGTERM);
    size_t n = descendants_signal("/proc", SIGTERM);
    if (n == 0)
        return;
    log_info("sent SIGTERM to %zu process(es) left behind by the service", n);
    long long kill_at = now_ms() + (long long)s->policy->descendant_grace_ms;
    bool killing = false;
    /* Watcher hooks still running are not the service's: they have their
     * own timeout, and supervision does not wait for them. */
    while (!s->reaped.no_children && descendants_signal("/proc", 0) > 0) {
        if (!killing && now_ms() >= kill_at) {
            killing = true;
            log_warn("processes left behind by the service ignored SIGTERM; sending SIGKILL");
        }
        if (killing) {
            leftovers_signalled(lo, "/proc", SIGKILL);
            descendants_signal("/proc", SIGKILL); /* again for reparented grandchildren */
        }
        int timeout = killing ? 50 : poll_timeout(kill_at);
        if (poll(p, 2, timeout) > 0) {
            on_listener(s, &p[1]); /* descendants' exits: let them go */
            drain_signalfd(s, sfd, PHASE_DESCENDANTS);
            if (s->stop_now)
                killing = true; /* asked to stop: no more waiting */
        }
        reap_children(s->child, &s->reaped);
    }
}

/* One run of the service, start to end. Returns the exit code crashbox
 * would exit with, and what kind of end it was; *stop is set when crashbox
 * was asked to stop (SIGTERM/SIGINT), which ends any restarting. */
static void close_pairp(int (*fds)[2])
{
    closep(&(*fds)[0]);
    closep(&(*fds)[1]);
}

/* Bundle writers: a slow filesystem must not hold the next run back. */
struct writers {
    pthread_t t[16];
    size_t n;
};

static void *writer_main(void *job)
{
    capture_job_run(job);
    return NULL;
}

static void writers_join(struct writers *w)
{
    for (size_t i = 0; i < w->n; i++)
        pthread_join(w->t[i], NULL);
    w->n = 0;
}

static void writers_start(struct writers *w, struct capture_job *job)
{
    if (w->n == ARRAY_SIZE(w->t))
        writers_join(w); /* a crash loop on a stuck filesystem: wait here */
    if (pthread_create(&w->t[w->n], NULL, writer_main, job) == 0)
        w->n++;
    else
        capture_job_run(job); /* no thread: store it now */
}

static void metrics_update(const struct policy *pol, struct metrics *m)
{
    if (!pol->metrics_textfile)
        return;
    metrics_scan_dir(m, pol->bundle_dir);
    int r = metrics_write(pol->metrics_textfile, m);
    if (r < 0)
        log_warn("cannot write metrics to %s: %s", pol->metrics_textfile, strerror(-r));
}

/* The service's environment for one run: the built one, plus the shim's
 * fd numbers, with LISTEN_PID in a buffer the child rewrites to its own pid
 * when it named crashbox (socket activation was meant for the service). */
struct run_env {
    char **envp; /* owned array; the strings are borrowed or below */
    char shim[2][48];
    char listen_pid[SPAWN_LISTEN_PID_SIZE];
    bool rewrite_listen_pid;
};

static int run_env_build(struct run_env *e, char *const *base, const int shim_fds[2])
{
    size_t n = 0;
    while (base[n])
        n++;
    e->rewrite_listen_pid = false;
    e->envp = calloc(n + 3, sizeof *e->envp);
    if (!e->envp)
        return -ENOMEM;
    char own[32];
    snprintf(own, sizeof own, "LISTEN_PID=%d", (int)getpid());
    for (size_t i = 0; i < n; i++) {
        e->envp[i] = base[i];
        if (strcmp(base[i], own) == 0) {
            e->envp[i] = e->listen_pid;
            e->rewrite_listen_pid = true;
        }
    }
    if (shim_fds[0] >= 0 && shim_fds[1] >= 0) {
        snprintf(e->shim[0], sizeof e->shim[0], "CRASHBOX_CRASH_FD=%d", shim_fds[0]);
        snprintf(e->shim[1], sizeof e->shim[1], "CRASHBOX_CONTROL_FD=%d", shim_fds[1]);
        e->envp[n++] = e->shim[0];
        e->envp[n++] = e->shim[1];
    }
    return 0;
}

static void run_env_free(struct run_env *e)
{
    free(e->envp);
    e->envp = NULL;
}

/* A service that never ran: why, and crashbox's exit code for it. */
static int start_failure(const struct service_run *run, const struct spawn_result *res)
{
    if (res->sandbox_errno) {
        log_error("cannot apply the sandbox to the service: %s: %s", sandbox_step_name(res->sandbox_step),
                  strerror(res->sandbox_errno));
        return EXIT_CRASHBOX_SYSTEM;
    }
    int code = exit_code_from_exec_errno(res->exec_errno);
    log_error("cannot run '%s': %s", run->argv[0],
              code == EXIT_EXEC_NOT_FOUND ? "command not found" : strerror(res->exec_errno));
    return code;
}

/* Once the service runs, crashbox narrows itself to what supervising needs. */
static void confine_self(const struct policy *pol, pid_t service, uint64_t bounding)
{
    char what[160];
    /* Restarts, hooks and the shipper start processes: they must not inherit a filter. */
    bool spawns = pol->restart_mode != RESTART_NEVER || pol->on_crash.n || pol->ship_to;
    int r = self_sandbox_apply(pol, service, spawns, bounding, what, sizeof what);
    if (r < 0)
        log_warn("cannot sandbox crashbox itself: %s: %s", what, strerror(-r));
    else
        log_debug("self-sandbox: %s", what);
}

/* What every run of the service shares: compiled once, kept across restarts. */
struct run_ctx {
    const struct service_run *run;
    const struct exithook_prog *hook;
    const struct sandbox *sb;
    const char *oom_adj; /* the service's oom_score_adj when crashbox changed its own, else NULL */
    int oom_errno;       /* why crashbox could not change it, or 0 */
    uint64_t bounding;   /* crashbox's bounding set at start (~0: not known) */
    struct writers *writers;
    struct metrics *metrics;
};

/* The run's end: the capture becomes a record for the writers, the state
 * file its end record, the metrics count it. Returns the kind of end.
 * noinline: its 36 KiB of evidence in a frame of its own, below run_once's,
 * which a restarted run's release gives back (memrelease.h), not in
 * run_once's frame for the life of the container. */
__attribute__((noinline)) static enum crash_kind end_run(const struct run_ctx *x, struct supervisor *s,
                                                         struct relay *relay, unsigned restarts)
{
    const struct policy *pol = x->run->policy;
    struct capture *cap = s->capture;
    struct preoom_evidence mem;
    preoom_finish(s->preoom, &mem);
    preoom_stop(s->preoom);
    capture_stop_hook(cap);
    relay_finish(relay, pol->drain_timeout_ms);
    struct capture_job *job = NULL;
    bool relayed = relay->tail.tail.max != 0, shim = relay->crash.tail.max != 0;
    enum crash_kind kind = capture_finish(cap, s->reaped.main_status, relayed ? &relay->tail : NULL,
                                          shim ? &relay->crash : NULL, &mem, &job);
    items_free(&mem.items); /* a clean end's, or what the record did not take */
    relay_free(relay);
    state_end(s->preoom); /* the end record: this run is accounted for */
    if (kind != CRASH_NONE) {
        x->metrics->crashes[kind]++;
        x->metrics->last_crash = time(NULL);
    }
    x->metrics->restarts = restarts;
    x->metrics->outlived_oom_kills += mem.descendant_oom_kills;
    if (job)
        writers_start(x->writers, job);
    metrics_update(pol, x->metrics);
    return kind;
}

/* hot: with memrelease_apply in .text.hot, where the linker groups them, so
 * the idle loop faults back one window of code after the release, not two. */
__attribute__((hot, noinline)) static int run_once(const struct run_ctx *x, unsigned restarts, enum crash_kind *kind,
                                         bool *stop)
{
    const struct service_run *run = x->run;
    const struct policy *pol = run->policy;
    const struct exithook_prog *hook = x->hook;
    struct metrics *metrics = x->metrics;
    *kind = CRASH_NONE;
    /* An interactive session (a shell on a terminal) needs the terminal as
     * its fd 2, as under any init: bash takes its prompt and job control
     * from it. The cost, said in the bundle: no stderr tail. */
    bool interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    int pipefd[2] = {-1, -1};
    if (!interactive && pipe2(pipefd, O_CLOEXEC) < 0) {
        log_error("cannot create the stderr pipe: %s", strerror(errno));
        return EXIT_CRASHBOX_SYSTEM;
    }
    _cleanup_close_ int err_rd = pipefd[0];
    _cleanup_close_ int err_wr = pipefd[1];
    /* A larger pipe lets bursts through without the service waiting on us. */
    if (err_wr >= 0)
        (void)fcntl(err_wr, F_SETPIPE_SZ, 1 << 20);

    /* The Go shim's channels: crash output (a pipe) and control (a socket). */
    __attribute__((cleanup(close_pairp))) int shim_crash[2] = {-1, -1};
    __attribute__((cleanup(close_pairp))) int shim_ctl[2] = {-1, -1};
    if (pol->go_shim && (pipe2(shim_crash, O_CLOEXEC) < 0 ||
                         socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, shim_ctl) < 0)) {
        log_warn("cannot make the Go shim's channels: %s", strerror(errno));
        closep(&shim_crash[0]);
        closep(&shim_crash[1]);
        shim_crash[0] = shim_crash[1] = -1;
    }
    __attribute__((cleanup(run_env_free))) struct run_env env = {0};
    if (run_env_build(&env, run->envp, (int[2]){shim_crash[1], shim_ctl[1]}) < 0) {
        log_error("cannot build the service's environment: %s", strerror(ENOMEM));
        return EXIT_CRASHBOX_SYSTEM;
    }
    struct capture cap;
    /* The built environment, not env: a bundle writer may outlive this run. */
    capture_init(&cap, pol, run->argv, run->envp);
    cap.restarts = restarts;
    /* Said where it costs something: with memory.oom.group set, an OOM kill
     * takes every process of the cgroup; otherwise the OOM killer picks the
     * largest, the service, and an info line on every start of every
     * container would only be noise. Here, where the cgroup was just read. */
    if (restarts == 0 && x->oom_errno)
        log_msg(oom_group_kill_enabled(&cap.mem_start) ? LOG_INFO : LOG_DEBUG,
                "cannot set my own oom_score_adj to -1000: %s%s; a group OOM kill will take crashbox with the "
                "service (the next start reports it from the state file)",
                strerror(x->oom_errno),
                x->oom_errno == EACCES || x->oom_errno == EPERM ? " (it needs CAP_SYS_RESOURCE)" : "");
    if (interactive)
        cap.no_tail_reason = "stderr not captured: a terminal (an interactive session keeps it)";
    if (!metrics->service[0]) {
        snprintf(metrics->service, sizeof metrics->service, "%s", cap.service);
        metrics_update(pol, metrics); /* zeros, so the series exist before a crash */
    }
    struct preoom pre;
    struct supervisor s = {.policy = pol, .capture = &cap, .preoom = &pre, .terminal_fd = foreground_terminal()};
    struct spawn_request req = {
        .argv = run->argv,
        .envp = env.envp,
        .stderr_fd = err_wr,
        .terminal_fd = s.terminal_fd,
        .exit_hook = hook->filter ? hook : NULL,
        .sandbox = x->sb,
        .oom_score_adj = x->oom_adj,
        .shim_fds = {shim_crash[1], shim_ctl[1]},
        .listen_pid = env.rewrite_listen_pid ? env.listen_pid : NULL,
    };
    if (restarts == 0)
        (void)recovery_run(pol, cap.service, cap.host); /* a previous run killed with us? */
    struct spawn_result res;
    int r = spawn_service(&req, &res);
    if (r < 0) {
        log_error("cannot start the service: fork: %s", strerror(-r));
        capture_free(&cap);
        return EXIT_CRASHBOX_SYSTEM;
    }
    if (res.sandbox_errno || res.exec_errno) {
        if (s.terminal_fd >= 0)
            (void)tcsetpgrp(s.terminal_fd, getpgrp());
        capture_free(&cap);
        *stop = true; /* restarting cannot help a missing command or a sandbox that cannot be */
        return start_failure(run, &res);
    }
    pid_t pid = res.pid;
    s.child = pid;
    capture_started(&cap, pid, res.notify_fd, res.hook_errno);
    struct preoom_service psvc = {.mem_start = cap.mem_start, .control_fd = shim_ctl[0],
                                  .bundle_gid = cap.bundle_gid};
    capture_service(&cap, &psvc.who);
    preoom_start(&pre, pol, &psvc);
    state_begin(&pre);
    if (pol->exit_hook && hook->listener && res.notify_fd < 0)
        log_warn("%s; crash capture will be post-mortem", cap.hook_status);
    closep(&err_wr);
    err_wr = -1;
    log_debug("service started as pid %d", pid);

    closep(&shim_crash[1]);
    closep(&shim_ctl[1]);
    shim_crash[1] = shim_ctl[1] = -1;
    cap.control_fd = shim_ctl[0];
    struct relay relay;
    struct keep_sizes keep_sz = {.log_tail = pol->log_tail_size, .report_tail = pol->tail_size,
                                 .report_is_real = goparse_report_is_real,
                                 .report_head = pol->report_head_size};
    r = relay_start(&relay, steal_fd(&err_rd), STDERR_FILENO, &keep_sz, steal_fd(&shim_crash[0]),
                    !pol->keep_reading_without_reader);
    if (r < 0)
        log_warn("cannot relay stderr: %s", strerror(-r)); /* the service runs on regardless */
    if (pol->self_sandbox && restarts == 0)
        confine_self(pol, pid, x->bounding);
    /* Start-up's heap, code and stack go back once it has settled. */
    s.release_at = now_ms() + STARTUP_SETTLE_MS;

    s.relay = &relay;
    run_until_exit(&s, run->signal_fd);
    cap.exit_at_ms = now_ms();
    relay_service_gone(&relay);
    if (s.terminal_fd >= 0)
        (void)tcsetpgrp(s.terminal_fd, getpgrp());
    end_descendants(&s, run->signal_fd);
    *kind = end_run(x, &s, &relay, restarts);
    capture_free(&cap);
    if (s.grace_deadline)
        *stop = true; /* SIGTERM or SIGINT reached us during the run */

    int code = exit_code_from_wait_status(s.reaped.main_status);
    log_debug("service exited; exit code %d", code);
    return code;
}

/* Waits out a back-off. Returns false if asked to stop meanwhile. */
static bool backoff(const struct policy *pol, int sfd, long long ms)
{
    long long until = now_ms() + ms;
    struct supervisor s = {.policy = pol, .child = -1, .terminal_fd = -1};
    struct pollfd p = {.fd = sfd, .events = POLLIN};
    while (!s.stop_now) {
        long long left = until - now_ms();
        if (left <= 0)
            return true;
        if (poll(&p, 1, left > 60000 ? 60000 : (int)left) > 0)
            drain_signalfd(&s, sfd, PHASE_BACKOFF);
    }
    return false;
}

int supervise(const struct service_run *run)
{
    const struct policy *pol = run->policy;
    if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        log_debug("cannot become a subreaper: %s", strerror(errno));
    /* Out of the OOM killer's reach where we may (CAP_SYS_RESOURCE): a group
     * OOM kill must not take the supervisor with the service. */
    char orig_adj[16];
    int oom_r = oom_protect_self(orig_adj, sizeof orig_adj);
    bool protected_self = oom_r == 0;
    if (protected_self)
        log_debug("oom_score_adj set to -1000 (the service keeps %s)", orig_adj);
    /* Compile in the parent: every name resolved and every error reported
     * before the service exists. */
    struct sandbox sb;
    char err[300];
    if (sandbox_compile(pol, "", &sb, err, sizeof err) < 0) {
        log_error("sandbox: %s: not starting the service", err);
        return EXIT_CRASHBOX_POLICY;
    }
    struct exithook_prog hook = {0};
    if (pol->exit_hook || pol->seccomp_deny.n) {
        int r = exithook_compile(&hook, pol->exit_hook, &pol->seccomp_deny, pol->seccomp_deny_kill,
                                 &pol->normal_exit_codes);
        if (r < 0 && pol->seccomp_deny.n) {
            log_error("cannot build the seccomp filter: %s: not starting the service", strerror(-r));
            return EXIT_CRASHBOX_POLICY;
        }
        if (r < 0)
            log_warn("cannot build the exit hook's seccomp filter: %s; capture will be post-mortem",
                     strerror(-r));
    }
    /* One read of crashbox's own status at start, after its signal handlers
     * are set: the dispositions each child resets, the capabilities there
     * are to drop from the bounding set. */
    uint64_t bounding = ~0ULL;
    {
        _cleanup_free_ char *st = NULL;
        size_t stlen;
        if (read_file_at(AT_FDCWD, "/proc/self/status", 1 << 20, &st, &stlen) == 0) {
            signals_note_dispositions(st);
            if (proc_status_bounding(st, stlen, &bounding) < 0)
                bounding = ~0ULL;
        }
    }
    /* Restart times inside the window, for the start limit. */
    long long starts[64];
    size_t nstarts = 0;
    unsigned restarts = 0, consecutive = 0;
    struct writers writers = {0};
    struct metrics metrics = {0};
    const struct run_ctx ctx = {.run = run, .hook = &hook, .sb = &sb, .oom_adj = protected_self ? orig_adj : NULL,
                                .oom_errno = -oom_r, .bounding = bounding,
                                .writers = &writers, .metrics = &metrics};
    int code;
    for (;;) {
        long long started = now_ms();
        enum crash_kind kind;
        bool stop = false;
        code = run_once(&ctx, restarts, &kind, &stop);
        if (stop || !restart_wanted(pol, kind, code))
            break;
        long long now = now_ms();
        /* A run that lasted a whole window was not part of a crash loop. */
        if (now - started > (long long)pol->restart_window_ms)
            consecutive = 0;
        size_t kept = 0;
        for (size_t i = 0; i < nstarts; i++)
            if (now - starts[i] < (long long)pol->restart_window_ms)
                starts[kept++] = starts[i];
        nstarts = kept;
        if (nstarts >= pol->restart_burst) {
            log_warn("the service was restarted %zu times within %llums: giving up (exit code %d)",
                     nstarts, (unsigned long long)pol->restart_window_ms, code);
            break;
        }
        consecutive++;
        unsigned rnd = 0;
        (void)getrandom(&rnd, sizeof rnd, GRND_NONBLOCK);
        long long delay = restart_delay_ms(pol, consecutive, rnd);
        log_info("restarting the service in %lldms (restart %u)", delay, restarts + 1);
        if (!backoff(pol, run->signal_fd, delay))
            break;
        if (nstarts < ARRAY_SIZE(starts))
            starts[nstarts++] = now_ms();
        restarts++;
    }
    /* Every bundle is on disk (or given up on) before crashbox exits. */
    writers_join(&writers);
    exithook_prog_free(&hook);
    return code;
}
