/* SPDX-License-Identifier: MIT */
#include "preoom.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "bundledir.h"
#include "bundleread.h"
#include "json.h"
#include "log.h"
#include "procsnap.h"
#include "recovery.h"
#include "shimctl.h"
#include "store.h"
#include "util.h"

static void state_update(struct preoom *p)
{
    if (p->state_fd < 0)
        return;
    const struct preoom_service *s = &p->svc;
    struct service_state st = {.pid = s->who.pid, .started = p->state_started, .seen = (long long)time(NULL),
                               .limit_bytes = s->mem_start.has_limit ? s->mem_start.limit_bytes : 0,
                               .usage_bytes = p->state_usage, .watermark = p->state_watermark,
                               .oom_kills = s->mem_start.oom_kills};
    snprintf(st.service, sizeof st.service, "%s", s->who.service);
    snprintf(st.host, sizeof st.host, "%s", s->who.host);
    snprintf(st.cgroup, sizeof st.cgroup, "%.511s", s->mem_start.version ? s->mem_start.dir : "");
    int r = state_write(p->state_fd, &st);
    if (r < 0)
        log_debug("cannot write the state file: %s", strerror(-r));
}

void state_begin(struct preoom *p)
{
    const struct preoom_service *s = &p->svc;
    p->state_dirfd = p->policy->bundle_dir ? bundledir_open(p->policy->bundle_dir) : -1;
    p->state_fd = p->state_dirfd >= 0 ? state_open(p->state_dirfd, s->who.service, s->who.host) : -1;
    p->state_usage = s->mem_start.has_usage ? s->mem_start.usage_bytes : 0;
    p->state_started = (long long)time(NULL);
    state_update(p);
}

void state_end(struct preoom *p)
{
    if (p->state_fd >= 0)
        state_remove(p->state_dirfd, p->state_fd, p->svc.who.service, p->svc.who.host);
    closep(&p->state_fd);
    closep(&p->state_dirfd);
}

/* A registration the cgroupfs refused is the normal case in a container
 * (read-only cgroupfs): said once at info, with what watches instead. */
static void say_mechanism(const struct memwatch *w)
{
    static bool said;
    if (said || !w->report.register_errno)
        return;
    said = true;
    char desc[48];
    memwatch_describe(w->report.by, desc, sizeof desc);
    const char *verb = w->report.by ? "watching memory by" : "not watching memory:";
    const char *how = w->report.by ? desc : w->report.why_none;
    const char *what = w->version == CGROUP_V1 ? "memory thresholds" : "a PSI trigger";
    if (memwatch_unwritable(w->report.register_errno))
        log_info("the memory cgroup is not writable (%s: %s): %s %s", what, strerror(w->report.register_errno),
                 verb, how);
    else
        log_warn("cannot register %s: %s; %s %s", what, strerror(w->report.register_errno), verb, how);
}

void preoom_start(struct preoom *p, const struct policy *pol, const struct preoom_service *svc)
{
    *p = (struct preoom){.policy = pol, .svc = *svc, .dirfd = -1, .state_dirfd = -1, .state_fd = -1};
    const struct cgroup_memory *start = &p->svc.mem_start;
    shimwork_init(&p->shim, -1, (long long)pol->snapshot_budget_ms);
    p->oom = (struct oomevents){.note_fd = -1, .timer_fd = -1};
    memwatch_init(&p->w);
    if (!pol->watermarks.n) {
        p->w.report = (struct memwatch_report){.set = true, .why_none = "no watermarks"};
        return;
    }
    unsigned pct[MEMWATCH_MAX];
    size_t n = 0;
    for (size_t i = 0; i < pol->watermarks.n && n < MEMWATCH_MAX; i++)
        pct[n++] = (unsigned)pol->watermarks.v[i];
    int r = memwatch_open(&p->w, start, pct, n, (unsigned)pol->watermark_hysteresis,
                          (long long)pol->watermark_interval_ms, pol->memory_poll);
    say_mechanism(&p->w);
    static bool said;
    if (r == -ENODATA || r == -ENOENT || r == -ENOTSUP) {
        /* Said once, at debug level: most runs without a limit are fine. */
        if (!said)
            log_debug("not watching memory: %s%s%s%s", p->w.report.why_none, start->reason[0] ? " (" : "",
                      start->reason, start->reason[0] ? ")" : "");
        said = true;
        memwatch_close(&p->w);
        return;
    }
    if (r < 0) {
        log_warn("cannot watch the memory cgroup: %s", strerror(-r));
        memwatch_close(&p->w);
        p->w.report.by = 0;
        if (!p->w.report.why_none)
            p->w.report.why_none = "the memory cgroup cannot be watched";
        return;
    }
    if (pol->bundle_dir)
        p->dirfd = bundledir_open(pol->bundle_dir);
    p->active = true;
    oomevents_start(&p->oom, p->w.dirfd, p->w.version);
    log_debug("watching memory: %zu watermark(s) of a %llu-byte limit", p->w.st.n,
              (unsigned long long)p->w.st.limit);
}

