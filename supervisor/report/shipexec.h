/* SPDX-License-Identifier: MIT */
/* `crashbox ship` runs crashbox-ship, a separate binary linked with libcurl,
 * so that crashbox itself (and its static build for PID 1) carries no TLS
 * library. */
#pragma once

#include "policy.h"

/* Execs crashbox-ship with argv (argv[0] is the subcommand); returns only
 * on failure, with the exit status to use. */
int ship_exec(int argc, char **argv);

/* [ship] to: runs `crashbox-ship ship DIR --to ... --once` for the directory
 * of the bundle just written, as a watcher child (hooks_run_watcher). A
 * failure is logged; what it left is shipped by the next run. */
void ship_after_bundle(const struct policy *p, const char *bundle_path);
