/* The memory verdicts from fixture figures: each story of issue 12 gives its
 * verdict and no other. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "diagnosis.h"
#include "leftovers.h"

#define MiB (1ULL << 20)

static struct diag_evidence base(uint64_t limit)
{
    return (struct diag_evidence){.service_pid = 100, .limit = limit, .oom_killed = true};
}

static struct diag_sample *sample(struct diag_evidence *ev, unsigned pct, long long ms, uint64_t usage)
{
    struct diag_sample *s = &ev->samples[ev->n++];
    *s = (struct diag_sample){.percent = pct, .seen_ms = ms, .have_cgroup = true, .usage = usage,
                              .anon = usage};
    return s;
}

static void proc(struct diag_sample *s, int pid, const char *comm, uint64_t rss)
{
    struct diag_proc *p = &s->procs[s->nprocs++];
    *p = (struct diag_proc){.pid = pid, .rss = rss, .rss_anon = rss};
    snprintf(p->comm, sizeof p->comm, "%s", comm);
}

static struct diag_runtime *rt(struct diag_sample *s, uint64_t inuse, uint64_t idle, uint64_t released,
                               uint64_t stacks, uint64_t goroutines)
{
    s->rt = (struct diag_runtime){.have = true, .heap_inuse = inuse, .heap_idle = idle,
                                  .heap_released = released, .stack_inuse = stacks, .goroutines = goroutines,
                                  .gogc_percent = 100, .gomemlimit = DIAG_NO_LIMIT};
    return &s->rt;
}

/* The verdict IDs, space-separated, in order. */
static const char *ids(const struct diag_evidence *ev, struct diag_verdict *v, size_t *n)
{
    static char out[256];
    *n = diagnose(ev, v, DIAG_MAX_VERDICTS);
    out[0] = '\0';
    for (size_t i = 0; i < *n; i++) {
        strcat(out, i ? " " : "");
        strcat(out, v[i].id);
    }
    return out;
}

static int64_t figure(const struct diag_verdict *v, const char *key)
{
    for (size_t i = 0; i < v->nfig; i++)
        if (strcmp(v->fig[i].key, key) == 0)
            return v->fig[i].num;
    cr_assert_fail("no figure %s in %s", key, v->id);
    return 0;
}

Test(diagnosis, a_watcher_child_holding_a_third_is_other_process_not_the_settings)
{
    /* golang/go#73490: GOGC=off, GOMEMLIMIT 400 MiB under a 512 MiB limit,
     * the app's own crash watcher at 165 MiB. */
    struct diag_evidence ev = base(512 * MiB);
    struct diag_sample *s = sample(&ev, 95, 10000, 487 * MiB);
    proc(s, 100, "api", 320 * MiB);
    proc(s, 101, "api-watcher", 165 * MiB);
    struct diag_runtime *r = rt(s, 300 * MiB, 10 * MiB, 5 * MiB, 1 * MiB, 20);
    r->gogc_percent = -1;
    r->gomemlimit = 400 * MiB;
    ev.end_ms = 20000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "other-process");
    cr_assert_eq(figure(&v[0], "pid"), 101);
    cr_assert_eq(figure(&v[0], "rss_bytes"), (int64_t)(165 * MiB));
    cr_assert(strstr(v[0].text, "pid 101 (api-watcher) held 165 MiB"), "%s", v[0].text);
}

Test(diagnosis, the_two_am_burst_after_a_retained_heap)
{
    /* 40 MiB in use, 147 idle not returned, RSS 190; then a burst. */
    struct diag_evidence ev = base(256 * MiB);
    struct diag_sample *s = sample(&ev, 80, 10000, 205 * MiB);
    proc(s, 100, "api", 190 * MiB);
    rt(s, 40 * MiB, 150 * MiB, 3 * MiB, 1 * MiB, 30);
    s = sample(&ev, 95, 10150, 245 * MiB);
    proc(s, 100, "api", 240 * MiB);
    rt(s, 200 * MiB, 30 * MiB, 3 * MiB, 1 * MiB, 30);
    ev.end_ms = 10350;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "retained-heap burst");
    cr_assert_eq(figure(&v[0], "heap_inuse_bytes"), (int64_t)(40 * MiB));
    cr_assert(strstr(v[0].text, "147 MiB idle and not returned"), "%s", v[0].text);
    cr_assert_eq(figure(&v[1], "first_watermark_to_kill_ms"), 350);
    cr_assert_eq(figure(&v[1], "mib_per_s"), 146); /* 51 MiB in 0.35 s */
}

