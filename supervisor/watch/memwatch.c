/* SPDX-License-Identifier: MIT */
#include "memwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int by_percent(const void *a, const void *b)
{
    return (int)*(const unsigned *)a - (int)*(const unsigned *)b;
}

void memwatch_state_init(struct memwatch_state *s, uint64_t limit, const unsigned *percents, size_t n,
                         unsigned hysteresis_percent, long long min_interval_ms)
{
    *s = (struct memwatch_state){.limit = limit, .min_interval_ms = min_interval_ms};
    unsigned p[MEMWATCH_MAX];
    if (n > MEMWATCH_MAX)
        n = MEMWATCH_MAX;
    memcpy(p, percents, n * sizeof *p);
    qsort(p, n, sizeof *p, by_percent);
    s->hysteresis = limit / 100 * hysteresis_percent;
    for (size_t i = 0; i < n; i++) {
        s->wm[s->n] = (struct watermark){.percent = p[i], .bytes = limit / 100 * p[i], .armed = true,
                                         .last_fired_ms = -1};
        s->n++;
    }
}

enum memwatch_action memwatch_observe(struct memwatch_state *s, uint64_t usage, long long now, size_t *which)
{
    return memwatch_observe_signalled(s, usage, 0, now, which);
}

enum memwatch_action memwatch_observe_signalled(struct memwatch_state *s, uint64_t usage, uint64_t signalled,
                                                long long now, size_t *which)
{
    /* A reading short of the signalled watermark by more than the
     * hysteresis (1% of the limit at least) is a crossing down: v1 signals
     * both ways, and a service just killed falls through every watermark. */
    uint64_t short_by = s->hysteresis > s->limit / 100 ? s->hysteresis : s->limit / 100;
    uint64_t reached = usage;
    if (signalled > usage && usage + short_by >= signalled)
        reached = signalled;
    /* Re-arm what usage fell well below; report a fall below everything pending. */
    bool any_pending = false, fell = false;
    for (size_t i = 0; i < s->n; i++) {
        struct watermark *w = &s->wm[i];
        uint64_t rearm = w->bytes > s->hysteresis ? w->bytes - s->hysteresis : 0;
        if (usage < rearm) {
            w->armed = true;
            if (w->pending) {
                w->pending = false;
                fell = true;
                *which = i;
            }
        }
        any_pending |= w->pending;
    }
    if (fell && !any_pending)
        return MW_FELL_BACK;
    /* The highest armed watermark reached fires; lower ones are disarmed
     * with it, so one rise is one snapshot. */
    for (size_t k = s->n; k-- > 0;) {
        struct watermark *w = &s->wm[k];
        if (reached < w->bytes || !w->armed)
            continue;
        if (w->last_fired_ms >= 0 && now - w->last_fired_ms < s->min_interval_ms)
            return MW_NONE;
        for (size_t i = 0; i <= k; i++)
            s->wm[i].armed = false;
        w->last_fired_ms = now;
        w->fired++;
        w->pending = true;
        w->pending_ms = now;
        w->pending_usage = usage;
        *which = k;
        return MW_SNAPSHOT;
    }
    return MW_NONE;
}

long long memwatch_poll_interval_ms(const struct memwatch_state *s, uint64_t usage, uint64_t growth_per_s,
                                    long long now)
{
    long long ms = MEMWATCH_POLL_MAX_MS;
    const struct watermark *reached = NULL, *above = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct watermark *w = &s->wm[i];
        if (w->armed && usage >= w->bytes)
            reached = w; /* sorted: the last is the highest, the one observe fires */
        else if (w->armed && !above)
            above = w;
    }
    if (reached) {
        /* Reached but held back by the rate limit: due when it expires. */
        long long due = reached->last_fired_ms < 0 ? 0 : reached->last_fired_ms + s->min_interval_ms - now;
        if (due < ms)
            ms = due;
    }
    if (above) {
        uint64_t rate = growth_per_s > MEMWATCH_BURST_BYTES_PER_S ? growth_per_s : MEMWATCH_BURST_BYTES_PER_S;
        /* Twice before it gets there at that rate: one sample may land
         * just short of the watermark. */
        uint64_t t = (above->bytes - usage) / (rate / 1000) / 2;
        if ((long long)t < ms)
            ms = (long long)t;
    }
    return ms < MEMWATCH_POLL_MIN_MS ? MEMWATCH_POLL_MIN_MS : ms;
}

bool memwatch_held_back(const struct memwatch_state *s, uint64_t usage)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->wm[i].armed && usage >= s->wm[i].bytes)
            return true;
    return false;
}

bool memwatch_unwritable(int err) { return err == EROFS || err == EACCES || err == EPERM; }

