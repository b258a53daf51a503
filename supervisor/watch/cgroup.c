/* SPDX-License-Identifier: MIT */
#include "cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgmount.h"
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

/* A memory cgroup attribute file, whole, into buf: the kernel prints one
 * at the first read (a single record of a seq_file), so a read that leaves
 * room is all of it, without the read that finds the end. */
static int read_attr(int dirfd, const char *name, char *buf, size_t cap, size_t *len)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);
    if (n < 0)
        return -errno;
    if ((size_t)n == cap - 1)
        return -EFBIG; /* more than any memory attribute holds */
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return 0;
}

static bool read_u64(int dirfd, const char *name, uint64_t *out)
{
    char b[64];
    if (read_attr(dirfd, name, b, sizeof b, NULL) < 0)
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
    char b[1024];
    size_t len;
    if (read_attr(dirfd, name, b, sizeof b, &len) < 0)
        return false;
    return cgroup_keyed_value(b, len, key, out) == 0;
}

/* A mountinfo field up to the next space. */
static const char *next_field(const char **p, const char *le, size_t *n)
{
    while (*p < le && **p == ' ')
        (*p)++;
    if (*p >= le)
        return NULL;
    const char *f = *p;
    while (*p < le && **p != ' ')
        (*p)++;
    *n = (size_t)(*p - f);
    return f;
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* The kernel escapes space, tab, newline and backslash as \ooo. */
static bool unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 3 < n && is_octal(s[i + 1]) && is_octal(s[i + 2]) && is_octal(s[i + 3])) {
            c = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
            i += 3;
        }
        if (k + 1 >= cap)
            return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return true;
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
static bool parse_mount_line(const char *p, const char *le, struct cgroup_mount *m)
{
    const char *f[6];
    size_t n[6];
    for (int i = 0; i < 6; i++)
        if (!(f[i] = next_field(&p, le, &n[i])))
            return false;
    const char *t;
    size_t tn;
    do {
        if (!(t = next_field(&p, le, &tn)))
            return false;
    } while (tn != 1 || *t != '-');
    const char *fs = next_field(&p, le, &tn);
    if (!fs)
        return false;
    /* The super options are the last field: an empty source would shift
     * a count of fields. */
    const char *sup = le;
    while (sup > p && sup[-1] != ' ')
        sup--;
    if (sup == le || sup <= fs + tn)
        return false;
    char *e;
    m->id = (int)strtol(f[0], &e, 10);
    if (e != f[0] + n[0])
        return false;
    m->parent = (int)strtol(f[1], &e, 10);
    if (e != f[1] + n[1])
        return false;
    if (!unescape(f[3], n[3], m->root, sizeof m->root) ||
        !unescape(f[4], n[4], m->mountpoint, sizeof m->mountpoint))
        return false;
    m->version = tn == 7 && !memcmp(fs, "cgroup2", 7) ? CGROUP_V2
                 : tn == 6 && !memcmp(fs, "cgroup", 6) ? CGROUP_V1
                                                        : CGROUP_NONE;
    m->memory = m->version == CGROUP_V1 && has_controller(sup, (size_t)(le - sup), "memory");
    return true;
}

bool cgroup_mountinfo_next(const char **p, const char *end, struct cgroup_mount *m)
{
    while (*p < end) {
        const char *line = *p;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        *p = nl ? nl + 1 : end;
        if (parse_mount_line(line, le, m))
            return true;
    }
    return false;
}

static bool serves(const struct cgroup_mount *m, enum cgroup_version want)
{
    return want == CGROUP_V1 ? m->memory : m->version == CGROUP_V2;
}

/* Another mount at the same mountpoint hides this one: mounted on top of it
 * (its parent), or listed after it. */
static bool hidden(const char *mi, const char *end, const struct cgroup_mount *m, size_t index)
{
    struct cgroup_mount *o = malloc(sizeof *o);
    if (!o)
        return false;
    bool h = false;
    size_t i = 0;
    for (const char *p = mi; !h && cgroup_mountinfo_next(&p, end, o); i++)
        h = i != index && !strcmp(o->mountpoint, m->mountpoint) && (o->parent == m->id || i > index);
    free(o);
    return h;
}

