/* SPDX-License-Identifier: MIT */
/* The stderr relay: a thread that passes the service's stderr to crashbox's
 * own stderr byte for byte and keeps the tail in a ring for crash capture.
 * When crashbox's stderr is a pipe the bytes go out by tee(2), zero-copy,
 * and are read once into the ring; otherwise read(2)/write(2). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

enum relay_mode {
    RELAY_TEE,          /* tee(2) to the output pipe, read into the ring */
    RELAY_COPY,         /* read into the ring, write(2) from it */
    RELAY_CAPTURE_ONLY, /* output is gone: keep capturing the tail */
};

struct relay {
    int in_fd;   /* owned: read end of the service's stderr pipe */
    int out_fd;  /* not owned: where the bytes go (crashbox's stderr) */
    int stop_fd; /* owned: eventfd, asks the thread to finish */
    struct ring tail; /* owned; read it only after relay_finish() */
    enum relay_mode mode;
    int out_error;    /* errno of the output's first failure, 0 if none */
    bool pass_reader_gone; /* the output's EPIPE closes in_fd: the service gets EPIPE too */
    bool reader_gone;      /* it did */
    uint64_t relayed; /* bytes taken from the service */
    bool eof;         /* the service side was closed by every writer */
    int crash_fd;      /* owned, -1 if none: the shim's crash-output pipe */
    char *crash_buf;   /* owned: what came on it (the runtime's crash report) */
    size_t crash_len;
    pthread_t thread;
    bool running;
};

/* Takes ownership of in_fd and crash_fd (also on failure). in_fd -1: no
 * stderr to relay (the service writes to a terminal), only the crash
 * channel. pass_reader_gone: when the output's reader goes away, close
 * in_fd, so the service's next write fails as it would without crashbox
 * (EPIPE, SIGPIPE); otherwise keep reading into the tail. */
int relay_start(struct relay *r, int in_fd, int out_fd, size_t tail_size, int crash_fd, bool pass_reader_gone);
/* Waits up to timeout_ms for every writer to close the pipe, then stops the
 * thread, keeping whatever is already in the pipe in the tail. */
void relay_finish(struct relay *r, uint64_t timeout_ms);
void relay_free(struct relay *r);
