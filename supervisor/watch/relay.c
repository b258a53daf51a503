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
        char *dst = keep_span(&r->tail, &span);
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
        keep_commit(&r->tail, (size_t)n);
        r->relayed += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads from fd into k's span, at most `most` bytes: the count, 0 at EOF,
 * or -errno. A keep's ring is mapped at its first byte (ring.h): until then
 * a one-byte read tells EOF, or nothing yet, from bytes, so an end with
 * nothing written maps none. */
static ssize_t read_into(struct keep *k, int fd, size_t most, char **dst)
{
    char first;
    bool have_first = false;
    ssize_t n;
    if (!keep_started(k)) {
        do
            n = read(fd, &first, 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return n < 0 ? -errno : 0;
        have_first = true;
    }
    size_t span;
    *dst = keep_span(k, &span);
    if (span > most)
        span = most;
    size_t got = 0;
    if (have_first)
        (*dst)[got++] = first;
    if (span > got) {
        do
            n = read(fd, *dst + got, span - got);
        while (n < 0 && errno == EINTR);
        if (n > 0)
            got += (size_t)n;
        else if (!got)
            return n < 0 ? -errno : 0;
    }
    return (ssize_t)got;
}

/* How long poll may wait: for ever in the thread (stop_fd ends a wait),
 * until the deadline when relay_finish() relays in the caller. */
static int wait_ms(const struct relay *r)
{
    if (!r->deadline_ms)
        return -1;
    long long left = r->deadline_ms - now_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static bool past_deadline(const struct relay *r) { return r->deadline_ms && now_ms() >= r->deadline_ms; }

/* Waits until the output pipe has room or stop is asked. true: room. */
static bool wait_output(struct relay *r)
{
    struct pollfd p[2] = {{.fd = r->out_fd, .events = POLLOUT}, {.fd = r->stop_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, wait_ms(r));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return false; /* n == 0: the deadline passed */
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
    /* To a pipe, at most PIPE_BUF at a time: once poll says there is room,
     * such a write cannot block, so a stuck reader cannot hold us. */
    char *dst;
    ssize_t n = read_into(&r->tail, r->in_fd, r->mode == RELAY_TEE ? PIPE_BUF : RELAY_CHUNK, &dst);
    if (n <= 0)
        return n;
    if (r->mode == RELAY_TEE && !wait_output(r))
        r->mode = RELAY_CAPTURE_ONLY; /* asked to finish with the output full */
    if (r->mode != RELAY_CAPTURE_ONLY) {
        int w = write_all(r->out_fd, dst, (size_t)n);
        if (w < 0)
            output_failed(r, -w);
    }
    keep_commit(&r->tail, (size_t)n);
    r->relayed += (uint64_t)n;
    return n;
}

/* The shim's crash channel: kept, never relayed (the runtime writes the
 * report to stderr as well). Its head and tail are kept as stderr's are. */
static void take_crash_output(struct relay *r)
{
    for (;;) {
        char *dst;
        ssize_t n = read_into(&r->crash, r->crash_fd, SIZE_MAX, &dst);
        if (n <= 0) {
            if (n != -EAGAIN) { /* the end, or an error: not just nothing yet */
                closep(&r->crash_fd);
                r->crash_fd = -1;
            }
            break;
        }
        keep_commit(&r->crash, (size_t)n);
    }
}

/* Relays until every writer is gone, or stop is asked (stop_fd) or the
 * deadline passes: then what is in the pipe already goes to the tail. */
static void relay_loop(struct relay *r)
{
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
            int n = poll(p, 3, wait_ms(r));
            if (n < 0 && errno != EINTR)
                break;
            if (n > 0 && p[2].revents)
                take_crash_output(r);
            if ((n > 0 && (p[1].revents & POLLIN)) || past_deadline(r))
                break;
            continue;
        }
        if (!stopping && (idle || ++busy % 16 == 0)) {
            p[2].fd = r->crash_fd;
            int n = poll(p, 3, idle ? wait_ms(r) : 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (n > 0 && p[2].revents) {
                take_crash_output(r);
                if (!p[0].revents && !p[1].revents)
                    continue;
            }
            if ((n > 0 && (p[1].revents & POLLIN)) || past_deadline(r)) {
                /* Asked to finish: keep what is already in the pipe. The
                 * output may be stuck, so only the tail gets it now. */
                stopping = true;
                stop_at = r->relayed;
                continue;
            }
            if ((n == 0 || !p[0].revents) && idle)
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
}

static void *relay_thread(void *arg)
{
    struct relay *r = arg;
    relay_loop(r);
    struct timespec cpu;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        r->cpu_ns = (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec;
    return NULL;
}

int relay_start(struct relay *r, int in_fd, int out_fd, const struct keep_sizes *sz, int crash_fd,
                bool pass_reader_gone)
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
    int e = keep_init(&r->tail, sz, false);
    if (e < 0)
        return e;
    e = keep_init(&r->crash, sz, true);
    if (e < 0)
        return e;
    r->ready = true;
    return 0;
}

size_t relay_pollfds(const struct relay *r, struct pollfd p[2])
{
    if (!r->ready || r->running || r->thread_failed)
        return 0;
    size_t n = 0;
    if (r->in_fd >= 0)
        p[n++] = (struct pollfd){.fd = r->in_fd, .events = POLLIN};
    if (r->crash_fd >= 0)
        p[n++] = (struct pollfd){.fd = r->crash_fd, .events = POLLIN};
    return n;
}

void relay_wake(struct relay *r)
{
    if (!r->ready || r->running || r->thread_failed)
        return;
    r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int e = r->stop_fd < 0 ? errno : pthread_create(&r->thread, NULL, relay_thread, r);
    if (e) {
        /* The bytes wait in the pipe for relay_finish(); a service that
         * fills it waits too. */
        r->thread_failed = true;
        log_warn("cannot start the stderr relay: %s", strerror(e));
        return;
    }
    r->running = r->thread_started = true;
}

void relay_service_gone(struct relay *r)
{
    if (!r->ready || r->running)
        return;
    struct pollfd p[2];
    size_t n = relay_pollfds(r, p);
    if (n && poll(p, (nfds_t)n, 0) >= 0)
        for (size_t i = 0; i < n; i++)
            if (!(p[i].revents & POLLHUP))
                relay_wake(r); /* a writer is left: its bytes must not wait */
}

static void join_thread(struct relay *r, uint64_t timeout_ms)
{
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
        r->timed_out = true;
    }
    r->running = false;
}

/* relay_finish() when the thread never started: the caller relays what
 * is left itself, until the deadline. */
static void finish_here(struct relay *r, uint64_t timeout_ms)
{
    r->deadline_ms = now_ms() + (long long)timeout_ms;
    relay_loop(r);
    r->timed_out = !r->eof && past_deadline(r);
    r->deadline_ms = 0;
}

void relay_finish(struct relay *r, uint64_t timeout_ms)
{
    if (!r->ready)
        return;
    r->ready = false; /* finished: nothing more to wake */
    if (!r->running)
        finish_here(r, timeout_ms);
    else
        join_thread(r, timeout_ms);
    if (r->timed_out)
        log_warn("stderr still open by a process outside crashbox's reach after %llums; "
                 "stopped relaying",
                 (unsigned long long)timeout_ms);
    if (r->thread_started)
        log_debug("stderr relay: %llu bytes, %llu us of CPU in its thread", (unsigned long long)r->relayed,
                  (unsigned long long)(r->cpu_ns / 1000));
    else
        log_debug("stderr relay: %llu bytes, no thread needed", (unsigned long long)r->relayed);
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
    if (r->ready)
        relay_finish(r, 0);
    closep(&r->in_fd);
    closep(&r->stop_fd);
    closep(&r->crash_fd);
    keep_free(&r->tail);
    keep_free(&r->crash);
    r->in_fd = r->stop_fd = r->crash_fd = -1;
}
