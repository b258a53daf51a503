/* SPDX-License-Identifier: MIT */
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buildinfo.h"
#include "bundle.h"
#include "bundledir.h"
#include "coredump.h"
#include "envbuild.h"
#include "exithook.h"
#include "crashreport.h"
#include "passwd.h"
#include "log.h"
#include "procsnap.h"
#include "sigtable.h"
#include "store.h"
#include "util.h"

static void read_memory(const struct capture *c, pid_t pid, struct cgroup_memory *m)
{
    (void)cgroup_memory_of(pid, c->cgroup_root, m);
}

void capture_init(struct capture *c, const struct policy *p, char *const *argv, char *const *envp)
{
    *c = (struct capture){.policy = p, .argv = argv, .envp = envp, .exe_fd = -1, .notify_fd = -1,
                          .bundle_gid = (gid_t)-1, .control_fd = -1};
    if (p->bundle_group) {
        int r = resolve_group("", p->bundle_group, &c->bundle_gid);
        if (r < 0) {
            log_warn("bundle group '%s': %s; bundles keep crashbox's group", p->bundle_group,
                     r == -ENOENT ? "no such group in /etc/group" : strerror(-r));
            c->bundle_gid = (gid_t)-1;
        }
    }
    if (p->service_name) {
        snprintf(c->service, sizeof c->service, "%s", p->service_name);
    } else {
        /* The command's basename, tamed for a file name. */
        const char *b = strrchr(argv[0], '/');
        b = b ? b + 1 : argv[0];
        size_t i = 0;
        for (; b[i] && i < 64; i++)
            c->service[i] = (b[i] == '/' || b[i] == ' ' || (unsigned char)b[i] < 0x20) ? '_' : b[i];
        c->service[i] = '\0';
        if (!i || c->service[0] == '.')
            snprintf(c->service, sizeof c->service, "service");
    }
    /* Temporary files of a crashbox that died mid-write: cleaned at start. */
    const char *dirs[] = {p->bundle_dir, p->fallback_dir};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        if (!dirs[i])
            continue;
        int fd = bundledir_open(dirs[i]);
        if (fd < 0) {
            log_warn("bundle directory %s: %s (the service runs; bundles may be lost)", dirs[i],
                     strerror(-fd));
            continue;
        }
        size_t n = bundledir_clean_leftovers(fd);
        if (n)
            log_info("removed %zu temporary file(s) left in %s by a crashbox that died mid-write", n,
                     dirs[i]);
        close(fd);
    }
    struct utsname u;
    snprintf(c->host, sizeof c->host, "%.63s", uname(&u) == 0 ? u.nodename : "unknown");
    const char *root = getenv("CRASHBOX_CGROUP_ROOT");
    c->cgroup_root = root && *root ? root : NULL;
    /* The service starts in crashbox's own cgroup: its counters now are the
     * baseline an OOM kill is measured against. */
    read_memory(c, 0, &c->mem_start);
}

void capture_started(struct capture *c, pid_t pid, int notify_fd, int hook_errno)
{
    c->pid = pid;
    c->notify_fd = notify_fd;
    if (notify_fd >= 0 && exithook_buffers_alloc(&c->notify_buf) < 0) {
        log_warn("exit hook: out of memory; capture will be post-mortem");
        capture_stop_hook(c);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    c->exe_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->exe_fd < 0 && access("/proc/self/status", F_OK) < 0)
        snprintf(c->hook_status, sizeof c->hook_status, "/proc is not mounted: nothing to snapshot");
    else if (!c->policy->exit_hook)
        snprintf(c->hook_status, sizeof c->hook_status, "the policy turns the exit hook off");
    else if (notify_fd < 0)
        snprintf(c->hook_status, sizeof c->hook_status, "seccomp user notification unavailable: %s",
                 strerror(hook_errno ? hook_errno : ENOSYS));
}

static bool is_service_thread(pid_t service, pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d", (int)service, (int)tid);
    return access(path, F_OK) == 0;
}