size_t preoom_fds(const struct preoom *p, int *fds, short *events, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; p->active && i < p->w.nfds && n < cap; i++) {
        fds[n] = p->w.fds[i];
        events[n++] = p->w.events[i];
    }
    if (p->active)
        n += oomevents_fds(&p->oom, fds + n, events + n, cap - n);
    return n;
}

/* The pending snapshot of watermark i as a crossing and its members. */
static int pending_read(struct preoom *p, size_t i, const char *prefix, struct items *it, struct crash_crossing *x)
{
    int r = bundle_read_into_items(p->dirfd, p->pending[i], prefix, 8 << 20, it);
    if (r < 0)
        return r;
    x->percent = p->w.st.wm[i].percent;
    x->usage = p->w.st.wm[i].pending_usage;
    x->age_ms = now_ms() - p->w.st.wm[i].pending_ms;
    x->taken = time(NULL) - (time_t)(x->age_ms / 1000);
    return 0;
}

/* Memory fell back with the snapshot kept (keep_memory_high): evidence ->
 * record -> the one store, as any crash, so it gets its index line, the
 * rate limit and retention. The pending file's own manifest gives way to
 * the store's. */
static void keep_memory_high(struct preoom *p, size_t i)
{
    struct crash_evidence ev = {.who = p->svc.who, .at = time(NULL), .mem_start = p->svc.mem_start,
                                .memory_high = true, .ncrossed = 1, .watch = p->w.report};
    ev.mem = p->svc.mem_start;
    ev.mem.has_usage = true;
    ev.mem.usage_bytes = p->w.last_usage;
    if (pending_read(p, i, "", &ev.items, &ev.crossed[0]) < 0) {
        crash_evidence_free(&ev);
        return;
    }
    items_remove(&ev.items, "manifest.json");
    struct crash_record rec;
    crash_record_build(&ev, 0, p->policy, &rec);
    crash_evidence_free(&ev);
    char path[4096] = "";
    enum store_result res = store_record(&rec, p->policy, false, NULL, p->svc.bundle_gid, path, sizeof path);
    if (res == STORE_WRITTEN)
        log_info("memory fell back: the %u%% snapshot was kept as %s", p->w.st.wm[i].percent, path);
    else if (res == STORE_SUPPRESSED)
        log_info("memory fell back: the %u%% snapshot was rate-limited", p->w.st.wm[i].percent);
    crash_record_free(&rec);
}

