/* SPDX-License-Identifier: MIT */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define RELAY_CHUNK (1 << 20)
#define RELAY_TEE_MIN (64 << 10) /* below this, read/write: see relay_step() */

/* The output failed: from now on only the tail gets the bytes, unless the
 * reader went away and that is to be passed on (see relay_thread). */
static void output_failed(struct relay *r, int err)
{
    if (!r->out_error)
        r->out_error = err;
    r->mode = RELAY_CAPTURE_ONLY;
    if (err == EPIPE && r->pass_reader_gone)
        r->reader_gone = true;
}

/* Reads exactly len bytes (already known to be in the pipe) into the tail,
 * and, in copy mode, writes them out. Returns 0, or -errno of the read. */
static int take_into_tail(struct relay *r, size_t len, bool write_out)
{
    while (len > 0) {
        size_t span;
        char *dst = ring_span(&r->tail, &span);
        if (span > len)
            span = len;
        ssize_t n = read(r->in_fd, dst, span);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        if (write_out) {
            int w = write_all(r->out_fd, dst, (size_t)n);
            if (w < 0) {
                output_failed(r, -w);
                write_out = false;
            }
        }
        ring_commit(&r->tail, (size_t)n);
        r->relayed += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Waits until the output pipe has room or stop is asked. true: room. */
static bool wait_output(struct relay *r)
{
    struct pollfd p[2] = {{.fd = r->out_fd, .events = POLLOUT}, {.fd = r->stop_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        if (p[1].revents)
            return false;
        return true; /* POLLOUT, or POLLERR that the next tee reports */
    }
}

/* Moves what is in the pipe now. Returns >0 moved, 0 at EOF, -EAGAIN when
 * empty, -ECANCELED when stop was asked while the output was full. */
static ssize_t relay_step(struct relay *r)
{
    /* tee(2) hands the output pipe each input buffer as its own slot: a
     * service that writes line by line would fill a 16-slot pipe with 16
     * lines. Small amounts go by read/write, which the pipe merges; only
     * bulk goes zero-copy. */
    int avail = 0;
    bool bulk = r->mode == RELAY_TEE && ioctl(r->in_fd, FIONREAD, &avail) == 0 && avail >= RELAY_TEE_MIN;
    if (bulk) {
        for (;;) {
            ssize_t n = tee(r->in_fd, r->out_fd, RELAY_CHUNK, SPLICE_F_NONBLOCK);
            if (n > 0) {
                int e = take_into_tail(r, (size_t)n, false);
                return e < 0 ? e : n;
            }
            if (n == 0) {
                /* Either EOF, or the input is empty: a read tells which. */
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* Input empty, or output full: check the input first. */
                if (ioctl(r->in_fd, FIONREAD, &avail) == 0 && avail == 0)
                    return -EAGAIN;
                if (!wait_output(r))
                    return -ECANCELED;
                continue;
            }
            if (errno == EINVAL)
                r->mode = RELAY_COPY; /* not a pipe after all */
            else
                output_failed(r, errno);
            break;
        }
    }
    size_t span;
    char *dst = ring_span(&r->tail, &span);
    /* To a pipe, at most PIPE_BUF at a time: once poll says there is room,
     * such a write cannot block, so a stuck reader cannot hold us. */
    size_t most = r->mode == RELAY_TEE ? PIPE_BUF : RELAY_CHUNK;
    if (span > most)
        span = most;
    ssize_t n;
    do
        n = read(r->in_fd, dst, span);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n < 0 ? -errno : 0;
    if (r->mode == RELAY_TEE && !wait_output(r))
        r->mode = RELAY_CAPTURE_ONLY; /* asked to finish with the output full */
    if (r->mode != RELAY_CAPTURE_ONLY) {
        int w = write_all(r->out_fd, dst, (size_t)n);
        if (w < 0)
            output_failed(r, -w);
    }
    ring_commit(&r->tail, (size_t)n);
    r->relayed += (uint64_t)n;
    return n;
}

#define CRASH_MAX (8u << 20)

/* The shim's crash channel: kept, never relayed (the runtime writes the
 * report to stderr as well). */
static void take_crash_output(struct relay *r)
{
    for (;;) {
        if (r->crash_len == CRASH_MAX) {
            char sink[4096];
            if (read(r->crash_fd, sink, sizeof sink) <= 0)
                break;
            continue;
        }
        char *b = r->crash_buf ? r->crash_buf : malloc(CRASH_MAX + 1);
        if (!b)
            return;
        r->crash_buf = b;
        ssize_t n = read(r->crash_fd, b + r->crash_len, CRASH_MAX - r->crash_len);
        if (n <= 0) {
            if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                closep(&r->crash_fd);
                r->crash_fd = -1;
            }
            break;
        }
        r->crash_len += (size_t)n;
        r->crash_buf[r->crash_len] = '\0';
    }
}

static void *relay_thread(void *arg)
{
    struct relay *r = arg;
    struct pollfd p[3] = {{.fd = r->in_fd, .events = POLLIN}, {.fd = r->stop_fd, .events = POLLIN},
                          {.fd = r->crash_fd, .events = POLLIN}};
    bool stopping = false;
    bool idle = true;   /* poll only once the pipe has been emptied... */
    unsigned busy = 0;  /* ...or now and then, to hear a stop request */
    uint64_t stop_at = 0;
    for (;;) {
        if (r->reader_gone && r->in_fd >= 0) {
            /* What a pipe does when its reader goes: the writer's next
             * write fails. Whatever was in the pipe is in the tail. */
            closep(&r->in_fd);
            r->in_fd = -1;
        }
        if (r->in_fd < 0) {
            /* Nothing to relay: only the crash channel, until its writers
             * are gone (or stop is asked). */
            if (r->crash_fd < 0)
                break;
            p[0].fd = -1;
            p[2].fd = r->crash_fd;
            if (poll(p, 3, -1) < 0 && errno != EINTR)
                break;
            if (p[2].revents)
                take_crash_output(r);
            if (p[1].revents & POLLIN)
                break;
            continue;
        }
        if (!stopping && (idle || ++busy % 16 == 0)) {
            p[2].fd = r->crash_fd;
            int n = poll(p, 3, idle ? -1 : 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (p[2].revents) {
                take_crash_output(r);
                if (!p[0].revents && !p[1].revents)
                    continue;
            }
            if (p[1].revents & POLLIN) {
                /* Asked to finish: keep what is already in the pipe. The
                 * output may be stuck, so only the tail gets it now. */
                stopping = true;
                stop_at = r->relayed;
                continue;
            }
            if (!p[0].revents && idle)
                continue;
        }
        /* Stopping takes what was in the pipe then, not a stream that
         * never ends. */
        if (stopping && r->relayed - stop_at > 2 * RELAY_CHUNK)
            break;
        ssize_t m = relay_step(r);
        idle = m <= 0;
        if (m == 0) {
            r->eof = true;
            break;
        }
        if (m == -ECANCELED) {
            /* Asked to finish while the output is full: the rest goes
             * only to the tail, so a stuck reader cannot hold us. */
            stopping = true;
            stop_at = r->relayed;
            r->mode = RELAY_CAPTURE_ONLY;
            continue;
        }
        if (m == -EAGAIN) {
            if (stopping)
                break;
            continue;
        }
        if (m < 0)
            break;
    }
    return NULL;
}

int relay_start(struct relay *r, int in_fd, int out_fd, size_t tail_size, int crash_fd, bool pass_reader_gone)
{
    *r = (struct relay){.in_fd = in_fd, .out_fd = out_fd, .stop_fd = -1, .crash_fd = crash_fd,
                        .pass_reader_gone = pass_reader_gone};
    if (crash_fd >= 0) {
        int cf = fcntl(crash_fd, F_GETFL);
        if (cf >= 0)
            (void)fcntl(crash_fd, F_SETFL, cf | O_NONBLOCK);
    }
    int flags = in_fd >= 0 ? fcntl(in_fd, F_GETFL) : 0;
    if (flags < 0 || (in_fd >= 0 && fcntl(in_fd, F_SETFL, flags | O_NONBLOCK) < 0))
        return -errno;
    struct stat st;
    r->mode = fstat(out_fd, &st) == 0 && S_ISFIFO(st.st_mode) ? RELAY_TEE : RELAY_COPY;
    /* tee(2) moves at most what the output pipe has room for: a larger one
     * means fewer, bigger steps. Best effort; the reader only gains room. */
    if (r->mode == RELAY_TEE && fcntl(out_fd, F_GETPIPE_SZ) < RELAY_CHUNK)
        (void)fcntl(out_fd, F_SETPIPE_SZ, RELAY_CHUNK);
    r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->stop_fd < 0)
        return -errno;
    int e = ring_init(&r->tail, tail_size);
    if (e < 0)
        return e;
    e = pthread_create(&r->thread, NULL, relay_thread, r);
    if (e)
        return -e;
    r->running = true;
    return 0;
}

void relay_finish(struct relay *r, uint64_t timeout_ms)
{
    if (!r->running)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    if (pthread_timedjoin_np(r->thread, NULL, &ts) != 0) {
        uint64_t one = 1;
        (void)write(r->stop_fd, &one, sizeof one);
        pthread_join(r->thread, NULL);
        log_warn("stderr still open by a process outside crashbox's reach after %llums; "
                 "stopped relaying",
                 (unsigned long long)timeout_ms);
    }
    r->running = false;
    if (r->crash_fd >= 0)
        take_crash_output(r); /* whatever the runtime wrote there last */
    if (r->reader_gone)
        log_debug("the reader of crashbox's stderr went away: the service's stderr was closed too");
    else if (r->out_error)
        log_warn("could not relay the service's stderr: %s (its tail was kept)",
                 strerror(r->out_error));
}

void relay_free(struct relay *r)
{
    if (r->running)
        relay_finish(r, 0);
    closep(&r->in_fd);
    closep(&r->stop_fd);
    closep(&r->crash_fd);
    free(r->crash_buf);
    r->crash_buf = NULL;
    ring_free(&r->tail);
    r->in_fd = r->stop_fd = r->crash_fd = -1;
}