/* The cgroup's memory files, by their kernel names. */
static void add_cgroup_items(const struct cgroup_memory *m, struct items *out)
{
    if (m->version == CGROUP_NONE) {
        items_add_missing(out, "cgroup", m->reason[0] ? m->reason : "no memory cgroup found");
        return;
    }
    _cleanup_close_ int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        items_add_missing(out, "cgroup", strerror(errno));
        return;
    }
    const char *const *files = m->version == CGROUP_V1 ? cgroup_v1_files : cgroup_v2_files;
    for (size_t i = 0; files[i]; i++) {
        char *buf = NULL;
        size_t len;
        char member[128];
        snprintf(member, sizeof member, "cgroup/%s", files[i]);
        if (read_file_at(dfd, files[i], 1 << 20, &buf, &len) == 0)
            items_add(out, member, buf, len, false);
    }
}

/* The core, into a temporary file of the bundle directory, while the
 * service is held. The held call is interrupted by the attach and restarts
 * after the detach: its notification comes again, and is let through. */
static void capture_core(struct capture *c, pid_t tid, int signo)
{
    const struct policy *p = c->policy;
    const char *dir = p->bundle_dir ? p->bundle_dir : p->fallback_dir;
    char *why = c->core_info.why_not;
    size_t whylen = sizeof c->core_info.why_not;
    if (!dir) {
        snprintf(why, whylen, "no bundle directory");
        return;
    }
    int dfd = bundledir_open(dir);
    if (dfd < 0) {
        snprintf(why, whylen, "bundle directory %s: %s", dir, strerror(-dfd));
        return;
    }
    _cleanup_close_ int dirfd = dfd;
    _cleanup_free_ struct bundle_core *bc = calloc(1, sizeof *bc);
    int r = bc ? bundle_core_open(dirfd, bc) : -ENOMEM;
    if (r < 0) {
        snprintf(why, whylen, "temporary file in %s: %s", dir, strerror(-r));
        return;
    }
    char exe[4096] = "", path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)c->pid);
    ssize_t n = p->core_include_exe ? readlink(path, exe, sizeof exe - 1) : -1;
    exe[n > 0 ? n : 0] = '\0';
    if (p->core_include_exe && c->exe_fd >= 0)
        bc->exe_fd = fcntl(c->exe_fd, F_DUPFD_CLOEXEC, 3);
    struct coredump_options o = {.pid = c->pid, .tid = tid, .signo = signo, .si_code = SI_TKILL,
                                 .max_size = p->core_max_size,
                                 .deadline_ms = now_ms() + (long long)p->core_budget_ms,
                                 .omit_file = bc->exe_fd >= 0 && exe[0] ? exe : NULL};
    struct coredump_sink sink = {.write = bundle_core_write, .ctx = bc};
    struct coredump_result res;
    r = coredump_write(&o, &sink, &res);
    if (!r)
        r = bundle_core_close(bc, res.head, res.head_len, res.body_len, time(NULL));
    if (r < 0) {
        snprintf(why, whylen, "%s", r == -EPERM ? "ptrace of the service not permitted" : strerror(-r));
        log_warn("core dump of pid %d: %s", (int)c->pid, why);
        bundle_core_free(bc);
    } else {
        c->core_info.bytes = res.head_len + res.body_len;
        c->core_info.threads = res.threads;
        c->core_info.cut = res.cut;
        c->core = steal_pointer(&bc);
    }
    coredump_result_free(&res);
}

static void take_snapshot(struct capture *c, uint64_t id, const char *trigger, pid_t tid, int signo)
{
    long long t0 = now_ms();
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)c->pid);
    _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* The pid-reuse guard: checked after the open, so procfd is the process
     * the notification came from. */
    if (procfd < 0 || !exithook_still_valid(c->notify_fd, id))
        return;
    procsnap_collect(procfd, &c->policy->redact, t0 + (long long)c->policy->snapshot_budget_ms,
                     &c->snapshot);
    c->snapshot_taken = true;
    snprintf(c->snapshot_trigger, sizeof c->snapshot_trigger, "%s", trigger);
    if (c->policy->core_dump)
        capture_core(c, tid, signo);
    c->snapshot_ms = now_ms() - t0;
}

