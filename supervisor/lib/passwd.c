/* SPDX-License-Identifier: MIT */
#include "passwd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int parse_id(const char *s, size_t n, unsigned long *out)
{
    if (n == 0 || n > 10)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v >= 0xffffffffUL)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Finds the line whose first field is name; fields[] point into buf. */
static int find_entry(const char *buf, size_t len, const char *name, const char *fields[4], size_t flen[4])
{
    size_t nlen = strlen(name);
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *f = p;
            for (int i = 0; i < 4; i++) {
                const char *c = memchr(f, ':', (size_t)(le - f));
                const char *fe = c ? c : le;
                fields[i] = f;
                flen[i] = (size_t)(fe - f);
                if (!c && i < 3)
                    return -EINVAL;
                f = c ? c + 1 : le;
            }
            return 0;
        }
        p = nl ? nl + 1 : end;
    }
    return -ENOENT;
}

int passwd_lookup_uid(const char *buf, size_t len, const char *name, uid_t *uid, gid_t *gid)
{
    const char *f[4];
    size_t fl[4];
    int r = find_entry(buf, len, name, f, fl);
    if (r < 0)
        return r;
    unsigned long u, g;
    if (parse_id(f[2], fl[2], &u) < 0 || parse_id(f[3], fl[3], &g) < 0)
        return -EINVAL;
    *uid = (uid_t)u;
    *gid = (gid_t)g;
    return 0;
}

int group_lookup_gid(const char *buf, size_t len, const char *name, gid_t *gid)
{
    const char *f[4];
    size_t fl[4];
    int r = find_entry(buf, len, name, f, fl);
    if (r < 0)
        return r;
    unsigned long g;
    if (parse_id(f[2], fl[2], &g) < 0)
        return -EINVAL;
    *gid = (gid_t)g;
    return 0;
}

static int read_etc(const char *root, const char *file, char **buf, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/etc/%s", root, file);
    return read_file_at(AT_FDCWD, path, 16 << 20, buf, len);
}

int resolve_user(const char *root, const char *name, uid_t *uid, gid_t *gid)
{
    unsigned long n;
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_etc(root, "passwd", &buf, &len);
    if (parse_id(name, strlen(name), &n) == 0) {
        *uid = (uid_t)n;
        /* A number without a passwd entry keeps the same number as group. */
        *gid = (gid_t)n;
        if (r == 0) {
            const char *p = buf, *end = buf + len;
            while (p < end) { /* the entry with this uid gives the primary group */
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *f[4];
                size_t fl[4];
                const char *c = memchr(p, ':', (size_t)(le - p));
                if (c) {
                    char nm[256];
                    size_t k = (size_t)(c - p) < sizeof nm - 1 ? (size_t)(c - p) : sizeof nm - 1;
                    memcpy(nm, p, k);
                    nm[k] = '\0';
                    unsigned long u2, g2;
                    if (find_entry(p, (size_t)(le - p), nm, f, fl) == 0 &&
                        parse_id(f[2], fl[2], &u2) == 0 && u2 == n && parse_id(f[3], fl[3], &g2) == 0) {
                        *gid = (gid_t)g2;
                        break;
                    }
                }
                p = nl ? nl + 1 : end;
            }
        }
        return 0;
    }
    if (r < 0)
        return r;
    return passwd_lookup_uid(buf, len, name, uid, gid);
}

int resolve_group(const char *root, const char *name, gid_t *gid)
{
    unsigned long n;
    if (parse_id(name, strlen(name), &n) == 0) {
        *gid = (gid_t)n;
        return 0;
    }
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int r = read_etc(root, "group", &buf, &len);
    if (r < 0)
        return r;
    return group_lookup_gid(buf, len, name, gid);
}
