/* SPDX-License-Identifier: MIT */
/* Starts the service: fork, set the child up, execve. */
#pragma once

#include <sys/types.h>

#include "childexec.h"
#include "exithook.h"
#include "sandbox.h"

struct spawn_request {
    char *const *argv;  /* argv[0] is looked up in PATH */
    char *const *envp;
    int stderr_fd;      /* becomes the child's fd 2; -1: crashbox's own fd 2 (a terminal) */
    int terminal_fd;    /* >= 0: give the child's process group this terminal */
    const struct exithook_prog *exit_hook; /* NULL: no seccomp filter */
    const struct sandbox *sandbox;         /* NULL: none */
    const char *oom_score_adj;             /* the child's, when crashbox changed its own; NULL: leave */
    /* >= 0: the Go shim's crash output and control fds, passed at the same
     * numbers: fds crashbox opened, so never one it inherited. */
    int shim_fds[2];
    /* Non-NULL: an envp entry of SPAWN_LISTEN_PID_SIZE bytes the child
     * rewrites to LISTEN_PID=<its pid> (socket activation). */
    char *listen_pid;
};

#define SPAWN_LISTEN_PID_SIZE 32

struct spawn_result {
    pid_t pid;
    int exec_errno;  /* 0: the command runs */
    int sandbox_errno; /* the sandbox could not be applied (the command never ran) */
    int sandbox_step;  /* at which step (enum sandbox_step) */
    int notify_fd;   /* the exit hook's listener, or -1 */
    int hook_errno;  /* why there is no listener (0: none was asked for) */
};

/* Forks and execs. The child gets its own process group, the caller's cwd,
 * an empty signal mask, default dispositions, fds 0 and 1, stderr_fd as 2,
 * every fd crashbox inherited (all of crashbox's own are close-on-exec) and
 * the shim's when asked; it dies with SIGKILL if crashbox dies, and has the
 * exit hook installed last before execve when one is given.
 * Returns 0 or -errno if fork failed. When exec fails the child is already
 * reaped and res->exec_errno says why. */
int spawn_service(const struct spawn_request *req, struct spawn_result *res);
