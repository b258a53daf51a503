/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum log_level log_max = LOG_INFO;

static const char *const level_names[] = {
    [LOG_ERROR] = "error",
    [LOG_WARN] = "warning",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level max) { log_max = max; }

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    int saved = errno;
    char line[1024];
    int off = snprintf(line, sizeof line, "crashbox: %s: ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof line - (size_t)off - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    /* One write per line so concurrent writers never interleave mid-line. */
    (void)write_all(STDERR_FILENO, line, len);
    errno = saved;
}
