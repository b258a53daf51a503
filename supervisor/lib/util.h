/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every module: scope-based cleanup, ownership
 * hand-over and a few macros. No module-specific logic lives here. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

static inline void freep(void *p) { free(*(void **)p); }

static inline void closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

/* Hand over ownership of a pointer held by a cleanup variable. */
#define steal_pointer(pp)                   \
    ({                                      \
        __typeof__(*(pp)) _stolen = *(pp); \
        *(pp) = NULL;                       \
        _stolen;                            \
    })

/* Hand over ownership of an fd held by a _cleanup_close_ variable. */
static inline int steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

/* Write all of buf, retrying on EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* Read at most max bytes of fd into a NUL-terminated heap buffer; sets
 * *truncated when there was more. Returns 0 or -errno. */
int read_fd_capped(int fd, size_t max, char **out, size_t *out_len, bool *truncated);

/* Read all of fd into a NUL-terminated heap buffer of at most max bytes.
 * Returns 0, -EFBIG when there is more, or -errno; *out owned by caller. */
int read_fd_all(int fd, size_t max, char **out, size_t *out_len);

/* Read a whole (small) file relative to dirfd into a NUL-terminated heap
 * buffer of at most max bytes. Returns 0 or -errno; *out owned by caller. */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *out_len);

/* A directory stream for dirfd/path, on a fresh open file description (a dup
 * of dirfd would share, and move, its read offset). NULL with errno set. */
DIR *opendirat(int dirfd, const char *path);

/* "2026-11-22T10:00:00Z" (RFC 3339, UTC) into out (at least 21 bytes). */
void format_utc(time_t t, char *out, size_t cap);

/* Monotonic clock in milliseconds. */
long long now_ms(void);
