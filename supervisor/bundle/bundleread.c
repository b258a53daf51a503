/* SPDX-License-Identifier: MIT */
#include "bundleread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "items.h"
#include "util.h"

struct tarstate {
    char hdr[512];
    size_t hdr_fill;
    char name[4096];
    char pax_path[4096];
    uint64_t size, left, pad;
    char *data;
    size_t data_len, data_cap;
    bool in_data, is_pax, is_file;
    size_t max_member;
    bundle_member_fn fn;
    void *ctx;
    int zero_blocks;
    bool done;
    /* Members streamed to files instead of buffered (NULL: none). */
    const char *const *stream_names;
    bool stream_all; /* every member, under its own path */
    int stream_dir;
    int out_fd;
    int streamed;
};

static uint64_t octal(const char *f, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(f[i] - '0');
    return v;
}

static const char *base_name(const char *n)
{
    const char *s = strrchr(n, '/');
    return s ? s + 1 : n;
}

static bool safe_name(const char *n)
{
    if (!*n || n[0] == '/')
        return false;
    for (const char *p = n; *p;) {
        const char *s = strchr(p, '/');
        size_t l = s ? (size_t)(s - p) : strlen(p);
        if (l == 0 || (l == 2 && p[0] == '.' && p[1] == '.') || (l == 1 && p[0] == '.'))
            return false;
        p += l + (s ? 1 : 0);
    }
    return true;
}

/* Creates name under destfd, never outside it: parent directories one
 * level at a time, never through a symlink, the file itself new. */
static int create_member_file(int destfd, const char *name, mode_t mode)
{
    if (!safe_name(name))
        return -EINVAL;
    char path[4096];
    snprintf(path, sizeof path, "%s", name);
    for (char *s = path; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdirat(destfd, path, 0755) < 0 && errno != EEXIST)
            return -errno;
        struct stat st;
        if (fstatat(destfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            return -ENOTDIR;
        *s = '/';
    }
    int fd = openat(destfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
}

/* A member wanted as a file: written as it comes, never whole in memory. */
static int stream_open(struct tarstate *t)
{
    /* The member's own mode, without write for others (a core is 0600). */
    mode_t mode = (mode_t)octal(t->hdr + 100, 8) & 0755;
    t->out_fd = -1;
    if (t->stream_all) {
        int fd = create_member_file(t->stream_dir, t->name, mode);
        if (fd < 0)
            return fd;
        t->out_fd = fd;
        return 0;
    }
    for (size_t i = 0; t->stream_names && t->stream_names[i]; i++) {
        if (strcmp(t->name, t->stream_names[i]) != 0)
            continue;
        t->out_fd = openat(t->stream_dir, base_name(t->name),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        return t->out_fd < 0 ? -errno : 0;
    }
    return 0;
}

static void pax_parse(struct tarstate *t)
{
    /* "LEN key=value\n" records */
    const char *p = t->data, *end = t->data + t->data_len;
    while (p < end) {
        char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return;
        size_t len = strtoul(p, NULL, 10);
        if (len == 0 || len > (size_t)(end - p))
            return;
        const char *rec_end = p + len;
        const char *kv = sp + 1;
        if ((size_t)(rec_end - kv) > 5 && memcmp(kv, "path=", 5) == 0) {
            size_t vl = (size_t)(rec_end - kv - 5 - 1);
            if (vl < sizeof t->pax_path) {
                memcpy(t->pax_path, kv + 5, vl);
                t->pax_path[vl] = '\0';
            }
        } else if ((size_t)(rec_end - kv) > 5 && memcmp(kv, "size=", 5) == 0) {
            t->size = strtoull(kv + 5, NULL, 10); /* applies to the next member */
        }
        p = rec_end;
    }
}

static int member_done(struct tarstate *t)
{
    if (t->is_pax) {
        t->size = 0;
        pax_parse(t); /* a "size=" record sets t->size for the next header */
        return 0;
    }
    int r = 0;
    if (t->out_fd >= 0) {
        closep(&t->out_fd);
        t->out_fd = -1;
        t->streamed++;
    } else if (t->is_file && t->fn) {
        r = t->fn(t->ctx, t->name, t->data ? t->data : "", t->data_len, (size_t)t->size);
    }
    t->pax_path[0] = '\0';
    t->size = 0;
    return r;
}

static int header(struct tarstate *t)
{
    bool zero = true;
    for (int i = 0; i < 512; i++)
        if (t->hdr[i]) {
            zero = false;
            break;
        }
    if (zero) {
        if (++t->zero_blocks == 2)
            t->done = true;
        return 0;
    }
    t->zero_blocks = 0;
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)(i >= 148 && i < 156 ? ' ' : t->hdr[i]);
    if (sum != octal(t->hdr + 148, 8))
        return -EBADMSG;
    char type = t->hdr[156];
    uint64_t pax_size = t->size;
    uint64_t size = octal(t->hdr + 124, 12);
    if (pax_size && type != 'x')
        size = pax_size;
    t->is_pax = type == 'x';
    t->is_file = type == '0' || type == '\0';
    if (t->pax_path[0] && !t->is_pax) {
        memcpy(t->name, t->pax_path, strlen(t->pax_path) + 1);
    } else {
        memcpy(t->name, t->hdr, 100);
        t->name[100] = '\0';
    }
    t->size = size;
    t->left = size;
    t->pad = (512 - size % 512) % 512;
    t->data_len = 0;
    t->in_data = true;
    if (t->is_file && !t->is_pax) {
        int r = stream_open(t);
        if (r < 0)
            return r;
    }
    if (size == 0) {
        t->in_data = false;
        return member_done(t);
    }
    return 0;
}

static int tar_feed(struct tarstate *t, const char *p, size_t n)
{
    while (n > 0 && !t->done) {
        if (!t->in_data) {
            if (t->pad) {
                size_t k = n < t->pad ? n : (size_t)t->pad;
                t->pad -= k;
                p += k;
                n -= k;
                continue;
            }
            size_t k = 512 - t->hdr_fill;
            if (k > n)
                k = n;
            memcpy(t->hdr + t->hdr_fill, p, k);
            t->hdr_fill += k;
            p += k;
            n -= k;
            if (t->hdr_fill == 512) {
                t->hdr_fill = 0;
                int r = header(t);
                if (r)
                    return r;
            }
            continue;
        }
        size_t k = n < t->left ? n : (size_t)t->left;
        /* A member streamed to a file goes there whole; one kept in memory
         * keeps at most max_member bytes. */
        size_t room = t->max_member > t->data_len ? t->max_member - t->data_len : 0;
        size_t take = t->out_fd >= 0 ? 0 : k < room ? k : room;
        if (t->out_fd >= 0) {
            int w = write_all(t->out_fd, p, k);
            if (w < 0)
                return w;
        } else if (take) {
            if (t->data_len + take + 1 > t->data_cap) {
                size_t cap = t->data_cap ? t->data_cap : 65536;
                while (cap < t->data_len + take + 1)
                    cap *= 2;
                char *d = realloc(t->data, cap);
                if (!d)
                    return -ENOMEM;
                t->data = d;
                t->data_cap = cap;
            }
            memcpy(t->data + t->data_len, p, take);
            t->data_len += take;
            t->data[t->data_len] = '\0';
        }
        t->left -= k;
        p += k;
        n -= k;
        if (t->left == 0) {
            t->in_data = false;
            int r = member_done(t);
            if (r)
                return r;
        }
    }
    return 0;
}

static void dctx_freep(ZSTD_DCtx **d) { ZSTD_freeDCtx(*d); }

static int read_stream(int dirfd, const char *path, struct tarstate *tp);

int bundle_read(int dirfd, const char *path, size_t max_member, bundle_member_fn fn, void *ctx)
{
    struct tarstate t = {.max_member = max_member, .fn = fn, .ctx = ctx, .out_fd = -1};
    return read_stream(dirfd, path, &t);
}

int bundle_extract_members(int dirfd, const char *path, const char *const *names, int destfd)
{
    struct tarstate t = {.stream_names = names, .stream_dir = destfd, .out_fd = -1};
    int r = read_stream(dirfd, path, &t);
    closep(&t.out_fd);
    return r < 0 ? r : t.streamed;
}

static int read_stream(int dirfd, const char *path, struct tarstate *tp)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    __attribute__((cleanup(dctx_freep))) ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return -ENOMEM;
    /* A crafted frame must not make us allocate a huge window. */
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
    struct tarstate t = *tp;
    static char in[1 << 16], out[1 << 17];
    int r = 0;
    bool any = false;
    for (;;) {
        ssize_t n = read(fd, in, sizeof in);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0) {
            if (!t.done && !any)
                r = -EBADMSG;
            break;
        }
        any = true;
        ZSTD_inBuffer ib = {in, (size_t)n, 0};
        while (ib.pos < ib.size && !r && !t.done) {
            ZSTD_outBuffer ob = {out, sizeof out, 0};
            size_t z = ZSTD_decompressStream(d, &ob, &ib);
            if (ZSTD_isError(z)) {
                r = -EBADMSG;
                break;
            }
            r = tar_feed(&t, out, ob.pos);
        }
        if (r || t.done)
            break;
    }
    free(t.data);
    tp->out_fd = t.out_fd;
    tp->streamed = t.streamed;
    return r < 0 ? r : 0;
}

