/* SPDX-License-Identifier: MIT */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ring_init(struct ring *r, size_t cap)
{
    *r = (struct ring){0};
    if (cap == 0)
        return -EINVAL;
    /* malloc of a large buffer maps pages lazily: an idle service with a
     * quiet stderr costs no resident memory for its tail. */
    r->buf = malloc(cap);
    if (!r->buf)
        return -ENOMEM;
    r->cap = cap;
    return 0;
}

void ring_free(struct ring *r)
{
    free(r->buf);
    *r = (struct ring){0};
}

char *ring_span(struct ring *r, size_t *len)
{
    *len = r->cap - r->head;
    return r->buf + r->head;
}

void ring_commit(struct ring *r, size_t n)
{
    r->head += n;
    if (r->head == r->cap)
        r->head = 0;
    r->total += n;
}

void ring_append(struct ring *r, const void *data, size_t len)
{
    const char *p = data;
    if (len > r->cap) { /* only the last cap bytes can survive */
        p += len - r->cap;
        r->total += len - r->cap;
        len = r->cap;
    }
    while (len > 0) {
        size_t span;
        char *dst = ring_span(r, &span);
        size_t n = len < span ? len : span;
        memcpy(dst, p, n);
        ring_commit(r, n);
        p += n;
        len -= n;
    }
}

size_t ring_used(const struct ring *r) { return r->total < r->cap ? (size_t)r->total : r->cap; }

void ring_copy(const struct ring *r, char *out)
{
    size_t used = ring_used(r);
    if (used < r->cap) {
        memcpy(out, r->buf, used);
        return;
    }
    size_t older = r->cap - r->head;
    memcpy(out, r->buf + r->head, older);
    memcpy(out + older, r->buf, r->head);
}
