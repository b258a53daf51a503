/* SPDX-License-Identifier: MIT */
#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_drop_bounding(uint64_t keep, uint64_t held, bool may_lack_setpcap)
{
    /* One prctl a capability (the kernel has no call for the whole set),
     * each a new set of credentials: only those still held. Capabilities
     * are numbered without holes: the first this kernel does not know
     * (EINVAL) ends the set, which spares some 23 calls. */
    for (int c = 0; c <= 63; c++) {
        if (keep & (1ULL << c) || !(held & (1ULL << c)))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0 || (may_lack_setpcap && errno == EPERM))
            continue;
        return errno == EINVAL ? 0 : -errno;
    }
    return 0;
}

int caps_set(uint64_t keep, bool within_held)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2] = {
        {.effective = ~0U, .permitted = ~0U, .inheritable = ~0U},
        {.effective = ~0U, .permitted = ~0U, .inheritable = ~0U},
    };
    if (within_held && syscall(SYS_capget, &h, d) < 0)
        return -errno;
    for (int i = 0; i < 2; i++) {
        uint32_t k = (uint32_t)(keep >> (32 * i));
        d[i].effective &= k;
        d[i].permitted &= k;
        d[i].inheritable &= k;
    }
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}
