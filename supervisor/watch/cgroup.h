/* SPDX-License-Identifier: MIT */
/* The service's memory cgroup, v1 and v2 alike. Parsers are pure; the
 * reader takes the mount table as text so tests feed it fixtures, and a
 * fixture tree stands in for /sys/fs/cgroup through a synthesized one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_version { CGROUP_NONE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

struct cgroup_memory {
    enum cgroup_version version; /* CGROUP_NONE: none found, see reason */
    char dir[4096]; /* the memory cgroup's directory */
    char reason[512]; /* why there is none, for the manifest and `show` */
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

/* One mount of /proc/PID/mountinfo, its paths unescaped (\040 and kin). */
struct cgroup_mount {
    int id, parent;              /* fields 1 and 2 */
    enum cgroup_version version; /* CGROUP_NONE: not a cgroup filesystem */
    bool memory;                 /* v1: its super options name the memory controller */
    char root[4096];             /* field 4: the cgroup shown at the mountpoint */
    char mountpoint[4096];       /* field 5 */
};

/* The next well-formed line of mountinfo text from *p (malformed ones are
 * skipped), advancing *p past it. False at the end. */
bool cgroup_mountinfo_next(const char **p, const char *end, struct cgroup_mount *m);

/* Where a memory cgroup is, or why there is none. */
struct cgroup_place {
    enum cgroup_version version; /* CGROUP_NONE: see reason */
    char dir[4096];
    char mountpoint[4096];       /* of the hierarchy it was found in */
    char reason[512];
};

/* Where the service's memory cgroup is, from crashbox's mount table and the
 * service's /proc/PID/cgroup (both as seen from crashbox's namespaces): the
 * v1 memory hierarchy if mounted and named, else the unified one. A mount
 * shows the cgroup at its root (field 4) at its mountpoint, so the service's
 * path has that root stripped, as runc does; a mount hidden by another at
 * the same mountpoint is skipped. Returns 0 or -ENOENT with out->reason
 * set. Pure. */
int cgroup_locate(const char *mountinfo, size_t mlen, const char *proc_cgroup, size_t clen,
                  struct cgroup_place *out);
/* A unified hierarchy serves memory only if the cgroup.controllers at its
 * mountpoint lists it (a hybrid host mounts one without controllers). Sets
 * the reason and returns -ENOENT when it does not. Pure. */
int cgroup_v2_check_memory(struct cgroup_place *pl, const char *controllers, size_t len);

/* One line of mount table text, in /proc/PID/mountinfo's format and
 * escapes, for a mount synthesized from elsewhere (a fixture tree, or
 * statmount). Returns its length, or -ENAMETOOLONG. Pure. */
int cgroup_format_mount(char *buf, size_t cap, int id, int parent, unsigned major, unsigned minor,
                        const char *root, const char *mountpoint, const char *fstype, const char *super_opts);

/* Mount table text for a fixture tree standing in for /sys/fs/cgroup:
 * root/memory as the v1 memory hierarchy if it is a directory, root as the
 * unified one if it has cgroup.controllers, both with the root "/".
 * Returns the length, or -ENAMETOOLONG. */
int cgroup_fixture_mountinfo(const char *root, char *buf, size_t cap);

/* Locates the memory cgroup (cgroup_locate and the v2 check on the real
 * cgroup.controllers) and reads its figures. Returns 0, or -errno with
 * m->reason set. */
int cgroup_memory_read(const char *mountinfo, size_t mlen, const char *proc_cgroup, size_t clen,
                       struct cgroup_memory *m);
/* The same for a process (0: crashbox itself), reading /proc/PID/cgroup and
 * the mounts (the conventional places by statmount, else the whole of
 * /proc/self/mountinfo), or the tree under fixture_root instead of the real
 * mounts if it is set. */
int cgroup_memory_of(pid_t pid, const char *fixture_root, struct cgroup_memory *m);

/* The kernel file names worth keeping in a bundle for a version. */
extern const char *const cgroup_v1_files[];
extern const char *const cgroup_v2_files[];
