/* SPDX-License-Identifier: MIT */
#include "keep.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KEEP_AVX2 1
#endif

#include "util.h"

/* Enough of a report's head to tell it from a log line that happens to
 * start like one (keep_sizes.report_is_real). */
#define KEEP_CHECK_AT (8u << 10)

int keep_init(struct keep *k, const struct keep_sizes *sz, bool whole_report)
{
    *k = (struct keep){.sz = *sz, .whole_report = whole_report};
    if (k->sz.log_tail > k->sz.report_tail)
        k->sz.log_tail = k->sz.report_tail;
    return ring_init_max(&k->tail, whole_report ? k->sz.report_tail : k->sz.log_tail, k->sz.report_tail);
}

void keep_free(struct keep *k)
{
    ring_free(&k->tail);
    free(k->head);
    k->head = NULL;
}

bool keep_started(const struct keep *k) { return k->tail.buf != NULL; }

char *keep_span(struct keep *k, size_t *len) { return ring_span(&k->tail, len); }

uint64_t keep_total(const struct keep *k) { return k->tail.total; }

static bool has(const char *s, size_t n, const char *p)
{
    size_t m = strlen(p);
    return n >= m && memcmp(s, p, m) == 0;
}

/* The first bytes that may start a line judge() cares about: the rest (a
 * timestamp, a level) are passed over without a look at more. All lie in
 * 'S'..'r', the range next_line_start() passes over by. */
static bool may_matter(char c, bool in_report)
{
    switch (c) {
    case 'p': case 'f': case 'W': case '[': case 'r': case 'S':
        return !in_report;
    case 'g':
        return in_report;
    default:
        return false;
    }
}

bool keep_is_report_start(const char *s, size_t n)
{
    if (n == 0 || !may_matter(s[0], false))
        return false;
    static const char *const starts[] = {"panic: ",  "fatal error: ", "WARNING: DATA RACE", "[signal ",
                                         "runtime: "};
    for (size_t i = 0; i < ARRAY_SIZE(starts); i++)
        if (has(s, n, starts[i]))
            return true;
    /* A runtime signal dump: "SIGQUIT: quit", "SIGABRT: abort". */
    if (!has(s, n, "SIG"))
        return false;
    size_t i = 3;
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
        i++;
    return i > 3 && i + 1 < n && s[i] == ':' && s[i + 1] == ' ';
}

static bool is_goroutine_header(const char *s, size_t n)
{
    return n > 10 && memcmp(s, "goroutine ", 10) == 0 && s[10] >= '0' && s[10] <= '9';
}

static void head_add(struct keep *k, const char *p, size_t n)
{
    size_t room = k->sz.report_head - k->head_len;
    if (n > room)
        n = room;
    memcpy(k->head + k->head_len, p, n);
    k->head_len += n;
}

static void report_begin(struct keep *k, uint64_t at)
{
    k->head = malloc(k->sz.report_head ? k->sz.report_head : 1);
    if (!k->head)
        return; /* the tail alone, as before */
    k->in_report = true;
    k->checked = k->whole_report;
    k->head_at = at;
    k->head_len = 0;
    k->goroutines = 0;
}

static void report_abandon(struct keep *k)
{
    free(k->head);
    k->head = NULL;
    k->in_report = false;
    k->goroutines = 0;
    (void)ring_resize(&k->tail, k->sz.log_tail);
}

/* Judges the line whose first bytes are in k->line. */
static void judge(struct keep *k)
{
    k->line_judged = true;
    if (k->in_report) {
        if (is_goroutine_header(k->line, k->line_len))
            k->goroutines++;
    } else if (keep_is_report_start(k->line, k->line_len)) {
        report_begin(k, k->line_at);
        if (k->in_report)
            head_add(k, k->line, k->line_len);
    }
}

/* The first line start after a newline in [p, stop) whose first byte may
 * matter, end itself when that newline is the last byte; NULL if none. */
static const char *line_start_in(const char *p, const char *stop, const char *end, bool in_report)
{
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        if (!nl)
            return NULL;
        p = nl + 1;
        if (p == end || may_matter(*p, in_report))
            return p;
    }
}

