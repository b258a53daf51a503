#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goparse.h"
#include "util.h"

static char *load(const char *path, size_t *len)
{
    char *buf = NULL;
    int r = read_file_at(AT_FDCWD, path, 64 << 20, &buf, len);
    cr_assert_eq(r, 0, "cannot read fixture %s", path);
    return buf;
}

static int parse_str(const char *s, struct go_crash *c) { return goparse_crash(s, strlen(s), c); }

/* Real outputs of Go 1.19 and 1.21 to 1.26 (tests/fixtures/capture.sh; Debian
 * never packaged 1.20). */
struct fixture_case {
    const char *example;
    const char *kind;
    const char *message_prefix;
    const char *culprit;
    unsigned line; /* 0: varies (where a preempted loop stands) */
    const char *go_signal; /* NULL: none */
    const char *since;     /* the first version that can print it, NULL: all */
};

static const struct fixture_case cases[] = {
    {"nil-deref", "go-panic", "runtime error: invalid memory address or nil pointer dereference",
     "main.handle", 14, "SIGSEGV", NULL},
    {"custom-panic", "go-panic", "reconcile batch 3: ledger out of balance by 42 cents",
     "main.reconcile", 14, NULL, NULL},
    {"index-out-of-range", "go-panic", "runtime error: index out of range [5] with length 3",
     "main.pick", 6, NULL, NULL},
    {"concurrent-map-writes", "go-fatal", "concurrent map writes", "main.main.func1", 15, NULL, NULL},
    {"deadlock", "go-fatal", "all goroutines are asleep - deadlock!", "main.main", 6, NULL, NULL},
    {"stack-overflow", "go-fatal", "stack overflow", "main.descend", 5, NULL, NULL},
    {"traceback-crash", "go-panic", "port is not a number: strconv.Atoi", "main.(*parser).port", 15,
     NULL, NULL},
    {"recovered-repanic", "go-panic", "process failed: runtime error: index out of range",
     "main.process.func1", 10, NULL, NULL},
    {"panic-in-goroutine", "go-panic", "job 3: checksum mismatch", "main.consume", 13, NULL, NULL},
    {"data-race", "race", "data race: Read at 0x", "main.main.func1", 17, NULL, NULL},
    {"sigquit", "go-fatal", "SIGQUIT: quit", "main.main", 14, "SIGQUIT", NULL},
    {"cgo-segv", "go-fatal", "", "main._Cfunc_crash_in_c", 0, "SIGSEGV", NULL},
    {"multiline-panic", "go-panic", "config invalid:\nport missing\nhost missing", "main.main", 14, NULL,
     NULL},
    {"repanic-same-value", "go-panic", "commit: lost lease on shard 4", "main.cleanup", 11, NULL, NULL},
    {"fatal-in-defer", "go-fatal", "sync: unlock of unlocked mutex", "main.release", 10, NULL, NULL},
    {"labels-panic", "go-panic", "handler: request rejected", "main.handle", 14, NULL, NULL},
    {"data-races", "race", "data race: Read at 0x", "main.record", 15, NULL, NULL},
    {"sigquit-busy", "go-fatal", "SIGQUIT: quit", "main.spin", 0, "SIGQUIT", NULL},
    {"sigquit-system", "go-fatal", "SIGQUIT: quit", "main.main", 14, "SIGQUIT", NULL},
    /* culprit: main.spin where the spinning goroutine's stack was shown,
     * else main.main; which, varies from run to run */
    {"sigquit-crash", "go-fatal", "SIGQUIT: quit", NULL, 0, "SIGQUIT", NULL},
    {"sigquit-waitgroup", "go-fatal", "SIGQUIT: quit", "main.main", 26, "SIGQUIT", NULL},
    {"synctest-panic", "go-panic", "bubble: deadline passed at 2000-01-01T00:00:01Z",
     "crashbox.example/examples/synctest-panic.bubble.func3", 23, NULL, "go1.24"},
};

static const char *const versions[] = {"go1.19", "go1.21", "go1.22", "go1.23",
                                       "go1.24", "go1.25", "go1.26"};