static void drop_pending(struct preoom *p, size_t i, bool keep_as_bundle)
{
    p->have_sample[i] = false;
    items_free(&p->missing[i]);
    shimwork_drop(&p->shim, i);
    if (!p->pending[i][0] || p->dirfd < 0)
        return;
    if (keep_as_bundle)
        keep_memory_high(p, i);
    unlinkat(p->dirfd, p->pending[i], 0);
    p->pending[i][0] = '\0';
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The cheap figures, at once: the cgroup's usage and memory.stat, then
 * each process in it from /proc/PID/status, each stamped as read. */
static void cheap_figures(const struct preoom *p, struct diag_sample *s, struct items *it)
{
    _cleanup_free_ char *b = NULL;
    size_t len;
    const char *usage_file = p->w.version == CGROUP_V1 ? "memory.usage_in_bytes" : "memory.current";
    if (read_file_at(p->w.dirfd, usage_file, 256, &b, &len) == 0) {
        s->usage = strtoull(b, NULL, 10);
        s->have_cgroup = true;
    }
    s->cgroup_read_ms = wall_ms();
    free(steal_pointer(&b));
    if (read_file_at(p->w.dirfd, "memory.stat", 1 << 16, &b, &len) == 0)
        (void)diag_parse_memory_stat(b, len, s);
    free(steal_pointer(&b));
    if (read_file_at(p->w.dirfd, "cgroup.procs", 1 << 16, &b, &len) < 0) {
        items_add_missing(it, "figures.json:processes", "cannot read cgroup.procs");
        return;
    }
    pid_t self = getpid();
    for (char *q = b, *end = b + len; q < end && s->nprocs < DIAG_MAX_PROCS;) {
        char *nl = memchr(q, '\n', (size_t)(end - q));
        if (nl)
            *nl = '\0';
        int pid = atoi(q);
        q = nl ? nl + 1 : end;
        if (pid <= 0 || pid == self)
            continue;
        char path[48];
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        _cleanup_free_ char *st = NULL;
        size_t stlen;
        struct diag_proc *dp = &s->procs[s->nprocs];
        *dp = (struct diag_proc){.pid = pid};
        if (read_file_at(AT_FDCWD, path, 1 << 14, &st, &stlen) == 0 && diag_parse_status(st, stlen, dp) == 0) {
            dp->read_ms = wall_ms();
            s->nprocs++;
        }
    }
}

static void take(struct preoom *p, size_t i, uint64_t usage)
{
    long long seen_ms = wall_ms(); /* the crossing was seen now; collecting takes a while */
    drop_pending(p, i, false); /* a newer snapshot of the same watermark replaces it */
    /* Kept from the first crossing on: a run that never crosses one never
     * touches their 31 KiB (they were on the supervisor's stack, for its life). */
    if (!p->samples)
        p->samples = calloc(MEMWATCH_MAX, sizeof *p->samples);
    struct diag_sample unkept;
    struct diag_sample *sample = p->samples ? &p->samples[i] : &unkept;
    struct items it = {0};
    *sample = (struct diag_sample){.percent = p->w.st.wm[i].percent, .seen_ms = seen_ms, .usage = usage};
    cheap_figures(p, sample, &it);
    p->have_sample[i] = p->samples != NULL;
    /* With the Go shim (it greets first): its answers come on a thread of
     * their own while this loop goes on. A service without it is never
     * asked. */
    if (p->svc.control_fd >= 0 && !p->shim_greeted)
        p->shim_greeted = shimctl_greeted(p->svc.control_fd);
    if (p->shim_greeted) {
        p->shim.fd = p->svc.control_fd;
        shimwork_ask(&p->shim, i);
    }
    else
        items_add_missing(&it, "go/runtime.json",
                          p->svc.control_fd >= 0 ? "the Go shim has not said hello (not imported?)"
                                                      : "no Go shim ([capture] go_shim is off)");
    struct watermark *wm = &p->w.st.wm[i];
    if (wm->percent > p->state_watermark)
        p->state_watermark = wm->percent;
    p->state_usage = usage;
    state_update(p);
    log_info("memory at %llu of %llu bytes crossed the %u%% watermark: pre-OOM snapshot",
             (unsigned long long)usage, (unsigned long long)p->w.st.limit, wm->percent);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)p->svc.who.pid);
    _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd >= 0)
        procsnap_collect(procfd, &p->policy->redact, now_ms() + (long long)p->policy->snapshot_budget_ms, &it);
    static const char *const files[] = {"memory.stat", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
                                        "memory.current", "memory.peak", "memory.events", "memory.pressure", NULL};
    for (size_t k = 0; files[k]; k++) {
        char *buf;
        size_t len;
        char member[96];
        snprintf(member, sizeof member, "cgroup/%s", files[k]);
        if (read_file_at(p->w.dirfd, files[k], 1 << 20, &buf, &len) == 0)
            items_add(&it, member, buf, len, false);
    }
    struct json fj;
    json_init(&fj, true);
    diag_sample_json(sample, &fj);
    if (!json_failed(&fj))
        items_add(&it, "figures.json", steal_pointer(&fj.buf), fj.len, false);
    json_free(&fj);
    for (size_t k = 0; k < it.nmissing; k++)
        items_add_missing(&p->missing[i], it.missing[k].name, it.missing[k].reason);
    if (p->dirfd < 0) {
        items_free(&it);
        return;
    }
    struct json j;
    json_init(&j, true);
    json_obj_begin(&j);
    json_kv_str(&j, "schema", "crashbox.pre-oom/1");
    json_kv_uint(&j, "watermark_percent", wm->percent);
    json_kv_int(&j, "time_unix_ms", seen_ms);
    json_kv_uint(&j, "usage_bytes", usage);
    json_kv_uint(&j, "limit_bytes", p->w.st.limit);
    json_obj_end(&j);
    snprintf(p->pending[i], sizeof p->pending[i], ".crashbox-pending-%s-%s-%d-%u.tar.zst", p->svc.who.service,
             p->svc.who.host, (int)p->svc.who.pid, wm->percent);
    size_t bytes;
    int r = json_failed(&j) ? -ENOMEM
                            : bundle_write(p->dirfd, p->pending[i], j.buf, j.len, &it, time(NULL), 0600,
                                           (gid_t)-1, &bytes);
    if (r < 0) {
        log_warn("cannot keep the pre-OOM snapshot: %s", strerror(-r));
        p->pending[i][0] = '\0';
    }
    json_free(&j);
    items_free(&it);
}

