/* SPDX-License-Identifier: MIT */
/* What crashbox keeps of a stream for crash capture: a short tail of
 * ordinary logs, and once a Go crash report starts (recognised at a line
 * start as the bytes pass), the report's head as well as a longer tail,
 * with its goroutine headers counted, so a report of any size keeps its
 * panic, its crashing goroutine and its true goroutine count while the
 * memory held outside a crash stays small. Not thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define KEEP_PREFIX 24 /* the bytes of a line start that are judged */

struct keep_sizes {
    size_t log_tail;    /* the tail held outside a crash report */
    size_t report_tail; /* the tail held once a report has started */
    size_t report_head; /* the report's first bytes */
    /* Whether a head, which starts like a report, goes on like one (the
     * Go parser's judgement, from a stage above); NULL: always. */
    bool (*report_is_real)(const char *buf, size_t len);
};

struct keep {
    struct ring tail; /* owned */
    struct keep_sizes sz;
    bool whole_report; /* the stream is a report from its first byte (the shim's channel) */
    bool in_report;
    bool checked;        /* the head was seen to be report-shaped, or has no more to show */
    char *head;          /* owned, NULL outside a report */
    size_t head_len;
    uint64_t head_at;    /* the report's offset in the stream */
    uint64_t goroutines; /* goroutine headers since the report started */
    char line[KEEP_PREFIX]; /* the current line's first bytes */
    size_t line_len;
    bool line_judged;
    uint64_t line_at; /* the current line's offset in the stream */
};

/* What keep_take hands back: one buffer, and where its middle was cut. */
struct keep_text {
    char *buf; /* owned, NUL-terminated */
    size_t len;
    bool have_report;
    uint64_t goroutines; /* counted as the report streamed past */
    uint64_t cut_bytes;  /* 0: nothing cut between head and tail */
    size_t cut_at;       /* where in buf the cut is marked */
};

int keep_init(struct keep *k, const struct keep_sizes *sz, bool whole_report);
void keep_free(struct keep *k);
/* Space to read into (always > 0), then how much was read. */
/* Whether a byte was ever spanned: the ring is mapped (ring_span). */
bool keep_started(const struct keep *k);
char *keep_span(struct keep *k, size_t *len);
void keep_commit(struct keep *k, size_t n);
void keep_append(struct keep *k, const void *data, size_t len);
uint64_t keep_total(const struct keep *k);
/* The kept bytes: head, a marked cut, and tail, or only the tail when they
 * meet. */
int keep_take(const struct keep *k, struct keep_text *out);
void keep_text_free(struct keep_text *t);
/* True when a line starting with these bytes may open a Go crash report. */
bool keep_is_report_start(const char *s, size_t n);

/* How line starts are looked for: the widest vectors the CPU has (AUTO), or
 * 16-byte ones everywhere: for the tests, which check both. */
enum keep_scan { KEEP_SCAN_AUTO, KEEP_SCAN_SSE2 };
void keep_set_scan(enum keep_scan s);
