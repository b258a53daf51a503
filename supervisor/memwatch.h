/* SPDX-License-Identifier: MIT */
/* Memory foresight: watching the service's memory cgroup against its limit
 * and deciding when a pre-OOM snapshot is due. Event-driven: cgroup v1
 * threshold eventfds on memory.usage_in_bytes (cgroup.event_control); on v2
 * memory.events change notifications (POLLPRI) and a PSI trigger on
 * memory.pressure, each followed by a read of memory.current.
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

/* The kernel side: fds to poll, set up for a cgroup. */
struct memwatch {
    struct memwatch_state st;
    enum cgroup_version version;
    int dirfd;          /* owned: the memory cgroup directory */
    int fds[2 * MEMWATCH_MAX + 2]; /* owned: eventfds (v1), or memory.events + PSI (v2) */
    short events[2 * MEMWATCH_MAX + 2];
    size_t nfds;
};

/* Returns 0 and fills w, -ENODATA when there is no memory limit, or -errno. */
int memwatch_open(struct memwatch *w, const struct cgroup_memory *m, const unsigned *percents, size_t n,
                  unsigned hysteresis_percent, long long min_interval_ms);
/* After one of w's fds polled ready: consume it and read usage now. */
int memwatch_read(struct memwatch *w, int fd, uint64_t *usage);
void memwatch_close(struct memwatch *w);
