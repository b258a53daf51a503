/* SPDX-License-Identifier: MIT */
/* Prometheus text-format metrics for node_exporter's textfile collector,
 * written atomically (a temporary file in the same directory, renamed). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "classify.h"

struct metrics {
    char service[80];
    uint64_t crashes[CRASH_KINDS];
    uint64_t restarts;
    uint64_t outlived_oom_kills; /* of other processes in the service's cgroup */
    time_t last_crash;
    uint64_t dir_bytes, dir_bundles;
    char dir[512];
};

/* Pure: the text. Returns the length (like snprintf). */
size_t metrics_format(const struct metrics *m, char *out, size_t cap);
/* Writes path atomically. Returns 0 or -errno. */
int metrics_write(const char *path, const struct metrics *m);
/* Sizes and counts the bundles in dir. */
void metrics_scan_dir(struct metrics *m, const char *dir);
