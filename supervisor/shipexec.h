/* SPDX-License-Identifier: MIT */
/* `crashbox ship` runs crashbox-ship, a separate binary linked with libcurl,
 * so that crashbox itself (and its static build for PID 1) carries no TLS
 * library. */
#pragma once

/* Execs crashbox-ship with argv (argv[0] is the subcommand); returns only
 * on failure, with the exit status to use. */
int ship_exec(int argc, char **argv);
