/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goparse.h"
#include "keep.h"

static const struct keep_sizes small = {.log_tail = 64, .report_tail = 4096, .report_head = 512,
                                        .report_is_real = goparse_report_is_real};

/* Feeds text in pieces of `step` bytes, so lines start and end across
 * the relay's reads. */
static void feed(struct keep *k, const char *s, size_t step)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += step)
        keep_append(k, s + i, n - i < step ? n - i : step);
}

static char *report(unsigned goroutines)
{
    size_t cap = 4096 + (size_t)goroutines * 128;
    char *b = malloc(cap);
    size_t n = (size_t)snprintf(b, cap, "panic: backend gone\n\ngoroutine 7 [running]:\nmain.checkBackend()\n"
                                        "\t/src/main.go:30 +0x25\n");
    for (unsigned i = 0; i < goroutines; i++)
        n += (size_t)snprintf(b + n, cap - n, "\ngoroutine %u [chan receive]:\nmain.(*request).awaitBackend()\n"
                                              "\t/src/main.go:26 +0x1d\n", 100 + i);
    return b;
}

Test(keep, ordinary_logs_hold_only_the_log_tail)
{
    struct keep k;
    cr_assert_eq(keep_init(&k, &small, false), 0);
    for (int i = 0; i < 1000; i++)
        feed(&k, "info: request served in 3ms\n", 7);
    cr_assert(!k.in_report);
    cr_assert_eq(k.tail.cap, 64);
    struct keep_text t;
    cr_assert_eq(keep_take(&k, &t), 0);
    cr_assert_eq(t.len, 64);
    cr_assert_eq(t.cut_bytes, 0);
    keep_text_free(&t);
    keep_free(&k);
}

Test(keep, a_report_keeps_its_head_its_tail_and_its_true_goroutine_count)
{
    for (size_t step = 1; step <= 4096; step *= 8) {
        struct keep k;
        cr_assert_eq(keep_init(&k, &small, false), 0);
        feed(&k, "info: starting\ninfo: serving\n", step);
        char *rep = report(500);
        feed(&k, rep, step);
        cr_assert(k.in_report, "step %zu", step);
        struct keep_text t;
        cr_assert_eq(keep_take(&k, &t), 0);
        cr_assert_eq(t.goroutines, 501, "step %zu: %llu", step, (unsigned long long)t.goroutines);
        cr_assert(strncmp(t.buf, "panic: backend gone\n", 20) == 0, "step %zu: %.40s", step, t.buf);
        size_t n = strlen(rep);
        cr_assert_eq(t.cut_bytes, n - 512 - 4096);
        cr_assert_eq(t.cut_at, 512);
        const char *mark = t.buf[511] == '\n' ? "[crashbox: " : "\n[crashbox: ";
        cr_assert(strncmp(t.buf + 512, mark, strlen(mark)) == 0, "step %zu: %.40s", step, t.buf + 512);
        cr_assert(memcmp(t.buf + t.len - 4096, rep + n - 4096, 4096) == 0);
        free(rep);
        keep_text_free(&t);
        keep_free(&k);
    }
}

Test(keep, a_report_that_fits_is_kept_whole_with_what_came_before)
{
    struct keep k;
    cr_assert_eq(keep_init(&k, &small, false), 0);
    feed(&k, "info: last words\n", 5);
    char *rep = report(3);
    feed(&k, rep, 5);
    struct keep_text t;
    cr_assert_eq(keep_take(&k, &t), 0);
    cr_assert_eq(t.cut_bytes, 0);
    cr_assert(strncmp(t.buf, "info: last words\n", 17) == 0);
    cr_assert_str_eq(t.buf + 17, rep);
    free(rep);
    keep_text_free(&t);
    keep_free(&k);
}

Test(keep, a_log_line_that_only_looks_like_a_panic_gives_the_memory_back)
{
    struct keep k;
    cr_assert_eq(keep_init(&k, &small, false), 0);
    feed(&k, "panic: not really, the app logs this\n", 3);
    cr_assert(k.in_report);
    for (int i = 0; i < 1000; i++)
        feed(&k, "info: request served in 3ms\n", 64);
    cr_assert(!k.in_report);
    cr_assert_eq(k.tail.cap, 64);
    cr_assert_null(k.head);
    keep_free(&k);
}

Test(keep, the_shim_channel_is_a_report_from_its_first_byte)
{
    struct keep k;
    cr_assert_eq(keep_init(&k, &small, true), 0);
    char *rep = report(100);
    feed(&k, rep, 1000);
    struct keep_text t;
    cr_assert_eq(keep_take(&k, &t), 0);
    cr_assert_eq(t.goroutines, 101);
    cr_assert(strncmp(t.buf, "panic: backend gone", 19) == 0);
    cr_assert_gt(t.cut_bytes, 0);
    free(rep);
    keep_text_free(&t);
    keep_free(&k);
}

Test(keep, report_starts)
{
    const char *yes[] = {"panic: x", "fatal error: all goroutines are asleep", "WARNING: DATA RACE",
                         "SIGQUIT: quit", "SIGABRT: abort", "[signal SIGSEGV: segmentation violation",
                         "runtime: goroutine stack exceeds"};
    const char *no[] = {"info: panic: x", "SIG: x", "\tpanic: x", "goroutine 1 [running]:"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_assert(keep_is_report_start(yes[i], strlen(yes[i])), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_assert(!keep_is_report_start(no[i], strlen(no[i])), "%s", no[i]);
}

/* The line-start scan passes over most of a log many bytes at a time: a
 * report is still found, from its first byte, whatever the lines before it
 * (lengths, first bytes that look like a report's) and however the stream
 * is cut into reads. */
Test(keep, a_report_is_found_after_any_log_however_it_is_read)
{
    static const char *const firsts[] = {"request served", "Served", "path=/x", "fine", "Wrote", "[info]",
                                         "hi", "2026-12-02T10:00:00Z info", "gone", "", "r", "panicky"};
    static const char words[] = "  request served in 3ms path=/api/v1/items status=200 user=42 took=3ms "
                                "level=info msg=hello request served in 3ms path=/api/v1/items status=200";
    char *rep = report(20);
    size_t rep_len = strlen(rep);
    /* Both scans: the widest the CPU has (AVX2 here), and 16 bytes. */
    for (int scan = 0; scan < 2; scan++)
    for (size_t filler = 0; filler < 300; filler += 7) {
        keep_set_scan(scan ? KEEP_SCAN_SSE2 : KEEP_SCAN_AUTO);
        for (size_t step = 1; step <= 8192; step = step * 5 + 3) {
            char *log = malloc(filler * 200 + rep_len + 1);
            size_t n = 0;
            for (size_t i = 0; i < filler; i++) {
                const char *f = firsts[i % (sizeof firsts / sizeof *firsts)];
                n += (size_t)sprintf(log + n, "%s%.*s\n", f, (int)((i * 37) % 150), words);
            }
            size_t at = n;
            memcpy(log + n, rep, rep_len + 1);
            struct keep k;
            cr_assert_eq(keep_init(&k, &small, false), 0);
            feed(&k, log, step);
            cr_assert(k.in_report, "scan %d filler %zu step %zu", scan, filler, step);
            cr_assert_eq(k.head_at, at, "filler %zu step %zu: %llu", filler, step, (unsigned long long)k.head_at);
            cr_assert_eq(k.goroutines, 21, "filler %zu step %zu", filler, step);
            cr_assert(strncmp(k.head, "panic: backend gone\n", 20) == 0);
            keep_free(&k);
            free(log);
        }
    }
    free(rep);
}
