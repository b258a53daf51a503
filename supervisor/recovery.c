/* SPDX-License-Identifier: MIT */
#include "recovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "bundledir.h"
#include "bundleread.h"
#include "cgroup.h"
#include "goparse.h"
#include "items.h"
#include "json.h"
#include "log.h"
#include "util.h"

int oom_protect_self(char *orig, size_t cap)
{
    _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = pread(fd, orig, cap - 1, 0);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    orig[n] = '\0';
    orig[strcspn(orig, "\n")] = '\0';
    if (pwrite(fd, "-1000", 5, 0) != 5)
        return -errno;
    return 0;
}

bool oom_group_kill_enabled(void)
{
    const char *root = getenv("CRASHBOX_CGROUP_ROOT");
    _cleanup_free_ struct cgroup_memory *m = calloc(1, sizeof *m);
    _cleanup_free_ char *val = NULL;
    size_t vlen;
    char file[4200];
    if (!m || cgroup_memory_of(getpid(), root && *root ? root : NULL, m) < 0 || m->version != CGROUP_V2)
        return false;
    snprintf(file, sizeof file, "%s/memory.oom.group", m->dir);
    return read_file_at(AT_FDCWD, file, 64, &val, &vlen) == 0 && vlen > 0 && val[0] == '1';
}

size_t state_format(const struct service_state *s, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "service=%s\nhost=%s\npid=%d\nstarted=%lld\nlimit_bytes=%" PRIu64 "\nusage_bytes=%" PRIu64
                     "\nwatermark=%u\noom_kills=%" PRIu64 "\ncgroup=%s\n",
                     s->service, s->host, (int)s->pid, s->started, s->limit_bytes, s->usage_bytes, s->watermark,
                     s->oom_kills, s->cgroup);
    return n < 0 ? 0 : (size_t)n;
}

int state_parse(const char *buf, size_t len, struct service_state *s)
{
    *s = (struct service_state){0};
    const char *p = buf, *end = buf + len;
    int fields = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (eq) {
            char key[32], val[512];
            snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
            snprintf(val, sizeof val, "%.*s", (int)(le - eq - 1), eq + 1);
            fields++;
            if (!strcmp(key, "service"))
                snprintf(s->service, sizeof s->service, "%.79s", val);
            else if (!strcmp(key, "host"))
                snprintf(s->host, sizeof s->host, "%.63s", val);
            else if (!strcmp(key, "pid"))
                s->pid = (pid_t)atoi(val);
            else if (!strcmp(key, "started"))
                s->started = atoll(val);
            else if (!strcmp(key, "limit_bytes"))
                s->limit_bytes = strtoull(val, NULL, 10);
            else if (!strcmp(key, "usage_bytes"))
                s->usage_bytes = strtoull(val, NULL, 10);
            else if (!strcmp(key, "watermark"))
                s->watermark = (unsigned)atoi(val);
            else if (!strcmp(key, "oom_kills"))
                s->oom_kills = strtoull(val, NULL, 10);
            else if (!strcmp(key, "cgroup"))
                snprintf(s->cgroup, sizeof s->cgroup, "%s", val);
            else
                fields--;
        }
        p = nl ? nl + 1 : end;
    }
    return s->service[0] && s->pid > 0 && fields >= 3 ? 0 : -EINVAL;
}

bool state_shows_oom(const struct service_state *s, bool have_now, uint64_t oom_kills_now)
{
    if (have_now && oom_kills_now > s->oom_kills)
        return true;
    if (s->watermark >= 90)
        return true;
    return s->limit_bytes && s->usage_bytes >= s->limit_bytes / 10 * 9;
}

void state_name(char *out, size_t cap, const char *service, const char *host, pid_t supervisor)
{
    snprintf(out, cap, ".crashbox-state-%s-%s-%d", service, host, (int)supervisor);
}

/* State files live in a subdirectory of their own, so that the scan for
 * a previous run's at every start does not grow with the bundles. Sticky
 * and group-writable: supervisors of several users may share the directory. */
#define STATE_DIR ".crashbox-run"

