#include <criterion/criterion.h>
#include <errno.h>

#include "memwatch.h"

#define MiB (1ULL << 20)

Test(memwatch, one_rise_one_snapshot_at_the_highest_watermark)
{
    struct memwatch_state s;
    unsigned p[] = {95, 80, 90};
    memwatch_state_init(&s, 1000 * MiB, p, 3, 5, 10000);
    cr_assert_eq(s.wm[0].percent, 80, "sorted");
    size_t w;
    cr_assert_eq(memwatch_observe(&s, 500 * MiB, 0, &w), MW_NONE);
    cr_assert_eq(memwatch_observe(&s, 850 * MiB, 10, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 80);
    cr_assert_eq(memwatch_observe(&s, 930 * MiB, 20, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 90);
    cr_assert_eq(memwatch_observe(&s, 960 * MiB, 30, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 95);
    cr_assert_eq(memwatch_observe(&s, 990 * MiB, 40, &w), MW_NONE);
    /* A jump straight past all three is one snapshot, at 95. */
    memwatch_state_init(&s, 1000 * MiB, p, 3, 5, 10000);
    cr_assert_eq(memwatch_observe(&s, 970 * MiB, 0, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 95);
    cr_assert_eq(memwatch_observe(&s, 940 * MiB, 5, &w), MW_NONE);
}

Test(memwatch, hovering_at_a_watermark_for_a_minute_is_bounded)
{
    struct memwatch_state s;
    unsigned p[] = {80, 90, 95};
    memwatch_state_init(&s, 1000 * MiB, p, 3, 5, 10000);
    unsigned snaps = 0;
    size_t w;
    /* +-2% around 90%, every 10 ms, for 60 s: inside the hysteresis band. */
    for (long long t = 0; t < 60000; t += 10) {
        uint64_t u = (t / 10) % 2 ? 880 * MiB : 920 * MiB;
        if (memwatch_observe(&s, u, t, &w) == MW_SNAPSHOT)
            snaps++;
    }
    cr_assert_leq(snaps, 2, "80 then 90, once each: %u", snaps);
    /* Swinging through the whole band re-arms, but the rate limit holds:
     * at most one snapshot per watermark per 10 s. */
    memwatch_state_init(&s, 1000 * MiB, p, 3, 5, 10000);
    snaps = 0;
    for (long long t = 0; t < 60000; t += 10) {
        uint64_t u = (t / 10) % 2 ? 800 * MiB : 920 * MiB;
        if (memwatch_observe(&s, u, t, &w) == MW_SNAPSHOT)
            snaps++;
    }
    cr_assert_leq(snaps, 7, "about one per 10 s: %u", snaps);
    cr_assert_geq(snaps, 5);
}

Test(memwatch, falling_back_drops_pending)
{
    struct memwatch_state s;
    unsigned p[] = {80, 90};
    memwatch_state_init(&s, 1000 * MiB, p, 2, 5, 0);
    size_t w;
    cr_assert_eq(memwatch_observe(&s, 910 * MiB, 0, &w), MW_SNAPSHOT);
    cr_assert(s.wm[1].pending);
    cr_assert_eq(memwatch_observe(&s, 860 * MiB, 1, &w), MW_NONE, "inside the hysteresis band");
    cr_assert_eq(memwatch_observe(&s, 840 * MiB, 1, &w), MW_FELL_BACK, "below 90%% - 5%%");
    cr_assert_not(s.wm[1].pending);
    cr_assert_eq(memwatch_observe(&s, 500 * MiB, 2, &w), MW_NONE);
}

static struct memwatch_state armed_128m(void)
{
    struct memwatch_state s;
    unsigned p[] = {80, 90, 95};
    memwatch_state_init(&s, 128 * MiB, p, 3, 5, 10000);
    return s;
}

Test(memwatch_poll, idle_far_below_is_cheap_and_near_a_watermark_is_tight)
{
    struct memwatch_state s = armed_128m();
    /* An idle service at 8 MiB of 128: a few reads a second at most. */
    long long far = memwatch_poll_interval_ms(&s, 8 * MiB, 0, 0);
    cr_assert_geq(far, 150, "%lld", far);
    cr_assert_leq(far, MEMWATCH_POLL_MAX_MS);
    /* Closer is shorter, monotonically. */
    long long prev = far;
    for (uint64_t u = 16 * MiB; u < s.wm[0].bytes; u += 8 * MiB) {
        long long ms = memwatch_poll_interval_ms(&s, u, 0, 0);
        cr_assert_leq(ms, prev, "at %llu MiB: %lld > %lld", (unsigned long long)(u / MiB), ms, prev);
        prev = ms;
    }
    /* Within a 4 MiB burst of 80%: tens of ms, never below the floor. */
    long long near = memwatch_poll_interval_ms(&s, s.wm[0].bytes - 4 * MiB, 0, 0);
    cr_assert_leq(near, 20, "%lld", near);
    cr_assert_eq(memwatch_poll_interval_ms(&s, s.wm[0].bytes - 1, 0, 0), MEMWATCH_POLL_MIN_MS);
    /* A huge limit far away waits at most the ceiling. */
    struct memwatch_state big;
    unsigned p[] = {80};
    memwatch_state_init(&big, 64ULL << 30, p, 1, 5, 10000);
    cr_assert_eq(memwatch_poll_interval_ms(&big, 1 * MiB, 0, 0), MEMWATCH_POLL_MAX_MS);
}

Test(memwatch_poll, the_anchor_climb_is_seen_at_each_watermark)
{
    /* 4 MiB every 20 ms (200 MiB/s) from 8 MiB of 128: crosses 80->95% in
     * about 100 ms. Simulate the poller against it: every watermark is seen
     * within one 4 MiB step of its crossing. */
    struct memwatch_state s = armed_128m();
    long long t = 0, last_t = 0;
    uint64_t last_u = 8 * MiB;
    unsigned seen = 0;
    while (t < 2000) {
        uint64_t u = 8 * MiB + (uint64_t)(t / 20) * 4 * MiB;
        if (u >= 128 * MiB)
            break;
        uint64_t rate = t > last_t && u > last_u ? (u - last_u) * 1000 / (uint64_t)(t - last_t) : 0;
        size_t w;
        if (memwatch_observe(&s, u, t, &w) == MW_SNAPSHOT) {
            cr_assert_lt(u - s.wm[w].bytes, 8 * MiB, "%u%% seen %llu MiB late", s.wm[w].percent,
                         (unsigned long long)((u - s.wm[w].bytes) / MiB));
            seen++;
        }
        last_t = t;
        last_u = u;
        t += memwatch_poll_interval_ms(&s, u, rate, t);
    }
    cr_assert_eq(seen, 3, "80, 90 and 95 each: %u", seen);
}

Test(memwatch_poll, a_fast_climb_tightens_the_interval)
{
    struct memwatch_state s = armed_128m();
    long long idle = memwatch_poll_interval_ms(&s, 40 * MiB, 0, 0);
    long long climbing = memwatch_poll_interval_ms(&s, 40 * MiB, 2ULL << 30, 0);
    cr_assert_lt(climbing, idle / 4, "%lld vs %lld", climbing, idle);
}

Test(memwatch_poll, held_back_by_the_rate_limit_and_nothing_armed)
{
    struct memwatch_state s = armed_128m();
    size_t w;
    cr_assert_eq(memwatch_observe(&s, 126 * MiB, 1000, &w), MW_SNAPSHOT);
    /* Everything fired: only a fall back is left to see. */
    cr_assert_eq(memwatch_poll_interval_ms(&s, 126 * MiB, 0, 1000), MEMWATCH_POLL_MAX_MS);
    /* Fell back below every re-arm level, then up past 95% again within
     * the 10 s rate limit: due when the limit expires, not at once. */
    cr_assert_eq(memwatch_observe(&s, 50 * MiB, 1100, &w), MW_FELL_BACK);
    cr_assert_eq(memwatch_observe(&s, 126 * MiB, 1200, &w), MW_NONE);
    cr_assert_eq(memwatch_poll_interval_ms(&s, 126 * MiB, 0, 10800), 200);
    cr_assert_eq(memwatch_poll_interval_ms(&s, 126 * MiB, 0, 11500), MEMWATCH_POLL_MIN_MS);
}

/* v1 thresholds: an event read a little below its watermark (the kernel's
 * usage and ours differ by per-CPU charge batches) is the crossing the
 * kernel saw; the re-arm level's event says nothing of the watermark. */
Test(memwatch_signalled, a_threshold_read_just_short_is_the_crossing)
{
    struct memwatch_state s;
    unsigned p[] = {50, 80};
    memwatch_state_init(&s, 96 * MiB, p, 2, 5, 10000);
    size_t w;
    cr_assert_eq(memwatch_observe_signalled(&s, 43 * MiB, 0, 0, &w), MW_NONE, "the re-arm level's event");
    cr_assert_eq(memwatch_observe_signalled(&s, 47 * MiB + 900 * 1024, s.wm[0].bytes, 5, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 50);
    cr_assert_eq(s.wm[w].pending_usage, 47 * MiB + 900 * 1024, "the usage read, not the watermark");
    /* Signalled again on the way down: fired already, nothing more. */
    cr_assert_eq(memwatch_observe_signalled(&s, 47 * MiB, s.wm[0].bytes, 10, &w), MW_NONE);
    /* The 80% signalled while usage reads 90%: the highest reached fires. */
    memwatch_state_init(&s, 100 * MiB, p, 2, 5, 10000);
    cr_assert_eq(memwatch_observe_signalled(&s, 90 * MiB, s.wm[0].bytes, 0, &w), MW_SNAPSHOT);
    cr_assert_eq(s.wm[w].percent, 80);
    /* Without the signal, a reading short of the watermark is none. */
    memwatch_state_init(&s, 96 * MiB, p, 2, 5, 10000);
    cr_assert_eq(memwatch_observe(&s, 47 * MiB, 0, &w), MW_NONE);
}

/* v1 signals a crossing down too. A burst past 95% fires 95 alone (80 and
 * 90 disarmed with it); when the service is killed, usage falls through all
 * three and each threshold's event comes with a reading of a few MiB: no
 * watermark was reached (seen: 80 and 90 "crossed" at 1.9 and 1.1 MB). */
Test(memwatch_signalled, a_crossing_down_is_no_crossing)
{
    struct memwatch_state s;
    unsigned p[] = {80, 90, 95};
    for (int taken = 0; taken < 2; taken++) {
        memwatch_state_init(&s, 128 * MiB, p, 3, 5, 10000);
        size_t w;
        cr_assert_eq(memwatch_observe_signalled(&s, 128 * MiB - 2 * MiB, s.wm[0].bytes, 0, &w), MW_SNAPSHOT);
        cr_assert_eq(s.wm[w].percent, 95);
        if (taken) /* the OOM kill's bundle took the pending snapshot */
            s.wm[w].pending = false;
        for (size_t i = 3; i-- > 0;)
            cr_assert_neq(memwatch_observe_signalled(&s, 1900 * 1024, s.wm[i].bytes, 5, &w), MW_SNAPSHOT,
                          "%u%% signalled on the way down", p[i]);
    }
    /* With no hysteresis, a reading short by under 1% of the limit is still
     * the crossing; by more, none. */
    unsigned q[] = {50};
    memwatch_state_init(&s, 100 * MiB, q, 1, 0, 10000);
    size_t w;
    cr_assert_eq(memwatch_observe_signalled(&s, 49 * MiB - 1, s.wm[0].bytes, 0, &w), MW_NONE);
    cr_assert_eq(memwatch_observe_signalled(&s, 49 * MiB + 512 * 1024, s.wm[0].bytes, 0, &w), MW_SNAPSHOT);
}

Test(memwatch_signalled, a_watermark_held_back_by_the_rate_limit_is_read_when_due)
{
    struct memwatch_state s;
    unsigned p[] = {50};
    memwatch_state_init(&s, 100 * MiB, p, 1, 5, 10000);
    size_t w;
    cr_assert_not(memwatch_held_back(&s, 60 * MiB - 1 - 10 * MiB));
    cr_assert_eq(memwatch_observe(&s, 60 * MiB, 0, &w), MW_SNAPSHOT);
    cr_assert_not(memwatch_held_back(&s, 60 * MiB), "fired: disarmed");
    cr_assert_eq(memwatch_observe(&s, 10 * MiB, 100, &w), MW_FELL_BACK);
    /* Up again within the rate limit: no new event will come (the kernel
     * saw this crossing), so reading is the only way to see it is due. */
    cr_assert_eq(memwatch_observe(&s, 60 * MiB, 200, &w), MW_NONE);
    cr_assert(memwatch_held_back(&s, 60 * MiB));
    cr_assert_not(memwatch_held_back(&s, 40 * MiB));
    cr_assert_eq(memwatch_poll_interval_ms(&s, 60 * MiB, 0, 9000), 1000);
    cr_assert_eq(memwatch_observe(&s, 60 * MiB, 10000, &w), MW_SNAPSHOT);
}

static unsigned sel(struct memwatch_caps c, const char **why) { return memwatch_select(&c, why); }

Test(memwatch_select, what_the_kernel_grants_decides_the_mechanism)
{
    const char *why;
    char d[48];
    /* A writable v1 cgroup: thresholds alone. */
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .thresholds = true,
                                            .poll_allowed = true}, &why), MW_BY_THRESHOLDS);
    /* Read-only v1: nothing registers, so poll. */
    unsigned by = sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .register_errno = EROFS,
                                             .poll_allowed = true}, &why);
    cr_assert_eq(by, MW_BY_POLL);
    memwatch_describe(by, d, sizeof d);
    cr_assert_str_eq(d, "poll");
    /* Writable v2: memory.events and PSI, and a poll, since neither fires
     * at a usage level; with polling off, those two. */
    by = sel((struct memwatch_caps){.version = CGROUP_V2, .has_limit = true, .events = true, .psi = true,
                                    .poll_allowed = true}, &why);
    memwatch_describe(by, d, sizeof d);
    cr_assert_str_eq(d, "events+psi+poll");
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V2, .has_limit = true, .events = true, .psi = true},
                     &why), MW_BY_EVENTS | MW_BY_PSI);
    /* A v1 cgroup never has v2's files counted, nor polls beside thresholds. */
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .thresholds = true,
                                            .events = true, .psi = true, .poll_allowed = true}, &why),
                 MW_BY_THRESHOLDS);
    /* Read-only v2: memory.events opens read-only and is kept, but it only
     * fires at memory.high/max, so the watermarks are polled too. */
    by = sel((struct memwatch_caps){.version = CGROUP_V2, .has_limit = true, .events = true,
                                    .register_errno = EROFS, .poll_allowed = true}, &why);
    memwatch_describe(by, d, sizeof d);
    cr_assert_str_eq(d, "events+poll");
    /* ... and without polling, memory.events alone. */
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V2, .has_limit = true, .events = true,
                                            .register_errno = EROFS}, &why), MW_BY_EVENTS);
}