static bool applies(const struct fixture_case *k, size_t v)
{
    if (!k->since)
        return true;
    for (size_t i = 0; i < v + 1; i++)
        if (!strcmp(versions[i], k->since))
            return true;
    return false;
}

static char *load_fixture(size_t v, const char *example, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/%s.txt", versions[v], example);
    return load(path, len);
}

/* Loads and parses a version's fixture; the caller frees the buffer and c. */
static char *parse_fixture(size_t v, const char *example, struct go_crash *c, size_t *len)
{
    char *buf = load_fixture(v, example, len);
    cr_assert_eq(goparse_crash(buf, *len, c), 1, "%s/%s: no crash found", versions[v], example);
    return buf;
}

Test(goparse, real_go_outputs_of_every_version)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
            const struct fixture_case *k = &cases[i];
            if (!applies(k, v))
                continue;
            const char *path = versions[v];
            size_t len;
            char *buf = load_fixture(v, k->example, &len);
            struct go_crash c;
            cr_assert_eq(goparse_crash(buf, len, &c), 1, "%s/%s: no crash found", path, k->example);
            cr_expect_str_eq(go_crash_kind_name(c.kind), k->kind, "%s/%s", path, k->example);
            cr_expect(strncmp(c.message, k->message_prefix, strlen(k->message_prefix)) == 0,
                      "%s/%s: message %s", path, k->example, c.message);
            cr_assert_geq(c.culprit, 0, "%s/%s: no culprit", path, k->example);
            if (k->culprit)
                cr_expect_str_eq(c.frames[c.culprit].function, k->culprit, "%s/%s", path, k->example);
            if (k->line)
                cr_expect_eq(c.frames[c.culprit].line, k->line, "%s/%s", path, k->example);
            if (k->go_signal)
                cr_expect_str_eq(c.go_signal, k->go_signal, "%s/%s", path, k->example);
            else
                cr_expect_null(c.go_signal, "%s/%s: %s", path, k->example, c.go_signal);
            for (size_t f = 0; f < c.nframes; f++)
                cr_expect(strchr(c.frames[f].function, ' ') == NULL, "%s/%s: frame %s", path,
                          k->example, c.frames[f].function);
            go_crash_free(&c);
            free(buf);
        }
    }
}

Test(goparse, fingerprint_is_stable_across_versions_and_distinct_across_sites)
{
    char fps[ARRAY_SIZE(cases)][17];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        fps[i][0] = '\0';
        if (!strcmp(cases[i].example, "cgo-segv"))
            continue; /* 1.19 words that one differently: a real change of message */
        if (!cases[i].culprit)
            continue; /* whether a running goroutine's stack is shown varies by run */
        const char *first = NULL;
        for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
            if (!applies(&cases[i], v))
                continue;
            size_t len;
            char *buf = load_fixture(v, cases[i].example, &len);
            struct go_crash c;
            goparse_crash(buf, len, &c);
            if (!first) {
                first = versions[v];
                memcpy(fps[i], c.fingerprint, 17);
            } else {
                cr_expect_str_eq(c.fingerprint, fps[i], "%s/%s differs from %s", versions[v],
                                 cases[i].example, first);
            }
            go_crash_free(&c);
            free(buf);
        }
    }
    /* A fingerprint names a crash site (message and program frames), not a
     * program: the SIGQUIT dumps of main goroutines waiting in main.main
     * share one. */
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        for (size_t k = i + 1; k < ARRAY_SIZE(cases); k++) {
            if (!fps[i][0] || !fps[k][0] || !cases[i].culprit || !cases[k].culprit)
                continue;
            bool same_site = !strcmp(cases[i].message_prefix, cases[k].message_prefix) &&
                             !strcmp(cases[i].culprit, cases[k].culprit);
            if (!same_site)
                cr_expect_str_neq(fps[i], fps[k], "%s and %s collide", cases[i].example,
                                  cases[k].example);
        }
}

