/* SPDX-License-Identifier: MIT */
/* The service's memory cgroup, v1 and v2 alike. Parsers are pure; readers
 * take the cgroup root as a parameter so tests point them at fixture trees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

enum cgroup_version { CGROUP_NONE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

struct cgroup_memory {
    enum cgroup_version version;
    char dir[4096]; /* the memory cgroup's directory */
    bool has_limit; uint64_t limit_bytes;
    bool has_usage; uint64_t usage_bytes;
    bool has_peak;  uint64_t peak_bytes;
    bool has_oom_kills; uint64_t oom_kills;
    bool has_oom;   uint64_t oom_events;     /* v2 memory.events oom */
    bool has_group_kills; uint64_t oom_group_kills; /* v2 oom_group_kill */
};

/* From the text of /proc/PID/cgroup: the path of the v1 memory hierarchy
 * (version 1) or of the unified hierarchy (version 2) into path. Prefers
 * v1 "memory" when both appear (a hybrid host). Returns the version or 0. */
enum cgroup_version cgroup_parse_proc(const char *buf, size_t len, char *path, size_t cap);
/* The same for one version only: 0 if that line is absent. */
enum cgroup_version cgroup_parse_proc_version(const char *buf, size_t len, enum cgroup_version want,
                                              char *path, size_t cap);

/* The value of `key` in a "key value" per-line file (memory.stat,
 * memory.events, memory.oom_control). Returns 0 or -ENOENT/-EINVAL. */
int cgroup_keyed_value(const char *buf, size_t len, const char *key, uint64_t *out);

/* A limit file's value: "max" (v2) or the v1 "unlimited" sentinel (a
 * page-aligned value near 2^63) is no limit. Returns 1 limited, 0 not,
 * <0 malformed. */
int cgroup_parse_limit(const char *buf, uint64_t *out);

/* Locates the memory cgroup under root from /proc/PID/cgroup's text and
 * reads its figures: v1 when root/memory exists and the process has a v1
 * memory line (a hybrid host), else v2 when root/cgroup.controllers lists
 * memory... or exists at all (fixture trees). Returns 0 or -errno. */
int cgroup_memory_read(const char *root, const char *proc_cgroup, size_t len,
                       struct cgroup_memory *m);

/* The kernel file names worth keeping in a bundle for a version. */
extern const char *const cgroup_v1_files[];
extern const char *const cgroup_v2_files[];
