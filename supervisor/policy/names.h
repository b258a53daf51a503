/* SPDX-License-Identifier: MIT */
/* The names a policy holds, resolved: capability and syscall names
 * (libcap's and libseccomp's tables) for the parser, users and groups
 * (root/etc/passwd and root/etc/group, without NSS) for `crashbox check`
 * and the sandbox alike, so a check and a start agree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

#define POLICY_MAX_GROUPS 64

struct policy_ids {
    bool set_ids;    /* setres[ug]id to uid (unless -1) and gid */
    uid_t uid;
    gid_t gid;
    bool set_groups; /* setgroups() to groups[] (maybe none: cleared) */
    gid_t groups[POLICY_MAX_GROUPS];
    size_t ngroups;
};

/* The [sandbox] user, group and supplementary groups. Returns 0 or -errno
 * with a message in err. */
int policy_resolve_ids(const struct policy *p, const char *root, struct policy_ids *ids, char *err, size_t errlen);

bool sandbox_capability_known(const char *name, int *cap);
/* CAP_NET_BIND_SERVICE for its number; "?" if libcap knows no name. */
void sandbox_capability_name(int cap, char *buf, size_t len);
bool sandbox_syscall_known(const char *name);
