/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>

int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_fd_capped(int fd, size_t max, char **out, size_t *out_len, bool *truncated)
{
    size_t cap = max < 4096 ? max : 4096, len = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    *truncated = false;
    for (;;) {
        if (len == cap) {
            if (cap >= max) {
                /* Full: one more byte tells "exactly max" from "more". */
                char extra;
                ssize_t n = read(fd, &extra, 1);
                if (n < 0 && errno == EINTR)
                    continue;
                *truncated = n > 0;
                break;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb)
                return -ENOMEM;
            buf = nb;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (out_len)
        *out_len = len;
    *out = steal_pointer(&buf);
    return 0;
}

int read_fd_all(int fd, size_t max, char **out, size_t *out_len)
{
    bool truncated;
    char *buf;
    int r = read_fd_capped(fd, max, &buf, out_len, &truncated);
    if (r < 0)
        return r;
    if (truncated) {
        free(buf);
        return -EFBIG;
    }
    *out = buf;
    return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *out_len)
{
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    return read_fd_all(fd, max, out, out_len);
}

DIR *opendirat(int dirfd, const char *path)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return d;
}

void format_utc(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
