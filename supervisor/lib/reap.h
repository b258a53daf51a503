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

/* Processes crashbox starts besides the service (watcher hooks) are
 * claimed: whichever thread reaps one records its status for the thread
 * that waits on it, and they are never "left behind by the service". */
int reap_claim(pid_t pid);
/* Waits (polling, off the supervision path) until pid ended or deadline
 * (now_ms() value) passed. Returns 0 with *status, or -ETIMEDOUT. The claim
 * is released either way unless it timed out. */
int reap_wait_claimed(pid_t pid, long long deadline_ms, int *status);
void reap_unclaim(pid_t pid);
bool reap_is_claimed(pid_t pid);

/* Collects every zombie without blocking, noting what happened to main. */
void reap_children(pid_t main_pid, struct reap_result *out);

/* Parses the ppid out of a /proc/PID/stat line. Pure. */
int proc_stat_parse_ppid(const char *buf, size_t len, pid_t *ppid);

/* Sends sig to every remaining child of crashbox (as PID 1, to every
 * process in the namespace). Returns how many were signalled. */
size_t descendants_signal(const char *proc_root, int sig);
