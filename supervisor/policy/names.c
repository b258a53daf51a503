/* SPDX-License-Identifier: MIT */
#include "names.h"

#include <seccomp.h>
#include <string.h>
#include <sys/capability.h>

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

bool sandbox_syscall_known(const char *name)
{
    return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}
