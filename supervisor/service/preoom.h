/* SPDX-License-Identifier: MIT */
/* Pre-OOM snapshots: when the service's memory crosses a watermark, a
 * snapshot of /proc and the cgroup is kept, fsynced, as a pending file in
 * the bundle directory. An OOM kill's bundle takes them in under
 * pre-oom/<watermark>/; when memory falls back they are dropped (or, per
 * policy, become memory-high records in the one store, bundle/store.h). */
#pragma once

#include <stdbool.h>

#include "capture.h"
#include "diagnosis.h"
#include "memwatch.h"
#include "oomevents.h"
#include "shimwork.h"

/* What the watcher is told of the service at its start; its own copy. */
struct preoom_service {
    struct crash_service who;
    struct cgroup_memory mem_start; /* the cgroup and its OOM-kill baseline */
    int control_fd;                 /* the Go shim's control socket, not owned, -1 if none */
    gid_t bundle_gid;               /* the group of bundles, (gid_t)-1 to leave it */
};

struct preoom {
    const struct policy *policy;
    struct preoom_service svc;
    struct memwatch w;
    bool active;
    int dirfd; /* owned: the bundle directory, -1 if none */
    char pending[MEMWATCH_MAX][320];
    int state_dirfd; /* owned: where the state file is, -1 if none */
    int state_fd;    /* owned: the state file, locked while we live */
    bool shim_greeted; /* the service's Go shim said hello */
    long long state_started;
    unsigned state_watermark;
    uint64_t state_usage;
    /* The figures of each watermark's snapshot, for the verdicts, and what
     * its snapshot lacks (kept here: the pending file holds members only). */
    struct diag_sample *samples; /* owned: MEMWATCH_MAX of them from the first crossing, else NULL */
    bool have_sample[MEMWATCH_MAX];
    struct items missing[MEMWATCH_MAX]; /* owned */
    struct shimwork shim; /* the Go shim's answers, asked off the loop */
    struct oomevents oom; /* OOM kills as they happen */
    unsigned descendant_oom_kills; /* OOM kills in the cgroup the service outlived */
    time_t descendant_oom_last;
};

/* Starts watching the service's cgroup (svc->mem_start's). */
void preoom_start(struct preoom *p, const struct policy *pol, const struct preoom_service *svc);
/* fds to add to the supervision poll (POLLIN/POLLPRI as w.events says). */
size_t preoom_fds(const struct preoom *p, int *fds, short *events, size_t cap);
/* Returns true when a watermark was crossed (a snapshot taken). */
bool preoom_on_event(struct preoom *p, int fd);
/* At the service's end: returns the pending snapshots as evidence (items
 * under pre-oom/<percent>/, the crossings and their figures, how memory was
 * watched, the OOM-kill baseline and the kills the service outlived) and
 * removes the files. */
void preoom_finish(struct preoom *p, struct preoom_evidence *out);
void preoom_stop(struct preoom *p);

/* The state file of a running service (recovery.h): written at start and
 * at each watermark, removed at the run's end. */
void state_begin(struct preoom *p);
void state_end(struct preoom *p);
