/* SPDX-License-Identifier: MIT */
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "passwd.h"

int sandbox_compile(const struct policy *p, const char *root, struct sandbox *sb, char *err, size_t errlen)
{
    *sb = (struct sandbox){.no_new_privs = p->no_new_privs};
    struct policy_ids ids;
    int r = policy_resolve_ids(p, root, &ids, err, errlen);
    if (r < 0)
        return r;
    sb->set_ids = ids.set_ids;
    sb->uid = ids.uid;
    sb->gid = ids.gid;
    sb->set_groups = ids.set_groups;
    memcpy(sb->groups, ids.groups, sizeof sb->groups);
    sb->ngroups = ids.ngroups;
    if (p->set_capabilities) {
        sb->set_caps = true;
        for (size_t i = 0; i < p->capabilities.n; i++)
            sb->keep_caps |= 1ULL << p->capabilities.v[i];
        for (size_t i = 0; i < p->ambient_capabilities.n; i++) {
            int c = p->ambient_capabilities.v[i];
            if (!(sb->keep_caps & (1ULL << c))) {
                char name[64];
                sandbox_capability_name(c, name, sizeof name);
                snprintf(err, errlen, "ambient capability '%s' is not kept", name);
                return -EINVAL;
            }
            sb->ambient_caps |= 1ULL << c;
        }
    }
    static const struct {
        int res;
        size_t off;
    } lims[] = {
        {RLIMIT_CORE, offsetof(struct policy, rlimit_core)},
        {RLIMIT_NOFILE, offsetof(struct policy, rlimit_nofile)},
        {RLIMIT_NPROC, offsetof(struct policy, rlimit_nproc)},
        {RLIMIT_AS, offsetof(struct policy, rlimit_as)},
    };
    for (size_t i = 0; i < sizeof lims / sizeof *lims; i++) {
        uint64_t v = *(const uint64_t *)((const char *)p + lims[i].off);
        if (v == POLICY_UNSET)
            continue;
        sb->rlimits[sb->nrlimits].resource = lims[i].res;
        sb->rlimits[sb->nrlimits].lim = (struct rlimit){.rlim_cur = v, .rlim_max = v};
        sb->nrlimits++;
    }
    sb->active = sb->set_ids || sb->set_groups || sb->set_caps || sb->no_new_privs || sb->nrlimits;
    return 0;
}

const char *sandbox_step_name(int step)
{
    static const char *const names[] = {
        "setrlimit", "dropping from the bounding set", "PR_SET_KEEPCAPS", "setgroups", "setresgid",
        "setresuid", "capset", "raising ambient capabilities", "PR_SET_NO_NEW_PRIVS",
        "installing the seccomp filter",
    };
    return step >= 0 && step < (int)(sizeof names / sizeof *names) ? names[step] : "?";
}

#define STEP(n) (*step = (n))

int sandbox_apply(const struct sandbox *sb, int *step)
{
    if (!sb || !sb->active)
        return 0;
    /* 0. Limits first, while raising one may still need CAP_SYS_RESOURCE. */
    STEP(SANDBOX_STEP_RLIMIT);
    for (size_t i = 0; i < sb->nrlimits; i++)
        if (setrlimit(sb->rlimits[i].resource, &sb->rlimits[i].lim) < 0)
            return -errno;
    if (sb->set_caps) {
        /* 1. The bounding set: what no exec can ever regain. */
        STEP(SANDBOX_STEP_BOUNDING);
        int r = caps_drop_bounding(sb->keep_caps, ~0ULL, false);
        if (r < 0)
            return r;
        /* 2. Keep permitted capabilities across the uid change. */
        STEP(SANDBOX_STEP_KEEPCAPS);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            return -errno;
    }
    /* 3. Groups, then gid, then uid: each needs the privilege the next drops. */
    STEP(SANDBOX_STEP_SETGROUPS);
    if (sb->set_groups && setgroups(sb->ngroups, sb->groups) < 0)
        return -errno;
    if (sb->set_ids) {
        STEP(SANDBOX_STEP_SETRESGID);
        if (setresgid(sb->gid, sb->gid, sb->gid) < 0)
            return -errno;
        STEP(SANDBOX_STEP_SETRESUID);
        if (sb->uid != (uid_t)-1 && setresuid(sb->uid, sb->uid, sb->uid) < 0)
            return -errno;
    }
    if (sb->set_caps) {
        /* 4. The kept set as permitted, effective and inheritable... */
        STEP(SANDBOX_STEP_CAPSET);
        int r = caps_set(sb->keep_caps, false);
        if (r < 0)
            return r;
        /* 5. ...and ambient, so a non-root exec keeps them. */
        STEP(SANDBOX_STEP_AMBIENT);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
        for (int c = 0; c <= 63; c++)
            if ((sb->ambient_caps & (1ULL << c)) &&
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                return -errno;
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
            return -errno;
    }
    STEP(SANDBOX_STEP_NO_NEW_PRIVS);
    if (sb->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    return 0;
}