/* The part of path below root, or NULL if path is not inside it. A ".."
 * left after the root leads out of the mount (a path from a nested cgroup
 * namespace that the mount does not show). */
static const char *below_root(const char *root, const char *path)
{
    size_t n = strcmp(root, "/") ? strlen(root) : 0;
    if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
        return NULL;
    const char *rest = path + n;
    for (const char *d = rest; (d = strstr(d, "/..")); d += 3)
        if (d[3] == '\0' || d[3] == '/')
            return NULL;
    return rest;
}

__attribute__((format(printf, 2, 3))) static void say(struct cgroup_place *pl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->reason, sizeof pl->reason, fmt, ap);
    va_end(ap);
}

static int place_in(const char *mi, size_t mlen, enum cgroup_version want, const char *path,
                    struct cgroup_place *out)
{
    const char *end = mi + mlen;
    _cleanup_free_ struct cgroup_mount *m = malloc(sizeof *m);
    _cleanup_free_ char *first_root = NULL, *first_at = NULL;
    if (!m)
        return -ENOMEM;
    size_t i = 0;
    for (const char *p = mi; cgroup_mountinfo_next(&p, end, m); i++) {
        if (!serves(m, want) || hidden(mi, end, m, i))
            continue;
        const char *rest = below_root(m->root, path);
        if (!rest) {
            if (!first_root) {
                first_root = strdup(m->root);
                first_at = strdup(m->mountpoint);
            }
            continue;
        }
        size_t rl = strlen(rest);
        while (rl && rest[rl - 1] == '/')
            rl--;
        const char *mp = strcmp(m->mountpoint, "/") || !rl ? m->mountpoint : "";
        int n = snprintf(out->dir, sizeof out->dir, "%s%.*s", mp, (int)rl, rest);
        if (n < 0 || (size_t)n >= sizeof out->dir) {
            say(out, "the memory cgroup's path is too long");
            return -ENOENT;
        }
        snprintf(out->mountpoint, sizeof out->mountpoint, "%s", m->mountpoint);
        out->version = want;
        return 0;
    }
    if (first_root)
        say(out, "the service's cgroup %.200s is outside the mounted hierarchy %.120s (at %.120s)", path,
            first_root, first_at ? first_at : "?");
    else
        say(out, "no memory controller is mounted");
    return -ENOENT;
}

int cgroup_locate(const char *mountinfo, size_t mlen, const char *proc_cgroup, size_t clen,
                  struct cgroup_place *out)
{
    *out = (struct cgroup_place){0};
    _cleanup_free_ struct cgroup_mount *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    bool any = false, v1 = false, v2 = false;
    for (const char *p = mountinfo; cgroup_mountinfo_next(&p, mountinfo + mlen, m);) {
        any |= m->version != CGROUP_NONE;
        v1 |= m->memory;
        v2 |= m->version == CGROUP_V2;
    }
    if (!any) {
        say(out, "no cgroup filesystem is mounted");
        return -ENOENT;
    }
    if (!v1 && !v2) {
        say(out, "no memory controller is mounted");
        return -ENOENT;
    }
    char path[4096];
    if (v1 && cgroup_parse_proc_version(proc_cgroup, clen, CGROUP_V1, path, sizeof path))
        return place_in(mountinfo, mlen, CGROUP_V1, path, out);
    if (v2 && cgroup_parse_proc_version(proc_cgroup, clen, CGROUP_V2, path, sizeof path))
        return place_in(mountinfo, mlen, CGROUP_V2, path, out);
    say(out, "the service's /proc/PID/cgroup names no %s cgroup", v1 ? "memory" : "unified");
    return -ENOENT;
}

