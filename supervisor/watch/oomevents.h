/* SPDX-License-Identifier: MIT */
/* OOM kills in the service's memory cgroup as they happen: the kernel's
 * notification (v1: an eventfd on memory.oom_control; v2: memory.events
 * changing), then a look a moment later. A kill after which the service
 * still lives was of another process in its cgroup (a descendant): it is
 * said at once and taken out of the baseline, so a later SIGKILL from
 * elsewhere is not called an OOM kill. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* How long after the notification the service is looked at: a victim is
 * gone by then. */
#define OOMEVENTS_SETTLE_MS 500

struct oomevents {
    int dirfd;        /* not owned: the memory cgroup directory */
    enum cgroup_version version;
    int note_fd;      /* owned: the eventfd (v1) or memory.events (v2), -1 */
    short note_events;
    int timer_fd;     /* owned: the look after the notification, -1 */
};

/* Best effort: without a notification, the end's counter alone decides. */
void oomevents_start(struct oomevents *o, int dirfd, enum cgroup_version v);
/* The fds to poll, with their events; returns how many (at most cap). */
size_t oomevents_fds(const struct oomevents *o, int *fds, short *events, size_t cap);
/* Handles an event on fd (one of ours, else returns false). *look is set
 * when it is time to look: read the counter and see who still lives. */
bool oomevents_on_event(struct oomevents *o, int fd, bool *look);
/* The cgroup's OOM-kill counter now. */
int oomevents_counter(const struct oomevents *o, uint64_t *out);
/* Whether pid still lives (not gone, not exiting, not a zombie), from /proc. */
bool oomevents_alive(pid_t pid);
void oomevents_stop(struct oomevents *o);
