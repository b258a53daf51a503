/* SPDX-License-Identifier: MIT */
/* Starts the service: fork, set the child up, execve. */
#pragma once

#include <sys/types.h>

struct spawn_request {
    char *const *argv;  /* argv[0] is looked up in PATH */
    char *const *envp;
    int stderr_fd;      /* becomes the child's fd 2 */
    int terminal_fd;    /* >= 0: give the child's process group this terminal */
};

/* Forks and execs. The child gets its own process group, the caller's cwd,
 * an empty signal mask, default dispositions, fds 0 and 1, stderr_fd as 2
 * and nothing else, and dies with SIGKILL if crashbox dies.
 * Returns the pid, or -errno if fork failed. When exec fails the child is
 * already reaped, *exec_errno says why, and the pid is still returned. */
pid_t spawn_service(const struct spawn_request *req, int *exec_errno);

/* Closes every fd from `from` upward except `keep` (which may be -1). */
void close_fds_from(int from, int keep);

/* Resets signal mask and all dispositions to their defaults: what a
 * freshly exec'd program expects to inherit. Async-signal-safe. */
void signals_reset_for_exec(void);
