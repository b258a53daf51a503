/* SPDX-License-Identifier: MIT */
#include "oomprotect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

int oom_protect_self(char *orig, size_t cap)
{
    _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = pread(fd, orig, cap - 1, 0);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    orig[n] = '\0';
    orig[strcspn(orig, "\n")] = '\0';
    if (pwrite(fd, "-1000", 5, 0) != 5)
        return -errno;
    return 0;
}

bool oom_group_kill_enabled(const struct cgroup_memory *m)
{
    _cleanup_free_ char *val = NULL;
    size_t vlen;
    char file[4200];
    if (m->version != CGROUP_V2)
        return false;
    snprintf(file, sizeof file, "%s/memory.oom.group", m->dir);
    return read_file_at(AT_FDCWD, file, 64, &val, &vlen) == 0 && vlen > 0 && val[0] == '1';
}
