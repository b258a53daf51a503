/* SPDX-License-Identifier: MIT */
/* Memory verdicts: from the figures taken at each watermark (the cgroup's,
 * every process's in it, the Go runtime's through the shim), rules say why
 * the memory ran out: retained-heap, goroutine-leak, other-process,
 * page-cache, gc-off, memlimit-above-limit, burst, heap-growth. Each
 * verdict carries the figures it rests on. Pure: evidence in, verdicts out;
 * the parsers below read fixture text as well as /proc and the shim. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define DIAG_MAX_PROCS 16
#define DIAG_MAX_SITES 5
#define DIAG_MAX_SAMPLES 8
#define DIAG_MAX_VERDICTS 8
#define DIAG_MAX_FIGURES 8
#define DIAG_NO_LIMIT INT64_MAX /* GOMEMLIMIT unset */

/* One process of the cgroup, from /proc/PID/status (bytes). */
struct diag_proc {
    int pid;
    char comm[32];
    uint64_t rss, rss_anon, rss_file, rss_shmem;
    long long read_ms; /* wall clock */
};

struct diag_site {
    char function[160];
    char file[200];
    unsigned line;
    uint64_t inuse_bytes, inuse_objects;
};

/* The Go runtime's own view, as the shim sends it. */
struct diag_runtime {
    bool have;
    long long read_ms;
    uint64_t heap_inuse, heap_idle, heap_released, stack_inuse;
    uint64_t goroutines, num_gc;
    long long last_gc_ms;
    int64_t gogc_percent; /* -1: off */
    int64_t gomemlimit;   /* DIAG_NO_LIMIT: none */
    unsigned gomaxprocs;
    struct diag_site sites[DIAG_MAX_SITES];
    size_t nsites;
    /* The largest group of the aggregated goroutine profile. */
    uint64_t group_count;
    char group_functions[3][160];
    size_t group_nfunctions;
};

/* The figures at one watermark crossing. */
struct diag_sample {
    unsigned percent;
    long long seen_ms; /* wall clock of the crossing */
    bool have_cgroup;
    long long cgroup_read_ms;
    uint64_t usage;
    uint64_t file, shmem, anon; /* memory.stat (v1 total_cache/total_shmem/total_rss; v2 file/shmem/anon) */
    struct diag_proc procs[DIAG_MAX_PROCS];
    size_t nprocs;
    struct diag_runtime rt;
};

struct diag_evidence {
    int service_pid;
    uint64_t limit; /* 0: none known */
    bool oom_killed;
    long long end_ms;           /* wall clock of the service's end, 0 if unknown */
    const char *env_gogc;       /* as the service was started, NULL if unset */
    const char *env_gomemlimit;
    struct diag_sample samples[DIAG_MAX_SAMPLES]; /* in the order they were taken */
    size_t n;
};

struct diag_figure {
    const char *key; /* static */
    bool is_str;
    int64_t num;
    char str[64];
};

struct diag_verdict {
    const char *id; /* static */
    char text[240];
    struct diag_figure fig[DIAG_MAX_FIGURES];
    size_t nfig;
};

/* The verdicts the evidence supports, most specific first; returns how many. */
size_t diagnose(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap);
/* Writes `[{"verdict", "text", "figures": {...}}, ...]` as a value. */
void diagnosis_json(const struct diag_verdict *v, size_t n, struct json *j);

/* Parsers. Each fills what it finds and leaves the rest. */
/* /proc/PID/status: VmRSS, RssAnon, RssFile, RssShmem (kB) and Name. */
int diag_parse_status(const char *buf, size_t len, struct diag_proc *p);
/* memory.stat of either version. */
int diag_parse_memory_stat(const char *buf, size_t len, struct diag_sample *s);
/* The shim's "runtime" answer (JSON). */
int diag_parse_runtime(const char *buf, size_t len, struct diag_runtime *rt);
/* The shim's "goroutines" answer (pprof debug=1): the first, largest group. */
int diag_parse_goroutine_profile(const char *buf, size_t len, struct diag_runtime *rt);
/* GOMEMLIMIT's syntax (1234, 512MiB, 1GiB, off); -EINVAL if not. */
int diag_parse_memlimit(const char *s, int64_t *out);

/* One watermark's figures as the snapshot's figures.json keeps them. */
void diag_sample_json(const struct diag_sample *s, struct json *j);