Test(goparse, created_by_old_and_new_forms)
{
    size_t len;
    char *buf = load("tests/fixtures/go1.19/panic-in-goroutine.txt", &len);
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_assert_str_eq(c.created_by.function, "main.main");
    cr_assert_eq(c.created_by_goroutine, -1);
    go_crash_free(&c);
    free(buf);
    buf = load("tests/fixtures/go1.22/panic-in-goroutine.txt", &len);
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_assert_str_eq(c.created_by.function, "main.main");
    cr_assert_eq(c.created_by_goroutine, 1);
    cr_assert_str_eq(c.created_by.file, "/work/main/examples/panic-in-goroutine/main.go");
    go_crash_free(&c);
    free(buf);
}

Test(goparse, recovered_chain_and_elided_frames)
{
    size_t len;
    char *buf = load("tests/fixtures/go1.23/recovered-repanic.txt", &len);
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_assert_eq(c.panics, 2);
    go_crash_free(&c);
    free(buf);
    buf = load("tests/fixtures/go1.23/stack-overflow.txt", &len);
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_assert(c.frames_elided);
    cr_assert_gt(c.nframes, 10);
    go_crash_free(&c);
    free(buf);
}

Test(goparse, repanicked_marker_of_newer_go)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: first [recovered, repanicked]\n\n"
                           "goroutine 1 gp=0xc000002380 m=0 mp=0x5a8f40 [running]:\n"
                           "main.main()\n\t/src/main.go:9 +0x25\n",
                           &c),
                 1);
    cr_assert_str_eq(c.message, "first");
    cr_assert_eq(c.goroutine, 1);
    cr_assert_str_eq(c.goroutine_state, "running");
    go_crash_free(&c);
}

Test(goparse, multi_line_message_keeps_its_lines)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: config invalid:\n\tport missing\n\thost missing\n\n"
                           "goroutine 1 [running]:\nmain.load(...)\n\t/src/c.go:3\n",
                           &c),
                 1);
    cr_assert_str_eq(c.message, "config invalid:\nport missing\nhost missing");
    cr_assert_str_eq(c.frames[0].function, "main.load");
    go_crash_free(&c);
}

Test(goparse, finds_the_report_after_megabytes_of_logs)
{
    size_t line_len = 128, lines = 50000; /* over 5 MB */
    size_t cap = line_len * lines + 4096;
    char *buf = malloc(cap);
    size_t n = 0;
    for (size_t i = 0; i < lines; i++)
        n += (size_t)snprintf(buf + n, cap - n, "2026/11/22 10:00:00 panic: recovered in handler %zu, continuing %30s\n", i, "");
    n += (size_t)snprintf(buf + n, cap - n,
                          "fatal error: all goroutines are asleep - deadlock!\n\n"
                          "goroutine 1 [chan send]:\nmain.main()\n\t/src/main.go:6 +0x2d\nexit status 2\n");
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, n, &c), 1);
    cr_assert_str_eq(c.message, "all goroutines are asleep - deadlock!");
    cr_assert_eq(c.report_offset, n - strlen("fatal error: all goroutines are asleep - deadlock!\n\n"
                                             "goroutine 1 [chan send]:\nmain.main()\n\t/src/main.go:6 +0x2d\nexit status 2\n"));
    go_crash_free(&c);
    free(buf);
}

Test(goparse, a_plain_goroutine_dump_is_not_a_crash)
{
    struct go_crash c;
    cr_assert_eq(parse_str("debug: dumping stacks\n"
                           "goroutine 1 [running]:\nmain.dump()\n\t/src/main.go:10 +0x1d\n"
                           "main.main()\n\t/src/main.go:14 +0x17\n\nserving\n",
                           &c),
                 0);
    go_crash_free(&c);
}

Test(goparse, a_log_line_starting_with_panic_is_not_a_crash)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: recovered from bad request, carrying on\n"
                           "GET /health 200\nGET /health 200\n",
                           &c),
                 0);
    go_crash_free(&c);
}

Test(goparse, truncated_mid_frame_still_parses)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: boom\n\ngoroutine 1 [running]:\nmain.work(0xc0000", &c), 1);
    cr_assert_str_eq(c.message, "boom");
    cr_assert_eq(c.nframes, 1);
    cr_assert_null(c.frames[0].file);
    go_crash_free(&c);
    cr_assert_eq(parse_str("panic: boom\n\ngoroutine 1 [running]:\nmain.work()\n\t/src/m", &c), 1);
    go_crash_free(&c);
    cr_assert_eq(parse_str("panic: boom", &c), 1);
    go_crash_free(&c);
}