int cgroup_v2_check_memory(struct cgroup_place *pl, const char *controllers, size_t len)
{
    /* Space-separated names: memory is a word of its own. */
    for (size_t i = 0; i + 6 <= len; i++)
        if ((i == 0 || isspace((unsigned char)controllers[i - 1])) && !memcmp(controllers + i, "memory", 6) &&
            (i + 6 == len || isspace((unsigned char)controllers[i + 6])))
            return 0;
    say(pl, "no memory controller is mounted (the unified hierarchy at %.300s has none)", pl->mountpoint);
    pl->version = CGROUP_NONE;
    return -ENOENT;
}

/* A path as mountinfo writes it. */
/* A path as mountinfo writes it, at buf + *k; false when it does not fit. */
static bool escape(const char *s, char *buf, size_t cap, size_t *k)
{
    for (; *s; s++) {
        bool esc = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\\';
        if (*k + (esc ? 4 : 1) >= cap)
            return false;
        if (esc) {
            unsigned char c = (unsigned char)*s;
            buf[(*k)++] = '\\';
            buf[(*k)++] = (char)('0' + (c >> 6));
            buf[(*k)++] = (char)('0' + ((c >> 3) & 7));
            buf[(*k)++] = (char)('0' + (c & 7));
        } else {
            buf[(*k)++] = *s;
        }
    }
    return true;
}

int cgroup_format_mount(char *buf, size_t cap, int id, int parent, unsigned major, unsigned minor,
                        const char *root, const char *mountpoint, const char *fstype, const char *super_opts)
{
    int n = snprintf(buf, cap, "%d %d %u:%u ", id, parent, major, minor);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    size_t k = (size_t)n;
    if (!escape(root, buf, cap, &k) || k + 1 >= cap)
        return -ENAMETOOLONG;
    buf[k++] = ' ';
    if (!escape(mountpoint, buf, cap, &k))
        return -ENAMETOOLONG;
    n = snprintf(buf + k, cap - k, " rw - %s %s %s\n", fstype, fstype, *super_opts ? super_opts : "rw");
    return n < 0 || (size_t)n >= cap - k ? -ENAMETOOLONG : (int)(k + (size_t)n);
}

int cgroup_fixture_mountinfo(const char *root, char *buf, size_t cap)
{
    char path[4096];
    struct stat st;
    size_t k = 0;
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/memory", root);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        int n = cgroup_format_mount(buf, cap, 1, 0, 0, 1, "/", path, "cgroup", "rw,memory");
        if (n < 0)
            return n;
        k = (size_t)n;
    }
    snprintf(path, sizeof path, "%s/cgroup.controllers", root);
    if (stat(path, &st) == 0) {
        int n = cgroup_format_mount(buf + k, cap - k, 2, 0, 0, 2, "/", root, "cgroup2", "rw");
        if (n < 0)
            return n;
        k += (size_t)n;
    }
    return (int)k;
}

