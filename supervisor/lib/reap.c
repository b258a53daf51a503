/* SPDX-License-Identifier: MIT */
#include "reap.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Claimed pids, shared by the supervising thread and bundle writers. */
static struct {
    pid_t pid;
    bool done;
    int status;
} claims[16];
static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;

int reap_claim(pid_t pid)
{
    pthread_mutex_lock(&claims_lock);
    int r = -ENOSPC;
    for (size_t i = 0; i < ARRAY_SIZE(claims); i++)
        if (claims[i].pid == 0) {
            claims[i].pid = pid;
            claims[i].done = false;
            r = 0;
            break;
        }
    pthread_mutex_unlock(&claims_lock);
    return r;
}

void reap_unclaim(pid_t pid)
{
    pthread_mutex_lock(&claims_lock);
    for (size_t i = 0; i < ARRAY_SIZE(claims); i++)
        if (claims[i].pid == pid)
            claims[i].pid = 0;
    pthread_mutex_unlock(&claims_lock);
}

static bool claim_record(pid_t pid, int status)
{
    bool claimed = false;
    pthread_mutex_lock(&claims_lock);
    for (size_t i = 0; i < ARRAY_SIZE(claims); i++)
        if (claims[i].pid == pid) {
            claims[i].done = true;
            claims[i].status = status;
            claimed = true;
        }
    pthread_mutex_unlock(&claims_lock);
    return claimed;
}

bool reap_is_claimed(pid_t pid)
{
    bool claimed = false;
    pthread_mutex_lock(&claims_lock);
    for (size_t i = 0; i < ARRAY_SIZE(claims); i++)
        if (claims[i].pid == pid)
            claimed = true;
    pthread_mutex_unlock(&claims_lock);
    return claimed;
}

int reap_wait_claimed(pid_t pid, long long deadline_ms, int *status)
{
    for (;;) {
        int st;
        pid_t p = waitpid(pid, &st, WNOHANG);
        if (p == pid) {
            *status = st;
            reap_unclaim(pid);
            return 0;
        }
        pthread_mutex_lock(&claims_lock);
        for (size_t i = 0; i < ARRAY_SIZE(claims); i++)
            if (claims[i].pid == pid && claims[i].done) {
                *status = claims[i].status;
                claims[i].pid = 0;
                pthread_mutex_unlock(&claims_lock);
                return 0;
            }
        pthread_mutex_unlock(&claims_lock);
        if (now_ms() >= deadline_ms)
            return -ETIMEDOUT;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void reap_children(pid_t main_pid, struct reap_result *out)
{
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG | WUNTRACED);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                out->no_children = true;
            return;
        }
        if (p == 0)
            return;
        if (WIFSTOPPED(st)) {
            if (p == main_pid) {
                out->main_stopped = true;
                out->main_stop_signal = WSTOPSIG(st);
            }
            continue;
        }
        if (claim_record(p, st))
            continue; /* a hook: its own thread reports it */
        out->reaped++;
        if (p == main_pid) {
            out->main_exited = true;
            out->main_status = st;
        }
    }
}

int proc_stat_parse_ppid(const char *buf, size_t len, pid_t *ppid)
{
    /* "pid (comm) S ppid ...": comm may hold spaces and ')', so the last
     * ')' ends it. */
    const char *close = NULL;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == ')')
            close = buf + i;
    if (!close)
        return -EINVAL;
    const char *p = close + 1, *end = buf + len;
    if (end - p < 4 || p[0] != ' ' || p[2] != ' ')
        return -EINVAL;
    p += 3;
    long v = 0;
    if (p >= end || !isdigit((unsigned char)*p))
        return -EINVAL;
    while (p < end && isdigit((unsigned char)*p)) {
        v = v * 10 + (*p - '0');
        if (v > 0x7fffffff)
            return -ERANGE;
        p++;
    }
    *ppid = (pid_t)v;
    return 0;
}

size_t descendants_signal(const char *proc_root, int sig)
{
    pid_t self = getpid();
    if (self == 1) {
        /* In a pid namespace every process is ours; -1 spares only us. */
        return kill(-1, sig) == 0 ? 1 : 0;
    }
    _cleanup_closedir_ DIR *d = opendir(proc_root);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "%s/%s/stat", proc_root, e->d_name);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf);
        pid_t ppid;
        if (len <= 0 || proc_stat_parse_ppid(buf, (size_t)len, &ppid) < 0 || ppid != self)
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && !reap_is_claimed(pid) && kill(pid, sig) == 0)
            n++;
    }
    return n;
}
