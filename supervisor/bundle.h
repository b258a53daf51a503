/* SPDX-License-Identifier: MIT */
/* Writing a crash bundle: a tar stream of items, compressed with zstd
 * (checksum on), written to a temporary name inside the bundle directory,
 * fsynced, then renamed into place. Every operation is relative to the
 * directory fd, with O_NOFOLLOW and O_EXCL. */
#pragma once

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "items.h"

#define BUNDLE_TMP_PREFIX ".crashbox-tmp-"

/* Writes manifest (first member, "manifest.json") and the items as
 * dirfd/name with mode (and group gid unless -1). The temporary file is
 * flock'd while written, so a cleaner knows a live writer from a dead one.
 * Returns 0, -EEXIST if name is taken, or -errno; on failure nothing stays
 * behind. */
int bundle_write(int dirfd, const char *name, const char *manifest, size_t manifest_len,
                 const struct items *items, time_t mtime, unsigned mode, gid_t gid,
                 size_t *bytes_written);

/* "<service>-<yyyymmddThhmmssZ>-<host>-<pid>-<kind>.tar.zst" */
void bundle_name(char *out, size_t cap, const char *service, time_t t, const char *host, const char *pid,
                 const char *kind);
