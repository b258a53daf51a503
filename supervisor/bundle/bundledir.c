/* SPDX-License-Identifier: MIT */
#include "bundledir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bundle.h"
#include "bundlename.h"
#include "shipconf.h"
#include "util.h"

#define INDEX_MAX_BYTES (64u << 20)

/* ---- index lines ---- */

static size_t put_escaped(char *out, size_t cap, size_t o, const char *s)
{
    for (; *s; s++) {
        const char *rep = NULL;
        char one[2] = {*s, 0};
        if (*s == '\t')
            rep = "\\t";
        else if (*s == '\n')
            rep = "\\n";
        else if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\r')
            rep = "\\r";
        for (const char *r = rep ? rep : one; *r; r++) {
            if (o + 1 < cap)
                out[o] = *r;
            o++;
        }
    }
    return o;
}

size_t index_format_line(const struct index_entry *e, char *out, size_t cap)
{
    char head[96];
    int hn = snprintf(head, sizeof head, "v1\t%c\t%lld\t", e->type, (long long)e->time);
    size_t o = 0;
    for (int i = 0; i < hn; i++, o++)
        if (o + 1 < cap)
            out[o] = head[i];
    const char *fields[] = {e->service, e->kind, e->fingerprint};
    for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
        o = put_escaped(out, cap, o, fields[i]);
        if (o + 1 < cap)
            out[o] = '\t';
        o++;
    }
    char sz[32];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)e->size);
    const char *rest[] = {sz, e->name, e->culprit, e->message};
    for (size_t i = 0; i < ARRAY_SIZE(rest); i++) {
        o = put_escaped(out, cap, o, rest[i]);
        if (o + 1 < cap)
            out[o] = i + 1 < ARRAY_SIZE(rest) ? '\t' : '\n';
        o++;
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return o;
}

/* Copies field [s, e) unescaped into dst. */
static void unescape(char *dst, size_t cap, const char *s, const char *e)
{
    size_t o = 0;
    for (; s < e && o + 1 < cap; s++) {
        char c = *s;
        if (c == '\\' && s + 1 < e) {
            s++;
            c = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
}

int index_parse_line(const char *line, size_t len, struct index_entry *e)
{
    const char *f[10], *fe[10];
    const char *p = line, *end = line + len;
    for (int i = 0; i < 10; i++) {
        const char *t = i < 9 ? memchr(p, '\t', (size_t)(end - p)) : NULL;
        if (!t && i < 9)
            return -EINVAL;
        f[i] = p;
        fe[i] = t ? t : end;
        p = t ? t + 1 : end;
    }
    if (fe[0] - f[0] != 2 || memcmp(f[0], "v1", 2) != 0 || fe[1] - f[1] != 1 ||
        !strchr("BSD", f[1][0]) || !f[1][0])
        return -EINVAL;
    *e = (struct index_entry){.type = f[1][0]};
    char num[32];
    unescape(num, sizeof num, f[2], fe[2]);
    char *x;
    e->time = (time_t)strtoll(num, &x, 10);
    if (*x || x == num)
        return -EINVAL;
    unescape(e->service, sizeof e->service, f[3], fe[3]);
    unescape(e->kind, sizeof e->kind, f[4], fe[4]);
    unescape(e->fingerprint, sizeof e->fingerprint, f[5], fe[5]);
    unescape(num, sizeof num, f[6], fe[6]);
    e->size = strtoull(num, &x, 10);
    if (*x || x == num)
        return -EINVAL;
    unescape(e->name, sizeof e->name, f[7], fe[7]);
    unescape(e->culprit, sizeof e->culprit, f[8], fe[8]);
    unescape(e->message, sizeof e->message, f[9], fe[9]);
    return 0;
}

/* ---- names ---- */

/* ---- the directory ---- */

int bundledir_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && mkdir(path, 0750) == 0)
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int bundledir_run_open(int dirfd, bool create)
{
    if (create && mkdirat(dirfd, BUNDLEDIR_RUN, 01770) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(dirfd, BUNDLEDIR_RUN, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* flock'd: a cleaner takes an unlocked one for a dead writer's. One may take
 * ours between the open and the lock (the lock fails, or the file is gone
 * when we hold it), or remove the run directory, empty, between our mkdir
 * and our open: then again, a few times. */
int bundledir_tmp_open(int dirfd, const char *tmp, int flags, int *run)
{
    *run = -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        _cleanup_close_ int sub = bundledir_run_open(dirfd, true);
        if (sub == -ENOENT)
            continue;
        if (sub < 0)
            return sub;
        int fd = openat(sub, tmp, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0)
            return -errno;
        struct stat st;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0) {
            *run = steal_fd(&sub);
            return fd;
        }
        close(fd);
        (void)unlinkat(sub, tmp, 0); /* ours, or already the cleaner's doing */
    }
    return -EAGAIN;
}

size_t bundledir_clean_leftovers(int dirfd)
{
    _cleanup_close_ int run = bundledir_run_open(dirfd, false);
    if (run < 0)
        return 0;
    _cleanup_closedir_ DIR *dir = opendirat(run, ".");
    if (!dir)
        return 0;
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, BUNDLE_TMP_PREFIX, strlen(BUNDLE_TMP_PREFIX)) != 0)
            continue;
        /* O_NONBLOCK: a FIFO named like ours must not hang us. */
        _cleanup_close_ int fd = openat(run, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        /* A live writer holds its temporary file locked. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
            continue;
        if (unlinkat(run, e->d_name, 0) == 0)
            removed++;
    }
    return removed;
}

int bundledir_lock(int dirfd)
{
    int fd = openat(dirfd, BUNDLEDIR_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0660);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int r = -errno;
            close(fd);
            return r;
        }
    }
    return fd;
}

int bundledir_index_read(int dirfd, struct index_entry **v, size_t *n)
{
    *v = NULL;
    *n = 0;
    _cleanup_close_ int fd = openat(dirfd, BUNDLEDIR_INDEX, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    _cleanup_free_ char *buf = NULL;
    size_t len;
    bool truncated;
    int r = read_fd_capped(fd, INDEX_MAX_BYTES, &buf, &len, &truncated);
    if (r < 0)
        return r;
    size_t cap = 0, cnt = 0;
    struct index_entry *arr = NULL;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* a line still being written, or cut: ignored */
        struct index_entry e;
        if (index_parse_line(p, (size_t)(nl - p), &e) == 0) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                struct index_entry *na = realloc(arr, cap * sizeof *na);
                if (!na) {
                    free(arr);
                    return -ENOMEM;
                }
                arr = na;
            }
            arr[cnt++] = e;
        }
        p = nl + 1;
    }
    *v = arr;
    *n = cnt;
    return 0;
}

