/* SPDX-License-Identifier: MIT */
/* Watcher hooks: commands crashbox runs after a bundle is written (an
 * uploader, a notifier, a symbolizer). They get the watcher environment
 * (GOGC, GOMEMLIMIT, GODEBUG, GOMAXPROCS, GOTRACEBACK stripped by default),
 * none of crashbox's or the service's fds, their own process group and
 * timeout; their output goes to crashbox's log, and their failure is logged,
 * never fatal. They run on the bundle writer's thread: supervision of the
 * service and its restart never wait for them. */
#pragma once

#include "policy.h"

struct hook_event {
    const char *bundle;      /* path of the bundle just written */
    const char *service;
    const char *kind;
    const char *fingerprint;
};

/* Runs the policy's on_crash hook for ev, if any, to its end or timeout. */
void hooks_on_crash(const struct policy *p, const struct hook_event *ev);

/* Runs argv as a watcher child, as the on_crash hook runs, with env (a
 * NULL-terminated environment), to its end or the hooks' timeout. */
void hooks_run_watcher(const struct policy *p, char *const *argv, char **env);