static int state_dir_open(int dirfd, bool create)
{
    if (create && mkdirat(dirfd, STATE_DIR, 01770) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(dirfd, STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int state_open(int dirfd, const char *service, const char *host)
{
    char name[200];
    state_name(name, sizeof name, service, host, getpid());
    int fd = -ENOENT;
    /* Another supervisor may remove the directory, empty, between our
     * mkdir and our open: then again. */
    for (int i = 0; i < 3 && fd == -ENOENT; i++) {
        _cleanup_close_ int sub = state_dir_open(dirfd, true);
        if (sub < 0)
            return sub;
        fd = openat(sub, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
        if (fd < 0)
            fd = -errno;
    }
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int r = errno ? -errno : -EINVAL;
        close(fd);
        return r;
    }
    return fd;
}

int state_write(int fd, const struct service_state *s)
{
    /* In place (the lock is on this file), no fsync: it must survive the
     * death of processes, which the page cache does, and must not hold
     * supervision on a slow filesystem. */
    char text[1024];
    size_t n = state_format(s, text, sizeof text);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, n, 0) != (ssize_t)n)
        return -errno;
    return 0;
}

void state_remove(int dirfd, int fd, const char *service, const char *host)
{
    char name[200];
    state_name(name, sizeof name, service, host, getpid());
    _cleanup_close_ int sub = state_dir_open(dirfd, false);
    if (sub >= 0)
        unlinkat(sub, name, 0);
    /* Left empty, it goes: a directory that had no crash looks untouched. */
    (void)unlinkat(dirfd, STATE_DIR, AT_REMOVEDIR);
    (void)fd;
}


int recovery_run(const struct policy *p, const char *service, const char *host)
{
    if (!p->bundle_dir)
        return 0;
    _cleanup_close_ int dfd = bundledir_open(p->bundle_dir);
    if (dfd < 0)
        return 0;
    _cleanup_close_ int sdir = state_dir_open(dfd, false);
    if (sdir < 0)
        return 0;
    /* State files of this service on this host whose crashbox is gone:
     * a live one holds its lock. */
    char want[200], name[256] = "";
    snprintf(want, sizeof want, ".crashbox-state-%s-%s-", service, host);
    _cleanup_close_ int sfd = -1;
    {
        _cleanup_closedir_ DIR *sd = opendirat(sdir, ".");
        struct dirent *se;
        while (sd && (se = readdir(sd))) {
            if (strncmp(se->d_name, want, strlen(want)) != 0)
                continue;
            int fd = openat(sdir, se->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
                continue;
            struct stat st1, st2;
            /* Locked: alive. Unlinked meanwhile: its owner just ended
             * cleanly. Empty and recent: its owner is creating it. */
            if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st1) < 0 || st1.st_nlink == 0 ||
                fstatat(sdir, se->d_name, &st2, AT_SYMLINK_NOFOLLOW) < 0 || st2.st_ino != st1.st_ino ||
                (st1.st_size == 0 && time(NULL) - st1.st_mtime < 60)) {
                close(fd);
                continue;
            }
            sfd = fd;
            snprintf(name, sizeof name, "%s", se->d_name);
            break;
        }
    }
    if (sfd < 0)
        return 0;
    _cleanup_free_ char *text = NULL;
    size_t len;
    struct service_state st;
    if (read_fd_all(sfd, 4096, &text, &len) < 0 || state_parse(text, len, &st) < 0) {
        log_warn("%s/%s/%s: unreadable state file, removed", p->bundle_dir, STATE_DIR, name);
        unlinkat(sdir, name, 0);
        return -EINVAL;
    }
    /* The cgroup's OOM counter now, if it is the same cgroup. */
    uint64_t kills_now = 0;
    bool have_now = false;
    if (st.cgroup[0]) {
        _cleanup_close_ int cg = open(st.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *b = NULL;
        size_t bl;
        if (cg >= 0 && (read_file_at(cg, "memory.events", 1 << 16, &b, &bl) == 0 ||
                        read_file_at(cg, "memory.oom_control", 1 << 16, &b, &bl) == 0))
            have_now = cgroup_keyed_value(b, bl, "oom_kill", &kills_now) == 0;
    }
    bool oom = state_shows_oom(&st, have_now, kills_now);
    const char *kind = oom ? "oom-kill" : "supervisor-killed";
    char note[400];
    snprintf(note, sizeof note,
             "inferred at the next start: crashbox (pid %d's supervisor) ended without an end record; %s",
             (int)st.pid,
             oom ? (have_now && kills_now > st.oom_kills
                        ? "the cgroup's OOM-kill counter rose since the service started"
                        : "memory was near its limit when last seen (watermarks crossed)")
                 : "memory was not near its limit when last seen");
    /* Members: the state, and the pending pre-OOM snapshots of that run. */
    struct items it = {0};
    items_add_copy(&it, "state.txt", text, len);
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".crashbox-pending-%s-%s-%d-", service, host, (int)st.pid);
    _cleanup_closedir_ DIR *d = opendirat(dfd, ".");
    struct dirent *e;
    unsigned crossed[8];
    size_t ncrossed = 0;
    char pending[8][300];
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || ncrossed == 8)
            continue;
        unsigned pct = (unsigned)atoi(e->d_name + strlen(prefix));
        char pfx[32];
        snprintf(pfx, sizeof pfx, "pre-oom/%u/", pct);
        if (bundle_read_into_items(dfd, e->d_name, pfx, 8 << 20, &it) == 0) {
            crossed[ncrossed] = pct;
            snprintf(pending[ncrossed++], sizeof pending[0], "%s", e->d_name);
        }
    }
    time_t now = time(NULL);
    struct json j;
    json_init(&j, true);
    json_obj_begin(&j);
    json_kv_str(&j, "schema", "crashbox.bundle/1");
    json_kv_str(&j, "service", service);
    json_kv_str(&j, "host", host);
    char when[32];
    format_utc(now, when, sizeof when);
    json_kv_str(&j, "time", when);
    json_kv_int(&j, "pid", st.pid);
    json_key(&j, "exit");
    json_obj_begin(&j);
    json_key(&j, "code");
    json_null(&j);
    json_kv_str(&j, "signal", oom ? "SIGKILL" : NULL);
    json_obj_end(&j);
    json_key(&j, "crash");
    json_obj_begin(&j);
    json_kv_str(&j, "kind", kind);
    json_kv_str(&j, "message", oom ? "the service and crashbox were killed together, most likely by a group OOM kill"
                                   : "crashbox was killed with the service still running");
    json_kv_str(&j, "note", note);
    json_key(&j, "culprit");
    json_null(&j);
    json_key(&j, "frames");
    json_arr_begin(&j);
    json_arr_end(&j);
    /* As for any crash without a Go report: one per service and kind, so
     * `top` never folds one service's group OOM kills into another's. */
    char fp[17], svc[96];
    snprintf(svc, sizeof svc, "service=%s", service);
    const char *parts[] = {svc};
    crash_fingerprint(kind, "", parts, ARRAY_SIZE(parts), fp);
    json_kv_str(&j, "fingerprint", fp);
    json_obj_end(&j);
    json_key(&j, "memory");
    json_obj_begin(&j);
    json_kv_uint(&j, "limit_bytes", st.limit_bytes);
    json_kv_uint(&j, "usage_bytes", st.usage_bytes);
    json_key(&j, "watermarks_crossed");
    json_arr_begin(&j);
    for (size_t i = 0; i < ncrossed; i++) {
        json_obj_begin(&j);
        json_kv_uint(&j, "percent", crossed[i]);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_obj_end(&j);
    json_key(&j, "snapshot");
    json_obj_begin(&j);
    json_kv_str(&j, "taken", "recovered");
    json_obj_end(&j);
    json_obj_end(&j);
    char bname[400], pid[32];
    snprintf(pid, sizeof pid, "%d", (int)st.pid);
    bundle_name(bname, sizeof bname, service, now, host, pid, kind);
    size_t bytes;
    int r = json_failed(&j) ? -ENOMEM
                            : bundle_write(dfd, bname, j.buf, j.len, &it, now, (unsigned)p->bundle_mode, (gid_t)-1,
                                           &bytes);
    json_free(&j);
    items_free(&it);
    if (r < 0) {
        log_warn("cannot write the %s bundle of the previous run: %s", kind, strerror(-r));
        return r;
    }
    struct index_entry ie = {.type = 'B', .time = now, .size = bytes};
    snprintf(ie.service, sizeof ie.service, "%s", service);
    snprintf(ie.kind, sizeof ie.kind, "%s", kind);
    snprintf(ie.fingerprint, sizeof ie.fingerprint, "%s", fp);
    snprintf(ie.name, sizeof ie.name, "%.255s", bname);
    snprintf(ie.message, sizeof ie.message, "%s", oom ? "killed together with crashbox (group OOM kill)" : "crashbox was killed");
    (void)bundledir_index_append(dfd, &ie);
    for (size_t i = 0; i < ncrossed; i++)
        unlinkat(dfd, pending[i], 0);
    unlinkat(sdir, name, 0);
    log_warn("the previous run ended without crashbox's end record: %s bundle %s/%s (%s)", kind, p->bundle_dir, bname,
             note);
    return 1;
}