Test(diagnosis, a_goroutine_leak_names_its_largest_group)
{
    struct diag_evidence ev = base(256 * MiB);
    struct diag_sample *s = sample(&ev, 95, 10000, 245 * MiB);
    proc(s, 100, "api", 240 * MiB);
    struct diag_runtime *r = rt(s, 51 * MiB, 5 * MiB, 1 * MiB, 141 * MiB, 70003);
    static const char prof[] = "goroutine profile: total 70003\n"
                               "70000 @ 0x43e2ce 0x40a4a5 0x4a1b2f 0x471ca1\n"
                               "#\t0x4a1b2e\tmain.(*request).awaitBackend+0x2e\t/src/main.go:23\n"
                               "#\t0x471ca0\truntime.goexit+0x0\t/usr/lib/go/src/runtime/asm_amd64.s:1700\n"
                               "\n"
                               "2 @ 0x43e2ce\n#\t0x1\tmain.main+0x1\t/src/main.go:40\n";
    cr_assert_eq(diag_parse_goroutine_profile(prof, sizeof prof - 1, r), 0);
    cr_assert_eq(r->group_count, 70000);
    cr_assert_eq(r->group_nfunctions, 2);
    cr_assert_str_eq(r->group_functions[0], "main.(*request).awaitBackend");
    ev.end_ms = 60000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "goroutine-leak");
    cr_assert_eq(figure(&v[0], "goroutines"), 70003);
    cr_assert(strstr(v[0].text, "70000 in main.(*request).awaitBackend"), "%s", v[0].text);
    /* The profile asked at the last watermark did not come before the
     * kill: the group is the earlier one's, the figures the latest. */
    s = sample(&ev, 97, 10100, 250 * MiB);
    rt(s, 52 * MiB, 5 * MiB, 1 * MiB, 143 * MiB, 71000);
    cr_assert_str_eq(ids(&ev, v, &n), "goroutine-leak");
    cr_assert_eq(figure(&v[0], "goroutines"), 71000);
    cr_assert_eq(figure(&v[0], "largest_group_count"), 70000);
}

Test(diagnosis, tmpfs_pages_are_page_cache)
{
    struct diag_evidence ev = base(128 * MiB);
    struct diag_sample *s = sample(&ev, 95, 10000, 122 * MiB);
    s->file = 110 * MiB;
    s->shmem = 108 * MiB;
    proc(s, 100, "writer", 6 * MiB);
    rt(s, 2 * MiB, 1 * MiB, 0, 1 * MiB, 4);
    ev.end_ms = 30000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "page-cache");
    cr_assert_eq(figure(&v[0], "shmem_bytes"), (int64_t)(108 * MiB));
}

Test(diagnosis, gogc_off_alone_and_gomemlimit_above_the_limit)
{
    struct diag_evidence ev = base(128 * MiB);
    struct diag_sample *s = sample(&ev, 95, 10000, 122 * MiB);
    proc(s, 100, "api", 120 * MiB);
    struct diag_runtime *r = rt(s, 115 * MiB, 1 * MiB, 0, 1 * MiB, 4);
    r->gogc_percent = -1;
    ev.end_ms = 30000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "gc-off heap-growth");
    cr_assert_eq(figure(&v[0], "gogc_percent"), -1);
    r->gogc_percent = 100;
    r->gomemlimit = 1024 * MiB;
    cr_assert_str_eq(ids(&ev, v, &n), "memlimit-above-limit heap-growth");
    cr_assert_eq(figure(&v[0], "gomemlimit_bytes"), (int64_t)(1024 * MiB));
    /* Both: GOGC=off does nothing below a limit the runtime never reaches. */
    r->gogc_percent = -1;
    cr_assert_str_eq(ids(&ev, v, &n), "gc-off memlimit-above-limit heap-growth");
    /* A GOMEMLIMIT below the limit makes GOGC=off a sound setting. */
    r->gomemlimit = 100 * MiB;
    cr_assert_str_eq(ids(&ev, v, &n), "heap-growth");
}

