/* SPDX-License-Identifier: MIT */
#include "names.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "passwd.h"

bool sandbox_capability_known(const char *name, int *cap)
{
    cap_value_t v;
    /* libcap takes "cap_net_bind_service"; accept CAP_NET_BIND_SERVICE too. */
    char lower[64];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        return false;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    if (strncmp(lower, "cap_", 4) != 0 || cap_from_name(lower, &v) != 0 || v < 0 || v > 63)
        return false;
    if (cap)
        *cap = v;
    return true;
}

void sandbox_capability_name(int cap, char *buf, size_t len)
{
    char *name = cap_to_name((cap_value_t)cap);
    snprintf(buf, len, "%s", name ? name : "?");
    cap_free(name);
    for (char *c = buf; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
}

bool sandbox_syscall_known(const char *name)
{
    return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

int policy_resolve_ids(const struct policy *p, const char *root, struct policy_ids *ids, char *err, size_t errlen)
{
    *ids = (struct policy_ids){0};
    int r;
    if (p->sandbox_user) {
        r = resolve_user(root, p->sandbox_user, &ids->uid, &ids->gid);
        if (r < 0) {
            snprintf(err, errlen, "user '%s': %s", p->sandbox_user,
                     r == -ENOENT ? "not in /etc/passwd" : strerror(-r));
            return r;
        }
        ids->set_ids = true;
    }
    if (p->sandbox_group) {
        gid_t g;
        r = resolve_group(root, p->sandbox_group, &g);
        if (r < 0) {
            snprintf(err, errlen, "group '%s': %s", p->sandbox_group,
                     r == -ENOENT ? "not in /etc/group" : strerror(-r));
            return r;
        }
        if (!ids->set_ids)
            ids->uid = (uid_t)-1; /* keep the uid, change the group */
        ids->gid = g;
        ids->set_ids = true;
    }
    if (p->set_supplementary_groups) {
        ids->set_groups = true;
        for (size_t i = 0; i < p->supplementary_groups.n && i < POLICY_MAX_GROUPS; i++) {
            r = resolve_group(root, p->supplementary_groups.items[i], &ids->groups[ids->ngroups]);
            if (r < 0) {
                snprintf(err, errlen, "supplementary group '%s': %s", p->supplementary_groups.items[i],
                         r == -ENOENT ? "not in /etc/group" : strerror(-r));
                return r;
            }
            ids->ngroups++;
        }
    } else if (ids->set_ids) {
        ids->set_groups = true; /* a new user does not keep root's groups */
    }
    return 0;
}
