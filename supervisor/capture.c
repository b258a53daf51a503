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
#include "hooks.h"
#include "json.h"
#include "passwd.h"
#include "log.h"
#include "procsnap.h"
#include "sigtable.h"
#include "termlog.h"
#include "util.h"

const char *crash_kind_name(enum crash_kind k)
{
    static const char *const names[] = {
        [CRASH_NONE] = "none",         [CRASH_GO_PANIC] = "go-panic", [CRASH_GO_FATAL] = "go-fatal",
        [CRASH_RACE] = "race",         [CRASH_OOM_KILL] = "oom-kill", [CRASH_SIGNAL] = "signal",
        [CRASH_EXIT] = "exit",
    };
    return names[k];
}

enum crash_kind crash_classify(int wait_status, bool normal_exit, enum go_crash_kind go_kind,
                               bool oom_killed, int stop_signal, bool crash_signal)
{
    if (WIFEXITED(wait_status) && normal_exit)
        return CRASH_NONE; /* a forged report in a clean exit stays clean */
    if (WIFSIGNALED(wait_status) && stop_signal && WTERMSIG(wait_status) == stop_signal)
        return CRASH_NONE; /* asked to stop, and it did */
    if (WIFSIGNALED(wait_status) && signal_only_ends(WTERMSIG(wait_status)) && !crash_signal)
        return CRASH_NONE; /* Ctrl-C, kill, a closed pipe: told to end, and it did */
    if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL && oom_killed)
        return CRASH_OOM_KILL;
    switch (go_kind) {
    case GO_CRASH_PANIC:
        return CRASH_GO_PANIC;
    case GO_CRASH_FATAL:
        return CRASH_GO_FATAL;
    case GO_CRASH_RACE:
        return CRASH_RACE;
    case GO_CRASH_NONE:
        break;
    }
    return WIFSIGNALED(wait_status) ? CRASH_SIGNAL : CRASH_EXIT;
}

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
    read_memory(c, getpid(), &c->mem_start);
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
    if (access("/proc/self/status", F_OK) < 0)
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

/* The last non-empty line of the tail: what a log.Fatal or os.Exit(1)
 * service said last. */
static void last_line(const char *buf, size_t len, const char **s, size_t *n)
{
    size_t end = len;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    *s = buf + start;
    *n = end - start > 1024 ? 1024 : end - start;
}

static void exit_json(struct json *j, int st)
{
    json_key(j, "exit");
    json_obj_begin(j);
    json_key(j, "code");
    if (WIFEXITED(st))
        json_int(j, WEXITSTATUS(st));
    else
        json_null(j);
    json_kv_str(j, "signal", WIFSIGNALED(st) ? signal_name(WTERMSIG(st)) : NULL);
    json_kv_bool(j, "core_dumped", WIFSIGNALED(st) && WCOREDUMP(st));
    json_obj_end(j);
}

/* How memory was watched: the mechanism, or why nothing watched. */
static void memwatch_json(struct json *j, const struct memwatch_report *w)
{
    json_key(j, "watch");
    if (!w->set) {
        json_null(j);
        return;
    }
    char by[48];
    memwatch_describe(w->by, by, sizeof by);
    json_obj_begin(j);
    json_kv_str(j, "by", w->by ? by : NULL);
    json_kv_str(j, "why_none", w->by ? NULL : w->why_none);
    json_kv_str(j, "registration_refused", w->register_errno ? strerror(w->register_errno) : NULL);
    if (w->by & MW_BY_POLL) {
        json_kv_uint(j, "polls", w->polls);
        json_kv_int(j, "poll_min_ms", w->poll_min_ms);
        json_kv_int(j, "poll_max_ms", w->poll_max_ms);
    }
    json_obj_end(j);
}

