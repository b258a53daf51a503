#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gogroups.h"
#include "goparse.h"
#include "gosigns.h"
#include "util.h"

static const char pileup[] =
    "panic: backend unreachable\n"
    "\n"
    "goroutine 1 [running]:\n"
    "main.main()\n"
    "\t/src/app/main.go:40 +0x1d\n"
    "\n"
    "goroutine 7 [chan receive, 5 minutes]:\n"
    "main.(*request).awaitBackend(0xc000010000)\n"
    "\t/src/app/main.go:23 +0x1d\n"
    "main.handle(0x7)\n"
    "\t/src/app/main.go:30 +0x45\n"
    "created by main.main in goroutine 1\n"
    "\t/src/app/main.go:35 +0x25\n"
    "\n"
    "goroutine 8 gp=0xc000007180 m=nil [chan receive, 12 minutes, locked to thread]:\n"
    "main.(*request).awaitBackend(0xc000010040)\n"
    "\t/src/app/main.go:23 +0x1d\n"
    "main.handle(0x8)\n"
    "\t/src/app/main.go:30 +0x45\n"
    "created by main.main in goroutine 1\n"
    "\t/src/app/main.go:35 +0x25\n"
    "\n"
    "goroutine 9 [chan receive]:\n"
    "main.(*request).awaitBackend(...)\n"
    "\t/src/app/main.go:23\n"
    "main.handle(0x9)\n"
    "\t/src/app/main.go:30 +0x45\n"
    "created by main.main\n"
    "\t/src/app/main.go:35 +0x25\n"
    "\n"
    "goroutine 10 [chan receive]:\n"
    "main.(*request).awaitBackend(0xc000010080)\n"
    "\t/src/app/main.go:23 +0x1d\n"
    "main.handle(0xa)\n"
    "\t/src/app/main.go:30 +0x45\n"
    "created by main.other in goroutine 1\n"
    "\t/src/app/main.go:50 +0x25\n"
    "exit status 2\n";

Test(gogroups, traceback_groups_by_state_stack_and_creator)
{
    struct go_groups g;
    cr_assert_eq(gogroups_parse(pileup, sizeof pileup - 1, &g), 3);
    cr_assert_eq(g.goroutines, 5);
    cr_assert_not(g.from_profile);
    const struct go_group *big = &g.v[0];
    cr_assert_eq(big->count, 3, "the same site and creator: one group, whatever the wait");
    cr_assert_str_eq(big->state, "chan receive");
    cr_assert_eq(big->wait_minutes_max, 12);
    cr_assert_eq(big->nfunctions, 2);
    cr_assert_str_eq(big->functions[0], "main.(*request).awaitBackend");
    cr_assert_str_eq(big->functions[1], "main.handle");
    cr_assert_str_eq(big->file, "main.go");
    cr_assert_eq(big->line, 23);
    cr_assert_str_eq(big->created_by, "main.main");
    cr_assert_eq(g.v[1].count, 1);
    cr_assert_eq(g.v[2].count, 1);
    bool other = false;
    for (size_t i = 1; i < g.n; i++)
        other |= g.v[i].created_by && !strcmp(g.v[i].created_by, "main.other");
    cr_assert(other, "another creator is another group");
    go_groups_free(&g);
}

/* As the shim's pprof debug=1 text comes (Go 1.23): the runtime frames a
 * goroutine parked in are not printed, so no state can be read. */