#ifdef __SSE2__
static inline __m128i load16(const char *p) { return _mm_loadu_si128((const __m128i *)(const void *)p); }

/* 0xff where p[i] is a newline and p[i + 1] lies in 'S'..'r'. */
static inline __m128i candidates16(const char *p)
{
    __m128i next = _mm_sub_epi8(load16(p + 1), _mm_set1_epi8('S'));
    __m128i in_range = _mm_cmpeq_epi8(_mm_subs_epu8(next, _mm_set1_epi8('r' - 'S')), _mm_setzero_si128());
    return _mm_and_si128(_mm_cmpeq_epi8(load16(p), _mm_set1_epi8('\n')), in_range);
}

static inline uint64_t newlines16(const char *p, int shift)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(load16(p), _mm_set1_epi8('\n'))) << shift;
}
#endif

#ifdef KEEP_AVX2
/* The same 64 bytes in two 32-byte halves where the CPU has AVX2: half the
 * instructions a step of the pass over every byte of a log. */
__attribute__((target("avx2"))) static const char *next_line_start_avx2(const char *p, const char *end,
                                                                       bool in_report)
{
    const __m256i nl = _mm256_set1_epi8('\n'), lo = _mm256_set1_epi8('S'), span = _mm256_set1_epi8('r' - 'S');
    for (; end - p > 64; p += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        __m256i an = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(p + 1)), lo);
        __m256i bn = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(p + 33)), lo);
        __m256i anl = _mm256_cmpeq_epi8(a, nl), bnl = _mm256_cmpeq_epi8(b, nl);
        __m256i hit = _mm256_or_si256(
            _mm256_and_si256(anl, _mm256_cmpeq_epi8(_mm256_subs_epu8(an, span), _mm256_setzero_si256())),
            _mm256_and_si256(bnl, _mm256_cmpeq_epi8(_mm256_subs_epu8(bn, span), _mm256_setzero_si256())));
        if (_mm256_testz_si256(hit, hit))
            continue;
        uint64_t newlines = (uint64_t)(uint32_t)_mm256_movemask_epi8(anl) |
                            (uint64_t)(uint32_t)_mm256_movemask_epi8(bnl) << 32;
        for (; newlines; newlines &= newlines - 1) {
            const char *q = p + __builtin_ctzll(newlines) + 1;
            if (may_matter(*q, in_report))
                return q;
        }
    }
    return line_start_in(p, end, end, in_report);
}
#endif

static enum keep_scan scan_with = KEEP_SCAN_AUTO;

void keep_set_scan(enum keep_scan s) { scan_with = s; }

/* The start of the first line in [p, end] whose first byte may matter (end
 * itself when the last byte ends a line), or NULL: p is inside a line
 * already judged. Every byte of a log passes here: where the vector unit
 * allows, 64 bytes at a time are passed over unless a newline in them is
 * followed by a byte in 'S'..'r' (the range holding every byte that may
 * matter), with no branch and no call per line. */
static const char *next_line_start(const char *p, const char *end, bool in_report)
{
#ifdef KEEP_AVX2
    if (scan_with == KEEP_SCAN_AUTO && __builtin_cpu_supports("avx2"))
        return next_line_start_avx2(p, end, in_report);
#endif
#ifdef __SSE2__
    for (; end - p > 64; p += 64) { /* 65 bytes: each byte's next is loaded beside it */
        __m128i hit = _mm_or_si128(_mm_or_si128(candidates16(p), candidates16(p + 16)),
                                   _mm_or_si128(candidates16(p + 32), candidates16(p + 48)));
        if (!_mm_movemask_epi8(hit))
            continue;
        uint64_t newlines = newlines16(p, 0) | newlines16(p + 16, 16) | newlines16(p + 32, 32) |
                            newlines16(p + 48, 48);
        for (; newlines; newlines &= newlines - 1) {
            const char *q = p + __builtin_ctzll(newlines) + 1;
            if (may_matter(*q, in_report))
                return q;
        }
    }
#endif
    return line_start_in(p, end, end, in_report);
}

/* Scans bytes just committed at stream offset `at`: line starts are judged,
 * the report's head filled. */