Test(goparse, culprit_skips_runtime_and_synthetic_panic_frames)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: x\n\ngoroutine 1 [running]:\n"
                           "panic({0x4a0f5b?, 0xc000012345?})\n\t/go/src/runtime/panic.go:785 +0x132\n"
                           "runtime.gopanic(...)\n\t/go/src/runtime/panic.go:1\n"
                           "internal/runtime/maps.fatal(...)\n\t/go/src/internal/runtime/maps/x.go:1\n"
                           "example.com/svc/api.(*Server).handle(0xc0001, {0x2})\n\t/src/api/s.go:88 +0x44\n",
                           &c),
                 1);
    cr_assert_eq(c.culprit, 3);
    cr_assert_str_eq(c.frames[3].function, "example.com/svc/api.(*Server).handle");
    cr_assert_str_eq(c.frames[3].file, "/src/api/s.go");
    cr_assert_eq(c.frames[3].line, 88);
    go_crash_free(&c);
}

Test(goparse, fingerprint_ignores_numbers_and_addresses)
{
    struct go_crash a, b, d;
    parse_str("panic: index out of range [7] with length 3\n\ngoroutine 1 [running]:\n"
              "main.pick(0xc000010000)\n\t/a/main.go:6 +0x1d\n", &a);
    parse_str("panic: index out of range [9] with length 4\n\ngoroutine 12 [running]:\n"
              "main.pick(0xc000099999)\n\t/b/other.go:60 +0x99\n", &b);
    parse_str("panic: index out of range [9] with length 4\n\ngoroutine 12 [running]:\n"
              "main.choose(0xc000099999)\n\t/b/other.go:60 +0x99\n", &d);
    cr_assert_str_eq(a.fingerprint, b.fingerprint);
    cr_assert_str_neq(a.fingerprint, d.fingerprint);
    go_crash_free(&a);
    go_crash_free(&b);
    go_crash_free(&d);
}

Test(goparse, survives_garbage)
{
    /* Deterministic pseudo-random bytes with crash-shaped fragments mixed in. */
    static const char *const frags[] = {"panic: ", "fatal error: ", "goroutine ", " [", "]:\n",
                                        "\t", "\n", "created by ", " in goroutine ", "(", ")",
                                        "SIGQUIT: q\nPC=", "WARNING: DATA RACE\n", ":", "...",
                                        "elided...\n", "[signal ", "==================\n"};
    unsigned seed = 1;
    char buf[4096];
    for (int round = 0; round < 3000; round++) {
        size_t n = 0;
        while (n < sizeof buf - 32) {
            seed = seed * 1103515245 + 12345;
            if (seed % 3 == 0) {
                const char *f = frags[(seed >> 8) % ARRAY_SIZE(frags)];
                memcpy(buf + n, f, strlen(f));
                n += strlen(f);
            } else {
                buf[n++] = (char)(seed >> 16);
            }
            if ((seed >> 4) % 512 == 0)
                break;
        }
        struct go_crash c;
        int r = goparse_crash(buf, n, &c);
        cr_assert(r == 0 || r == 1);
        if (r == 1) {
            cr_assert_not_null(c.message);
            cr_assert_leq(c.nframes, GOPARSE_MAX_FRAMES);
            struct json j;
            json_init(&j, false);
            go_crash_to_json(&c, NULL, &j);
            cr_assert_not(json_failed(&j));
            json_free(&j);
        }
        go_crash_free(&c);
    }
}

/* Counts lines starting with prefix. */
static size_t count_lines(const char *buf, size_t len, const char *prefix)
{
    size_t n = 0, k = strlen(prefix);
    for (const char *p = buf; p && p < buf + len;) {
        if ((size_t)(buf + len - p) >= k && !memcmp(p, prefix, k))
            n++;
        p = memchr(p, '\n', (size_t)(buf + len - p));
        p = p ? p + 1 : NULL;
    }
    return n;
}

