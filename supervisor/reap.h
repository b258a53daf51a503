/* SPDX-License-Identifier: MIT */
/* Reaping zombies and ending the descendants a service leaves behind. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct reap_result {
    bool main_exited;
    int main_status;    /* wait status, valid when main_exited */
    bool main_stopped;
    int main_stop_signal;
    size_t reaped;      /* zombies collected, main included */
    bool no_children;   /* waitpid said ECHILD: nothing left to wait for */
};

/* Collects every zombie without blocking, noting what happened to main. */
void reap_children(pid_t main_pid, struct reap_result *out);

/* Parses the ppid out of a /proc/PID/stat line. Pure. */
int proc_stat_parse_ppid(const char *buf, size_t len, pid_t *ppid);

/* Sends sig to every remaining child of crashbox (as PID 1, to every
 * process in the namespace). Returns how many were signalled. */
size_t descendants_signal(const char *proc_root, int sig);