Test(diagnosis, without_the_shim_the_settings_come_from_the_environment)
{
    struct diag_evidence ev = base(128 * MiB);
    struct diag_sample *s = sample(&ev, 95, 10000, 122 * MiB);
    proc(s, 100, "api", 120 * MiB);
    ev.env_gogc = "off";
    ev.end_ms = 30000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "gc-off");
    ev.env_gogc = NULL;
    ev.env_gomemlimit = "1GiB";
    cr_assert_str_eq(ids(&ev, v, &n), "memlimit-above-limit");
    ev.env_gomemlimit = "100MiB";
    cr_assert_str_eq(ids(&ev, v, &n), "");
}

Test(diagnosis, slow_heap_growth_names_the_top_site_and_is_no_burst)
{
    struct diag_evidence ev = base(128 * MiB);
    struct diag_sample *s = sample(&ev, 80, 10000, 103 * MiB);
    proc(s, 100, "api", 100 * MiB);
    rt(s, 90 * MiB, 2 * MiB, 0, 1 * MiB, 4);
    s = sample(&ev, 95, 15000, 122 * MiB);
    proc(s, 100, "api", 120 * MiB);
    struct diag_runtime *r = rt(s, 110 * MiB, 2 * MiB, 0, 1 * MiB, 4);
    r->nsites = 1;
    snprintf(r->sites[0].function, sizeof r->sites[0].function, "main.cacheResponse");
    snprintf(r->sites[0].file, sizeof r->sites[0].file, "/src/shim-service/main.go");
    r->sites[0].line = 19;
    r->sites[0].inuse_bytes = 100 * MiB;
    ev.end_ms = 18000; /* 8 s after the first watermark */
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "heap-growth");
    cr_assert(strstr(v[0].text, "most in main.cacheResponse (100 MiB)"), "%s", v[0].text);
    /* The same climb in 400 ms is a burst. */
    ev.end_ms = 10400;
    cr_assert_str_eq(ids(&ev, v, &n), "burst heap-growth");
    /* A kill by someone else is no burst. */
    ev.oom_killed = false;
    cr_assert_str_eq(ids(&ev, v, &n), "heap-growth");
}

Test(diagnosis, a_small_service_gives_no_verdict_from_noise)
{
    struct diag_evidence ev = base(64 * MiB);
    struct diag_sample *s = sample(&ev, 80, 10000, 6 * MiB); /* a low figure after a fall */
    proc(s, 100, "api", 3 * MiB);
    proc(s, 7, "sh", 2 * MiB);
    s->file = 2 * MiB;
    rt(s, 2 * MiB, 2 * MiB, 0, 1 * MiB, 5);
    ev.end_ms = 90000;
    struct diag_verdict v[DIAG_MAX_VERDICTS];
    size_t n;
    cr_assert_str_eq(ids(&ev, v, &n), "");
    ev.n = 0;
    cr_assert_str_eq(ids(&ev, v, &n), "");
}

Test(diagnosis, json_has_verdict_text_and_figures)
{
    struct diag_verdict v = {.id = "gc-off", .text = "t"};
    v.fig[v.nfig++] = (struct diag_figure){.key = "gogc_percent", .num = -1};
    v.fig[v.nfig++] = (struct diag_figure){.key = "settings_from", .is_str = true, .str = "runtime"};
    struct json j;
    json_init(&j, false);
    diagnosis_json(&v, 1, &j);
    cr_assert_str_eq(j.buf, "[{\"verdict\":\"gc-off\",\"text\":\"t\",\"figures\":{\"gogc_percent\":-1,"
                            "\"settings_from\":\"runtime\"}}]");
    json_free(&j);
}