unsigned memwatch_select(const struct memwatch_caps *c, const char **why)
{
    *why = NULL;
    if (c->version == CGROUP_NONE) {
        *why = "no memory cgroup";
        return 0;
    }
    if (!c->has_limit) {
        *why = "no memory limit";
        return 0;
    }
    if (c->open_errno) {
        *why = "the memory cgroup cannot be read";
        return 0;
    }
    unsigned by = 0;
    if (c->version == CGROUP_V1 && c->thresholds)
        by |= MW_BY_THRESHOLDS;
    if (c->version == CGROUP_V2 && c->events)
        by |= MW_BY_EVENTS;
    if (c->version == CGROUP_V2 && c->psi)
        by |= MW_BY_PSI;
    /* Only v1 thresholds fire at a usage level. memory.events fires at
     * memory.high and the limit, PSI when reclaim stalls the service: a
     * climb through 80% and 90% wakes neither, so v2 polls as well. */
    if (by & MW_BY_THRESHOLDS)
        return by;
    if (c->poll_allowed)
        return by | MW_BY_POLL;
    if (by)
        return by;
    *why = memwatch_unwritable(c->register_errno) ? "cgroup not writable and polling disabled"
                                                  : "no event could be registered and polling disabled";
    return 0;
}

void memwatch_describe(unsigned by, char *buf, size_t cap)
{
    static const char *const names[] = {"thresholds", "events", "psi", "poll"};
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (by & (1u << i) && len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? "+" : "", names[i]);
    if (!by)
        snprintf(buf, cap, "none");
}

void memwatch_init(struct memwatch *w)
{
    *w = (struct memwatch){.dirfd = -1, .usage_fd = -1, .timer_fd = -1};
    for (size_t i = 0; i < ARRAY_SIZE(w->fds); i++)
        w->fds[i] = -1;
}

static int add_fd(struct memwatch *w, int fd, short events)
{
    if (w->nfds == ARRAY_SIZE(w->fds)) {
        close(fd);
        return -ENOSPC;
    }
    w->fds[w->nfds] = fd;
    w->events[w->nfds++] = events;
    return 0;
}

/* One eventfd per watermark, and one at the level below it that re-arms
 * it: the kernel signals each crossing, up or down. All or nothing. */
