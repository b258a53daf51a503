/* SPDX-License-Identifier: MIT */
/* Memory foresight: watching the service's memory cgroup against its limit
 * and deciding when a pre-OOM snapshot is due. cgroup v1 threshold eventfds
 * on memory.usage_in_bytes (cgroup.event_control) fire at each watermark;
 * registering them is a write, which a container engine's read-only cgroupfs
 * refuses. v2 has no usage threshold: memory.events change notifications
 * (POLLPRI, no write needed) fire at memory.high/max, a PSI trigger on
 * memory.pressure (a write) on reclaim stalls. Without v1 thresholds, the
 * usage file is polled from a timerfd at an interval that tightens as usage
 * nears the next armed watermark; with them, the same timerfd reads usage
 * only at the start and when a watermark held back is due.
 * The decision is a pure state machine: hysteresis and a rate limit make a
 * service hovering at a watermark cost a bounded number of snapshots. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

#define MEMWATCH_MAX 8

struct watermark {
    unsigned percent;
    uint64_t bytes;          /* percent of the limit */
    bool armed;              /* may fire when usage rises to it */
    long long last_fired_ms; /* for the rate limit */
    unsigned fired;          /* snapshots taken for it */
    bool pending;            /* a pre-OOM snapshot is kept for it */
    long long pending_ms;    /* when */
    uint64_t pending_usage;
};

struct memwatch_state {
    struct watermark wm[MEMWATCH_MAX];
    size_t n;
    uint64_t limit;
    uint64_t hysteresis;     /* bytes below a watermark to re-arm it */
    long long min_interval_ms;
};

enum memwatch_action { MW_NONE, MW_SNAPSHOT, MW_FELL_BACK };

/* Pure. Sets watermarks from percents (sorted, at most MEMWATCH_MAX). */
void memwatch_state_init(struct memwatch_state *s, uint64_t limit, const unsigned *percents, size_t n,
                         unsigned hysteresis_percent, long long min_interval_ms);
/* Pure. Feeds one usage reading; returns what to do and for which
 * watermark (*which): a snapshot when usage rose to an armed watermark (and
 * the rate limit allows), MW_FELL_BACK when usage fell back below the lowest
 * pending watermark's re-arm level. */
enum memwatch_action memwatch_observe(struct memwatch_state *s, uint64_t usage, long long now_ms, size_t *which);
/* Pure. The same, for a reading that follows a v1 threshold's event: the
 * kernel saw usage cross `signalled` (its watermark) a moment ago, up or
 * down. Its usage moves in per-CPU charge batches, so the reading may come
 * a few hundred KiB short, and the kernel does not signal that crossing
 * again until usage falls back below it: an armed watermark signalled and
 * read within the hysteresis below it (at least 1% of the limit) is one
 * reached. Read further below, the crossing was down (a service killed
 * falls through every watermark): none. The snapshot records the usage
 * read. */
enum memwatch_action memwatch_observe_signalled(struct memwatch_state *s, uint64_t usage, uint64_t signalled,
                                                long long now_ms, size_t *which);

/* Polling bounds. The floor is what a read of the usage file and a wake of
 * the poll loop may cost near a watermark (100 a second); the ceiling is
 * what an idle service far below its watermarks pays (one a second). */
#define MEMWATCH_POLL_MIN_MS 10
#define MEMWATCH_POLL_MAX_MS 1000
/* How fast a service is assumed able to climb when it has not been seen
 * climbing faster: a burst of 4 MiB allocations crossing 80->95% of 128 MiB
 * in well under a second. With it an idle 128 MiB service far below 80% is
 * read about five times a second, and one within a few MiB of a watermark
 * every 10 ms. (A climb at page-fault speed, over a GiB/s, from idle to the
 * limit in tens of ms outruns any poll this cheap: events see that one.) */
#define MEMWATCH_BURST_BYTES_PER_S (256ULL << 20)

/* Pure. The next poll interval (ms): half the time usage needs to reach
 * the lowest armed watermark above it at the faster of its last growth rate
 * and MEMWATCH_BURST_BYTES_PER_S, clamped to the polling bounds. A
 * watermark held back by its rate limit is due when that limit expires;
 * with nothing armed above usage, only a fall back is left to see. */
