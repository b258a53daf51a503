/* SPDX-License-Identifier: MIT */
#include "memwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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
        if (usage < w->bytes || !w->armed)
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

static int read_u64_at(int dirfd, const char *name, uint64_t *v)
{
    _cleanup_free_ char *b = NULL;
    int r = read_file_at(dirfd, name, 256, &b, NULL);
    if (r < 0)
        return r;
    char *e;
    *v = strtoull(b, &e, 10);
    return e == b ? -EINVAL : 0;
}

int memwatch_open(struct memwatch *w, const struct cgroup_memory *m, const unsigned *percents, size_t n,
                  unsigned hysteresis_percent, long long min_interval_ms)
{
    *w = (struct memwatch){.dirfd = -1, .version = m->version};
    for (size_t i = 0; i < ARRAY_SIZE(w->fds); i++)
        w->fds[i] = -1;
    if (!m->version)
        return -ENOENT;
    if (!m->has_limit)
        return -ENODATA;
    memwatch_state_init(&w->st, m->limit_bytes, percents, n, hysteresis_percent, min_interval_ms);
    w->dirfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dirfd < 0)
        return -errno;
    if (m->version == CGROUP_V1) {
        _cleanup_close_ int ctl = openat(w->dirfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
        _cleanup_close_ int usage = openat(w->dirfd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
        if (ctl < 0 || usage < 0)
            return -errno;
        /* One eventfd per watermark, and one at the level below it that
         * re-arms it: the kernel signals each crossing, up or down. */
        for (size_t i = 0; i < w->st.n && w->nfds + 2 <= ARRAY_SIZE(w->fds); i++) {
            uint64_t levels[2] = {w->st.wm[i].bytes, w->st.wm[i].bytes > w->st.hysteresis
                                                         ? w->st.wm[i].bytes - w->st.hysteresis - 1
                                                         : 0};
            for (int k = 0; k < 2; k++) {
                if (!levels[k])
                    continue;
                int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (efd < 0)
                    return -errno;
                w->fds[w->nfds] = efd;
                w->events[w->nfds++] = POLLIN;
                char line[96];
                int len = snprintf(line, sizeof line, "%d %d %llu", efd, usage, (unsigned long long)levels[k]);
                if (write(ctl, line, (size_t)len) < 0)
                    return -errno;
            }
        }
        return 0;
    }
    /* v2: memory.events changes (high, max, oom) wake a POLLPRI; a PSI
     * trigger wakes on memory stalls. */
    int ev = openat(w->dirfd, "memory.events", O_RDONLY | O_CLOEXEC);
    if (ev >= 0) {
        w->fds[w->nfds] = ev;
        w->events[w->nfds++] = POLLPRI;
    }
    int psi = openat(w->dirfd, "memory.pressure", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (psi >= 0) {
        static const char trig[] = "some 100000 1000000"; /* 100 ms stalled within 1 s */
        if (write(psi, trig, sizeof trig) >= 0) {
            w->fds[w->nfds] = psi;
            w->events[w->nfds++] = POLLPRI;
        } else {
            close(psi);
        }
    }
    return w->nfds ? 0 : -ENOTSUP;
}

int memwatch_read(struct memwatch *w, int fd, uint64_t *usage)
{
    if (w->version == CGROUP_V1) {
        uint64_t count;
        (void)read(fd, &count, sizeof count);
        return read_u64_at(w->dirfd, "memory.usage_in_bytes", usage);
    }
    /* v2 notifications need no reading; memory.events is re-read by seek. */
    char buf[512];
    (void)pread(fd, buf, sizeof buf, 0);
    return read_u64_at(w->dirfd, "memory.current", usage);
}

void memwatch_close(struct memwatch *w)
{
    for (size_t i = 0; i < ARRAY_SIZE(w->fds); i++)
        closep(&w->fds[i]);
    closep(&w->dirfd);
    w->nfds = 0;
}