static bool oom_killed_since_start(const struct preoom *p)
{
    const struct cgroup_memory *start = &p->svc.mem_start;
    _cleanup_free_ char *b = NULL;
    size_t len;
    uint64_t now;
    const char *file = p->w.version == CGROUP_V1 ? "memory.oom_control" : "memory.events";
    if (!start->has_oom_kills || read_file_at(p->w.dirfd, file, 1 << 16, &b, &len) < 0 ||
        cgroup_keyed_value(b, len, "oom_kill", &now) < 0)
        return false;
    return now > start->oom_kills;
}

/* An OOM kill in the cgroup, a moment ago: if the service still lives,
 * the victim was another process (a descendant); said at once, counted
 * for the bundle, and out of the baseline, so a later SIGKILL from
 * elsewhere is not taken for an OOM kill. */
static void look_at_oom_kills(struct preoom *p)
{
    struct cgroup_memory *start = &p->svc.mem_start;
    uint64_t now;
    if (!start->has_oom_kills || oomevents_counter(&p->oom, &now) < 0 || now <= start->oom_kills ||
        !oomevents_alive(p->svc.who.pid))
        return;
    unsigned n = (unsigned)(now - start->oom_kills);
    start->oom_kills = now;
    p->descendant_oom_kills += n;
    p->descendant_oom_last = time(NULL);
    log_warn("the OOM killer ended %u other process%s in the service's memory cgroup; the service (pid %d) lives",
             n, n == 1 ? "" : "es", (int)p->svc.who.pid);
    state_update(p);
}