long long memwatch_poll_interval_ms(const struct memwatch_state *s, uint64_t usage, uint64_t growth_per_s,
                                    long long now_ms);

/* Pure. Whether an armed watermark is reached but held back by the rate
 * limit: with v1 thresholds, which signal that crossing once, usage is
 * read again when it is due (memwatch_poll_interval_ms). */
bool memwatch_held_back(const struct memwatch_state *s, uint64_t usage);

/* How the cgroup is watched: a set of these. */
enum {
    MW_BY_THRESHOLDS = 1 << 0, /* v1 threshold eventfds */
    MW_BY_EVENTS = 1 << 1,     /* v2 memory.events POLLPRI */
    MW_BY_PSI = 1 << 2,        /* v2 PSI trigger */
    MW_BY_POLL = 1 << 3,       /* adaptive polling of the usage file */
};

/* What the kernel granted for a cgroup: the input of the choice. */
struct memwatch_caps {
    enum cgroup_version version; /* CGROUP_NONE: no memory cgroup found */
    bool has_limit;
    int open_errno;       /* the cgroup directory or its usage file cannot be read */
    bool thresholds;      /* v1: cgroup.event_control took every threshold */
    bool events;          /* v2: memory.events opens */
    bool psi;             /* v2: memory.pressure took a trigger */
    int register_errno;   /* why a v1 threshold or the PSI trigger was refused */
    bool poll_allowed;    /* policy: [memory] poll */
};

/* Pure. The mechanisms to use: every registered one, and polling unless v1
 * thresholds see the watermarks (nothing on v2 fires at a usage level).
 * 0 when nothing can watch; *why says why. */
unsigned memwatch_select(const struct memwatch_caps *c, const char **why);
/* "thresholds", "events+psi+poll", "events+poll", "poll", or "none". */
void memwatch_describe(unsigned by, char *buf, size_t cap);
/* EROFS, EACCES, EPERM: the cgroupfs lets us read but not register. */
bool memwatch_unwritable(int err);

/* What watched, for the manifest and `crashbox show`. */
struct memwatch_report {
    bool set;             /* preoom_start ran for this capture */
    unsigned by;          /* MW_BY_* set, 0: not watched */
    const char *why_none; /* static text, when by is 0 */
    int register_errno;   /* a refused registration (EROFS on a read-only cgroupfs) */
    unsigned long polls;  /* usage reads by polling */
    long long poll_min_ms, poll_max_ms; /* the intervals actually used */
};

/* The kernel side: fds to poll, set up for a cgroup. */
struct memwatch {
    struct memwatch_state st;
    enum cgroup_version version;
    int dirfd;          /* owned: the memory cgroup directory */
    int usage_fd;       /* owned: memory.usage_in_bytes or memory.current, read by pread */
    int timer_fd;       /* owned: the polling timerfd, -1 if not polling */
    int fds[2 * MEMWATCH_MAX + 2]; /* owned: eventfds (v1), or memory.events + PSI (v2), + timer */
    short events[2 * MEMWATCH_MAX + 2];
    uint64_t signals[2 * MEMWATCH_MAX + 2]; /* v1: the watermark (bytes) an eventfd signals, or 0 */
    size_t nfds;
    struct memwatch_report report;
    uint64_t last_usage;   /* for the growth rate */
    long long last_ms;
    uint64_t growth_per_s;
};

/* An empty watch: every fd -1, so memwatch_close is safe. */
void memwatch_init(struct memwatch *w);
/* Returns 0 and fills w (w->report says how it watches), -ENODATA when
 * there is no memory limit, -ENOENT without a memory cgroup, -ENOTSUP when
 * nothing can watch (w->report.why_none), or -errno. */
int memwatch_open(struct memwatch *w, const struct cgroup_memory *m, const unsigned *percents, size_t n,
                  unsigned hysteresis_percent, long long min_interval_ms, bool poll_allowed);
/* After one of w's fds polled ready: consume it and read usage now;
 * *signalled is the watermark a v1 threshold's event crossed, or 0. */
int memwatch_read(struct memwatch *w, int fd, uint64_t *usage, uint64_t *signalled);
/* After a reading was observed (and any snapshot taken): when to poll next. */
void memwatch_schedule(struct memwatch *w, uint64_t usage);
void memwatch_close(struct memwatch *w);
