/* SPDX-License-Identifier: MIT */
#include "cgmount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

#ifndef SYS_statmount
int cgroup_mounts_by_statmount(bool v1, char *buf, size_t cap)
{
    (void)v1;
    (void)buf;
    (void)cap;
    return -ENOSYS;
}
#else

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#define SM_SB_BASIC 0x01U
#define SM_MNT_BASIC 0x02U
#define SM_MNT_ROOT 0x08U
#define SM_MNT_POINT 0x10U
#define SM_FS_TYPE 0x20U
#define SM_MNT_OPTS 0x80U

/* The request and the fixed part of the answer, as in the kernel's
 * <linux/mount.h> (6.11), which Debian 12's headers predate. The strings
 * follow the fixed part; the u32 fields name offsets into them. */
struct sm_req {
    uint32_t size;
    uint32_t spare;
    uint64_t mnt_id;
    uint64_t param;
};

struct sm_answer {
    uint32_t size;
    uint32_t mnt_opts;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags;
    uint32_t fs_type;
    uint64_t mnt_id;
    uint64_t mnt_parent_id;
    uint32_t mnt_id_old;
    uint32_t mnt_parent_id_old;
    uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
    uint32_t mnt_root;
    uint32_t mnt_point;
    uint64_t spare2[50];
    char str[];
};
_Static_assert(sizeof(struct sm_answer) == 512, "statmount's fixed part is 512 bytes");

/* The string at offset off of the answer's room bytes of strings, or NULL
 * if it does not end inside them. */
static const char *str_at(const struct sm_answer *a, size_t room, uint32_t off)
{
    return off < room && memchr(a->str + off, '\0', room - off) ? a->str + off : NULL;
}

/* The mount at path, as a line appended at buf + *len. 0 if it is not a
 * cgroup mount or was seen already, -errno when statmount cannot say. */
static int add_mount(const char *path, uint64_t *seen, size_t nseen, size_t *k, char *buf, size_t cap,
                     size_t *len)
{
    struct statx sx;
    if (syscall(SYS_statx, AT_FDCWD, path, AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &sx) < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    if (!(sx.stx_mask & STATX_MNT_ID_UNIQUE))
        return -ENOSYS; /* before 6.8 */
    for (size_t i = 0; i < *k; i++)
        if (seen[i] == sx.stx_mnt_id)
            return 0;
    if (*k < nseen)
        seen[(*k)++] = sx.stx_mnt_id;
    /* Roots and mountpoints are paths: room for two whole ones. */
    union {
        struct sm_answer a;
        char raw[sizeof(struct sm_answer) + 2 * 4096 + 512];
    } u;
    struct sm_req req = {.size = sizeof req, .mnt_id = sx.stx_mnt_id,
                         .param = SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_ROOT | SM_MNT_POINT | SM_FS_TYPE | SM_MNT_OPTS};
    if (syscall(SYS_statmount, &req, &u, sizeof u, 0) < 0)
        return -errno;
    const struct sm_answer *a = &u.a;
    uint64_t need = SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_ROOT | SM_MNT_POINT | SM_FS_TYPE;
    if ((a->mask & need) != need)
        return -ENOSYS;
    size_t room = a->size > sizeof(struct sm_answer) && a->size <= sizeof u ? a->size - sizeof(struct sm_answer) : 0;
    const char *fs = str_at(a, room, a->fs_type), *root = str_at(a, room, a->mnt_root),
               *point = str_at(a, room, a->mnt_point);
    if (!fs || !root || !point)
        return -EPROTO;
    bool v1 = !strcmp(fs, "cgroup");
    if (!v1 && strcmp(fs, "cgroup2"))
        return 0;
    /* v1 names its controllers in the mount options (6.11). */
    if (v1 && !(a->mask & SM_MNT_OPTS))
        return -ENOSYS;
    const char *opts = a->mask & SM_MNT_OPTS ? str_at(a, room, a->mnt_opts) : "";
    int n = cgroup_format_mount(buf + *len, cap - *len, (int)a->mnt_id_old, (int)a->mnt_parent_id_old,
                                a->sb_dev_major, a->sb_dev_minor, root, point, fs, opts ? opts : "");
    if (n < 0)
        return n;
    *len += (size_t)n;
    return 0;
}

int cgroup_mounts_by_statmount(bool v1, char *buf, size_t cap)
{
    static const char *const where_v1[] = {"/sys/fs/cgroup/memory"};
    static const char *const where_v2[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    const char *const *where = v1 ? where_v1 : where_v2;
    size_t n = v1 ? ARRAY_SIZE(where_v1) : ARRAY_SIZE(where_v2);
    uint64_t seen[ARRAY_SIZE(where_v2)];
    size_t k = 0, len = 0;
    if (cap)
        buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int r = add_mount(where[i], seen, ARRAY_SIZE(seen), &k, buf, cap, &len);
        if (r < 0)
            return r;
    }
    return (int)len;
}
#endif
