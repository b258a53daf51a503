/* SPDX-License-Identifier: MIT */
/* The one fork/exec path for watcher children (the on_crash hooks, the
 * shipper): the watcher environment as given, none of crashbox's or the
 * service's fds, their own process group, the hooks' timeout; their output
 * goes to crashbox's log, and their failure is logged, never fatal. */
#pragma once

#include "policy.h"

/* Runs argv with env (a NULL-terminated environment) to its end or the
 * hooks' timeout. An exit status of quiet_exit (-1: none) is the caller's to
 * log, not a failure. Returns the child's exit status, or -1 when it did not
 * exit by itself. */
int watcher_run(const struct policy *p, char *const *argv, char **env, int quiet_exit);
