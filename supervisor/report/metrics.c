/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundlename.h"
#include "bundledir.h"
#include "classify.h"
#include "util.h"

/* Label values: backslash, quote and newline escaped, as the format wants. */
static void label(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 3 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            out[n++] = '\\';
            out[n++] = *s;
        } else if (*s == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

size_t metrics_format(const struct metrics *m, char *out, size_t cap)
{
    char svc[200], dir[1100];
    label(svc, sizeof svc, m->service);
    label(dir, sizeof dir, m->dir);
    size_t n = 0;
#define OUT(...)                                                                    \
    do {                                                                            \
        int k = snprintf(out + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__); \
        if (k > 0)                                                                  \
            n += (size_t)k;                                                         \
    } while (0)
    OUT("# HELP crashbox_crashes_total Crashes of the service, by kind.\n");
    OUT("# TYPE crashbox_crashes_total counter\n");
    for (int kind = CRASH_NONE + 1; kind < CRASH_KINDS; kind++)
        if (kind != CRASH_MEMORY_HIGH) /* the service lived on: not a crash */
            OUT("crashbox_crashes_total{service=\"%s\",kind=\"%s\"} %llu\n", svc,
                crash_kind_name((enum crash_kind)kind), (unsigned long long)m->crashes[kind]);
    OUT("# HELP crashbox_restarts_total Restarts of the service by crashbox.\n");
    OUT("# TYPE crashbox_restarts_total counter\n");
    OUT("crashbox_restarts_total{service=\"%s\"} %llu\n", svc, (unsigned long long)m->restarts);
    OUT("# HELP crashbox_outlived_oom_kills_total OOM kills of other processes in the service's memory cgroup "
        "that the service outlived.\n");
    OUT("# TYPE crashbox_outlived_oom_kills_total counter\n");
    OUT("crashbox_outlived_oom_kills_total{service=\"%s\"} %llu\n", svc, (unsigned long long)m->outlived_oom_kills);
    OUT("# HELP crashbox_last_crash_timestamp_seconds When the service last crashed (0: never).\n");
    OUT("# TYPE crashbox_last_crash_timestamp_seconds gauge\n");
    OUT("crashbox_last_crash_timestamp_seconds{service=\"%s\"} %lld\n", svc, (long long)m->last_crash);
    if (m->dir[0]) {
        OUT("# HELP crashbox_bundle_dir_bytes Bytes of crash bundles in the bundle directory.\n");
        OUT("# TYPE crashbox_bundle_dir_bytes gauge\n");
        OUT("crashbox_bundle_dir_bytes{dir=\"%s\"} %llu\n", dir, (unsigned long long)m->dir_bytes);
        OUT("# HELP crashbox_bundle_dir_bundles Crash bundles in the bundle directory.\n");
        OUT("# TYPE crashbox_bundle_dir_bundles gauge\n");
        OUT("crashbox_bundle_dir_bundles{dir=\"%s\"} %llu\n", dir, (unsigned long long)m->dir_bundles);
    }
#undef OUT
    return n;
}

void metrics_scan_dir(struct metrics *m, const char *dir)
{
    m->dir_bytes = m->dir_bundles = 0;
    snprintf(m->dir, sizeof m->dir, "%s", dir ? dir : "");
    if (!dir)
        return;
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct bundle_name_parts parts;
        struct stat st;
        if (bundle_name_parse(e->d_name, &parts) &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            m->dir_bytes += (uint64_t)st.st_size;
            m->dir_bundles++;
        }
    }
}

int metrics_write(const char *path, const struct metrics *m)
{
    char text[8192];
    size_t n = metrics_format(m, text, sizeof text);
    if (n >= sizeof text)
        return -E2BIG;
    char tmp[4200];
    /* node_exporter ignores files not ending in .prom: the temporary one is skipped. */
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, text, n);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}