int bundledir_index_append(int dirfd, const struct index_entry *e)
{
    char line[2048];
    size_t n = index_format_line(e, line, sizeof line);
    if (n >= sizeof line)
        return -E2BIG;
    _cleanup_close_ int fd =
        openat(dirfd, BUNDLEDIR_INDEX, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    return write_all(fd, line, n); /* O_APPEND: one write, one line */
}

static bool same_crash(const struct index_entry *e, const char *service, const char *fingerprint)
{
    return strcmp(e->fingerprint, fingerprint) == 0 && strcmp(e->service, service) == 0;
}

bool bundledir_rate_allows(const struct index_entry *v, size_t n, const char *service, const char *fingerprint,
                           time_t now, const struct policy *p, uint64_t *suppressed_since_last)
{
    time_t window = (time_t)(p->rate_limit_window_ms / 1000);
    uint64_t full_in_window = 0, suppressed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!same_crash(&v[i], service, fingerprint))
            continue;
        if (v[i].type == 'B' || v[i].type == 'D') { /* 'D': it was written, then lost */
            suppressed = 0; /* counted from the last full bundle on */
            if (v[i].time > now - window)
                full_in_window++;
        } else {
            suppressed++;
        }
    }
    *suppressed_since_last = suppressed;
    return full_in_window < p->rate_limit_burst;
}

/* Rewrites the index without entries of bundles that are gone and without
 * suppression records older than the rate-limit window. Under the lock. */
/* lost: the bundles retention just deleted unshipped; each gets a 'D' line,
 * with the summary its 'B' line had, so the index (not only the log) says
 * which crashes never reached the store. */
