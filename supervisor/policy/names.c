/* SPDX-License-Identifier: MIT */
#include "names.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <linux/capability.h>

#include "passwd.h"
#include "util.h"

/* The kernel's names, as capabilities(7) spells them after "cap_". A
 * table and not libcap: linking libcap runs its constructor at every start
 * (six prctl probing the kernel's last capability) for two lookups. */
static const char *const cap_names[] = {
    [CAP_CHOWN] = "chown", [CAP_DAC_OVERRIDE] = "dac_override", [CAP_DAC_READ_SEARCH] = "dac_read_search",
    [CAP_FOWNER] = "fowner", [CAP_FSETID] = "fsetid", [CAP_KILL] = "kill", [CAP_SETGID] = "setgid",
    [CAP_SETUID] = "setuid", [CAP_SETPCAP] = "setpcap", [CAP_LINUX_IMMUTABLE] = "linux_immutable",
    [CAP_NET_BIND_SERVICE] = "net_bind_service", [CAP_NET_BROADCAST] = "net_broadcast",
    [CAP_NET_ADMIN] = "net_admin", [CAP_NET_RAW] = "net_raw", [CAP_IPC_LOCK] = "ipc_lock",
    [CAP_IPC_OWNER] = "ipc_owner", [CAP_SYS_MODULE] = "sys_module", [CAP_SYS_RAWIO] = "sys_rawio",
    [CAP_SYS_CHROOT] = "sys_chroot", [CAP_SYS_PTRACE] = "sys_ptrace", [CAP_SYS_PACCT] = "sys_pacct",
    [CAP_SYS_ADMIN] = "sys_admin", [CAP_SYS_BOOT] = "sys_boot", [CAP_SYS_NICE] = "sys_nice",
    [CAP_SYS_RESOURCE] = "sys_resource", [CAP_SYS_TIME] = "sys_time", [CAP_SYS_TTY_CONFIG] = "sys_tty_config",
    [CAP_MKNOD] = "mknod", [CAP_LEASE] = "lease", [CAP_AUDIT_WRITE] = "audit_write",
    [CAP_AUDIT_CONTROL] = "audit_control", [CAP_SETFCAP] = "setfcap", [CAP_MAC_OVERRIDE] = "mac_override",
    [CAP_MAC_ADMIN] = "mac_admin", [CAP_SYSLOG] = "syslog", [CAP_WAKE_ALARM] = "wake_alarm",
    [CAP_BLOCK_SUSPEND] = "block_suspend", [CAP_AUDIT_READ] = "audit_read", [38] = "perfmon", [39] = "bpf",
    [40] = "checkpoint_restore",
};

bool sandbox_capability_known(const char *name, int *cap)
{
    /* "cap_net_bind_service" and CAP_NET_BIND_SERVICE alike. */
    if (strncasecmp(name, "cap_", 4) != 0)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
        if (cap_names[i] && strcasecmp(name + 4, cap_names[i]) == 0) {
            if (cap)
                *cap = (int)i;
            return true;
        }
    return false;
}

void sandbox_capability_name(int cap, char *buf, size_t len)
{
    if (cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) && cap_names[cap])
        snprintf(buf, len, "CAP_%s", cap_names[cap]);
    else
        snprintf(buf, len, "%d", cap);
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
