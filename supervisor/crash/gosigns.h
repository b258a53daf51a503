/* SPDX-License-Identifier: MIT */
/* What else the service's output says besides its crash report: the race
 * detector's reports (the first one in full, all of them counted) and the
 * panics that were recovered before the crash (a handler that panicked and
 * net/http recovered, a re-panic chain). Pure C over a buffer: no I/O, no
 * logging, bounded memory on any input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "gogroups.h"
#include "goparse.h"
#include "items.h"
#include "json.h"

#define GOSIGNS_RACE_FRAMES 16
#define GOSIGNS_MAX_NAMES 5

/* One side of a race: the access and the goroutine that made it. */
struct go_race_access {
    char *what; /* owned: "Write at 0x00c00001c0f8 by goroutine 7" */
    long goroutine; /* -1 for the main goroutine or when unknown */
    bool main_goroutine;
    struct go_frame frames[GOSIGNS_RACE_FRAMES];
    size_t nframes;
    struct go_frame created_at[GOSIGNS_RACE_FRAMES]; /* where that goroutine was created */
    size_t ncreated;
};

struct go_race {
    unsigned count; /* race reports seen, or the runtime's "Found N" when larger */
    struct go_race_access access, previous; /* the first report's */
};

struct go_recovered {
    unsigned count;
    struct {
        char *text; /* owned: the panic's value, normalised to one line */
        unsigned count;
    } names[GOSIGNS_MAX_NAMES];
    size_t nnames;
};

/* Returns 1 and fills *r when buf holds a race report, 0 when none,
 * -ENOMEM. *r must be released with go_race_free() either way. */
int gosigns_race(const char *buf, size_t len, struct go_race *r);
void go_race_free(struct go_race *r);
void go_race_to_json(const struct go_race *r, struct json *j);

/* Counts "http: panic serving ADDR: VALUE" lines and "panic: VALUE
 * [recovered]" lines in buf. Returns the count, or -ENOMEM. */
int gosigns_recovered(const char *buf, size_t len, struct go_recovered *rp);
void go_recovered_free(struct go_recovered *rp);
void go_recovered_to_json(const struct go_recovered *rp, struct json *j);

#define GOSIGNS_MAX_GROUPS 20 /* groups written to the manifest, largest first */

/* All of it for one crash: the manifest's crash.goroutine_groups,
 * crash.race and crash.recovered_panics. */
struct go_signs {
    struct go_groups groups;
    char *groups_source; /* owned: "crash.txt" or the member the groups come from, or NULL */
    struct go_race race;
    bool have_race;
    struct go_recovered recovered;
};

/* Reads the signs from the crash report (NULL when there is none), the
 * stderr tail, and the bundle's members: without a report holding more
 * than one goroutine, the goroutine dump or profile taken nearest the end
 * (the exit hook's, else the highest pre-OOM watermark's). Returns 0 or
 * -ENOMEM (what was read is kept). */
int go_signs_read(struct go_signs *s, const char *report, size_t report_len, const char *tail,
                  size_t tail_len, const struct items *members);
void go_signs_free(struct go_signs *s);
/* The members inside the manifest's "crash" object. */
void go_signs_json(const struct go_signs *s, struct json *j);
