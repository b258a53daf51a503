/* SPDX-License-Identifier: MIT */
/* The stderr relay: a thread that passes the service's stderr to crashbox's
 * own stderr byte for byte and keeps what crash capture needs (keep.h).
 * When crashbox's stderr is a pipe the bytes go out by tee(2), zero-copy,
 * and are read once into the ring; otherwise read(2)/write(2). The thread
 * starts at the first bytes (the caller polls relay_pollfds() until then):
 * a service that writes nothing to stderr costs no thread. */
#pragma once

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "keep.h"

enum relay_mode {
    RELAY_TEE,          /* tee(2) to the output pipe, read into the ring */
    RELAY_COPY,         /* read into the ring, write(2) from it */
    RELAY_CAPTURE_ONLY, /* output is gone: keep capturing the tail */
};

struct relay {
    int in_fd;   /* owned: read end of the service's stderr pipe */
    int out_fd;  /* not owned: where the bytes go (crashbox's stderr) */
    int stop_fd; /* owned: eventfd, asks the thread to finish */
    struct keep tail; /* owned; read it only after relay_finish() */
    enum relay_mode mode;
    int out_error;    /* errno of the output's first failure, 0 if none */
    bool pass_reader_gone; /* the output's EPIPE closes in_fd: the service gets EPIPE too */
    bool reader_gone;      /* it did */
    uint64_t relayed; /* bytes taken from the service */
    bool eof;         /* the service side was closed by every writer */
    int crash_fd;      /* owned, -1 if none: the shim's crash-output pipe */
    struct keep crash; /* owned: what came on it (the runtime's crash report) */
    pthread_t thread;
    bool ready;          /* relay_start() succeeded and relay_finish() has not run */
    bool running;        /* the thread runs */
    bool thread_started; /* it did, this run */
    bool thread_failed;  /* it could not start: the bytes wait for relay_finish() */
    bool timed_out;      /* relay_finish() stopped a writer it could not wait for */
    long long deadline_ms; /* relay_finish() in the caller: when to stop; 0 in the thread */
    uint64_t cpu_ns;       /* the thread's CPU, for -v */
};

/* Takes ownership of in_fd and crash_fd (also on failure). in_fd -1: no
 * stderr to relay (the service writes to a terminal), only the crash
 * channel. pass_reader_gone: when the output's reader goes away, close
 * in_fd, so the service's next write fails as it would without crashbox
 * (EPIPE, SIGPIPE); otherwise keep reading into the tail. */
int relay_start(struct relay *r, int in_fd, int out_fd, const struct keep_sizes *sz, int crash_fd,
                bool pass_reader_gone);
/* The fds (at most 2) whose first bytes start the thread: poll them for
 * POLLIN and call relay_wake() on any event. None once it runs. */
size_t relay_pollfds(const struct relay *r, struct pollfd p[2]);
void relay_wake(struct relay *r);
/* The service has exited: if a process it left still holds a write end,
 * the thread starts, so that process's writes do not wait on a full pipe
 * while crashbox waits for it. */
void relay_service_gone(struct relay *r);
/* Waits up to timeout_ms for every writer to close the pipe, then stops
 * relaying, keeping whatever is already in the pipe in the tail. Without a
 * thread, the caller relays what is left itself. */
void relay_finish(struct relay *r, uint64_t timeout_ms);
void relay_free(struct relay *r);