int cgroup_memory_read(const char *mountinfo, size_t mlen, const char *proc_cgroup, size_t clen,
                       struct cgroup_memory *m)
{
    *m = (struct cgroup_memory){0};
    _cleanup_free_ struct cgroup_place *pl = malloc(sizeof *pl);
    if (!pl) {
        snprintf(m->reason, sizeof m->reason, "out of memory");
        return -ENOMEM;
    }
    int r = cgroup_locate(mountinfo, mlen, proc_cgroup, clen, pl);
    if (r == 0 && pl->version == CGROUP_V2) {
        _cleanup_free_ char *ctl = NULL;
        size_t len = 0;
        char path[4096 + 32];
        snprintf(path, sizeof path, "%s/cgroup.controllers", pl->mountpoint);
        if (read_file_at(AT_FDCWD, path, 1 << 16, &ctl, &len) < 0)
            len = 0;
        r = cgroup_v2_check_memory(pl, ctl ? ctl : "", len);
    }
    if (r < 0) {
        snprintf(m->reason, sizeof m->reason, "%s", pl->reason);
        return r;
    }
    snprintf(m->dir, sizeof m->dir, "%s", pl->dir);
    _cleanup_close_ int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        r = -errno;
        snprintf(m->reason, sizeof m->reason, "cannot open %.400s: %s", m->dir, strerror(-r));
        return r;
    }
    enum cgroup_version v = pl->version;
    m->version = v;
    char lim[64];
    if (v == CGROUP_V1) {
        if (read_attr(dfd, "memory.limit_in_bytes", lim, sizeof lim, NULL) == 0)
            m->has_limit = cgroup_parse_limit(lim, &m->limit_bytes) == 1;
        m->has_usage = read_u64(dfd, "memory.usage_in_bytes", &m->usage_bytes);
        m->has_peak = read_u64(dfd, "memory.max_usage_in_bytes", &m->peak_bytes);
        m->has_oom_kills = read_keyed(dfd, "memory.oom_control", "oom_kill", &m->oom_kills);
    } else {
        if (read_attr(dfd, "memory.max", lim, sizeof lim, NULL) == 0)
            m->has_limit = cgroup_parse_limit(lim, &m->limit_bytes) == 1;
        m->has_usage = read_u64(dfd, "memory.current", &m->usage_bytes);
        m->has_peak = read_u64(dfd, "memory.peak", &m->peak_bytes);
        m->has_oom_kills = read_keyed(dfd, "memory.events", "oom_kill", &m->oom_kills);
        m->has_oom = read_keyed(dfd, "memory.events", "oom", &m->oom_events);
        m->has_group_kills = read_keyed(dfd, "memory.events", "oom_group_kill", &m->oom_group_kills);
    }
    return 0;
}

int cgroup_memory_of(pid_t pid, const char *fixture_root, struct cgroup_memory *m)
{
    *m = (struct cgroup_memory){0};
    char path[64];
    _cleanup_free_ char *pc = NULL, *mi = NULL;
    size_t plen, mlen = 0;
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/cgroup");
    /* One record, as a cgroup attribute is: read whole at the first read
     * unless longer than the buffer (a process in some hundred v1
     * hierarchies of long names). */
    char pcbuf[2048];
    int r = read_attr(AT_FDCWD, path, pcbuf, sizeof pcbuf, &plen);
    if (r == -EFBIG)
        r = read_file_at(AT_FDCWD, path, 1 << 16, &pc, &plen);
    if (r < 0) {
        snprintf(m->reason, sizeof m->reason, "cannot read %s: %s", path, strerror(-r));
        return r;
    }
    const char *pcp = pc ? pc : pcbuf;
    if (fixture_root) {
        size_t cap = 3 * sizeof m->dir;
        mi = malloc(cap);
        r = mi ? cgroup_fixture_mountinfo(fixture_root, mi, cap) : -ENOMEM;
        mlen = r > 0 ? (size_t)r : 0;
        if (r < 0) {
            snprintf(m->reason, sizeof m->reason, "cannot read the mount table: %s", strerror(-r));
            return r;
        }
        return cgroup_memory_read(mi, mlen, pcp, plen, m);
    }
    /* The mounts where cgroups are mounted by convention first: a few
     * system calls, where the whole table costs the kernel a line for each
     * mount of the namespace. What they do not place is looked up in it. */
    char v1path[4096];
    bool v1 = cgroup_parse_proc_version(pcp, plen, CGROUP_V1, v1path, sizeof v1path) == CGROUP_V1;
    size_t cap = 64 << 10;
    mi = malloc(cap);
    r = mi ? cgroup_mounts_by_statmount(v1, mi, cap) : -ENOMEM;
    if (r > 0 && cgroup_memory_read(mi, (size_t)r, pcp, plen, m) == 0)
        return 0;
    free(mi);
    mi = NULL;
    /* A node with many containers has a long mount table. */
    r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &mi, &mlen);
    if (r < 0) {
        *m = (struct cgroup_memory){0};
        snprintf(m->reason, sizeof m->reason, "cannot read the mount table: %s", strerror(-r));
        return r;
    }
    return cgroup_memory_read(mi, mlen, pcp, plen, m);
}
