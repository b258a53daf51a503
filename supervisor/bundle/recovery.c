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
#include "items.h"
#include "log.h"
#include "store.h"
#include "util.h"

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


/* The state file of this service on this host whose crashbox is gone (a
 * live one holds its lock), opened and locked; its name in name. Returns
 * the fd, or -1 if there is none. */
static int dead_state_open(int dfd /* the state directory */, const char *service, const char *host, char *name, size_t cap)
{
    char want[200];
    snprintf(want, sizeof want, ".crashbox-state-%s-%s-", service, host);
    _cleanup_closedir_ DIR *sd = opendirat(dfd, ".");
    struct dirent *se;
    while (sd && (se = readdir(sd))) {
        if (strncmp(se->d_name, want, strlen(want)) != 0)
            continue;
        int fd = openat(dfd, se->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat st1, st2;
        /* Locked: alive. Unlinked meanwhile: its owner just ended cleanly.
         * Empty and recent: its owner is creating it. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st1) < 0 || st1.st_nlink == 0 ||
            fstatat(dfd, se->d_name, &st2, AT_SYMLINK_NOFOLLOW) < 0 || st2.st_ino != st1.st_ino ||
            (st1.st_size == 0 && time(NULL) - st1.st_mtime < 60)) {
            close(fd);
            continue;
        }
        snprintf(name, cap, "%s", se->d_name);
        return fd;
    }
    return -1;
}

/* The pending pre-OOM snapshots of that run, as members under
 * pre-oom/<percent>/ and crossings; their file names in pending. */
static void pending_snapshots(int dfd, const char *service, const char *host, pid_t pid, struct crash_evidence *ev,
                              char pending[][300])
{
    char prefix[300];
    snprintf(prefix, sizeof prefix, ".crashbox-pending-%s-%s-%d-", service, host, (int)pid);
    _cleanup_closedir_ DIR *d = opendirat(dfd, ".");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || ev->ncrossed == CRASH_MAX_CROSSED)
            continue;
        unsigned pct = (unsigned)atoi(e->d_name + strlen(prefix));
        char pfx[32];
        snprintf(pfx, sizeof pfx, "pre-oom/%u/", pct);
        if (bundle_read_into_items(dfd, e->d_name, pfx, 8 << 20, &ev->items) == 0) {
            ev->crossed[ev->ncrossed].percent = pct;
            snprintf(pending[ev->ncrossed++], 300, "%s", e->d_name);
        }
    }
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
    char name[256] = "";
    _cleanup_close_ int sfd = dead_state_open(sdir, service, host, name, sizeof name);
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
    /* The evidence: the state, the cgroup's OOM counter now (if it is the
     * same cgroup), and the pending pre-OOM snapshots of that run. */
    /* The bundle's time is when the run was last seen alive (the state
     * file's last update), not this start's. */
    time_t seen = (time_t)(st.seen ? st.seen : st.started);
    struct crash_evidence ev = {.at = seen > 0 ? seen : time(NULL), .recovered = &st};
    snprintf(ev.who.service, sizeof ev.who.service, "%s", service);
    snprintf(ev.who.host, sizeof ev.who.host, "%s", host);
    ev.who.pid = st.pid;
    if (st.cgroup[0]) {
        _cleanup_close_ int cg = open(st.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *b = NULL;
        size_t bl;
        if (cg >= 0 && (read_file_at(cg, "memory.events", 1 << 16, &b, &bl) == 0 ||
                        read_file_at(cg, "memory.oom_control", 1 << 16, &b, &bl) == 0))
            ev.have_kills_now = cgroup_keyed_value(b, bl, "oom_kill", &ev.kills_now) == 0;
    }
    items_add_copy(&ev.items, "state.txt", text, len);
    char pending[CRASH_MAX_CROSSED][300];
    pending_snapshots(dfd, service, host, st.pid, &ev, pending);
    /* The same record and the same store as a crash seen live. */
    struct crash_record rec;
    crash_record_build(&ev, 0, p, &rec);
    crash_evidence_free(&ev);
    char path[4096] = "";
    enum store_result res = store_record(&rec, p, true, NULL, (gid_t)-1, path, sizeof path);
    if (res == STORE_FAILED) { /* kept for the next start to try again */
        crash_record_free(&rec);
        return -EIO;
    }
    for (size_t i = 0; i < rec.ncrossed; i++)
        unlinkat(dfd, pending[i], 0);
    unlinkat(sdir, name, 0);
    log_warn("the previous run ended without crashbox's end record: %s bundle %s (%s)", crash_kind_name(rec.kind),
             res == STORE_WRITTEN ? path : "rate-limited", rec.note);
    crash_record_free(&rec);
    return 1;
}
