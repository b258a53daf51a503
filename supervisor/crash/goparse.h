/* SPDX-License-Identifier: MIT */
/* The Go crash parser: finds the Go runtime's crash report (panic, fatal
 * error, signal dump, race report) in a buffer of captured stderr and
 * extracts what an on-call engineer needs. Pure C over a buffer: no I/O, no
 * logging, bounded work and memory on any input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

#define GOPARSE_MAX_FRAMES 64
#define GOPARSE_MAX_MESSAGE 4096

enum go_crash_kind {
    GO_CRASH_NONE,
    GO_CRASH_PANIC, /* "go-panic" */
    GO_CRASH_FATAL, /* "go-fatal": fatal error, or a runtime signal dump */
    GO_CRASH_RACE,  /* "race" */
};

struct go_frame {
    char *function; /* owned */
    char *file;     /* owned, may be NULL */
    unsigned line;
};

struct go_crash {
    enum go_crash_kind kind;
    char *message;     /* owned: the last panic's, the fatal error's, ... */
    unsigned panics;   /* panics in a [recovered] chain */
    char *go_signal;   /* owned: "SIGSEGV" from [signal ...] or a dump, or NULL */
    char *signal_code; /* owned: "0x1", or NULL */
    char *signal_addr; /* owned */
    char *signal_pc;   /* owned */
    bool cgo;          /* "signal arrived during cgo execution" */
    unsigned races;    /* race reports in the run */
    long goroutine;    /* the goroutine that matters, -1 if none or unknown */
    char *goroutine_state;  /* owned: "running", "chan send", ... */
    char *goroutine_labels; /* owned: 1.26's {"k": "v"} under tracebacklabels */
    const char *goroutine_reason; /* static: why that one (goparse_crash) */
    size_t goroutines; /* goroutine headers in the report */
    struct go_frame frames[GOPARSE_MAX_FRAMES];
    size_t nframes;
    bool frames_elided; /* the runtime elided frames, or we kept only the first */
    struct go_frame created_by; /* function NULL if none */
    long created_by_goroutine;  /* 1.21+ "in goroutine N", -1 otherwise */
    int culprit;                /* index into frames, -1 if none */
    char fingerprint[17];       /* 16 hex digits */
    size_t report_offset;       /* the report is buf[report_offset .. len) */
};

/* Returns 1 and fills *c when buf holds a Go crash report, 0 when it holds
 * none, -ENOMEM. *c must be released with go_crash_free() either way.
 *
 * The goroutine that matters is the crashing one ("crashing"): the
 * runtime prints it first. A dump the process was sent from outside
 * (SIGQUIT, or any signal with sigcode=0) is a snapshot with no crashing
 * goroutine; there, among the goroutines running the program's own code
 * (system goroutines and those only in the Go distribution's packages are
 * not), it is the one blocked longest if the runtime shows one blocked a
 * minute or more ("blocked longest"), else one running or runnable
 * ("running"), else the main goroutine ("main"), else the first ("first");
 * with none of them, none ("none": goroutine -1, no frames). */
int goparse_crash(const char *buf, size_t len, struct go_crash *c);
void go_crash_free(struct go_crash *c);

const char *go_crash_kind_name(enum go_crash_kind k);
/* True for frames of the Go runtime that are never a culprit. */
bool goparse_is_runtime_function(const char *fn);

/* The fingerprint of any crash: a hash of the kind, the message with
 * numbers and addresses stripped, and the given function names (the top
 * non-runtime frames; none for a crash without a Go report). Pure. */
void crash_fingerprint(const char *kind, const char *message, const char *const *functions, size_t n,
                       char out[17]);

/* Writes the crash as the manifest's "crash" object (without the kind
 * when kind_override is given, that name is used instead). */
void go_crash_to_json(const struct go_crash *c, const char *kind_override, struct json *j);
