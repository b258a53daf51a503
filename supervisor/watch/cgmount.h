/* SPDX-License-Identifier: MIT */
/* The cgroup filesystems mounted where they are by convention, asked of
 * the kernel one mount at a time (statx(2) for the mount at a path,
 * statmount(2) for its root, type and options) instead of reading all of
 * /proc/self/mountinfo: the kernel prints that one line per mount of the
 * namespace, some 50 us of a start here, where these take a few. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/syscall.h>

/* Linux 6.8's; Debian 12's headers predate it. The number is the one of the
 * table x86-64 and arm64 share for new calls. */
#if !defined(SYS_statmount) && (defined(__x86_64__) || defined(__aarch64__))
#define SYS_statmount 457
#endif

/* Mount table lines (cgroup_format_mount) for the cgroup and cgroup2
 * mounts seen where a v1 memory hierarchy is mounted by convention
 * (/sys/fs/cgroup/memory) if v1 (the process's /proc/PID/cgroup names one),
 * else where a unified one is (/sys/fs/cgroup, /sys/fs/cgroup/unified),
 * each mount once. Returns the length written, 0 when none is a cgroup
 * mount, or -errno: -ENOSYS where the kernel has no statmount (before 6.8;
 * before 6.11 for a v1 hierarchy, whose controllers are in the mount
 * options) or a seccomp profile refuses it. */
int cgroup_mounts_by_statmount(bool v1, char *buf, size_t cap);