/* Hand-written from tests/fixtures/go1.26/nil-deref.txt: another process's
 * log lines, as they land in a shared stderr, between two frames and
 * between a function line and its file line. */
Test(goparse, log_lines_inside_a_goroutine_block_are_not_frames)
{
    static const char *const logged =
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x49e16c]\n"
        "\n"
        "goroutine 1 [running]:\n"
        "2026/12/01 23:42:39 worker 7: draining\n"
        "main.handle(...)\n"
        "worker(7) done\n"
        "\t/work/wt/goparse/examples/nil-deref/main.go:14\n"
        "2026/12/01 23:42:39 worker 8: draining\n"
        "main.main()\n"
        "\t/work/wt/goparse/examples/nil-deref/main.go:18 +0x4c\n";
    size_t len;
    char *buf = load("tests/fixtures/go1.26/nil-deref.txt", &len);
    struct go_crash clean, c;
    cr_assert_eq(goparse_crash(buf, len, &clean), 1);
    cr_assert_eq(parse_str(logged, &c), 1);
    for (size_t i = 0; i < c.nframes; i++)
        cr_expect(strchr(c.frames[i].function, ' ') == NULL, "frame %s", c.frames[i].function);
    cr_assert_geq(c.culprit, 0);
    cr_expect_str_eq(c.frames[c.culprit].function, "main.main");
    cr_expect_eq(c.nframes, 1, "main.handle lost its file line to a log line: not a frame");
    struct go_crash d;
    /* Between whole frames only: the same crash as without the log lines. */
    cr_assert_eq(parse_str("panic: runtime error: invalid memory address or nil pointer dereference\n"
                           "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x49e16c]\n\n"
                           "goroutine 1 [running]:\n"
                           "main.handle(...)\n"
                           "\t/work/wt/goparse/examples/nil-deref/main.go:14\n"
                           "2026/12/01 23:42:39 worker 7: draining\n"
                           "main.main()\n"
                           "\t/work/wt/goparse/examples/nil-deref/main.go:18 +0x4c\n",
                           &d),
                 1);
    cr_expect_eq(d.nframes, 2);
    cr_expect_str_eq(d.fingerprint, clean.fingerprint);
    cr_expect_str_eq(d.frames[d.culprit].function, "main.handle");
    go_crash_free(&clean);
    go_crash_free(&c);
    go_crash_free(&d);
    free(buf);
}

Test(goparse, multi_line_panic_values_before_and_after_go_1_23)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        size_t len;
        struct go_crash c;
        char *buf = parse_fixture(v, "multiline-panic", &c, &len);
        cr_expect_str_eq(c.message, "config invalid:\nport missing\nhost missing", "%s", versions[v]);
        go_crash_free(&c);
        free(buf);
    }
    /* Raw lines with no report after them are a log line's successors. */
    struct go_crash c;
    cr_assert_eq(parse_str("panic: config invalid:\nport missing\nhost missing", &c), 0);
    go_crash_free(&c);
}

/* GOTRACEBACK=crash (real, go1.24): after the report, every other thread
 * prints "-----" and its own SIGQUIT dump, whose frames run straight into
 * the register dump. */
Test(goparse, gotraceback_crash_register_dumps_and_thread_dumps)
{
    size_t len;
    char *buf = load("tests/fixtures/go1.24/sigquit-crash.txt", &len);
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_expect_eq(c.report_offset, 0, "the first thread's dump is the report");
    cr_expect_eq(c.goroutines, count_lines(buf, len, "goroutine "));
    cr_assert_geq(c.culprit, 0);
    cr_expect_str_eq(c.frames[c.culprit].function, "main.spin");
    go_crash_free(&c);
    /* One other thread's dump alone: its g0 frames, then registers. */
    const char *s = strstr(buf, "-----\n\nSIGQUIT: quit\nPC=0x46fc63 m=1");
    cr_assert_not_null(s);
    s += 7;
    const char *e = strstr(s, "-----");
    cr_assert_not_null(e);
    cr_assert_eq(goparse_crash(s, (size_t)(e - s), &c), 1);
    cr_expect_eq(c.goroutines, 1);
    cr_expect_eq(c.nframes, 0, "a g0 only: no goroutine that matters");
    cr_expect_eq(c.culprit, -1);
    cr_expect_eq(c.goroutine, -1);
    cr_expect_str_eq(c.goroutine_reason, "none");
    go_crash_free(&c);
    /* Frames straight into registers, under a panic: no frame "rax". */
    cr_assert_eq(parse_str("panic: boom\n\ngoroutine 1 gp=0xc000002380 m=0 mp=0x5a8f40 [running]:\n"
                           "main.main()\n\t/src/main.go:9 +0x25 fp=0xc000094f50 sp=0xc000094ef0 pc=0x479430\n"
                           "rax    0xca\nrbx    0x0\nrip    0x46fc61\n\n"
                           "goroutine 2 gp=0xc0000028c0 m=nil [force gc (idle)]:\n",
                           &c),
                 1);
    cr_expect_eq(c.nframes, 1);
    cr_expect_eq(c.goroutines, 2);
    go_crash_free(&c);
    free(buf);
}

