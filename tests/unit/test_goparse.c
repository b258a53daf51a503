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

/* Real outputs of Go 1.19, 1.21, 1.22 and 1.23 (tests/fixtures/capture.sh). */
struct fixture_case {
    const char *example;
    const char *kind;
    const char *message_prefix;
    const char *culprit;
    unsigned line;
    const char *go_signal; /* NULL: none */
};

static const struct fixture_case cases[] = {
    {"nil-deref", "go-panic", "runtime error: invalid memory address or nil pointer dereference",
     "main.handle", 14, "SIGSEGV"},
    {"custom-panic", "go-panic", "reconcile batch 3: ledger out of balance by 42 cents",
     "main.reconcile", 14, NULL},
    {"index-out-of-range", "go-panic", "runtime error: index out of range [5] with length 3",
     "main.pick", 6, NULL},
    {"concurrent-map-writes", "go-fatal", "concurrent map writes", "main.main.func1", 15, NULL},
    {"deadlock", "go-fatal", "all goroutines are asleep - deadlock!", "main.main", 6, NULL},
    {"stack-overflow", "go-fatal", "stack overflow", "main.descend", 5, NULL},
    {"traceback-crash", "go-panic", "port is not a number: strconv.Atoi", "main.(*parser).port", 15,
     NULL},
    {"recovered-repanic", "go-panic", "process failed: runtime error: index out of range",
     "main.process.func1", 10, NULL},
    {"panic-in-goroutine", "go-panic", "job 3: checksum mismatch", "main.consume", 13, NULL},
    {"data-race", "race", "data race: Read at 0x", "main.main.func1", 17, NULL},
    {"sigquit", "go-fatal", "SIGQUIT: quit", "time.Sleep", 0, "SIGQUIT"},
    {"cgo-segv", "go-fatal", "", "main._Cfunc_crash_in_c", 0, "SIGSEGV"},
};

static const char *const versions[] = {"go1.19", "go1.21", "go1.22", "go1.23"};

Test(goparse, real_go_outputs_of_four_versions)
{
    for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
            const struct fixture_case *k = &cases[i];
            char path[256];
            snprintf(path, sizeof path, "tests/fixtures/%s/%s.txt", versions[v], k->example);
            size_t len;
            char *buf = load(path, &len);
            struct go_crash c;
            cr_assert_eq(goparse_crash(buf, len, &c), 1, "%s: no crash found", path);
            cr_expect_str_eq(go_crash_kind_name(c.kind), k->kind, "%s", path);
            cr_expect(strncmp(c.message, k->message_prefix, strlen(k->message_prefix)) == 0,
                      "%s: message %s", path, c.message);
            cr_assert_geq(c.culprit, 0, "%s: no culprit", path);
            cr_expect_str_eq(c.frames[c.culprit].function, k->culprit, "%s", path);
            if (k->line)
                cr_expect_eq(c.frames[c.culprit].line, k->line, "%s", path);
            if (k->go_signal)
                cr_expect_str_eq(c.go_signal, k->go_signal, "%s", path);
            else
                cr_expect_null(c.go_signal, "%s: %s", path, c.go_signal);
            go_crash_free(&c);
            free(buf);
        }
    }
}

Test(goparse, fingerprint_is_stable_across_versions_and_distinct_across_sites)
{
    char fps[ARRAY_SIZE(cases)][17];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        if (!strcmp(cases[i].example, "cgo-segv"))
            continue; /* 1.19 words that one differently: a real change of message */
        for (size_t v = 0; v < ARRAY_SIZE(versions); v++) {
            char path[256];
            snprintf(path, sizeof path, "tests/fixtures/%s/%s.txt", versions[v], cases[i].example);
            size_t len;
            char *buf = load(path, &len);
            struct go_crash c;
            goparse_crash(buf, len, &c);
            if (v == 0)
                memcpy(fps[i], c.fingerprint, 17);
            else
                cr_expect_str_eq(c.fingerprint, fps[i], "%s differs from go1.19", path);
            go_crash_free(&c);
            free(buf);
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        for (size_t k = i + 1; k < ARRAY_SIZE(cases); k++)
            if (strcmp(cases[i].example, "cgo-segv") && strcmp(cases[k].example, "cgo-segv"))
                cr_expect_str_neq(fps[i], fps[k], "%s and %s collide", cases[i].example,
                                  cases[k].example);
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