Test(memwatch_select, nothing_watches_and_says_why)
{
    const char *why;
    cr_assert_eq(sel((struct memwatch_caps){.poll_allowed = true}, &why), 0);
    cr_assert_str_eq(why, "no memory cgroup");
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V2, .events = true, .psi = true}, &why), 0);
    cr_assert_str_eq(why, "no memory limit");
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .open_errno = EACCES,
                                            .poll_allowed = true}, &why), 0);
    cr_assert_str_eq(why, "the memory cgroup cannot be read");
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .register_errno = EROFS},
                     &why), 0);
    cr_assert_str_eq(why, "cgroup not writable and polling disabled");
    cr_assert_eq(sel((struct memwatch_caps){.version = CGROUP_V1, .has_limit = true, .register_errno = EINVAL},
                     &why), 0);
    cr_assert_str_eq(why, "no event could be registered and polling disabled");
    char d[48];
    memwatch_describe(0, d, sizeof d);
    cr_assert_str_eq(d, "none");
}

#include <string.h>

#include "recovery.h"

Test(recovery, state_round_trip_and_inference)
{
    struct service_state s = {.pid = 7, .started = 1795368045, .seen = 1795368099, .limit_bytes = 1000, .usage_bytes = 500,
                              .watermark = 80, .oom_kills = 2};
    strcpy(s.service, "api");
    strcpy(s.host, "pod-1");
    strcpy(s.cgroup, "/sys/fs/cgroup/kubepods/x");
    char text[1024];
    size_t n = state_format(&s, text, sizeof text);
    struct service_state back;
    cr_assert_eq(state_parse(text, n, &back), 0);
    cr_assert_str_eq(back.service, "api");
    cr_assert_str_eq(back.cgroup, "/sys/fs/cgroup/kubepods/x");
    cr_assert_eq(back.pid, 7);
    cr_assert_eq(back.watermark, 80);
    cr_assert(back.started == 1795368045 && back.seen == 1795368099);
    cr_assert_not(state_shows_oom(&back, true, 2), "80%%, same OOM count: not near the limit");
    cr_assert(state_shows_oom(&back, true, 3), "the OOM-kill counter rose");
    back.watermark = 95;
    cr_assert(state_shows_oom(&back, false, 0));
    back.watermark = 0;
    back.usage_bytes = 950;
    cr_assert(state_shows_oom(&back, false, 0), "within 10%% of the limit");
    cr_assert_lt(state_parse("garbage", 7, &back), 0);
}