Test(goparse, races_first_report_is_the_crash_and_all_are_counted)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        size_t len;
        struct go_crash c;
        char *buf = parse_fixture(v, "data-races", &c, &len);
        cr_expect_eq(c.races, 2, "%s", versions[v]);
        cr_expect_eq(c.report_offset, 0, "%s", versions[v]);
        /* The first report's first access. */
        const char *at = strstr(buf, "Read at 0x");
        cr_assert_not_null(at);
        char want[128];
        snprintf(want, sizeof want, "data race: %.*s", (int)(strchr(at, ':') - at), at);
        cr_expect_str_eq(c.message, want, "%s", versions[v]);
        go_crash_free(&c);
        free(buf);
    }
    size_t len;
    char *buf = load("tests/fixtures/go1.26/data-race.txt", &len);
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_expect_eq(c.races, 1);
    go_crash_free(&c);
    free(buf);
}

Test(goparse, goroutine_header_variants)
{
    static const struct {
        const char *header;
        long id;
        const char *state;
        const char *labels;
    } hs[] = {
        {"goroutine 7 [chan receive, 3 minutes, locked to thread]:", 7, "chan receive", NULL},
        {"goroutine 9 [select, 99999999999999999999 minutes]:", 9, "select", NULL},
        {"goroutine 19 [running, synctest group 18]:", 19, "running", NULL},
        {"goroutine 20 [chan receive (synctest), synctest group 18]:", 20, "chan receive (synctest)", NULL},
        {"goroutine 21 [sleep (durable), synctest bubble 1]:", 21, "sleep", NULL},
        {"goroutine 20 [running (durable), synctest bubble 1]:", 20, "running", NULL},
        {"goroutine 6 [running labels:{\"request\": \"r-42\", \"route\": \"/pay]:\"}]:", 6, "running",
         "{\"request\": \"r-42\", \"route\": \"/pay]:\"}"},
        {"goroutine 1 gp=0x3b46dcb0c000 m=0 mp=0x22649cd16008 [running]:", 1, "running", NULL},
        {"goroutine 17 gp=0x5b679d82000 m=nil [GOMAXPROCS updater (idle)]:", 17,
         "GOMAXPROCS updater (idle)", NULL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
        char text[512];
        snprintf(text, sizeof text, "panic: boom\n\n%s\nmain.main()\n\t/src/main.go:9 +0x25\n", hs[i].header);
        struct go_crash c;
        cr_assert_eq(parse_str(text, &c), 1, "%s", hs[i].header);
        cr_expect_eq(c.goroutine, hs[i].id, "%s", hs[i].header);
        cr_expect_str_eq(c.goroutine_state, hs[i].state, "%s", hs[i].header);
        if (hs[i].labels)
            cr_expect_str_eq(c.goroutine_labels, hs[i].labels, "%s", hs[i].header);
        else
            cr_expect_null(c.goroutine_labels, "%s", hs[i].header);
        cr_expect_eq(c.nframes, 1, "%s", hs[i].header);
        go_crash_free(&c);
    }
    /* Real: 1.24's group, 1.25's bubble and (durable), 1.26's labels. */
    size_t len;
    char *buf = load("tests/fixtures/go1.25/synctest-panic.txt", &len);
    struct go_crash c;
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_expect_str_eq(c.goroutine_state, "running");
    cr_expect_eq(c.goroutines, count_lines(buf, len, "goroutine "));
    go_crash_free(&c);
    free(buf);
    buf = load("tests/fixtures/go1.26/labels-panic.txt", &len);
    cr_assert_eq(goparse_crash(buf, len, &c), 1);
    cr_expect_str_eq(c.goroutine_labels, "{\"request\": \"r-42\", \"route\": \"/pay\"}");
    go_crash_free(&c);
    free(buf);
}

Test(goparse, repanicked_same_value_counts_two_panics_in_every_version)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        size_t len;
        struct go_crash c;
        char *buf = parse_fixture(v, "repanic-same-value", &c, &len);
        cr_expect_str_eq(c.message, "commit: lost lease on shard 4", "%s", versions[v]);
        cr_expect_eq(c.panics, 2, "%s", versions[v]);
        go_crash_free(&c);
        free(buf);
    }
}