static void memory_json(struct json *j, const struct cgroup_memory *m, const struct capture *c)
{
    json_key(j, "memory");
    json_obj_begin(j);
    json_key(j, "cgroup_version");
    if (m->version)
        json_int(j, m->version);
    else
        json_null(j);
    json_kv_str(j, "cgroup_path", m->version ? m->dir : NULL);
#define OPT(key, has, v)             \
    do {                             \
        json_key(j, key);            \
        if (has)                     \
            json_uint(j, v);         \
        else                         \
            json_null(j);            \
    } while (0)
    OPT("limit_bytes", m->has_limit, m->limit_bytes);
    OPT("usage_bytes", m->has_usage, m->usage_bytes);
    OPT("peak_bytes", m->has_peak, m->peak_bytes);
    OPT("oom_kills", m->has_oom_kills, m->oom_kills);
    OPT("oom_kills_at_start", c->mem_start.has_oom_kills, c->mem_start.oom_kills);
    json_key(j, "watermarks_crossed");
    json_arr_begin(j);
    for (size_t i = 0; i < c->ncrossed; i++) {
        json_obj_begin(j);
        json_kv_uint(j, "percent", c->crossed[i].percent);
        json_kv_uint(j, "usage_bytes", c->crossed[i].usage);
        json_kv_int(j, "before_end_ms", c->crossed[i].age_ms);
        char when[32];
        format_utc(c->crossed[i].taken, when, sizeof when);
        json_kv_str(j, "time", when);
        json_obj_end(j);
    }
    json_arr_end(j);
    memwatch_json(j, &c->watch);
    if (m->version == CGROUP_V2) {
        OPT("oom_events", m->has_oom, m->oom_events);
        OPT("oom_group_kills", m->has_group_kills, m->oom_group_kills);
    }
#undef OPT
    json_obj_end(j);
}

/* A crash without a Go report still gets a crash object of the same shape. */
static void synthetic_crash_json(struct json *j, enum crash_kind kind, const char *message,
                                 const char *fingerprint)
{
    json_obj_begin(j);
    json_kv_str(j, "kind", crash_kind_name(kind));
    json_kv_str(j, "message", message);
    json_kv_str(j, "go_signal", NULL);
    json_key(j, "goroutine");
    json_null(j);
    json_kv_uint(j, "goroutines", 0);
    json_key(j, "culprit");
    json_null(j);
    json_key(j, "frames");
    json_arr_begin(j);
    json_arr_end(j);
    json_kv_str(j, "fingerprint", fingerprint);
    json_obj_end(j);
}

static void core_json(struct json *j, const struct capture *c)
{
    json_key(j, "core");
    if (!c->policy->core_dump) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    json_kv_bool(j, "written", c->core != NULL);
    json_kv_uint(j, "bytes", c->core_info.bytes);
    json_kv_uint(j, "threads", c->core_info.threads);
    json_kv_str(j, "cut", c->core_info.cut);
    json_kv_str(j, "why_not", c->core ? NULL
                              : c->core_info.why_not[0] ? c->core_info.why_not
                                                        : "no exit hook snapshot: the service was not held");
    json_obj_end(j);
}

static void random_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(now_ms() >> (i % 8));
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Everything known about one crash, gathered once. */
struct crash_record {
    int status;
    bool from_shim; /* the report came on the shim's crash channel */
    enum crash_kind kind;
    struct go_crash gc;
    bool have_gc;
    char message[1200];
    char fingerprint[17];
    char culprit[700];
    struct cgroup_memory mem;
    struct go_buildinfo bi;
    bool have_bi;
    struct items items;
    time_t now;
};

static void record_free(struct crash_record *r)
{
    if (r->have_gc)
        go_crash_free(&r->gc);
    buildinfo_free(&r->bi);
    items_free(&r->items);
}

