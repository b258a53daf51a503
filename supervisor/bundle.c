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

void bundle_name(char *out, size_t cap, const char *service, time_t t, const char *host, const char *pid,
                 const char *kind)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char h[64];
    size_t i = 0;
    /* A host name is not ours to trust in a file name: keep it tame. */
    for (; host[i] && i < sizeof h - 1; i++)
        h[i] = isalnum((unsigned char)host[i]) || host[i] == '-' || host[i] == '.' ? host[i] : '_';
    h[i] = '\0';
    snprintf(out, cap, "%s-%04d%02d%02dT%02d%02d%02dZ-%s-%s-%s.tar.zst", service, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, h, pid, kind);
}

static int write_stream(int fd, const char *manifest, size_t manifest_len, const struct items *items,
                        time_t mtime, size_t *bytes)
{
    __attribute__((cleanup(cctx_freep))) ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx)
        return -ENOMEM;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3)))
        return -EINVAL;
    struct zsink z = {.cctx = cctx, .fd = fd};
    struct tar t;
    tar_init(&t, zsink_write, &z, mtime);
    int r = tar_add(&t, "manifest.json", manifest, manifest_len, 0644);
    for (size_t i = 0; !r && i < items->n; i++)
        r = tar_add(&t, items->v[i].name, items->v[i].data, items->v[i].len, 0644);
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
    char tmp[512];
    snprintf(tmp, sizeof tmp, BUNDLE_TMP_PREFIX "%d-%s", (int)getpid(), name);
    _cleanup_close_ int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    /* Not locked, or a cleaner took it for a dead writer's between our open
     * and our lock (unlinked: no links left): this attempt is void, and the
     * caller tries again (EAGAIN; never a stale errno). */
    int locked = flock(fd, LOCK_EX | LOCK_NB) < 0 ? -errno : fstat(fd, &st) < 0 ? -errno : st.st_nlink == 0 ? -EAGAIN : 0;
    if (locked < 0) {
        unlinkat(dirfd, tmp, 0);
        return locked == -EWOULDBLOCK ? -EAGAIN : locked;
    }
    size_t bytes = 0;
    int r = write_stream(fd, manifest, manifest_len, items, mtime, &bytes);
    if (!r && gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)
        r = -errno;
    if (!r && fchmod(fd, mode & 0777) < 0) /* the umask had its say at open */
        r = -errno;
    if (!r && fsync(fd) < 0)
        r = -errno;
    if (!r && renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) < 0)
        r = -errno;
    if (r) {
        unlinkat(dirfd, tmp, 0);
        return r;
    }
    (void)fsync(dirfd);
    if (bytes_written)
        *bytes_written = bytes;
    return 0;
}
