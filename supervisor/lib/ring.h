/* SPDX-License-Identifier: MIT */
/* A byte ring that keeps the last `cap` bytes written to it: the stderr
 * tail crash capture reads. Writers fill it in place (ring_span/commit) so
 * the relay reads from the pipe straight into it. Its capacity can change
 * between 1 and the size it was made with: pages it no longer uses are
 * given back to the kernel. Not thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ring {
    char *buf;      /* owned: a mapping of max bytes, touched only up to cap,
                     * made at the first ring_span (NULL before); spare if
                     * it could not be */
    size_t max;
    size_t cap;     /* the current capacity */
    size_t head;    /* next write offset; == used while used < cap */
    size_t used;    /* bytes held */
    uint64_t total; /* bytes ever written */
    char spare[512];
};

/* A ring that may grow to max bytes, holding at most cap now. */
int ring_init_max(struct ring *r, size_t cap, size_t max);
int ring_init(struct ring *r, size_t cap);
void ring_free(struct ring *r);
/* Changes the capacity (clamped to 1..max), keeping the newest bytes that
 * fit, and returns the pages past it to the kernel. */
int ring_resize(struct ring *r, size_t cap);
/* Contiguous space at the write position (always > 0 when cap > 0). */
char *ring_span(struct ring *r, size_t *len);
/* Marks n bytes of the span as written. */
void ring_commit(struct ring *r, size_t n);
void ring_append(struct ring *r, const void *data, size_t len);
/* Bytes currently held: min(bytes written since the last shrink, cap). */
size_t ring_used(const struct ring *r);
/* Copies the held bytes, oldest first, into out (ring_used() bytes). */
void ring_copy(const struct ring *r, char *out);
