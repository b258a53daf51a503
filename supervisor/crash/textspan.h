/* SPDX-License-Identifier: MIT */
/* Lines of a buffer as spans (pointer and length, no copies), for the pure
 * parsers that read Go's output line by line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct span {
    const char *s;
    size_t n;
};

/* The line at *p (without its "\n" or "\r\n"); *p moves past it. */
static inline bool span_next_line(const char **p, const char *end, struct span *l)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *le = nl ? nl : end;
    l->s = *p;
    l->n = (size_t)(le - *p);
    if (l->n && l->s[l->n - 1] == '\r')
        l->n--;
    *p = nl ? nl + 1 : end;
    return true;
}

static inline bool span_starts(struct span l, const char *prefix)
{
    size_t k = strlen(prefix);
    return l.n >= k && memcmp(l.s, prefix, k) == 0;
}
