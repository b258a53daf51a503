/* SPDX-License-Identifier: MIT */
#include "termlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

size_t termlog_format(char *out, size_t cap, const char *service, const char *kind, const char *message,
                      const char *culprit, const char *bundle)
{
    if (cap > TERMLOG_MAX + 1)
        cap = TERMLOG_MAX + 1;
    const char *base = bundle ? strrchr(bundle, '/') : NULL;
    int n = snprintf(out, cap, "crashbox: %s %s: %.600s%s%s\nbundle: %s\n", service, kind, message,
                     culprit && *culprit ? "\nat " : "", culprit && *culprit ? culprit : "",
                     bundle ? (base ? base + 1 : bundle) : "(none)");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int termlog_write(const char *path, const char *text, size_t len)
{
    /* Never created: the kubelet mounts it when it wants one. */
    _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    return write_all(fd, text, len);
}
