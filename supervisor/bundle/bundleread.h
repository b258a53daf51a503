/* SPDX-License-Identifier: MIT */
/* Reading crash bundles back: zstd-decompressed as a stream, tar members
 * walked in order. Robust against foreign or corrupt files: every size is
 * bounded and a bad stream is an error, never a crash. */
#pragma once

#include <stddef.h>

/* Called for each member with (at most max_member bytes of) its data.
 * Return 0 to go on, 1 to stop, <0 to fail with that error. */
typedef int (*bundle_member_fn)(void *ctx, const char *name, const char *data, size_t len, size_t full_len);

/* Reads the bundle at dirfd/path. Returns 0, or -errno / -EBADMSG. */
int bundle_read(int dirfd, const char *path, size_t max_member, bundle_member_fn fn, void *ctx);

/* The data of one member (heap, NUL-terminated). Returns 0, -ENOENT. */
int bundle_read_member(int dirfd, const char *path, const char *member, size_t max, char **out, size_t *len);

/* Adds every member (at most max bytes each) to it, named prefix + name. */
struct items;
int bundle_read_into_items(int dirfd, const char *path, const char *prefix, size_t max, struct items *it);

/* Extracts every member under destfd, refusing absolute names and "..",
 * creating files with O_EXCL|O_NOFOLLOW. Returns the count or -errno. */
int bundle_extract(int dirfd, const char *path, int destfd);
/* Streams the members named in names (NULL-terminated) to files of the
 * same base name under destfd (O_EXCL|O_NOFOLLOW), whatever their size.
 * Returns how many were written, or -errno / -EBADMSG. */
int bundle_extract_members(int dirfd, const char *path, const char *const *names, int destfd);