Test(goparse, fatal_error_in_a_deferred_call_after_the_pending_panics_of_go_1_26)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        size_t len;
        struct go_crash c;
        char *buf = parse_fixture(v, "fatal-in-defer", &c, &len);
        cr_expect_eq(c.kind, GO_CRASH_FATAL, "%s", versions[v]);
        cr_expect_str_eq(c.message, "sync: unlock of unlocked mutex", "%s", versions[v]);
        /* sync.fatal (1.19-1.23), internal/sync.fatal (1.24+): library, not the culprit */
        cr_assert_geq(c.culprit, 0);
        cr_expect_str_eq(c.frames[c.culprit].function, "main.release", "%s", versions[v]);
        go_crash_free(&c);
        free(buf);
    }
    /* Hand-written after 1.26's printPreFatalDeferPanic: a multi-line chain. */
    struct go_crash c;
    cr_assert_eq(parse_str("panic: boom\n\tsecond line [recovered, repanicked]\n"
                           "\tfatal error: sync: unlock of unlocked mutex\n\n"
                           "goroutine 1 [running]:\nmain.main.func1()\n\t/src/main.go:8 +0x2e\n",
                           &c),
                 1);
    cr_expect_eq(c.kind, GO_CRASH_FATAL);
    cr_expect_str_eq(c.message, "sync: unlock of unlocked mutex");
    cr_expect_eq(c.panics, 2);
    go_crash_free(&c);
}

Test(goparse, a_module_without_a_dot_is_the_program_not_the_library)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: boom\n\ngoroutine 1 [running]:\n"
                           "sync.(*Once).doSlow(0xc0000a0000)\n\t/usr/lib/go-1.23/src/sync/once.go:76 +0x58\n"
                           "myapp/store.Open()\n\t/src/myapp/store/open.go:12 +0x1d\n"
                           "main.main()\n\t/src/myapp/main.go:9 +0x25\n"
                           "runtime.main()\n\t/usr/lib/go-1.23/src/runtime/proc.go:272 +0x28b\n",
                           &c),
                 1);
    cr_expect_str_eq(c.frames[c.culprit].function, "myapp/store.Open");
    go_crash_free(&c);
}

