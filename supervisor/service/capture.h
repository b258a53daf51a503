/* SPDX-License-Identifier: MIT */
/* Crash capture: the exit-hook snapshot while the service is whole, the
 * classification of its end, and the bundle with its manifest. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "bundle.h"
#include "cgroup.h"
#include "diagnosis.h"
#include "leftovers.h"
#include "classify.h"
#include "exithook.h"
#include "goparse.h"
#include "items.h"
#include "keep.h"
#include "memwatch.h"
#include "policy.h"
#include "record.h"
#include "ring.h"

struct capture {
    const struct policy *policy;
    char *const *argv;
    char *const *envp;
    char service[80];
    char host[64];
    pid_t pid;
    unsigned restarts;        /* how many times the service was restarted before this run */
    gid_t bundle_gid;         /* group of bundles, (gid_t)-1 to leave it */
    int exe_fd;               /* the service's executable, opened at start */
    const char *cgroup_root;  /* a fixture tree standing in for the cgroup mounts, or NULL */
    struct cgroup_memory mem_start; /* at start: the memory watcher's baseline from then on */
    /* The exit-hook snapshot. */
    int notify_fd;            /* owned, -1 if none */
    struct exithook_buffers notify_buf; /* owned */
    unsigned notify_errors;   /* receive failures in a row */
    char hook_status[160];    /* why there is no hook, if there is none */
    bool snapshot_taken;
    char snapshot_trigger[64]; /* "exit_group(2)", "tgkill(SIGABRT)" */
    long long snapshot_ms;    /* how long the service was held */
    struct items snapshot;
    /* The core ([core] dump), written while the service is held. */
    struct bundle_core *core; /* owned, NULL if none */
    struct {
        uint64_t bytes;
        unsigned threads;
        const char *cut; /* static */
        char why_not[160];
    } core_info;
    int stop_signal;          /* SIGTERM/SIGINT forwarded to stop the service, or 0 */
    const char *no_tail_reason; /* why there is no stderr tail, when not relayed; NULL */
    /* The Go shim: its control socket, and the crash report it sent. */
    int control_fd;           /* not owned, -1 if none */
    struct leftovers leftovers;   /* what the service left behind, and how it was ended */
    /* When the service was reaped: crash-to-bundle latency counts from it. */
    long long exit_at_ms;
};

void capture_init(struct capture *c, const struct policy *p, char *const *argv, char *const *envp);
/* After the service started: remember its pid, executable and the exit
 * hook's listener (or why there is none). */
void capture_started(struct capture *c, pid_t pid, int notify_fd, int hook_errno);
/* Who the service is, as records and the other watchers name it. */
void capture_service(const struct capture *c, struct crash_service *who);
/* Handles one notification on notify_fd: snapshot if it is the service's
 * crash, then let the syscall continue. */
void capture_on_notify(struct capture *c);
/* Stops watching: later notifications fail open (ENOSYS) in the kernel. */
void capture_stop_hook(struct capture *c);

/* What the memory watcher brings to the run's end: its pre-OOM snapshots
 * (pre-oom/<percent>/...), the watermarks crossed, how it watched.
 * preoom_finish sets the fields after diag by name: a new one needs a line
 * there. */
struct preoom_evidence {
    struct items items; /* owned */
    struct crash_crossing crossed[CRASH_MAX_CROSSED];
    size_t ncrossed;
    struct memwatch_report watch;
    struct diag_evidence diag; /* the watermarks' figures, for the verdicts */
    /* The OOM-kill baseline as the watcher kept it: kills the service
     * outlived moved it on, so a later SIGKILL is not taken for one. */
    struct cgroup_memory mem_start;
    unsigned descendant_oom_kills; /* OOM kills in the cgroup the service outlived */
    time_t descendant_oom_last;
};

/* At the service's end: classify, and for a crash gather everything the
 * bundle needs into a job (*out, NULL for a clean end). Returns the kind. */
struct capture_job;
enum crash_kind capture_finish(struct capture *c, int wait_status, const struct keep *tail,
                               const struct keep *shim, struct preoom_evidence *mem, struct capture_job **out);
/* Stores the job's bundle (rate limit, size cap, directory then fallback),
 * prints the summary line and frees the job. Never fails the supervisor;
 * safe to run on a thread of its own. */
void capture_job_run(struct capture_job *job);
void capture_free(struct capture *c);
