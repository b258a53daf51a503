/* SPDX-License-Identifier: MIT */
/* Keeping crashbox out of the OOM killer's reach, so it outlives the
 * service it must report on: it lowers its own oom_score_adj to -1000 where
 * it may (the service gets its original value back). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

/* Sets our oom_score_adj to -1000; *orig gets the old value for the child
 * (as text, NUL-terminated). Returns 0 or -errno. */
int oom_protect_self(char *orig, size_t cap);
/* True when an OOM kill in crashbox's cgroup m (as read at the run's start,
 * under $CRASHBOX_CGROUP_ROOT for fixture trees) kills the whole group
 * (cgroup v2 memory.oom.group = 1, as Kubernetes 1.28+ sets it), crashbox
 * included unless it is protected. */
bool oom_group_kill_enabled(const struct cgroup_memory *m);