/* SIGQUIT: no goroutine crashed; the one that matters is chosen (goparse.h). */
Test(goparse, sigquit_dump_names_the_goroutine_that_matters)
{
    static const struct {
        const char *example;
        const char *reason;
        const char *culprit;
    } want[] = {
        {"sigquit", "main", "main.main"},
        {"sigquit-system", "main", "main.main"},
        {"sigquit-waitgroup", "main", "main.main"},
        {"sigquit-busy", "running", "main.spin"},
    };
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++)
        for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
            size_t len;
            struct go_crash c;
            char *buf = parse_fixture(v, want[i].example, &c, &len);
            cr_expect_str_eq(c.goroutine_reason, want[i].reason, "%s/%s", versions[v], want[i].example);
            cr_assert_geq(c.culprit, 0, "%s/%s", versions[v], want[i].example);
            cr_expect_str_eq(c.frames[c.culprit].function, want[i].culprit, "%s/%s", versions[v],
                             want[i].example);
            cr_expect_eq(c.goroutines, count_lines(buf, len, "goroutine "), "%s/%s", versions[v],
                         want[i].example);
            go_crash_free(&c);
            free(buf);
        }
    /* Hand-edited from tests/fixtures/go1.26/sigquit-busy.txt (a real wait
     * of minutes takes minutes): goroutine 7 blocked 12 minutes beats the
     * spinning one. */
    size_t len;
    char *buf = load("tests/fixtures/go1.26/sigquit-busy.txt", &len);
    char *g = strstr(buf, "\ngoroutine 7 gp=");
    cr_assert_not_null(g);
    char *br = strstr(g, "[chan receive]:");
    cr_assert_not_null(br);
    size_t head = (size_t)(br - buf) + strlen("[chan receive");
    char *edited = malloc(len + 32);
    memcpy(edited, buf, head);
    size_t n = head + (size_t)sprintf(edited + head, ", 12 minutes");
    memcpy(edited + n, buf + head, len - head);
    n += len - head;
    struct go_crash c;
    cr_assert_eq(goparse_crash(edited, n, &c), 1);
    cr_expect_eq(c.goroutine, 7);
    cr_expect_str_eq(c.goroutine_reason, "blocked longest");
    cr_expect_str_eq(c.frames[c.culprit].function, "main.idle");
    go_crash_free(&c);
    free(edited);
    free(buf);
    /* A panic's crashing goroutine is the one printed first. */
    cr_assert_eq(parse_str("panic: x\n\ngoroutine 5 [running]:\nmain.f()\n\t/src/m.go:3 +0x1\n\n"
                           "goroutine 1 [chan receive, 40 minutes]:\nmain.main()\n\t/src/m.go:9 +0x1\n",
                           &c),
                 1);
    cr_expect_eq(c.goroutine, 5);
    cr_expect_str_eq(c.goroutine_reason, "crashing");
    go_crash_free(&c);
}

Test(goparse, frame_file_lines_without_an_offset)
{
    struct go_crash c;
    cr_assert_eq(parse_str("panic: boom\n\ngoroutine 1 gp=0x5b679d1e1e0 m=0 mp=0x58c200 [running]:\n"
                           "main.handle(...)\n\t/src/main.go:14\n"
                           "main.main()\n\t/src/main.go:18 fp=0x5b679d1c7e0 sp=0x5b679d1c7d8 pc=0x4266a0\n",
                           &c),
                 1);
    cr_assert_eq(c.nframes, 2);
    cr_expect_eq(c.frames[0].line, 14);
    cr_expect_str_eq(c.frames[1].file, "/src/main.go");
    cr_expect_eq(c.frames[1].line, 18);
    go_crash_free(&c);
}

Test(goparse, two_fatal_errors_printed_through_each_other)
{
    /* Go before 1.24 printed "fatal error: ", the message and the newline
     * without a lock around the three (golang/go#69447): two writers that
     * both catch a concurrent map write interleave. */
    size_t len;
    char *buf = load("tests/fixtures/go1.23/concurrent-map-writes.txt", &len);
    static const char first[] = "fatal error: concurrent map writes\n";
    cr_assert(len > sizeof first && !memcmp(buf, first, sizeof first - 1));
    char *mixed = NULL;
    cr_assert(asprintf(&mixed, "fatal error: fatal error: concurrent map writes\nconcurrent map writes\n%s",
                       buf + sizeof first - 1) > 0);
    struct go_crash plain, c;
    cr_assert_eq(goparse_crash(buf, len, &plain), 1);
    cr_assert_eq(parse_str(mixed, &c), 1);
    cr_assert_eq(c.kind, GO_CRASH_FATAL);
    cr_assert_str_eq(c.message, "concurrent map writes");
    cr_assert(c.culprit >= 0);
    cr_assert_str_eq(c.frames[c.culprit].function, "main.main.func1");
    cr_assert_str_eq(c.fingerprint, plain.fingerprint, "the same crash, the same group");
    go_crash_free(&c);
    go_crash_free(&plain);
    free(mixed);
    free(buf);
}
