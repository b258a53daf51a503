/* SPDX-License-Identifier: MIT */
#include "oomevents.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util.h"

static const char *counter_file(enum cgroup_version v)
{
    return v == CGROUP_V1 ? "memory.oom_control" : "memory.events";
}

static void arm(const struct oomevents *o)
{
    struct itimerspec its = {.it_value = {.tv_sec = OOMEVENTS_SETTLE_MS / 1000,
                                          .tv_nsec = (OOMEVENTS_SETTLE_MS % 1000) * 1000000L}};
    (void)timerfd_settime(o->timer_fd, 0, &its, NULL);
}

void oomevents_start(struct oomevents *o, int dirfd, enum cgroup_version v)
{
    *o = (struct oomevents){.dirfd = dirfd, .version = v, .note_fd = -1, .timer_fd = -1};
    if (dirfd < 0 || v == CGROUP_NONE)
        return;
    if (v == CGROUP_V1) {
        _cleanup_close_ int ctl = openat(dirfd, "cgroup.event_control", O_WRONLY | O_CLOEXEC);
        _cleanup_close_ int oc = openat(dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        char line[64];
        int len = snprintf(line, sizeof line, "%d %d", efd, oc);
        if (ctl < 0 || oc < 0 || efd < 0 || write(ctl, line, (size_t)len) < 0)
            return;
        o->note_fd = steal_fd(&efd);
        o->note_events = POLLIN;
    } else {
        o->note_fd = openat(dirfd, "memory.events", O_RDONLY | O_CLOEXEC);
        o->note_events = POLLPRI;
    }
    o->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (o->timer_fd < 0) {
        closep(&o->note_fd);
        return;
    }
    /* One look at once: a kill between the service's start and this
     * registration sent no notification we could hear. */
    arm(o);
}

size_t oomevents_fds(const struct oomevents *o, int *fds, short *events, size_t cap)
{
    size_t n = 0;
    if (o->note_fd >= 0 && n < cap) {
        fds[n] = o->note_fd;
        events[n++] = o->note_events;
    }
    if (o->timer_fd >= 0 && n < cap) {
        fds[n] = o->timer_fd;
        events[n++] = POLLIN;
    }
    return n;
}

bool oomevents_on_event(struct oomevents *o, int fd, bool *look)
{
    *look = false;
    if (fd < 0)
        return false;
    if (fd == o->note_fd) {
        char buf[512];
        /* Drain: the eventfd's count, or memory.events read again to re-arm. */
        (void)(o->version == CGROUP_V1 ? read(fd, buf, 8) : pread(fd, buf, sizeof buf, 0));
        arm(o);
        return true;
    }
    if (fd == o->timer_fd) {
        uint64_t ticks;
        (void)read(fd, &ticks, sizeof ticks);
        *look = true;
        return true;
    }
    return false;
}

int oomevents_counter(const struct oomevents *o, uint64_t *out)
{
    _cleanup_free_ char *b = NULL;
    size_t len;
    int r = read_file_at(o->dirfd, counter_file(o->version), 1 << 12, &b, &len);
    return r < 0 ? r : cgroup_keyed_value(b, len, "oom_kill", out);
}

bool oomevents_alive(pid_t pid)
{
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *b = NULL;
    size_t len;
    if (read_file_at(AT_FDCWD, path, 1 << 12, &b, &len) < 0)
        return false;
    const char *close = memrchr(b, ')', len);
    if (!close || close + 2 >= b + len || close[2] == 'Z' || close[2] == 'X')
        return false;
    /* A victim slow to die (a large address space to tear down) is
     * already exiting: the 7th field after the name is its flags. */
    unsigned long flags = 0;
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) == 1 && (flags & 0x4 /* PF_EXITING */))
        return false;
    return true;
}

void oomevents_stop(struct oomevents *o)
{
    closep(&o->note_fd);
    closep(&o->timer_fd);
}
