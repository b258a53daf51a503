/* SPDX-License-Identifier: MIT */
/* The service's sandbox, per policy: compiled in crashbox (names resolved,
 * capability sets and rlimits prepared, all errors reported) and applied in
 * the child in a fixed order: bounding set, keepcaps, setgroups, setresgid,
 * setresuid, capset, ambient, rlimits, no_new_privs; the seccomp filter
 * (deny list merged into the exit hook's) is installed last, by spawn. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "names.h"
#include "policy.h"

#define SANDBOX_MAX_GROUPS POLICY_MAX_GROUPS

struct sandbox {
    bool active;           /* anything at all to apply */
    bool set_ids;
    uid_t uid;
    gid_t gid;
    bool set_groups;       /* setgroups(): to groups[] (may be none: cleared) */
    gid_t groups[SANDBOX_MAX_GROUPS];
    size_t ngroups;
    bool set_caps;
    uint64_t keep_caps;    /* bitmask of capabilities kept */
    uint64_t ambient_caps; /* subset of keep_caps raised as ambient */
    bool no_new_privs;
    struct {
        int resource;
        struct rlimit lim;
    } rlimits[4];
    size_t nrlimits;
};

/* Resolves the policy's [sandbox] section (users and groups from
 * root/etc/passwd and root/etc/group, without NSS). Returns 0 or -errno
 * with a message in err. */
int sandbox_compile(const struct policy *p, const char *root, struct sandbox *sb, char *err, size_t errlen);

/* The steps of sandbox_apply(), in order, for error messages. */
enum sandbox_step {
    SANDBOX_STEP_RLIMIT, SANDBOX_STEP_BOUNDING, SANDBOX_STEP_KEEPCAPS, SANDBOX_STEP_SETGROUPS,
    SANDBOX_STEP_SETRESGID, SANDBOX_STEP_SETRESUID, SANDBOX_STEP_CAPSET, SANDBOX_STEP_AMBIENT,
    SANDBOX_STEP_NO_NEW_PRIVS, SANDBOX_STEP_SECCOMP,
};
const char *sandbox_step_name(int step);

/* In the child, after fork, before the seccomp filter: applies it. Only
 * async-signal-safe calls. Returns 0 or -errno, with the failed step. */
int sandbox_apply(const struct sandbox *sb, int *step);
