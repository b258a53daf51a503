#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "ring.h"

static char *contents(const struct ring *r)
{
    char *out = calloc(1, ring_used(r) + 1);
    ring_copy(r, out);
    return out;
}

Test(ring, keeps_everything_below_capacity)
{
    struct ring r;
    cr_assert_eq(ring_init(&r, 8), 0);
    ring_append(&r, "abc", 3);
    ring_append(&r, "de", 2);
    char *c = contents(&r);
    cr_assert_str_eq(c, "abcde");
    cr_assert_eq(r.total, 5);
    free(c);
    ring_free(&r);
}

Test(ring, keeps_the_last_bytes_across_wraps)
{
    struct ring r;
    ring_init(&r, 8);
    ring_append(&r, "0123456", 7);
    ring_append(&r, "789ab", 5);
    char *c = contents(&r);
    cr_assert_str_eq(c, "456789ab");
    free(c);
    ring_append(&r, "exactly8", 8);
    c = contents(&r);
    cr_assert_str_eq(c, "exactly8");
    free(c);
    ring_append(&r, "a much longer write", 19);
    c = contents(&r);
    cr_assert_str_eq(c, "er write");
    cr_assert_eq(r.total, 7 + 5 + 8 + 19);
    free(c);
    ring_free(&r);
}

Test(ring, span_and_commit_fill_in_place)
{
    struct ring r;
    ring_init(&r, 10);
    size_t span;
    char *p = ring_span(&r, &span);
    cr_assert_eq(span, 10);
    memcpy(p, "1234567", 7);
    ring_commit(&r, 7);
    p = ring_span(&r, &span);
    cr_assert_eq(span, 3, "a span never crosses the end of the buffer");
    memcpy(p, "890", 3);
    ring_commit(&r, 3);
    p = ring_span(&r, &span);
    cr_assert_eq(span, 10);
    memcpy(p, "AB", 2);
    ring_commit(&r, 2);
    char *c = contents(&r);
    cr_assert_str_eq(c, "34567890AB");
    free(c);
    ring_free(&r);
}

Test(ring, matches_a_reference_under_random_writes)
{
    enum { CAP = 97 };
    struct ring r;
    ring_init(&r, CAP);
    char all[20000];
    size_t n = 0;
    srand(42);
    while (n < sizeof all - 300) {
        size_t len = (size_t)rand() % 250;
        for (size_t i = 0; i < len; i++)
            all[n + i] = (char)('a' + rand() % 26);
        ring_append(&r, all + n, len);
        n += len;
        size_t want = n < CAP ? n : CAP;
        cr_assert_eq(ring_used(&r), want);
        char out[CAP];
        ring_copy(&r, out);
        cr_assert(memcmp(out, all + n - want, want) == 0, "tail differs after %zu bytes", n);
    }
    ring_free(&r);
}

Test(ring, maps_its_buffer_at_the_first_bytes_only)
{
    struct ring r;
    cr_assert_eq(ring_init_max(&r, 8, 1 << 20), 0);
    cr_assert_null(r.buf, "nothing written, nothing mapped");
    cr_assert_eq(ring_used(&r), 0);
    char none[1] = {'x'};
    ring_copy(&r, none);
    cr_assert_eq(none[0], 'x');
    cr_assert_eq(ring_resize(&r, 16), 0);
    cr_assert_null(r.buf);
    cr_assert_eq(r.cap, 16);
    ring_append(&r, "0123456789abcdefXY", 18);
    cr_assert_not_null(r.buf);
    char *got = contents(&r);
    cr_assert_str_eq(got, "23456789abcdefXY");
    free(got);
    ring_free(&r);
}

Test(ring, keeps_what_its_spare_buffer_holds_when_it_cannot_be_mapped)
{
    struct ring r;
    /* No address space holds 2^60 bytes: the mapping fails. */
    cr_assert_eq(ring_init_max(&r, 4096, 1ULL << 60), 0);
    char line[100];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(line, sizeof line, "line %02d\n", i);
        ring_append(&r, line, (size_t)n);
    }
    cr_assert_eq(r.buf, r.spare);
    cr_assert_eq(ring_used(&r), sizeof r.spare);
    char *got = contents(&r);
    cr_assert(strstr(got, "line 99\n") && !strstr(got, "line 00"), "%s", got);
    free(got);
    cr_assert_eq(r.total, 800);
    ring_free(&r);
}
