/* SPDX-License-Identifier: MIT */
/* User and group names from the image's /etc/passwd and /etc/group, parsed
 * directly (no NSS), so a static crashbox resolves them in scratch images.
 * The parsers are pure; the lookups read the files under a root. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* "name" or a number. Returns 0 and the id, -ENOENT if unknown, -EINVAL. */
int passwd_lookup_uid(const char *buf, size_t len, const char *name, uid_t *uid, gid_t *gid);
int group_lookup_gid(const char *buf, size_t len, const char *name, gid_t *gid);

/* The same, reading root/etc/passwd or root/etc/group ("" for /). A number
 * needs no file. */
int resolve_user(const char *root, const char *name, uid_t *uid, gid_t *gid);
int resolve_group(const char *root, const char *name, gid_t *gid);
