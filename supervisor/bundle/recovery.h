/* SPDX-License-Identifier: MIT */
/* Surviving a group OOM kill (oomprotect.h keeps crashbox out of reach
 * where it may). crashbox keeps a small state file for the running service
 * in the bundle directory, removed on a clean end. A state file found at the next start (the
 * container's restart) means a supervisor that died without an end: a
 * bundle is finalized from it and the pending pre-OOM snapshots, of kind
 * oom-kill when the evidence shows memory near the limit, supervisor-killed
 * otherwise, with a note saying how this was inferred. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"
#include "runstate.h"

/* The state file of this crashbox for a service on a host:
 * ".crashbox-state-<service>-<host>-<crashbox pid>". It stays flock'd while
 * its crashbox lives, so a live one is never taken for a dead one. */
void state_name(char *out, size_t cap, const char *service, const char *host, pid_t supervisor);
/* Creates and locks it; returns the fd (kept open) or -errno. */
int state_open(int dirfd, const char *service, const char *host);
/* Rewrites it in place. Returns 0 or -errno. */
int state_write(int fd, const struct service_state *s);
void state_remove(int dirfd, int fd, const char *service, const char *host);

/* At start: finalizes a bundle for a previous run that ended without an end
 * record. Returns 1 if one was written, 0 if there was nothing, <0. */
int recovery_run(const struct policy *p, const char *service, const char *host);