void capture_on_notify(struct capture *c)
{
    struct exithook_call call;
    int r = exithook_recv(c->notify_fd, &c->notify_buf, &call);
    if (r < 0) {
        /* ENOENT: the caller died meanwhile. Anything else, again and again,
         * would spin with the service held: let go of the hook instead (its
         * pending calls fail with ENOSYS and the service goes on exiting). */
        if (r != -ENOENT && r != -EINTR && ++c->notify_errors >= 16) {
            log_warn("exit hook: cannot read notifications: %s; capture will be post-mortem",
                     strerror(-r));
            capture_stop_hook(c);
        }
        return;
    }
    c->notify_errors = 0;
    bool from_service = is_service_thread(c->pid, call.tid);
    bool target_service = false;
    if (call.nr == SYS_tkill || call.nr == SYS_kill)
        target_service = (pid_t)call.args[0] > 0 && is_service_thread(c->pid, (pid_t)call.args[0]);
    int arg = 0;
    enum exithook_event ev = exithook_classify(&call, c->pid, from_service, target_service, &arg);
    if (!c->snapshot_taken) {
        char trigger[64];
        if (ev == EXITHOOK_EXIT && !policy_is_normal_exit(c->policy, arg)) {
            snprintf(trigger, sizeof trigger, "exit_group(%d)", arg);
            take_snapshot(c, call.id, trigger, (pid_t)call.tid, 0);
        } else if (ev == EXITHOOK_SIGNAL) {
            const char *sn = signal_name(arg);
            snprintf(trigger, sizeof trigger, "%s(%s)",
                     call.nr == SYS_tgkill ? "tgkill" : call.nr == SYS_tkill ? "tkill" : "kill",
                     sn ? sn : "?");
            take_snapshot(c, call.id, trigger, (pid_t)call.tid, arg);
        }
    }
    (void)exithook_continue(c->notify_fd, &c->notify_buf, call.id);
}

static void capture_core_free(struct capture *c)
{
    if (c->core)
        bundle_core_free(c->core);
    free(c->core);
    c->core = NULL;
}

void capture_stop_hook(struct capture *c)
{
    closep(&c->notify_fd);
    c->notify_fd = -1;
    exithook_buffers_free(&c->notify_buf);
}

void capture_service(const struct capture *c, struct crash_service *who)
{
    *who = (struct crash_service){.pid = c->pid, .restarts = c->restarts, .argv = c->argv, .envp = c->envp};
    snprintf(who->service, sizeof who->service, "%s", c->service);
    snprintf(who->host, sizeof who->host, "%s", c->host);
}

/* What the watchers brought about this end, but the members. */
static void gather_evidence(struct capture *c, const char *tail, size_t tail_len, struct crash_evidence *ev)
{
    *ev = (struct crash_evidence){.at = time(NULL), .reaped_ms = c->exit_at_ms, .tail = tail,
                                  .tail_len = tail_len, .no_tail_reason = c->no_tail_reason,
                                  .stop_signal = c->stop_signal};
    capture_service(c, &ev->who);
    read_memory(c, 0, &ev->mem);
    ev->snapshot.taken = c->snapshot_taken;
    snprintf(ev->snapshot.trigger, sizeof ev->snapshot.trigger, "%s", c->snapshot_trigger);
    ev->snapshot.held_ms = c->snapshot_ms;
    snprintf(ev->snapshot.why_not, sizeof ev->snapshot.why_not, "%s", c->hook_status);
    ev->core = (struct crash_core){.asked = c->policy->core_dump, .written = c->core != NULL,
                                   .bytes = c->core_info.bytes, .threads = c->core_info.threads,
                                   .cut = c->core_info.cut};
    snprintf(ev->core.why_not, sizeof ev->core.why_not, "%s", c->core_info.why_not);
    ev->leftovers = &c->leftovers;
}

/* The members the watchers kept for a crash: the exit hook's snapshot, the
 * cgroup's files, the pre-OOM snapshots, the build info. */
static void gather_members(struct capture *c, struct preoom_evidence *mem, struct crash_evidence *ev)
{
    if (c->snapshot_taken)
        items_move(&ev->items, &c->snapshot, "");
    else
        items_add_missing(&ev->items, "proc",
                          c->notify_fd < 0 && c->hook_status[0]
                              ? c->hook_status
                              : "the service was gone before a snapshot could be taken");
    add_cgroup_items(&ev->mem, &ev->items);
    items_move(&ev->items, &mem->items, "");
    ev->have_bi = c->exe_fd >= 0 && buildinfo_read_fd(c->exe_fd, &ev->bi) == 0;
}

