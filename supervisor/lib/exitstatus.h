/* SPDX-License-Identifier: MIT */
/* The shell's exit-status contract, and crashbox's own codes. */
#pragma once

/* crashbox's own failures: a small range no Go runtime path produces
 * (Go uses 0, 1 and 2; shells use 126, 127 and 128+N). */
enum {
    EXIT_CRASHBOX_USAGE = 121,  /* bad command line */
    EXIT_CRASHBOX_POLICY = 122, /* invalid policy file */
    EXIT_CRASHBOX_SYSTEM = 123, /* could not set up or start the service */
    EXIT_EXEC_NOT_EXECUTABLE = 126,
    EXIT_EXEC_NOT_FOUND = 127,
};

/* Exit code for a wait(2) status: the code as is, 128+N for signal N. */
int exit_code_from_wait_status(int status);
/* Exit code for an execve(2) failure in the child: 127 for a missing
 * command, 126 for one that exists but cannot be run. */
int exit_code_from_exec_errno(int err);