Test(diagnosis, parsers_read_proc_status_memory_stat_and_the_shims_json)
{
    static const char status[] = "Name:\tapi-watcher\nUmask:\t0022\nVmRSS:\t  168960 kB\nRssAnon:\t  "
                                 "165888 kB\nRssFile:\t    3072 kB\nRssShmem:\t       0 kB\n";
    struct diag_proc p = {0};
    cr_assert_eq(diag_parse_status(status, sizeof status - 1, &p), 0);
    cr_assert_str_eq(p.comm, "api-watcher");
    cr_assert_eq(p.rss, 168960ULL * 1024);
    cr_assert_eq(p.rss_anon, 165888ULL * 1024);
    cr_assert_eq(p.rss_file, 3072ULL * 1024);
    static const char v1[] = "cache 1\nrss 2\nshmem 3\ntotal_cache 4096\ntotal_rss 8192\ntotal_shmem 1024\n";
    static const char v2[] = "anon 8192\nfile 4096\nkernel 5\nshmem 1024\n";
    struct diag_sample s1 = {0}, s2 = {0};
    cr_assert_eq(diag_parse_memory_stat(v1, sizeof v1 - 1, &s1), 0);
    cr_assert_eq(diag_parse_memory_stat(v2, sizeof v2 - 1, &s2), 0);
    cr_assert(s1.file == 4096 && s1.anon == 8192 && s1.shmem == 1024);
    cr_assert(s2.file == 4096 && s2.anon == 8192 && s2.shmem == 1024);
    static const char js[] =
        "{\"read_unix_ms\":1700000000123,\"heap_inuse\":41943040,\"heap_idle\":154140672,\"heap_released\":"
        "3145728,\"stack_inuse\":1048576,\"goroutines\":30,\"num_gc\":12,\"last_gc_unix_ms\":1700000000000,"
        "\"gogc_percent\":-1,\"gomemlimit_bytes\":9223372036854775807,\"gomaxprocs\":2,\"top_alloc_sites\":"
        "[{\"function\":\"main.fill\",\"file\":\"/src/main.go\",\"line\":12,\"inuse_bytes\":40000000,"
        "\"inuse_objects\":40}]}\n";
    struct diag_runtime r = {0};
    cr_assert_eq(diag_parse_runtime(js, sizeof js - 1, &r), 0);
    cr_assert(r.have && r.heap_inuse == 41943040 && r.goroutines == 30 && r.gomaxprocs == 2);
    cr_assert_eq(r.gogc_percent, -1);
    cr_assert_eq(r.gomemlimit, DIAG_NO_LIMIT);
    cr_assert_eq(r.read_ms, 1700000000123LL);
    cr_assert_eq(r.nsites, 1);
    cr_assert_str_eq(r.sites[0].function, "main.fill");
    cr_assert_eq(r.sites[0].line, 12);
    cr_assert_eq(diag_parse_runtime("nope", 4, &r), -EBADMSG);
    int64_t ml;
    cr_assert_eq(diag_parse_memlimit("512MiB", &ml), 0);
    cr_assert_eq(ml, (int64_t)(512 * MiB));
    cr_assert_eq(diag_parse_memlimit("1073741824", &ml), 0);
    cr_assert_eq(ml, 1073741824);
    cr_assert_eq(diag_parse_memlimit("12MB", &ml), -EINVAL);
}

Test(leftovers, work_is_bytes_moved)
{
    static const char io[] = "rchar: 1000\nwchar: 234\nsyscr: 9\nsyscw: 9\nread_bytes: 0\nwrite_bytes: 77\n";
    cr_assert_eq(leftovers_work(io, sizeof io - 1), 1234);
    cr_assert_eq(leftovers_work(NULL, 0), 0, "no io file (no permission): no work seen");
}
