#include <criterion/criterion.h>

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

#include <string.h>

#include "recovery.h"

Test(recovery, state_round_trip_and_inference)
{
    struct service_state s = {.pid = 7, .started = 1795368045, .limit_bytes = 1000, .usage_bytes = 500,
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
    cr_assert_not(state_shows_oom(&back, true, 2), "80%%, same OOM count: not near the limit");
    cr_assert(state_shows_oom(&back, true, 3), "the OOM-kill counter rose");
    back.watermark = 95;
    cr_assert(state_shows_oom(&back, false, 0));
    back.watermark = 0;
    back.usage_bytes = 950;
    cr_assert(state_shows_oom(&back, false, 0), "within 10%% of the limit");
    cr_assert_lt(state_parse("garbage", 7, &back), 0);
}