static int register_thresholds(struct memwatch *w)
{
    _cleanup_close_ int ctl = openat(w->dirfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
    if (ctl < 0)
        return -errno;
    for (size_t i = 0; i < w->st.n; i++) {
        const struct watermark *wm = &w->st.wm[i];
        uint64_t levels[2] = {wm->bytes, wm->bytes > w->st.hysteresis ? wm->bytes - w->st.hysteresis - 1 : 0};
        for (int k = 0; k < 2; k++) {
            if (!levels[k])
                continue;
            int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (efd < 0 || add_fd(w, efd, POLLIN) < 0)
                return efd < 0 ? -errno : -ENOSPC;
            w->signals[w->nfds - 1] = k == 0 ? wm->bytes : 0; /* the re-arm level's says nothing of it */
            char line[96];
            int len = snprintf(line, sizeof line, "%d %d %llu", efd, w->usage_fd, (unsigned long long)levels[k]);
            if (write(ctl, line, (size_t)len) < 0)
                return -errno;
        }
    }
    return 0;
}

static void drop_fds(struct memwatch *w)
{
    for (size_t i = 0; i < w->nfds; i++) {
        closep(&w->fds[i]);
        w->signals[i] = 0;
    }
    w->nfds = 0;
}

static int register_psi(struct memwatch *w)
{
    int psi = openat(w->dirfd, "memory.pressure", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (psi < 0)
        return -errno;
    static const char trig[] = "some 100000 1000000"; /* 100 ms stalled within 1 s */
    if (write(psi, trig, sizeof trig) < 0) {
        int r = -errno;
        close(psi);
        return r;
    }
    return add_fd(w, psi, POLLPRI);
}

/* The timerfd, with a first reading at once: the service may start near a
 * watermark, or past one, which a threshold registered then never reports
 * (the kernel signals crossings, not levels). */
static int arm_first_reading(struct memwatch *w)
{
    w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (w->timer_fd < 0)
        return -errno;
    struct itimerspec its = {.it_value = {.tv_nsec = 1000000}};
    if (timerfd_settime(w->timer_fd, 0, &its, NULL) < 0)
        return -errno;
    if (w->nfds == ARRAY_SIZE(w->fds))
        return -ENOSPC;
    w->fds[w->nfds] = w->timer_fd; /* not owned twice: closed through timer_fd */
    w->events[w->nfds++] = POLLIN;
    return 0;
}

int memwatch_open(struct memwatch *w, const struct cgroup_memory *m, const unsigned *percents, size_t n,
                  unsigned hysteresis_percent, long long min_interval_ms, bool poll_allowed)
{
    memwatch_init(w);
    w->version = m->version;
    w->report.set = true;
    struct memwatch_caps caps = {.version = m->version, .has_limit = m->has_limit, .poll_allowed = poll_allowed};
    if (m->version && m->has_limit) {
        memwatch_state_init(&w->st, m->limit_bytes, percents, n, hysteresis_percent, min_interval_ms);
        w->dirfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->dirfd >= 0)
            w->usage_fd = openat(w->dirfd, m->version == CGROUP_V1 ? "memory.usage_in_bytes" : "memory.current",
                                 O_RDONLY | O_CLOEXEC);
        caps.open_errno = w->usage_fd < 0 ? errno : 0;
    }
    if (!caps.open_errno && m->version == CGROUP_V1 && m->has_limit) {
        int r = register_thresholds(w);
        caps.thresholds = r == 0;
        caps.register_errno = -r;
        if (r < 0)
            drop_fds(w); /* a partial set would miss crossings: poll instead */
    } else if (!caps.open_errno && m->version == CGROUP_V2 && m->has_limit) {
        int ev = openat(w->dirfd, "memory.events", O_RDONLY | O_CLOEXEC);
        caps.events = ev >= 0 && add_fd(w, ev, POLLPRI) == 0;
        int r = register_psi(w);
        caps.psi = r == 0;
        caps.register_errno = -r;
    }
    w->report.by = memwatch_select(&caps, &w->report.why_none);
    w->report.register_errno = caps.register_errno;
    /* Thresholds read usage too: at the start, and when a watermark held
     * back by the rate limit is due (memwatch_held_back). */
    if (w->report.by & (MW_BY_POLL | MW_BY_THRESHOLDS)) {
        int r = arm_first_reading(w);
        if (r < 0 && (w->report.by & MW_BY_POLL))
            return r;
        if (r < 0) /* the thresholds watch on without it */
            closep(&w->timer_fd);
    }
    if (!caps.version)
        return -ENOENT;
    if (!caps.has_limit)
        return -ENODATA;
    if (caps.open_errno)
        return -caps.open_errno;
    return w->report.by ? 0 : -ENOTSUP;
}

static int pread_u64(int fd, uint64_t *v)
{
    char b[64];
    ssize_t n = pread(fd, b, sizeof b - 1, 0);
    if (n <= 0)
        return n < 0 ? -errno : -ENODATA;
    b[n] = '\0';
    char *e;
    *v = strtoull(b, &e, 10);
    return e == b ? -EINVAL : 0;
}

int memwatch_read(struct memwatch *w, int fd, uint64_t *usage, uint64_t *signalled)
{
    *signalled = 0;
    if (fd == w->timer_fd) {
        uint64_t expirations;
        (void)read(fd, &expirations, sizeof expirations);
        w->report.polls++;
    } else if (w->version == CGROUP_V1) {
        uint64_t count;
        (void)read(fd, &count, sizeof count);
        for (size_t i = 0; i < w->nfds; i++)
            if (w->fds[i] == fd)
                *signalled = w->signals[i];
    } else {
        /* v2 notifications need no reading; memory.events is re-read by seek. */
        char buf[512];
        (void)pread(fd, buf, sizeof buf, 0);
    }
    int r = pread_u64(w->usage_fd, usage);
    if (r < 0)
        return r;
    long long now = now_ms();
    if (w->last_ms && now > w->last_ms)
        w->growth_per_s = *usage > w->last_usage ? (*usage - w->last_usage) * 1000 / (uint64_t)(now - w->last_ms) : 0;
    w->last_usage = *usage;
    w->last_ms = now;
    return 0;
}

void memwatch_schedule(struct memwatch *w, uint64_t usage)
{
    if (w->timer_fd < 0)
        return;
    bool polling = w->report.by & MW_BY_POLL;
    long long ms = polling || memwatch_held_back(&w->st, usage)
                       ? memwatch_poll_interval_ms(&w->st, usage, w->growth_per_s, now_ms())
                       : 0; /* disarmed: the thresholds see the rest */
    if (polling && (!w->report.poll_min_ms || ms < w->report.poll_min_ms))
        w->report.poll_min_ms = ms;
    if (polling && ms > w->report.poll_max_ms)
        w->report.poll_max_ms = ms;
    struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}};
    (void)timerfd_settime(w->timer_fd, 0, &its, NULL);
}

void memwatch_close(struct memwatch *w)
{
    for (size_t i = 0; i < w->nfds; i++)
        if (w->fds[i] != w->timer_fd)
            closep(&w->fds[i]);
    closep(&w->timer_fd);
    closep(&w->usage_fd);
    closep(&w->dirfd);
    w->nfds = 0;
}
