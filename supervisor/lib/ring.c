/* SPDX-License-Identifier: MIT */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int ring_init_max(struct ring *r, size_t cap, size_t max)
{
    *r = (struct ring){0};
    if (cap == 0 || max < cap)
        return -EINVAL;
    r->max = max;
    r->cap = cap;
    return 0;
}

/* The mapping, at the first bytes: a ring nothing is written to (a service
 * silent on stderr, the shim's crash channel of most runs) costs no map and
 * unmap at each start. A mapping, not malloc: pages are touched only as
 * bytes arrive, and ring_resize can give them back (freed malloc memory
 * often is not). Where it cannot be made, the ring keeps what its small
 * spare buffer holds. */
static void ring_map(struct ring *r)
{
    void *p = mmap(NULL, r->max, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
        r->buf = p;
        return;
    }
    r->buf = r->spare;
    r->max = sizeof r->spare;
    if (r->cap > r->max)
        r->cap = r->max;
}

int ring_init(struct ring *r, size_t cap) { return ring_init_max(r, cap, cap); }

void ring_free(struct ring *r)
{
    if (r->buf && r->buf != r->spare)
        munmap(r->buf, r->max);
    *r = (struct ring){0};
}

int ring_resize(struct ring *r, size_t cap)
{
    if (cap == 0)
        cap = 1;
    if (cap > r->max)
        cap = r->max;
    if (cap == r->cap)
        return 0;
    if (!r->buf) { /* nothing held yet: only the capacity changes */
        r->cap = cap;
        return 0;
    }
    /* Oldest first at the start of the buffer: the layout of a ring that
     * has not wrapped, which is what a ring that is not full must be. */
    size_t keep = r->used < cap ? r->used : cap;
    char *tmp = malloc(r->used ? r->used : 1);
    if (!tmp)
        return -ENOMEM;
    ring_copy(r, tmp);
    memmove(r->buf, tmp + (r->used - keep), keep);
    free(tmp);
    r->cap = cap;
    r->used = keep;
    r->head = keep == cap ? 0 : keep;
    long pg = sysconf(_SC_PAGESIZE);
    size_t from = (cap + (size_t)pg - 1) & ~((size_t)pg - 1);
    if (from < r->max && r->buf != r->spare)
        (void)madvise(r->buf + from, r->max - from, MADV_DONTNEED);
    return 0;
}

char *ring_span(struct ring *r, size_t *len)
{
    if (!r->buf)
        ring_map(r);
    *len = r->cap - r->head;
    return r->buf + r->head;
}

void ring_commit(struct ring *r, size_t n)
{
    r->head += n;
    if (r->head == r->cap)
        r->head = 0;
    r->used = r->used + n < r->cap ? r->used + n : r->cap;
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

size_t ring_used(const struct ring *r) { return r->used; }

void ring_copy(const struct ring *r, char *out)
{
    if (!r->used)
        return;
    if (r->used < r->cap) {
        memcpy(out, r->buf, r->used);
        return;
    }
    size_t older = r->cap - r->head;
    memcpy(out, r->buf + r->head, older);
    memcpy(out + older, r->buf, r->head);
}