struct one {
    const char *want;
    size_t max;
    char *data;
    size_t len;
    bool found;
};

static int take_one(void *ctx, const char *name, const char *data, size_t len, size_t full)
{
    (void)full;
    struct one *o = ctx;
    if (strcmp(name, o->want) != 0)
        return 0;
    o->data = malloc(len + 1);
    if (!o->data)
        return -ENOMEM;
    memcpy(o->data, data, len);
    o->data[len] = '\0';
    o->len = len;
    o->found = true;
    return 1;
}

int bundle_read_member(int dirfd, const char *path, const char *member, size_t max, char **out, size_t *len)
{
    struct one o = {.want = member, .max = max};
    int r = bundle_read(dirfd, path, max, take_one, &o);
    if (r < 0) {
        free(o.data);
        return r;
    }
    if (!o.found)
        return -ENOENT;
    *out = o.data;
    if (len)
        *len = o.len;
    return 0;
}

struct prefixed {
    struct items *into;
    const char *prefix;
};

static int add_prefixed(void *ctx, const char *name, const char *data, size_t len, size_t full)
{
    struct prefixed *pf = ctx;
    (void)full;
    char member[512];
    snprintf(member, sizeof member, "%s%s", pf->prefix, name);
    return items_add_copy(pf->into, member, data, len) < 0 ? -ENOMEM : 0;
}

int bundle_read_into_items(int dirfd, const char *path, const char *prefix, size_t max, struct items *it)
{
    struct prefixed pf = {.into = it, .prefix = prefix};
    return bundle_read(dirfd, path, max, add_prefixed, &pf);
}

int bundle_extract(int dirfd, const char *path, int destfd)
{
    struct tarstate t = {.stream_all = true, .stream_dir = destfd, .out_fd = -1};
    int r = read_stream(dirfd, path, &t);
    closep(&t.out_fd);
    return r < 0 ? r : t.streamed;
}
