/* SPDX-License-Identifier: MIT */
/* The supervisor: signals, reaping and the service's whole life, in one
 * poll loop that never gives up on the service. */
#pragma once

#include <signal.h>
#include <stdbool.h>

#include "capture.h"
#include "policy.h"
#include "restart.h"

/* Blocks every signal but the synchronous faults (which get a handler that
 * passes on ones sent with kill(2)) and returns a signalfd for the rest.
 * Call before any thread exists. Returns the fd or -errno. */
int signals_take_over(void);
/* Read end of the pipe the fault handler writes forwarded fault signals to. */
int signals_fault_fd(void);

struct service_run {
    char *const *argv;
    char *const *envp;
    const struct policy *policy;
    int signal_fd;
};

/* Runs the service to its end (restarting it as the policy says) and
 * returns crashbox's exit code: the last run's. */
int supervise(const struct service_run *run);