bool preoom_on_event(struct preoom *p, int fd)
{
    uint64_t usage, signalled;
    if (!p->active)
        return false;
    bool look, crossed = false;
    if (oomevents_on_event(&p->oom, fd, &look)) {
        if (look)
            look_at_oom_kills(p);
        return false;
    }
    if (memwatch_read(&p->w, fd, &usage, &signalled) < 0) {
        memwatch_schedule(&p->w, p->w.last_usage); /* a failed read must not end polling */
        return false;
    }
    size_t which = 0;
    switch (memwatch_observe_signalled(&p->w.st, usage, signalled, now_ms(), &which)) {
    case MW_SNAPSHOT:
        take(p, which, usage);
        crossed = true;
        break;
    case MW_FELL_BACK:
        /* An OOM kill frees memory too: then the snapshots are the
         * evidence, not a false alarm. */
        if (oom_killed_since_start(p)) {
            log_debug("memory fell back after an OOM kill: keeping the pre-OOM snapshots");
            break;
        }
        for (size_t i = 0; i < p->w.st.n; i++)
            drop_pending(p, i, p->policy->keep_memory_high);
        break;
    case MW_NONE:
        break;
    }
    memwatch_schedule(&p->w, usage > signalled ? usage : signalled);
    return crossed;
}

/* The Go runtime's figures from the shim's answers. */
static void runtime_figures(const struct items *got, struct diag_runtime *rt)
{
    for (size_t k = 0; k < got->n; k++) {
        if (strcmp(got->v[k].name, "go/runtime.json") == 0)
            (void)diag_parse_runtime(got->v[k].data, got->v[k].len, rt);
        else if (strcmp(got->v[k].name, "go/goroutines.txt") == 0)
            (void)diag_parse_goroutine_profile(got->v[k].data, got->v[k].len, rt);
    }
}

/* The samples, oldest first, as the verdicts read them. */
static void hand_samples(struct preoom *p, struct diag_evidence *ev)
{
    ev->n = 0;
    for (size_t i = 0; i < p->w.st.n && ev->n < DIAG_MAX_SAMPLES; i++) {
        if (!p->have_sample[i])
            continue;
        size_t k = ev->n++;
        for (; k > 0 && ev->samples[k - 1].seen_ms > p->samples[i].seen_ms; k--)
            ev->samples[k] = ev->samples[k - 1];
        ev->samples[k] = p->samples[i];
    }
}

void preoom_finish(struct preoom *p, struct preoom_evidence *out)
{
    /* Field by field: the diagnosis samples (31 KiB, read only up to
     * diag.n) are left as they are. Zeroing them touched eight fresh pages
     * of stack at every end of the service, a page fault each. */
    memset(out, 0, offsetof(struct preoom_evidence, diag));
    memset(&out->diag, 0, offsetof(struct diag_evidence, samples));
    out->diag.n = 0;
    out->watch = p->w.report;
    out->mem_start = p->svc.mem_start;
    out->descendant_oom_kills = p->descendant_oom_kills;
    out->descendant_oom_last = p->descendant_oom_last;
    if (!p->active)
        return;
    shimwork_finish(&p->shim);
    for (size_t i = 0; i < p->w.st.n; i++)
        if (p->have_sample[i] && p->shim.done[i])
            runtime_figures(&p->shim.got[i], &p->samples[i].rt);
    hand_samples(p, &out->diag);
    if (p->dirfd < 0)
        return;
    for (size_t i = 0; i < p->w.st.n; i++) {
        if (!p->pending[i][0])
            continue;
        char prefix[32];
        snprintf(prefix, sizeof prefix, "pre-oom/%u/", p->w.st.wm[i].percent);
        items_move(&out->items, &p->missing[i], prefix);
        items_move(&out->items, &p->shim.got[i], prefix);
        if (out->ncrossed < CRASH_MAX_CROSSED &&
            pending_read(p, i, prefix, &out->items, &out->crossed[out->ncrossed]) == 0)
            out->ncrossed++;
        unlinkat(p->dirfd, p->pending[i], 0);
        p->pending[i][0] = '\0';
    }
}

void preoom_stop(struct preoom *p)
{
    oomevents_stop(&p->oom);
    shimwork_free(&p->shim);
    for (size_t i = 0; i < MEMWATCH_MAX; i++)
        items_free(&p->missing[i]);
    free(p->samples);
    p->samples = NULL;
    memwatch_close(&p->w);
    closep(&p->dirfd);
    p->active = false;
}
