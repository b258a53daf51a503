/* SPDX-License-Identifier: MIT */
/* The crash record: everything known about one end of the service, built
 * once from the evidence the watchers brought to the supervision loop, and
 * read-only from then on. The store writes it (bundle/store.h), the reports
 * tell it (report/crashreport.h); neither reaches back into the loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buildinfo.h"
#include "cgroup.h"
#include "diagnosis.h"
#include "leftovers.h"
#include "classify.h"
#include "goparse.h"
#include "gosigns.h"
#include "items.h"
#include "memwatch.h"
#include "policy.h"
#include "runstate.h"

#define CRASH_MAX_CROSSED 8

/* Who ended: the service's identity in bundles and summaries. */
struct crash_service {
    char service[80];
    char host[64];
    pid_t pid;
    unsigned restarts;  /* how many times the service was restarted before this run */
    char *const *argv;  /* crashbox's own, alive as long as it is; NULL: not known */
    char *const *envp;  /* the same */
};

/* A memory watermark the service crossed before its end. */
struct crash_crossing {
    unsigned percent;
    uint64_t usage;
    long long age_ms; /* how long before the end */
    time_t taken;     /* wall clock; 0: only the percent is known */
};

/* The exit hook's snapshot: whether the service was held at its end. */
struct crash_snapshot {
    bool taken;
    char trigger[64];     /* "exit_group(2)", "tgkill(SIGABRT)" */
    long long held_ms;
    char why_not[160];    /* why there is none ("": the service ended untrapped) */
};

/* The core crashbox wrote while the service was held ([core] dump). */
struct crash_core {
    bool asked;       /* the policy wants one */
    bool written;
    uint64_t bytes;
    unsigned threads;
    const char *cut;  /* static */
    char why_not[160];
};

/* What the watchers brought. Pointers are borrowed for the build; owned
 * members (items, bi) are moved into the record. */
struct crash_evidence {
    struct crash_service who;
    time_t at;                      /* when the end was seen */
    long long reaped_ms;            /* when the service was reaped (now_ms), 0: not */
    const char *tail;               /* the relay's stderr tail */
    size_t tail_len;
    const char *no_tail_reason;     /* why there is no tail, when not relayed; NULL */
    const char *shim_report;        /* the Go shim's report, intact even if stderr closed */
    size_t shim_report_len;
    /* Where the relay cut a crash report's middle (head and tail kept),
     * and the goroutine headers it counted as the report streamed past. */
    struct crash_cut {
        uint64_t bytes; /* 0: nothing cut */
        size_t at;      /* where in the text the cut is marked */
        uint64_t goroutines;
    } tail_cut, shim_cut;
    struct cgroup_memory mem;       /* at the end */
    struct cgroup_memory mem_start; /* at the start: the OOM-kill baseline */
    int stop_signal;                /* what crashbox forwarded to stop it, or 0 */
    struct crash_snapshot snapshot;
    struct crash_core core;
    struct crash_crossing crossed[CRASH_MAX_CROSSED];
    size_t ncrossed;
    struct memwatch_report watch;
    struct items items;             /* owned: snapshot, cgroup and pre-OOM members, in order */
    struct go_buildinfo bi;         /* owned */
    bool have_bi;
    /* A run found at the next start through its state file, not seen end. */
    const struct service_state *recovered;
    bool have_kills_now;            /* the cgroup's OOM-kill counter now */
    uint64_t kills_now;
    /* A pre-OOM snapshot kept when memory fell back (policy keep_memory_high):
     * the service lives on; crossed[0] is the watermark, items its members. */
    bool memory_high;
    struct diag_evidence diag;      /* the watermarks' figures, for the memory verdicts */
    unsigned descendant_oom_kills;  /* OOM kills in the cgroup the service outlived */
    time_t descendant_oom_last;
    const struct leftovers *leftovers; /* what the service left behind; NULL: none known */
};

struct crash_record {
    struct crash_service who;
    time_t at;
    long long reaped_ms; /* crash-to-bundle latency counts from it */
    enum crash_kind kind;
    int status;          /* wait status */
    bool status_known;   /* false for a recovered run: it was never reaped */
    bool recovered;
    bool memory_high;    /* a snapshot of a service still running, not an end */
    struct go_crash gc;  /* owned, when have_gc */
    bool have_gc;
    bool from_shim;      /* the report came on the shim's crash channel */
    char message[1200];
    char fingerprint[17];
    char culprit[700];   /* "" if none */
    char note[400];      /* how the kind was inferred, "" if it was seen */
    struct cgroup_memory mem;
    struct cgroup_memory mem_start;
    struct crash_snapshot snapshot;
    struct crash_core core;
    struct crash_crossing crossed[CRASH_MAX_CROSSED];
    size_t ncrossed;
    struct memwatch_report watch;
    struct go_buildinfo bi; /* owned */
    bool have_bi;
    struct items items;  /* owned: the bundle's members, fitted to the policy's size cap */
    struct go_signs signs; /* owned: goroutine groups, the first race, recovered panics */
    struct diag_verdict verdicts[DIAG_MAX_VERDICTS]; /* the memory verdicts (diagnosis.h) */
    size_t nverdicts;
    unsigned descendant_oom_kills;
    time_t descendant_oom_last;
    struct leftovers leftovers; /* what the service left behind, and the signal that ended each */
};

/* Pure: classifies the end (status: the wait status; ignored for a
 * recovered run), and for a crash builds the message, culprit, fingerprint
 * and members, taking the evidence's owned parts (members the memory for
 * which runs out are lost, never the record). Returns the kind; for
 * CRASH_NONE *r is empty and the evidence untouched. */
enum crash_kind crash_record_build(struct crash_evidence *ev, int status, const struct policy *p,
                                   struct crash_record *r);
void crash_record_free(struct crash_record *r);
void crash_evidence_free(struct crash_evidence *ev);
