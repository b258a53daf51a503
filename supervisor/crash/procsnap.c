/* SPDX-License-Identifier: MIT */
#include "procsnap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redact.h"
#include "util.h"

#define CAP_BIG (8u << 20)
#define CAP_SMALL (1u << 20)

/* Reads relative to procfd; a file at its cap is kept, marked truncated. */
static void add_file(int procfd, const char *file, const char *member, size_t cap, struct items *out)
{
    _cleanup_close_ int fd = openat(procfd, file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        items_add_missing(out, member, strerror(errno));
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    bool truncated;
    int r = read_fd_capped(fd, cap, &buf, &len, &truncated);
    if (r < 0) {
        items_add_missing(out, member, strerror(-r));
        return;
    }
    items_add(out, member, buf, len, truncated);
}

static void add_environ(int procfd, const struct strlist *extra, struct items *out)
{
    _cleanup_free_ char *raw = NULL;
    size_t len;
    int r = read_file_at(procfd, "environ", CAP_SMALL, &raw, &len);
    if (r < 0) {
        items_add_missing(out, "proc/environ", strerror(-r));
        return;
    }
    char *red;
    size_t rlen;
    if (redact_environ(raw, len, extra, &red, &rlen) < 0) {
        items_add_missing(out, "proc/environ", "out of memory");
        return;
    }
    items_add(out, "proc/environ", red, rlen, false);
}

/* A growable text buffer for the listings below. */
struct text {
    char *s;
    size_t n, cap;
};

static void text_printf(struct text *t, const char *fmt, ...) _printf_(2, 3);
static void text_printf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (int pass = 0; pass < 2; pass++) {
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (t->s && t->n + (size_t)k < t->cap) {
            t->n += (size_t)k;
            return;
        }
        size_t ncap = (t->cap ? t->cap : 4096);
        while (ncap <= t->n + (size_t)k)
            ncap *= 2;
        char *s = realloc(t->s, ncap);
        if (!s)
            return;
        t->s = s;
        t->cap = ncap;
    }
}

static void add_fds(int procfd, struct items *out)
{
    _cleanup_closedir_ DIR *dir = opendirat(procfd, "fd");
    if (!dir) {
        items_add_missing(out, "proc/fds", strerror(errno));
        return;
    }
    struct text t = {0};
    struct dirent *e;
    size_t count = 0;
    while ((e = readdir(dir)) && t.n < CAP_SMALL) {
        if (e->d_name[0] == '.')
            continue;
        char target[4096];
        ssize_t k = readlinkat(dirfd(dir), e->d_name, target, sizeof target - 1);
        target[k > 0 ? k : 0] = '\0';
        text_printf(&t, "%s -> %s\n", e->d_name, k > 0 ? target : "?");
        count++;
    }
    if (!t.s)
        text_printf(&t, "%s", "");
    items_add(out, "proc/fds", t.s, t.n, e != NULL);
}

static void add_threads(int procfd, struct items *out)
{
    _cleanup_closedir_ DIR *dir = opendirat(procfd, "task");
    if (!dir) {
        items_add_missing(out, "proc/threads", strerror(errno));
        return;
    }
    struct text t = {0};
    text_printf(&t, "tid\tname\tstate\twchan\n");
    struct dirent *e;
    while ((e = readdir(dir)) && t.n < CAP_SMALL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[64] = "?", stat[512] = "", wchan[128] = "?";
        snprintf(path, sizeof path, "%s/comm", e->d_name);
        _cleanup_free_ char *b = NULL;
        if (read_file_at(dirfd(dir), path, sizeof comm - 1, &b, NULL) == 0) {
            snprintf(comm, sizeof comm, "%s", b);
            comm[strcspn(comm, "\n")] = '\0';
        }
        free(b);
        b = NULL;
        snprintf(path, sizeof path, "%s/stat", e->d_name);
        char state = '?';
        if (read_file_at(dirfd(dir), path, sizeof stat - 1, &b, NULL) == 0) {
            const char *close = strrchr(b, ')');
            if (close && close[1] == ' ')
                state = close[2];
        }
        free(b);
        b = NULL;
        snprintf(path, sizeof path, "%s/wchan", e->d_name);
        if (read_file_at(dirfd(dir), path, sizeof wchan - 1, &b, NULL) == 0 && *b)
            snprintf(wchan, sizeof wchan, "%s", b);
        text_printf(&t, "%s\t%s\t%c\t%s\n", e->d_name, comm, state, wchan);
    }
    items_add(out, "proc/threads", t.s, t.n, e != NULL);
}

void procsnap_collect(int procfd, const struct strlist *redact_extra, long long deadline_ms,
                      struct items *out)
{
    static const struct {
        const char *file, *member;
        size_t cap;
    } files[] = {
        {"status", "proc/status", CAP_SMALL},
        {"maps", "proc/maps", CAP_BIG},
        {"smaps_rollup", "proc/smaps_rollup", CAP_SMALL},
        {"smaps", "proc/smaps", CAP_BIG},
        {"limits", "proc/limits", CAP_SMALL},
        {"cmdline", "proc/cmdline", CAP_SMALL},
        {"cgroup", "proc/cgroup", CAP_SMALL},
        {"mountinfo", "proc/mountinfo", CAP_SMALL},
        {"oom_score_adj", "proc/oom_score_adj", 64},
        {"oom_score", "proc/oom_score", 64},
    };
    /* The order is what matters most first: an over-budget snapshot keeps it. */
    for (size_t i = 0; i < ARRAY_SIZE(files) + 3; i++) {
        const char *member = i < ARRAY_SIZE(files) ? files[i].member
                             : i == ARRAY_SIZE(files)   ? "proc/environ"
                             : i == ARRAY_SIZE(files) + 1 ? "proc/fds"
                                                          : "proc/threads";
        if (now_ms() > deadline_ms) {
            items_add_missing(out, member, "snapshot time budget exhausted");
            continue;
        }
        if (i < ARRAY_SIZE(files))
            add_file(procfd, files[i].file, member, files[i].cap, out);
        else if (i == ARRAY_SIZE(files))
            add_environ(procfd, redact_extra, out);
        else if (i == ARRAY_SIZE(files) + 1)
            add_fds(procfd, out);
        else
            add_threads(procfd, out);
    }
}