static const char profile[] =
    "goroutine profile: total 50004\n"
    "50000 @ 0x46ba6e 0x4075bc 0x407192 0x4fe016 0x4fdff4 0x473221\n"
    "#\t0x4fe015\tmain.(*request).awaitBackend+0x75\t/src/app/main.go:23\n"
    "#\t0x4fdff3\tmain.handle+0x53\t\t\t/src/app/main.go:30\n"
    "\n"
    "2 @ 0x43e7ce 0x44e1b0 0x4a3f00 0x471b41\n"
    "# labels: {\"job\":\"sweep\"}\n"
    "#\t0x44e1af\ttime.Sleep+0x10f\t/usr/lib/go/src/runtime/time.go:300\n"
    "#\t0x4a3eff\tmain.sweeper+0x1f\t/src/app/sweep.go:9\n"
    "\n"
    "1 @ 0x4303f1 0x46aefd 0x4e7e51 0x4e7c85 0x4e4aab 0x4fd629 0x473221\n"
    "#\t0x4e7e50\truntime/pprof.writeRuntimeProfile+0xb0\t/usr/lib/go-1.23/src/runtime/pprof/pprof.go:793\n"
    "#\t0x4e7c84\truntime/pprof.writeGoroutine+0x44\t/usr/lib/go-1.23/src/runtime/pprof/pprof.go:752\n"
    "#\t0x4fd628\tcrashbox.dev/shim.serve+0x448\t\t/src/shim/shim.go:115\n"
    "\n"
    "1 @ 0x4392d9 0x47477b 0x4fdf77 0x43a74b 0x473221\n"
    "#\t0x4fdf76\tmain.main+0x2d6\t\t/src/app/main.go:57\n"
    "#\t0x43a74a\truntime.main+0x28a\t/usr/lib/go-1.23/src/runtime/proc.go:272\n";

Test(gogroups, profile_counts_without_states)
{
    struct go_groups g;
    cr_assert_eq(gogroups_parse(profile, sizeof profile - 1, &g), 4);
    cr_assert(g.from_profile);
    cr_assert_eq(g.goroutines, 50004);
    cr_assert_eq(g.v[0].count, 50000);
    cr_assert_null(g.v[0].state);
    cr_assert_str_eq(g.v[0].functions[0], "main.(*request).awaitBackend");
    cr_assert_str_eq(g.v[0].functions[1], "main.handle");
    cr_assert_str_eq(g.v[0].file, "main.go");
    cr_assert_eq(g.v[0].line, 23);
    cr_assert_null(g.v[0].created_by);
    cr_assert_eq(g.v[1].count, 2);
    cr_assert_str_eq(g.v[1].functions[0], "time.Sleep");
    for (size_t i = 2; i < g.n; i++)
        if (g.v[i].nfunctions && strstr(g.v[i].functions[0], "shim"))
            cr_assert_str_eq(g.v[i].functions[0], "crashbox.dev/shim.serve", "pprof's own frames on top dropped");
    go_groups_free(&g);
}

/* pprof orders a profile's ties by their program counters, so where main
 * stood at the dump reorders them: the groups come in one order whatever
 * order the profile gave. */
Test(gogroups, profile_ties_in_one_order_whatever_pprofs)
{
    static const char shim[] = "1 @ 0x4303f1 0x473221\n"
                               "#\t0x4fd628\tcrashbox.dev/shim.serve+0x448\t/src/shim/shim.go:117\n\n";
    static const char sleep[] = "1 @ 0x4392d9 0x473221\n"
                                "#\t0x44e1af\ttime.Sleep+0x10f\t/usr/lib/go/src/runtime/time.go:300\n"
                                "#\t0x4fdf76\tmain.main+0x2d6\t/src/app/main.go:57\n\n";
    static const char head[] = "goroutine profile: total 2\n";
    char a[512], b[512];
    snprintf(a, sizeof a, "%s%s%s", head, shim, sleep);
    snprintf(b, sizeof b, "%s%s%s", head, sleep, shim);
    struct go_groups ga, gb;
    cr_assert_eq(gogroups_parse(a, strlen(a), &ga), 2);
    cr_assert_eq(gogroups_parse(b, strlen(b), &gb), 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert_str_eq(ga.v[i].functions[0], gb.v[i].functions[0], "group %zu", i);
    cr_assert_str_eq(ga.v[0].functions[0], "crashbox.dev/shim.serve");
    go_groups_free(&ga);
    go_groups_free(&gb);
}

Test(gogroups, many_distinct_stacks_stay_bounded)
{
    size_t cap = 4 << 20, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(buf + n, cap - n, "goroutine %d [select]:\nmain.f%d()\n\t/x.go:%d\n\n", i + 1, i, i);
    struct go_groups g;
    cr_assert_eq(gogroups_parse(buf, n, &g), GOGROUPS_MAX_TRACKED);
    cr_assert_eq(g.goroutines, 5000);
    cr_assert_eq(g.ungrouped, 5000 - GOGROUPS_MAX_TRACKED);
    go_groups_free(&g);
    free(buf);
}

/* Every goroutine of every captured Go version is counted once. */
Test(gogroups, fixtures_count_what_goparse_counts)
{
    static const char *const versions[] = {"1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26"};
    static const char *const names[] = {"sigquit-waitgroup", "sigquit-system", "traceback-crash", "deadlock"};
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++)
        for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
            char path[256];
            snprintf(path, sizeof path, "tests/fixtures/go%s/%s.txt", versions[v], names[k]);
            char *buf = NULL;
            size_t len;
            if (read_file_at(AT_FDCWD, path, 64 << 20, &buf, &len) < 0)
                continue;
            struct go_crash c;
            cr_assert_eq(goparse_crash(buf, len, &c), 1, "%s", path);
            struct go_groups g;
            cr_assert_geq(gogroups_parse(buf + c.report_offset, len - c.report_offset, &g), 1, "%s", path);
            cr_assert_eq(g.goroutines, c.goroutines, "%s: %zu grouped, %zu in the report", path,
                         g.goroutines, c.goroutines);
            go_groups_free(&g);
            go_crash_free(&c);
            free(buf);
        }
}

