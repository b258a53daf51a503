/* SPDX-License-Identifier: MIT */
#include "cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

const char *const cgroup_v1_files[] = {
    "memory.limit_in_bytes", "memory.usage_in_bytes", "memory.max_usage_in_bytes",
    "memory.stat", "memory.oom_control", "memory.failcnt", "memory.memsw.limit_in_bytes",
    "memory.memsw.usage_in_bytes", "memory.soft_limit_in_bytes", "memory.pressure_level", NULL,
};

const char *const cgroup_v2_files[] = {
    "memory.max", "memory.high", "memory.current", "memory.peak", "memory.stat",
    "memory.events", "memory.events.local", "memory.pressure", "memory.swap.current",
    "memory.swap.max", "memory.oom.group", "memory.min", "memory.low", NULL,
};

static bool has_controller(const char *list, size_t n, const char *name)
{
    size_t k = strlen(name);
    for (size_t i = 0; i + k <= n; i++)
        if ((i == 0 || list[i - 1] == ',') && memcmp(list + i, name, k) == 0 &&
            (i + k == n || list[i + k] == ','))
            return true;
    return false;
}

enum cgroup_version cgroup_parse_proc(const char *buf, size_t len, char *path, size_t cap)
{
    enum cgroup_version v = cgroup_parse_proc_version(buf, len, CGROUP_V1, path, cap);
    return v ? v : cgroup_parse_proc_version(buf, len, CGROUP_V2, path, cap);
}

enum cgroup_version cgroup_parse_proc_version(const char *buf, size_t len, enum cgroup_version want,
                                              char *path, size_t cap)
{
    enum cgroup_version found = CGROUP_NONE;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *c1 = memchr(p, ':', (size_t)(le - p));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
        if (c2 && (size_t)(le - c2 - 1) < cap) {
            size_t plen = (size_t)(le - c2 - 1);
            bool v1mem = has_controller(c1 + 1, (size_t)(c2 - c1 - 1), "memory");
            bool v2 = c1 - p == 1 && p[0] == '0' && c2 == c1 + 1;
            if ((want == CGROUP_V1 && v1mem) || (want == CGROUP_V2 && v2)) {
                memcpy(path, c2 + 1, plen);
                path[plen] = '\0';
                found = want;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return found;
}

int cgroup_keyed_value(const char *buf, size_t len, const char *key, uint64_t *out)
{
    size_t k = strlen(key);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > k && memcmp(p, key, k) == 0 && p[k] == ' ') {
            const char *v = p + k + 1;
            if (v >= le || !isdigit((unsigned char)*v))
                return -EINVAL;
            uint64_t x = 0;
            for (; v < le && isdigit((unsigned char)*v); v++) {
                if (x > (UINT64_MAX - 9) / 10)
                    return -EINVAL;
                x = x * 10 + (uint64_t)(*v - '0');
            }
            *out = x;
            return 0;
        }
        p = nl ? nl + 1 : end;
    }
    return -ENOENT;
}

int cgroup_parse_limit(const char *buf, uint64_t *out)
{
    while (isspace((unsigned char)*buf))
        buf++;
    if (strncmp(buf, "max", 3) == 0)
        return 0;
    if (!isdigit((unsigned char)*buf))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno)
        return -EINVAL;
    /* v1 reports "no limit" as PAGE_COUNTER_MAX pages: 0x7ffffffffffff000. */
    if (v >= (1ULL << 62))
        return 0;
    *out = v;
    return 1;
}

static int read_small(int dirfd, const char *name, char **buf, size_t *len)
{
    return read_file_at(dirfd, name, 1 << 20, buf, len);
}

static bool read_u64(int dirfd, const char *name, uint64_t *out)
{
    _cleanup_free_ char *b = NULL;
    if (read_small(dirfd, name, &b, NULL) < 0)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(b, &end, 10);
    if (errno || end == b)
        return false;
    *out = v;
    return true;
}

static bool read_keyed(int dirfd, const char *name, const char *key, uint64_t *out)
{
    _cleanup_free_ char *b = NULL;
    size_t len;
    if (read_small(dirfd, name, &b, &len) < 0)
        return false;
    return cgroup_keyed_value(b, len, key, out) == 0;
}

int cgroup_memory_read(const char *root, const char *proc_cgroup, size_t len, struct cgroup_memory *m)
{
    *m = (struct cgroup_memory){0};
    char path[4096], base[4096];
    struct stat st;
    enum cgroup_version v = CGROUP_NONE;
    snprintf(base, sizeof base, "%s/memory", root);
    if (stat(base, &st) == 0 &&
        cgroup_parse_proc_version(proc_cgroup, len, CGROUP_V1, path, sizeof path) == CGROUP_V1) {
        v = CGROUP_V1;
    } else {
        snprintf(base, sizeof base, "%s/cgroup.controllers", root);
        if (stat(base, &st) == 0 &&
            cgroup_parse_proc_version(proc_cgroup, len, CGROUP_V2, path, sizeof path) == CGROUP_V2) {
            v = CGROUP_V2;
            snprintf(base, sizeof base, "%s", root);
        }
    }
    if (!v)
        return -ENOENT;
    if (v == CGROUP_V1)
        snprintf(base, sizeof base, "%s/memory", root);
    int n = snprintf(m->dir, sizeof m->dir, "%s%s", base, path);
    if (n < 0 || (size_t)n >= sizeof m->dir)
        return -ENAMETOOLONG;
    /* Strip a trailing "/" of the root cgroup. */
    if (n > 1 && m->dir[n - 1] == '/')
        m->dir[n - 1] = '\0';
    _cleanup_close_ int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    m->version = v;
    _cleanup_free_ char *lim = NULL;
    if (v == CGROUP_V1) {
        if (read_small(dfd, "memory.limit_in_bytes", &lim, NULL) == 0)
            m->has_limit = cgroup_parse_limit(lim, &m->limit_bytes) == 1;
        m->has_usage = read_u64(dfd, "memory.usage_in_bytes", &m->usage_bytes);
        m->has_peak = read_u64(dfd, "memory.max_usage_in_bytes", &m->peak_bytes);
        m->has_oom_kills = read_keyed(dfd, "memory.oom_control", "oom_kill", &m->oom_kills);
    } else {
        if (read_small(dfd, "memory.max", &lim, NULL) == 0)
            m->has_limit = cgroup_parse_limit(lim, &m->limit_bytes) == 1;
        m->has_usage = read_u64(dfd, "memory.current", &m->usage_bytes);
        m->has_peak = read_u64(dfd, "memory.peak", &m->peak_bytes);
        m->has_oom_kills = read_keyed(dfd, "memory.events", "oom_kill", &m->oom_kills);
        m->has_oom = read_keyed(dfd, "memory.events", "oom", &m->oom_events);
        m->has_group_kills = read_keyed(dfd, "memory.events", "oom_group_kill", &m->oom_group_kills);
    }
    return 0;
}