/* The memory verdicts (diagnosis.h) from the watermarks' figures. */
static void diagnosis_json_of(const struct capture *c, const struct crash_record *r, struct json *j)
{
    struct diag_evidence *ev = malloc(sizeof *ev);
    if (!ev) {
        json_null(j);
        return;
    }
    *ev = c->diag;
    ev->service_pid = c->pid;
    ev->limit = r->mem.has_limit ? r->mem.limit_bytes : c->mem_start.has_limit ? c->mem_start.limit_bytes : 0;
    ev->oom_killed = r->kind == CRASH_OOM_KILL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ev->end_ms = c->exit_at_ms ? (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (now_ms() - c->exit_at_ms)
                               : 0;
    ev->env_gogc = env_get(c->envp, "GOGC");
    ev->env_gomemlimit = env_get(c->envp, "GOMEMLIMIT");
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    diagnosis_json(v, diagnose(ev, v, DIAG_MAX_VERDICTS), j);
    free(ev);
}

static void build_manifest(const struct capture *c, const struct crash_record *r, uint64_t suppressed,
                           struct json *j)
{
    char id[33], when[32];
    random_id(id);
    format_utc(r->now, when, sizeof when);
    const struct items *it = &r->items;
    json_init(j, true);
    json_obj_begin(j);
    json_kv_str(j, "schema", "crashbox.bundle/1");
    json_kv_str(j, "id", id);
    json_kv_str(j, "service", c->service);
    json_kv_str(j, "host", c->host);
    json_kv_str(j, "time", when);
    json_kv_int(j, "pid", c->pid);
    json_kv_uint(j, "restarts", c->restarts);
    json_key(j, "command");
    json_arr_begin(j);
    for (char *const *a = c->argv; *a; a++)
        json_str(j, *a);
    json_arr_end(j);
    exit_json(j, r->status);
    json_kv_str(j, "crash_report_source", r->have_gc ? (r->from_shim ? "shim" : "stderr") : NULL);
    json_key(j, "crash");
    if (r->have_gc && r->kind != CRASH_OOM_KILL)
        go_crash_to_json(&r->gc, NULL, j);
    else
        synthetic_crash_json(j, r->kind, r->message, r->fingerprint);
    memory_json(j, &r->mem, c);
    json_key(j, "diagnosis");
    diagnosis_json_of(c, r, j);
    json_key(j, "go");
    if (r->have_bi) {
        json_obj_begin(j);
        json_kv_str(j, "version", r->bi.go_version);
        json_kv_str(j, "path", r->bi.path[0] ? r->bi.path : NULL);
        json_kv_str(j, "module", r->bi.module[0] ? r->bi.module : NULL);
        json_kv_str(j, "module_version", r->bi.module_version[0] ? r->bi.module_version : NULL);
        json_kv_str(j, "vcs_revision", r->bi.vcs_revision[0] ? r->bi.vcs_revision : NULL);
        json_kv_str(j, "vcs_time", r->bi.vcs_time[0] ? r->bi.vcs_time : NULL);
        json_kv_bool(j, "vcs_modified", r->bi.vcs_modified);
        json_key(j, "env");
        json_obj_begin(j);
        static const char *const vars[] = {"GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"};
        for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
            json_kv_str(j, vars[i], env_get(c->envp, vars[i]));
        json_obj_end(j);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_key(j, "rate_limit");
    json_obj_begin(j);
    json_kv_uint(j, "suppressed_since_last", suppressed);
    json_kv_uint(j, "burst", c->policy->rate_limit_burst);
    json_kv_uint(j, "window_s", c->policy->rate_limit_window_ms / 1000);
    json_obj_end(j);
    core_json(j, c);
    json_key(j, "snapshot");
    json_obj_begin(j);
    json_kv_str(j, "taken", c->snapshot_taken ? "exit-hook" : "post-mortem");
    json_kv_str(j, "trigger", c->snapshot_taken ? c->snapshot_trigger : NULL);
    json_kv_str(j, "why_post_mortem",
                c->snapshot_taken ? NULL
                : c->hook_status[0] ? c->hook_status
                                    : "the service ended without a trapped exit (SIGKILL or an outside signal)");
    if (c->snapshot_taken)
        json_kv_int(j, "held_ms", c->snapshot_ms);
    json_key(j, "items");
    json_arr_begin(j);
    json_str(j, "manifest.json");
    for (size_t i = 0; i < it->n; i++)
        json_str(j, it->v[i].name);
    json_arr_end(j);
    json_key(j, "missing");
    json_arr_begin(j);
    for (size_t i = 0; i < it->nmissing; i++) {
        json_obj_begin(j);
        json_kv_str(j, "item", it->missing[i].name);
        json_kv_str(j, "reason", it->missing[i].reason);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_key(j, "truncated");
    json_arr_begin(j);
    for (size_t i = 0; i < it->n; i++)
        if (it->v[i].truncated)
            json_str(j, it->v[i].name);
    json_arr_end(j);
    json_obj_end(j);
    json_obj_end(j);
}

/* The outcome of storing a crash in one directory. */
enum store_result { STORE_WRITTEN, STORE_SUPPRESSED, STORE_FAILED };

static enum store_result store_in(struct capture *c, struct crash_record *r, const char *dir, char *path,
                                  size_t pathcap)
{
    int dfd = bundledir_open(dir);
    if (dfd < 0) {
        log_warn("cannot open bundle directory %s: %s", dir, strerror(-dfd));
        return STORE_FAILED;
    }
    _cleanup_close_ int dirfd = dfd;
    bundledir_clean_leftovers(dirfd);
    _cleanup_close_ int lock = bundledir_lock(dirfd);
    if (lock < 0)
        log_warn("cannot lock %s/%s: %s; writing without it", dir, BUNDLEDIR_LOCK, strerror(-lock));
    _cleanup_free_ struct index_entry *idx = NULL;
    size_t nidx = 0;
    (void)bundledir_index_read(dirfd, &idx, &nidx);
    uint64_t suppressed = 0;
    struct index_entry e = {.time = r->now, .size = 0};
    snprintf(e.service, sizeof e.service, "%s", c->service);
    snprintf(e.kind, sizeof e.kind, "%s", crash_kind_name(r->kind));
    snprintf(e.fingerprint, sizeof e.fingerprint, "%s", r->fingerprint);
    snprintf(e.culprit, sizeof e.culprit, "%.511s", r->culprit);
    snprintf(e.message, sizeof e.message, "%.511s", r->message);
    if (!bundledir_rate_allows(idx, nidx, r->fingerprint, r->now, c->policy, &suppressed)) {
        e.type = 'S';
        int w = bundledir_index_append(dirfd, &e);
        if (w < 0)
            log_warn("cannot record a suppressed crash in %s/%s: %s", dir, BUNDLEDIR_INDEX, strerror(-w));
        return STORE_SUPPRESSED;
    }
    items_fit(&r->items, c->policy->bundle_max_size);
    struct json j;
    build_manifest(c, r, suppressed, &j);
    if (json_failed(&j)) {
        json_free(&j);
        return STORE_FAILED;
    }
    char name[300];
    int w = -EEXIST;
    size_t bytes = 0;
    for (int attempt = 0; attempt < 100 && w == -EEXIST; attempt++) {
        char pid[32];
        if (attempt)
            snprintf(pid, sizeof pid, "%d_%d", (int)c->pid, attempt);
        else
            snprintf(pid, sizeof pid, "%d", (int)c->pid);
        bundle_name(name, sizeof name, c->service, r->now, c->host, pid, crash_kind_name(r->kind));
        w = bundle_write_core(dirfd, name, j.buf, j.len, &r->items, c->core, r->now,
                              (unsigned)c->policy->bundle_mode, c->bundle_gid, &bytes);
    }
    json_free(&j);
    if (w < 0) {
        log_warn("cannot write crash bundle %s in %s: %s", name, dir, strerror(-w));
        return STORE_FAILED;
    }
    e.type = 'B';
    e.size = bytes;
    snprintf(e.name, sizeof e.name, "%.255s", name);
    int a = bundledir_index_append(dirfd, &e);
    if (a < 0)
        log_warn("cannot update %s/%s: %s", dir, BUNDLEDIR_INDEX, strerror(-a));
    size_t del = bundledir_enforce_retention(dirfd, c->service, r->now, c->policy);
    if (del)
        log_info("retention: deleted %zu old bundle(s) in %s", del, dir);
    snprintf(path, pathcap, "%s/%s", dir, name);
    return STORE_WRITTEN;
}

static void print_summary(const struct capture *c, const struct crash_record *r, const char *bundle,
                          bool suppressed)
{
    struct json s;
    json_init(&s, false);
    json_obj_begin(&s);
    json_kv_str(&s, "crashbox", "crash");
    json_kv_str(&s, "service", c->service);
    json_kv_str(&s, "kind", crash_kind_name(r->kind));
    json_kv_str(&s, "message", r->message);
    json_kv_str(&s, "culprit", r->culprit[0] ? r->culprit : NULL);
    json_kv_str(&s, "fingerprint", r->fingerprint);
    json_key(&s, "exit_code");
    if (WIFEXITED(r->status))
        json_int(&s, WEXITSTATUS(r->status));
    else
        json_null(&s);
    json_kv_str(&s, "signal", WIFSIGNALED(r->status) ? signal_name(WTERMSIG(r->status)) : NULL);
    json_kv_uint(&s, "restarts", c->restarts);
    json_kv_str(&s, "bundle", bundle);
    if (suppressed)
        json_kv_bool(&s, "rate_limited", true);
    json_obj_end(&s);
    if (!json_failed(&s)) {
        s.buf[s.len] = '\n'; /* the writer keeps a byte for the NUL */
        (void)write_all(STDERR_FILENO, s.buf, s.len + 1);
    }
    json_free(&s);
}

struct capture_job {
    struct capture cap; /* a copy, without owned resources */
    struct crash_record r;
};

enum crash_kind capture_finish(struct capture *c, int st, const struct ring *tail, struct capture_job **out)
{
    *out = NULL;
    if (!c->exit_at_ms)
        c->exit_at_ms = now_ms();
    size_t tail_len = tail ? ring_used(tail) : 0;
    _cleanup_free_ char *tailbuf = malloc(tail_len + 1);
    if (!tailbuf)
        tail_len = 0;
    else if (tail_len)
        ring_copy(tail, tailbuf);

    struct crash_record r = {.status = st, .now = time(NULL)};
    /* The shim's channel first: intact even if the service closed stderr. */
    const char *report = tailbuf;
    size_t report_len = tail_len;
    int pr = 0;
    if (c->shim_report_len) {
        pr = goparse_crash(c->shim_report, c->shim_report_len, &r.gc);
        if (pr > 0) {
            report = c->shim_report;
            report_len = c->shim_report_len;
            r.from_shim = true;
        } else {
            go_crash_free(&r.gc);
        }
    }
    if (pr <= 0)
        pr = tailbuf ? goparse_crash(tailbuf, tail_len, &r.gc) : 0;
    r.have_gc = pr > 0;
    if (pr == 0 || pr < 0)
        go_crash_free(&r.gc);
    read_memory(c, getpid(), &r.mem);
    bool oom_killed = r.mem.has_oom_kills && c->mem_start.has_oom_kills &&
                      r.mem.oom_kills > c->mem_start.oom_kills;
    bool normal = WIFEXITED(st) && policy_is_normal_exit(c->policy, WEXITSTATUS(st));
    bool crash_sig = WIFSIGNALED(st) && policy_is_crash_signal(c->policy, WTERMSIG(st));
    r.kind = crash_classify(st, normal, r.have_gc ? r.gc.kind : GO_CRASH_NONE, oom_killed, c->stop_signal,
                            crash_sig);
    if (r.kind == CRASH_NONE) {
        record_free(&r);
        return CRASH_NONE;
    }

    const char *ll;
    size_t lln;
    if (r.kind == CRASH_OOM_KILL) {
        if (r.mem.has_limit)
            snprintf(r.message, sizeof r.message,
                     "killed by the OOM killer at the memory limit of %llu bytes",
                     (unsigned long long)r.mem.limit_bytes);
        else
            snprintf(r.message, sizeof r.message, "killed by the OOM killer");
    } else if (r.kind == CRASH_SIGNAL) {
        snprintf(r.message, sizeof r.message, "killed by %s", signal_name(WTERMSIG(st)) ?: "a signal");
    } else if (r.kind == CRASH_EXIT) {
        last_line(tailbuf ? tailbuf : "", tail_len, &ll, &lln);
        int n = snprintf(r.message, sizeof r.message, "exit status %d%s", WEXITSTATUS(st), lln ? ": " : "");
        /* The line's bytes as they are, but a NUL (which would end the
         * string) becomes U+FFFD; the JSON writer escapes the rest. */
        for (size_t i = 0; i < lln && (size_t)n + 4 < sizeof r.message; i++) {
            if (ll[i] == '\0') {
                memcpy(r.message + n, "\xef\xbf\xbd", 3);
                n += 3;
            } else {
                r.message[n++] = ll[i];
            }
        }
        r.message[n] = '\0';
    } else {
        snprintf(r.message, sizeof r.message, "%s", r.gc.message);
    }
    if (r.have_gc && r.kind != CRASH_OOM_KILL)
        snprintf(r.fingerprint, sizeof r.fingerprint, "%s", r.gc.fingerprint);
    else
        crash_fingerprint(crash_kind_name(r.kind), r.kind == CRASH_EXIT ? r.message : "", NULL, 0,
                          r.fingerprint);
    if (r.have_gc && r.kind != CRASH_OOM_KILL && r.gc.culprit >= 0) {
        const struct go_frame *f = &r.gc.frames[r.gc.culprit];
        snprintf(r.culprit, sizeof r.culprit, "%s (%s:%u)", f->function, f->file ? f->file : "?", f->line);
    }

    /* Members. */
    struct items *it = &r.items;
    if (tail_len)
        items_add_copy(it, "stderr.log", tailbuf, tail_len);
    else
        items_add_missing(it, "stderr.log", c->no_tail_reason ?: "the service wrote nothing to stderr");
    if (r.have_gc)
        items_add_copy(it, "crash.txt", report + r.gc.report_offset, report_len - r.gc.report_offset);
    if (c->snapshot_taken)
        items_move(it, &c->snapshot, "");
    else
        items_add_missing(it, "proc",
                          c->notify_fd < 0 && c->hook_status[0]
                              ? c->hook_status
                              : "the service was gone before a snapshot could be taken");
    add_cgroup_items(&r.mem, it);
    items_move(it, &c->preoom_items, "");
    r.have_bi = c->exe_fd >= 0 && buildinfo_read_fd(c->exe_fd, &r.bi) == 0;
    if (r.have_bi && r.bi.modinfo) {
        char head[256];
        int hn = snprintf(head, sizeof head, "go\t%s\n", r.bi.go_version);
        size_t ml = strlen(r.bi.modinfo);
        char *txt = malloc((size_t)hn + ml + 1);
        if (txt) {
            memcpy(txt, head, (size_t)hn);
            memcpy(txt + hn, r.bi.modinfo, ml + 1);
            items_add(it, "go/buildinfo.txt", txt, (size_t)hn + ml, false);
        }
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
     * supervisor runs beside the next run of the service. The job takes a
     * copy of the capture without its owned resources. */
    struct capture_job *job = calloc(1, sizeof *job);
    enum crash_kind kind = r.kind;
    if (!job) {
        record_free(&r);
        return kind;
    }
    job->cap = *c;
    job->cap.notify_fd = -1;
    job->cap.notify_buf = (struct exithook_buffers){0};
    job->cap.exe_fd = -1;
    job->cap.snapshot = (struct items){0};
    job->cap.preoom_items = (struct items){0};
    c->core = NULL; /* the job's now */
    job->r = r;
    *out = job;
    return kind;
}

void capture_job_run(struct capture_job *job)
{
    struct capture *c = &job->cap;
    struct crash_record *rp = &job->r;
    char path[4096] = "";
    enum store_result res = STORE_FAILED;
    const char *dirs[] = {c->policy->bundle_dir, c->policy->fallback_dir};
    for (size_t i = 0; i < ARRAY_SIZE(dirs) && res == STORE_FAILED; i++)
        if (dirs[i])
            res = store_in(c, rp, dirs[i], path, sizeof path);
    print_summary(c, rp, res == STORE_WRITTEN ? path : NULL, res == STORE_SUPPRESSED);
    if (c->policy->termination_log) {
        char text[TERMLOG_MAX + 1];
        size_t n = termlog_format(text, sizeof text, c->service, crash_kind_name(rp->kind), rp->message,
                                  rp->culprit, res == STORE_WRITTEN ? path : NULL);
        int t = termlog_write(c->policy->termination_log, text, n);
        if (t < 0 && t != -ENOENT)
            log_warn("cannot write the termination message to %s: %s", c->policy->termination_log,
                     strerror(-t));
    }
    if (res == STORE_WRITTEN) {
        log_info("crash bundle written: %s", path);
        log_debug("crash-to-bundle: %lld ms after the service was reaped", now_ms() - c->exit_at_ms);
        struct hook_event ev = {.bundle = path, .service = c->service, .kind = crash_kind_name(rp->kind),
                                .fingerprint = rp->fingerprint};
        hooks_on_crash(c->policy, &ev);
    } else if (res == STORE_SUPPRESSED) {
        log_info("crash %s rate-limited: counted in the index, no bundle", rp->fingerprint);
    }
    record_free(rp);
    capture_core_free(c);
    free(job);
}

void capture_free(struct capture *c)
{
    capture_core_free(c);
    capture_stop_hook(c);
    closep(&c->exe_fd);
    c->exe_fd = -1;
    items_free(&c->snapshot);
    items_free(&c->preoom_items);
}