static void bundledir_index_compact(int dirfd, time_t now, const struct policy *p, struct index_entry *lost,
                                    size_t nlost)
{
    struct index_entry *v;
    size_t n;
    if (bundledir_index_read(dirfd, &v, &n) < 0 || n == 0)
        return;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%sindex-%d", BUNDLE_TMP_PREFIX, (int)getpid());
    _cleanup_close_ int run = -1;
    _cleanup_close_ int fd = bundledir_tmp_open(dirfd, tmp, O_WRONLY, &run);
    if (fd < 0) {
        free(v);
        return;
    }
    time_t window = (time_t)(p->rate_limit_window_ms / 1000);
    int r = 0;
    char line[2048];
    for (size_t i = 0; i < n && r == 0; i++) {
        struct stat st;
        if (v[i].type == 'B' && fstatat(dirfd, v[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            for (size_t k = 0; k < nlost; k++)
                if (strcmp(lost[k].name, v[i].name) == 0) {
                    lost[k] = v[i];
                    lost[k].type = 'D';
                }
            continue;
        }
        if (v[i].type == 'D' && v[i].time < now - (time_t)(p->max_age_ms / 1000))
            continue;
        if (v[i].type == 'S' && v[i].time < now - window) {
            /* still needed if no full bundle of it came since: keep the newest ones */
            bool later_full = false;
            for (size_t k = i + 1; k < n; k++)
                if (v[k].type == 'B' && same_crash(&v[k], v[i].service, v[i].fingerprint))
                    later_full = true;
            if (later_full)
                continue;
        }
        size_t len = index_format_line(&v[i], line, sizeof line);
        if (len < sizeof line)
            r = write_all(fd, line, len);
    }
    for (size_t k = 0; k < nlost && r == 0; k++) {
        size_t len = index_format_line(&lost[k], line, sizeof line);
        if (len < sizeof line)
            r = write_all(fd, line, len);
    }
    free(v);
    if (r == 0 && fchmod(fd, 0640) == 0 && renameat(run, tmp, dirfd, BUNDLEDIR_INDEX) == 0)
        return;
    unlinkat(run, tmp, 0);
}

struct ours {
    char name[256];
    time_t time;
    struct timespec mtime; /* orders bundles of the same second */
    off_t size;
    char service[80];
};

static int by_time(const void *a, const void *b)
{
    const struct ours *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

size_t bundledir_enforce_retention(int dirfd, const char *service, time_t now, const struct policy *p,
                                   size_t *unshipped_deleted)
{
    /* Where a shipper keeps its journal, a bundle not yet shipped outlives
     * the soft limits (age, counts); only the space limits may take it. */
    _cleanup_free_ char *journal = NULL;
    _cleanup_free_ char **shipped = NULL;
    size_t jlen, nshipped = 0;
    bool shipping = read_file_at(dirfd, SHIP_JOURNAL, 256 << 20, &journal, &jlen) == 0 &&
                    ship_journal_parse(journal, jlen, &shipped, &nshipped) == 0;
    *unshipped_deleted = 0;
    _cleanup_closedir_ DIR *dir = opendirat(dirfd, ".");
    if (!dir)
        return 0;
    struct ours *all = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        struct bundle_name_parts parts;
        if (!bundle_name_parse(e->d_name, &parts))
            continue; /* foreign files are never ours to delete */
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct ours *na = realloc(all, cap * sizeof *na);
            if (!na)
                break;
            all = na;
        }
        struct ours *o = &all[n++];
        snprintf(o->name, sizeof o->name, "%s", e->d_name);
        snprintf(o->service, sizeof o->service, "%s", parts.service);
        o->time = parts.time;
        o->mtime = st.st_mtim;
        o->size = st.st_size;
    }
    if (!all)
        return 0;
    qsort(all, n, sizeof *all, by_time);
    uint64_t total = 0, count = n, mine = 0;
    for (size_t i = 0; i < n; i++) {
        total += (uint64_t)all[i].size;
        if (strcmp(all[i].service, service) == 0)
            mine++;
    }
    struct statvfs vfs;
    bool have_vfs = fstatvfs(dirfd, &vfs) == 0;
    uint64_t free_bytes = have_vfs ? (uint64_t)vfs.f_bavail * vfs.f_frsize : UINT64_MAX;
    time_t max_age = (time_t)(p->max_age_ms / 1000);
    size_t deleted = 0;
    _cleanup_free_ struct index_entry *lost = calloc(n, sizeof *lost);
    for (size_t i = 0; i < n; i++) { /* oldest first */
        bool is_mine = strcmp(all[i].service, service) == 0;
        bool too_old = all[i].time < now - max_age;
        bool over = count > p->max_total_bundles || total > p->max_total_size ||
                    (have_vfs && free_bytes < p->keep_free) || (is_mine && mine > p->max_bundles);
        if (!too_old && !over)
            continue;
        bool space = total > p->max_total_size || (have_vfs && free_bytes < p->keep_free);
        bool unshipped = shipping && !ship_journal_has(shipped, nshipped, all[i].name);
        if (unshipped && !space)
            continue;
        /* Never the newest bundle: a crash loop must leave its evidence. */
        if (i + 1 == n)
            break;
        if (unlinkat(dirfd, all[i].name, 0) == 0) {
            deleted++;
            count--;
            total -= (uint64_t)all[i].size;
            free_bytes += (uint64_t)all[i].size;
            if (is_mine)
                mine--;
            if (unshipped && lost) {
                /* its summary from the name, until compaction finds its 'B' line */
                struct bundle_name_parts parts;
                struct index_entry *l = &lost[(*unshipped_deleted)];
                bundle_name_parse(all[i].name, &parts);
                *l = (struct index_entry){.type = 'D', .time = parts.time, .size = (uint64_t)all[i].size};
                snprintf(l->service, sizeof l->service, "%s", parts.service);
                snprintf(l->kind, sizeof l->kind, "%s", parts.kind);
                snprintf(l->name, sizeof l->name, "%s", all[i].name);
            }
            *unshipped_deleted += unshipped;
        }
    }
    free(all);
    bundledir_index_compact(dirfd, now, p, lost, lost ? *unshipped_deleted : 0);
    return deleted;
}
