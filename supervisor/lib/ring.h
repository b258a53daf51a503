/* SPDX-License-Identifier: MIT */
/* A byte ring that keeps the last `cap` bytes written to it: the stderr
 * tail crash capture reads. Writers fill it in place (ring_span/commit) so
 * the relay reads from the pipe straight into it. Not thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ring {
    char *buf;      /* owned */
    size_t cap;
    size_t head;    /* next write offset */
    uint64_t total; /* bytes ever written */
};

int ring_init(struct ring *r, size_t cap);
void ring_free(struct ring *r);
/* Contiguous space at the write position (always > 0 when cap > 0). */
char *ring_span(struct ring *r, size_t *len);
/* Marks n bytes of the span as written. */
void ring_commit(struct ring *r, size_t n);
void ring_append(struct ring *r, const void *data, size_t len);
/* Bytes currently held: min(total, cap). */
size_t ring_used(const struct ring *r);
/* Copies the held bytes, oldest first, into out (ring_used() bytes). */
void ring_copy(const struct ring *r, char *out);
