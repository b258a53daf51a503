/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "bundledir.h"
#include "tar.h"
#include "util.h"

struct zsink {
    ZSTD_CCtx *cctx;
    int fd;
    char out[1 << 16];
    size_t written;
};

static int zsink_flush_out(struct zsink *z, ZSTD_outBuffer *ob)
{
    int r = write_all(z->fd, ob->dst, ob->pos);
    z->written += ob->pos;
    ob->pos = 0;
    return r;
}

static int zsink_write(void *ctx, const void *buf, size_t len)
{
    struct zsink *z = ctx;
    ZSTD_inBuffer in = {buf, len, 0};
    while (in.pos < in.size) {
        ZSTD_outBuffer ob = {z->out, sizeof z->out, 0};
        size_t rc = ZSTD_compressStream2(z->cctx, &ob, &in, ZSTD_e_continue);
        if (ZSTD_isError(rc))
            return -EIO;
        int r = zsink_flush_out(z, &ob);
        if (r < 0)
            return r;
    }
    return 0;
}

static int zsink_end(struct zsink *z)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    size_t left;
    do {
        ZSTD_outBuffer ob = {z->out, sizeof z->out, 0};
        left = ZSTD_compressStream2(z->cctx, &ob, &in, ZSTD_e_end);
        if (ZSTD_isError(left))
            return -EIO;
        int r = zsink_flush_out(z, &ob);
        if (r < 0)
            return r;
    } while (left);
    return 0;
}

static void cctx_freep(ZSTD_CCtx **c) { ZSTD_freeCCtx(*c); }

static ZSTD_CCtx *cctx_new(int level)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (cctx && (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)) ||
                 ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)))) {
        ZSTD_freeCCtx(cctx);
        cctx = NULL;
    }
    return cctx;
}

/* Bytes already compressed (whole zstd frames), copied as they are: the
 * bundle's zstd stream is then several frames, its tar stream still one. */
static int copy_frames(struct zsink *z, int from)
{
    if (lseek(from, 0, SEEK_SET) < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(from, z->out, sizeof z->out);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        int r = write_all(z->fd, z->out, (size_t)n);
        if (r < 0)
            return r;
        z->written += (size_t)n;
    }
}

/* A member read from a file as it is written, never whole in memory. */
static int tar_add_fd(struct tar *t, const char *name, int fd, unsigned mode)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    uint64_t size = (uint64_t)st.st_size, done = 0;
    int r = tar_add_header(t, name, size, mode);
    static char buf[1 << 16];
    while (!r && done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)done);
        if (n <= 0) {
            /* the file shrank: the member keeps its announced size */
            memset(buf, 0, want);
            n = (ssize_t)want;
        }
        r = t->sink(t->ctx, buf, (size_t)n);
        done += (uint64_t)n;
    }
    return r ? r : tar_pad(t, size);
}

static int append_core(struct zsink *z, struct tar *t, const struct bundle_core *core)
{
    /* End the frame so far; the core's frames follow; then a new frame. */
    int r = zsink_end(z);
    if (!r)
        r = write_all(z->fd, core->head_zst, core->head_zst_len);
    if (!r) {
        z->written += core->head_zst_len;
        r = copy_frames(z, core->fd);
    }
    if (!r && core->exe_fd >= 0)
        r = tar_add_fd(t, "core/exe", core->exe_fd, 0755);
    return r;
}

static int write_stream(int fd, const char *manifest, size_t manifest_len, const struct items *items,
                        const struct bundle_core *core, time_t mtime, size_t *bytes)
{
    __attribute__((cleanup(cctx_freep))) ZSTD_CCtx *cctx = cctx_new(3);
    if (!cctx)
        return -ENOMEM;
    struct zsink z = {.cctx = cctx, .fd = fd};
    struct tar t;
    tar_init(&t, zsink_write, &z, mtime);
    int r = tar_add(&t, "manifest.json", manifest, manifest_len, 0644);
    for (size_t i = 0; !r && i < items->n; i++)
        r = tar_add(&t, items->v[i].name, items->v[i].data, items->v[i].len, 0644);
    if (!r && core && core->fd >= 0 && core->head_zst)
        r = append_core(&z, &t, core);
    if (!r)
        r = tar_finish(&t);
    if (!r)
        r = zsink_end(&z);
    *bytes = z.written;
    return r;
}

int bundle_write(int dirfd, const char *name, const char *manifest, size_t manifest_len,
                 const struct items *items, time_t mtime, unsigned mode, gid_t gid,
                 size_t *bytes_written)
{
    return bundle_write_core(dirfd, name, manifest, manifest_len, items, NULL, mtime, mode, gid,
                             bytes_written);
}

