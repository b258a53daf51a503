/* SPDX-License-Identifier: MIT */
/* Writing a crash bundle: a tar stream of items, compressed with zstd
 * (checksum on), written to a temporary name inside the bundle directory,
 * fsynced, then renamed into place. Every operation is relative to the
 * directory fd, with O_NOFOLLOW and O_EXCL. */
#pragma once

#include <stddef.h>
#include <stdint.h>
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

/* A core dump on its way into a bundle as member core/core: its body is
 * compressed as it is read into an unlinked temporary file in the bundle
 * directory (zstd frames), its head (the tar header and the core's ELF
 * head, known last) is one small frame kept in memory. bundle_write_core()
 * copies both, compressed as they are, after the other members, then the
 * executable (exe_fd) as core/exe. */
struct zsink;
struct bundle_core {
    int fd;             /* owned: the body's frames */
    struct zsink *z;    /* owned while the body is written */
    char *head_zst;     /* owned */
    size_t head_zst_len;
    int exe_fd;         /* owned, -1: no core/exe */
};

int bundle_core_open(int dirfd, struct bundle_core *bc);
/* A coredump sink's write. */
int bundle_core_write(void *bc, const void *buf, size_t len);
int bundle_core_close(struct bundle_core *bc, const char *head, size_t head_len, uint64_t body_len,
                      time_t mtime);
void bundle_core_free(struct bundle_core *bc);

/* bundle_write() with a core (NULL: none) after the items. */
int bundle_write_core(int dirfd, const char *name, const char *manifest, size_t manifest_len,
                      const struct items *items, const struct bundle_core *core, time_t mtime,
                      unsigned mode, gid_t gid, size_t *bytes_written);