static void scan(struct keep *k, const char *p, size_t n, uint64_t at)
{
    const char *base = p, *s = p, *end = p + n;
    bool was = k->in_report;
    while (p < end) {
        if (!k->line_judged && k->line_len == 0 && !may_matter(*p, k->in_report))
            k->line_judged = true; /* most lines: nothing to copy */
        if (!k->line_judged) {
            size_t want = KEEP_PREFIX - k->line_len;
            size_t avail = (size_t)(end - p);
            const char *nl = memchr(p, '\n', want < avail ? want : avail);
            size_t take = nl ? (size_t)(nl - p) : (want < avail ? want : avail);
            memcpy(k->line + k->line_len, p, take);
            k->line_len += take;
            p += take;
            if (nl || k->line_len == KEEP_PREFIX) {
                bool before = k->in_report;
                judge(k);
                if (!before && k->in_report) {
                    s = p; /* the head has the line's start; the rest follows */
                    was = true;
                }
            }
            if (!nl)
                continue;
        } else {
            const char *next = next_line_start(p, end, k->in_report);
            if (!next)
                break;
            p = next - 1; /* its newline */
        }
        p++; /* the newline */
        k->line_len = 0;
        k->line_judged = false;
        k->line_at = at + (uint64_t)(p - base);
    }
    if (was && k->in_report && k->head_len < k->sz.report_head)
        head_add(k, s, (size_t)(end - s));
}

void keep_commit(struct keep *k, size_t n)
{
    size_t span;
    char *p = ring_span(&k->tail, &span);
    uint64_t at = k->tail.total;
    ring_commit(&k->tail, n);
    if (k->whole_report && !k->in_report && at == 0)
        report_begin(k, 0);
    bool was = k->in_report;
    /* The ring may not move until the scan is done with these bytes. */
    scan(k, p, n, at);
    if (!was && k->in_report)
        (void)ring_resize(&k->tail, k->sz.report_tail);
    if (k->in_report && !k->checked &&
        (k->head_len >= KEEP_CHECK_AT || k->head_len == k->sz.report_head)) {
        k->checked = true;
        if (k->sz.report_is_real && !k->sz.report_is_real(k->head, k->head_len))
            report_abandon(k);
    }
}

void keep_append(struct keep *k, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        size_t span;
        char *dst = keep_span(k, &span);
        size_t n = len < span ? len : span;
        memcpy(dst, p, n);
        keep_commit(k, n);
        p += n;
        len -= n;
    }
}

int keep_take(const struct keep *k, struct keep_text *out)
{
    *out = (struct keep_text){0};
    size_t used = ring_used(&k->tail);
    uint64_t ring_at = k->tail.total - used;
    size_t head_len = 0;
    char mark[96] = "";
    size_t mark_len = 0;
    if (k->in_report && k->head && ring_at > k->head_at) {
        uint64_t head_end = k->head_at + k->head_len;
        if (ring_at <= head_end) {
            head_len = (size_t)(ring_at - k->head_at); /* the two meet: nothing lost */
        } else {
            head_len = k->head_len;
            out->cut_bytes = ring_at - head_end;
            bool nl = head_len && k->head[head_len - 1] == '\n';
            mark_len = (size_t)snprintf(mark, sizeof mark, "%s[crashbox: %llu bytes cut here]\n", nl ? "" : "\n",
                                        (unsigned long long)out->cut_bytes);
        }
    }
    out->buf = malloc(head_len + mark_len + used + 1);
    if (!out->buf)
        return -ENOMEM;
    if (head_len) /* no head outside a report: memcpy wants a pointer even for 0 bytes */
        memcpy(out->buf, k->head, head_len);
    memcpy(out->buf + head_len, mark, mark_len);
    out->cut_at = head_len;
    ring_copy(&k->tail, out->buf + head_len + mark_len);
    out->len = head_len + mark_len + used;
    out->buf[out->len] = '\0';
    out->have_report = k->in_report;
    out->goroutines = k->goroutines;
    return 0;
}

void keep_text_free(struct keep_text *t)
{
    free(t->buf);
    *t = (struct keep_text){0};
}
