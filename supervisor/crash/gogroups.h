/* SPDX-License-Identifier: MIT */
/* Goroutines grouped the way panicparse groups them: goroutines with the
 * same state, the same stack (function names) and the same creator are one
 * group, with a count and the longest wait. 50,000 goroutines blocked at
 * one site become one line. Reads a Go traceback (GOTRACEBACK=all and up)
 * or a goroutine profile in pprof's debug=1 text. Pure C over a buffer: no
 * I/O, no logging, bounded memory on any input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define GOGROUPS_MAX_FUNCTIONS 8 /* kept per group for display; the key uses the whole stack */
#define GOGROUPS_MAX_TRACKED 2048 /* distinct groups; goroutines past it are only counted */

struct go_group {
    size_t count;
    char *state; /* owned: "chan receive"; NULL from a profile (pprof's debug=1 has no states) */
    char *functions[GOGROUPS_MAX_FUNCTIONS]; /* owned: innermost first, runtime frames on top dropped */
    size_t nfunctions;
    char *file; /* owned: the top function's file (base name), or NULL */
    unsigned line;
    char *created_by; /* owned, or NULL */
    unsigned wait_minutes_max;
    uint64_t key;
    size_t seq; /* the order it first appeared in */
};

struct go_groups {
    struct go_group *v; /* owned, largest first after gogroups_parse */
    size_t n, cap;
    size_t goroutines; /* every goroutine seen, grouped or not */
    size_t ungrouped;  /* goroutines of groups past GOGROUPS_MAX_TRACKED */
    bool from_profile; /* a pprof debug=1 profile, not a traceback */
};

/* Groups the goroutines in buf (a traceback from its first goroutine
 * header on, or a "goroutine profile: total N" text). Returns the number of
 * groups, or -ENOMEM. *g must be released with go_groups_free() either way. */
int gogroups_parse(const char *buf, size_t len, struct go_groups *g);
void go_groups_free(struct go_groups *g);

/* The groups as a JSON array of at most max objects: {"count", "state",
 * "functions", "file", "line", "created_by", "wait_minutes_max"}. */
void go_groups_to_json(const struct go_groups *g, size_t max, struct json *j);
