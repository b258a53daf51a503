/* SPDX-License-Identifier: MIT */
#include "leftovers.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reap.h"
#include "util.h"

unsigned long long leftovers_work(const char *io, size_t io_len)
{
    /* Bytes read and written (files, pipes, sockets): a report being
     * written or uploaded moves bytes; a sleeper or a fork bomb does not. */
    unsigned long long bytes = 0;
    for (const char *s = io, *end = io ? io + io_len : NULL; s && s < end;) {
        unsigned long long v;
        if ((sscanf(s, "rchar: %llu", &v) == 1) || (sscanf(s, "wchar: %llu", &v) == 1))
            bytes += v;
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    return bytes;
}

static bool alive_child(const char *proc_root, pid_t pid, char *comm, size_t cap, unsigned long long *work)
{
    char path[300];
    _cleanup_free_ char *stat = NULL, *io = NULL;
    size_t sl, il = 0;
    snprintf(path, sizeof path, "%s/%d/stat", proc_root, (int)pid);
    if (read_file_at(AT_FDCWD, path, 4096, &stat, &sl) < 0)
        return false;
    pid_t ppid;
    const char *open = memchr(stat, '(', sl), *close = memrchr(stat, ')', sl);
    if (proc_stat_parse_ppid(stat, sl, &ppid) < 0 || ppid != getpid() || reap_is_claimed(pid) || !close ||
        close + 2 >= stat + sl || close[2] == 'Z')
        return false;
    if (comm && open && close > open)
        snprintf(comm, cap, "%.*s", (int)(close - open - 1), open + 1);
    snprintf(path, sizeof path, "%s/%d/io", proc_root, (int)pid);
    (void)read_file_at(AT_FDCWD, path, 4096, &io, &il);
    *work = leftovers_work(io, il);
    return true;
}

size_t leftovers_scan(struct leftovers *l, const char *proc_root)
{
    for (size_t i = 0; i < l->n; i++) {
        unsigned long long w;
        bool alive = alive_child(proc_root, l->v[i].pid, NULL, 0, &w);
        l->v[i].working = alive && w > l->v[i].work;
        if (alive)
            l->v[i].work = w;
    }
    _cleanup_closedir_ DIR *d = opendir(proc_root);
    struct dirent *e;
    size_t alive = 0;
    while (d && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        struct leftover o = {.pid = pid};
        if (!alive_child(proc_root, pid, o.comm, sizeof o.comm, &o.work))
            continue;
        alive++;
        bool known = false;
        for (size_t i = 0; i < l->n && !known; i++)
            known = l->v[i].pid == pid;
        if (!known && l->n < LEFTOVERS_MAX)
            l->v[l->n++] = o;
    }
    return alive;
}

void leftovers_signalled(struct leftovers *l, const char *proc_root, int sig)
{
    leftovers_scan(l, proc_root);
    for (size_t i = 0; i < l->n; i++) {
        unsigned long long w;
        if (alive_child(proc_root, l->v[i].pid, NULL, 0, &w))
            l->v[i].signal = sig;
    }
}