int bundle_write_core(int dirfd, const char *name, const char *manifest, size_t manifest_len,
                      const struct items *items, const struct bundle_core *core, time_t mtime,
                      unsigned mode, gid_t gid, size_t *bytes_written)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, BUNDLE_TMP_PREFIX "%d-%s", (int)getpid(), name);
    _cleanup_close_ int run = -1;
    _cleanup_close_ int fd = bundledir_tmp_open(dirfd, tmp, O_WRONLY, &run);
    if (fd < 0)
        return fd == -EEXIST ? -EAGAIN : fd;
    size_t bytes = 0;
    int r = write_stream(fd, manifest, manifest_len, items, core, mtime, &bytes);
    if (!r && gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)
        r = -errno;
    if (!r && fchmod(fd, mode & 0777) < 0) /* the umask had its say at open */
        r = -errno;
    if (!r && fsync(fd) < 0)
        r = -errno;
    if (!r && renameat2(run, tmp, dirfd, name, RENAME_NOREPLACE) < 0)
        r = -errno;
    if (r) {
        unlinkat(run, tmp, 0);
        return r;
    }
    (void)fsync(dirfd);
    if (bytes_written)
        *bytes_written = bytes;
    return 0;
}

/* ---- a core, compressed while it is read ---- */

int bundle_core_open(int dirfd, struct bundle_core *bc)
{
    *bc = (struct bundle_core){.fd = -1, .exe_fd = -1};
    char tmp[128];
    snprintf(tmp, sizeof tmp, BUNDLE_TMP_PREFIX "%d-core", (int)getpid());
    /* Unlinked at once: a crashbox that dies leaves nothing behind. */
    _cleanup_close_ int run = -1;
    _cleanup_close_ int fd = bundledir_tmp_open(dirfd, tmp, O_RDWR, &run);
    if (fd < 0)
        return fd;
    if (unlinkat(run, tmp, 0) < 0)
        return -errno;
    bc->z = calloc(1, sizeof *bc->z);
    if (!bc->z)
        return -ENOMEM;
    /* Level 1: the service is held while this runs. */
    bc->z->cctx = cctx_new(1);
    if (!bc->z->cctx) {
        bundle_core_free(bc);
        return -ENOMEM;
    }
    /* Compression is most of the held time: a worker per CPU where libzstd
     * has them (the calling thread then only reads memory). */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    (void)ZSTD_CCtx_setParameter(bc->z->cctx, ZSTD_c_nbWorkers, cpus > 1 ? (int)(cpus < 4 ? cpus : 4) : 0);
    bc->z->fd = fd;
    bc->fd = steal_fd(&fd);
    return 0;
}

int bundle_core_write(void *ctx, const void *buf, size_t len)
{
    struct bundle_core *bc = ctx;
    return zsink_write(bc->z, buf, len);
}

struct membuf {
    char *p;
    size_t len, cap;
};

static int membuf_put(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2;
        char *np = realloc(m->p, cap);
        if (!np)
            return -ENOMEM;
        m->p = np;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

int bundle_core_close(struct bundle_core *bc, const char *head, size_t head_len, uint64_t body_len,
                      time_t mtime)
{
    struct tar t;
    /* The body's padding ends the body's frame. */
    tar_init(&t, zsink_write, bc->z, mtime);
    int r = tar_pad(&t, head_len + body_len);
    if (!r)
        r = zsink_end(bc->z);
    /* The member's header and the core's head, known only now: a frame of
     * their own, placed before the body's in the bundle. */
    struct membuf m = {0};
    tar_init(&t, membuf_put, &m, mtime);
    if (!r)
        r = tar_add_header(&t, "core/core", head_len + body_len, 0600);
    if (!r)
        r = membuf_put(&m, head, head_len);
    if (!r) {
        size_t cap = ZSTD_compressBound(m.len);
        bc->head_zst = malloc(cap);
        size_t n = bc->head_zst ? ZSTD_compress(bc->head_zst, cap, m.p, m.len, 3) : 0;
        if (!bc->head_zst || ZSTD_isError(n))
            r = -ENOMEM;
        else
            bc->head_zst_len = n;
    }
    free(m.p);
    ZSTD_freeCCtx(bc->z->cctx);
    bc->z->cctx = NULL;
    return r;
}

void bundle_core_free(struct bundle_core *bc)
{
    if (bc->z) {
        ZSTD_freeCCtx(bc->z->cctx);
        free(bc->z);
    }
    closep(&bc->fd);
    closep(&bc->exe_fd);
    free(bc->head_zst);
    *bc = (struct bundle_core){.fd = -1, .exe_fd = -1};
}
