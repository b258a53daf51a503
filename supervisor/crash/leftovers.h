/* SPDX-License-Identifier: MIT */
/* The processes a service leaves behind when it dies: who they were, which
 * still work (a crash watcher writing its report or uploading it gets the
 * descendant grace before any signal), and the signal crashbox ended each
 * with, for the bundle. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LEFTOVERS_MAX 32

struct leftover {
    pid_t pid;
    char comm[16];
    unsigned long long work; /* bytes read and written, so far */
    bool working;            /* work grew since the scan before */
    bool graced;             /* given the descendant grace for it */
    int signal;              /* the last signal crashbox sent it, 0 if none */
};

struct leftovers {
    struct leftover v[LEFTOVERS_MAX];
    size_t n;
};

/* Adds crashbox's unclaimed children (from proc_root) not yet listed, and
 * refreshes the work figure of those that are; working is set for those
 * whose work grew since the last scan. Returns how many are alive. */
size_t leftovers_scan(struct leftovers *l, const char *proc_root);
/* Records sig against those of the list alive now, about to be sent it. */
void leftovers_signalled(struct leftovers *l, const char *proc_root, int sig);
/* Pure: the work figure (bytes read and written) from /proc/PID/io. */
unsigned long long leftovers_work(const char *io, size_t io_len);