Test(gosigns, first_race_both_stacks_creators_and_count)
{
    char *buf = NULL;
    size_t len;
    cr_assert_eq(read_file_at(AT_FDCWD, "tests/fixtures/go1.23/data-races.txt", 64 << 20, &buf, &len), 0);
    struct go_race r;
    cr_assert_eq(gosigns_race(buf, len, &r), 1);
    cr_assert_geq(r.count, 2);
    cr_assert_str_eq(r.access.what, "Read at 0x0000005f3b50 by goroutine 8");
    cr_assert_eq(r.access.goroutine, 8);
    cr_assert_str_eq(r.access.frames[0].function, "main.record");
    cr_assert_eq(r.access.frames[0].line, 15);
    cr_assert_eq(r.access.nframes, 3);
    cr_assert_eq(r.previous.goroutine, 7);
    cr_assert_str_eq(r.previous.what, "Previous write at 0x0000005f3b50 by goroutine 7");
    cr_assert_eq(r.access.ncreated, 1);
    cr_assert_str_eq(r.access.created_at[0].function, "main.main");
    cr_assert_eq(r.access.created_at[0].line, 26);
    cr_assert_eq(r.previous.ncreated, 1);
    go_race_free(&r);
    free(buf);
}

Test(gosigns, the_runtime_count_wins_over_reports_the_tail_lost)
{
    static const char tail[] = "WARNING: DATA RACE\nWrite at 0x1 by main goroutine:\n  main.main()\n"
                               "      /a.go:3 +0x1\n\n==================\nFound 9 data race(s)\n";
    struct go_race r;
    cr_assert_eq(gosigns_race(tail, sizeof tail - 1, &r), 1);
    cr_assert_eq(r.count, 9);
    cr_assert(r.access.main_goroutine);
    cr_assert_eq(r.access.goroutine, 1);
    cr_assert_null(r.previous.what);
    go_race_free(&r);
    cr_assert_eq(gosigns_race("panic: x\n", 9, &r), 0);
    go_race_free(&r);
}

Test(gosigns, recovered_panics_counted_and_named)
{
    static const char tail[] =
        "2026/12/02 21:00:00 http: panic serving 127.0.0.1:41234: assignment to entry in nil map\n"
        "goroutine 7 [running]:\n"
        "2026/12/02 21:00:01 http: panic serving [::1]:5000: assignment to entry in nil map\n"
        "2026/12/02 21:00:02 http: panic serving 127.0.0.1:41236: report backend down\n"
        "panic: runtime error: index out of range [5] with length 0 [recovered]\n"
        "\tpanic: commit: lost lease [recovered, repanicked]\n"
        "panic: the end\n";
    struct go_recovered rp;
    cr_assert_eq(gosigns_recovered(tail, sizeof tail - 1, &rp), 5);
    cr_assert_eq(rp.nnames, 4);
    cr_assert_str_eq(rp.names[0].text, "assignment to entry in nil map");
    cr_assert_eq(rp.names[0].count, 2);
    cr_assert_str_eq(rp.names[1].text, "report backend down");
    cr_assert_str_eq(rp.names[2].text, "runtime error: index out of range [5] with length 0");
    cr_assert_str_eq(rp.names[3].text, "commit: lost lease");
    go_recovered_free(&rp);
}