/* The writer's: the record and the core, owned. */
struct capture_job {
    struct crash_record r;
    struct bundle_core *core; /* NULL if none */
    const struct policy *policy;
    gid_t bundle_gid;
};

enum crash_kind capture_finish(struct capture *c, int st, const struct keep *tail, const struct keep *shim,
                               struct preoom_evidence *mem, struct capture_job **out)
{
    *out = NULL;
    if (!c->exit_at_ms)
        c->exit_at_ms = now_ms();
    if (crash_end_is_clean(st, c->policy, c->stop_signal))
        return CRASH_NONE;
    __attribute__((cleanup(keep_text_free))) struct keep_text tt = {0}, shim_text = {0};
    if (tail)
        (void)keep_take(tail, &tt);
    if (shim && keep_total(shim))
        (void)keep_take(shim, &shim_text);
    const char *tailbuf = tt.buf;
    size_t tail_len = tt.len;

    struct crash_evidence ev;
    gather_evidence(c, tailbuf, tail_len, &ev);
    ev.shim_report = shim_text.buf;
    ev.shim_report_len = shim_text.len;
    ev.tail_cut = (struct crash_cut){.bytes = tt.cut_bytes, .at = tt.cut_at, .goroutines = tt.goroutines};
    ev.shim_cut = (struct crash_cut){.bytes = shim_text.cut_bytes, .at = shim_text.cut_at,
                                     .goroutines = shim_text.goroutines};
    memcpy(ev.crossed, mem->crossed, sizeof ev.crossed);
    ev.ncrossed = mem->ncrossed;
    ev.watch = mem->watch;
    ev.diag = mem->diag;
    ev.mem_start = mem->mem_start;
    ev.descendant_oom_kills = mem->descendant_oom_kills;
    ev.descendant_oom_last = mem->descendant_oom_last;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (c->exit_at_ms) /* the samples' clock is the wall's */
        ev.diag.end_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (now_ms() - c->exit_at_ms);
    gather_members(c, mem, &ev);
    struct capture_job *job = calloc(1, sizeof *job);
    struct crash_record scratch;
    enum crash_kind kind = crash_record_build(&ev, st, c->policy, job ? &job->r : &scratch);
    crash_evidence_free(&ev);
    if (!job || kind == CRASH_NONE) {
        crash_record_free(job ? &job->r : &scratch);
        free(job);
        return kind;
    }

    /* crashbox's own lines start at a line's start, even after a service
     * whose last output had no newline (relayed as it was). */
    if (tail_len && tailbuf[tail_len - 1] != '\n')
        (void)write_all(STDERR_FILENO, "\n", 1);
    /* Said once per crashbox, not once per crash of a restarted service. */
    static bool said_no_dir;
    if (!c->policy->bundle_dir && !c->policy->fallback_dir && !said_no_dir) {
        log_info("no bundle directory configured (-d, CRASHBOX_BUNDLE_DIR or [bundle] directory): "
                 "crash summaries only");
        said_no_dir = true;
    }
    /* Storing may be slow (a slow or full filesystem): it becomes a job the
     * supervisor runs beside the next run of the service. */
    job->core = steal_pointer(&c->core);
    job->policy = c->policy;
    job->bundle_gid = c->bundle_gid;
    *out = job;
    return kind;
}

void capture_job_run(struct capture_job *job)
{
    char path[4096] = "";
    enum store_result res = store_record(&job->r, job->policy, false, job->core, job->bundle_gid, path, sizeof path);
    crash_report(&job->r, job->policy, res, path);
    crash_record_free(&job->r);
    if (job->core)
        bundle_core_free(job->core);
    free(job->core);
    free(job);
}

void capture_free(struct capture *c)
{
    capture_core_free(c);
    capture_stop_hook(c);
    closep(&c->exe_fd);
    c->exe_fd = -1;
    items_free(&c->snapshot);
}
