/* SPDX-License-Identifier: MIT */
/* A streaming POSIX tar writer: ustar headers, with a pax extended header
 * for names over 100 bytes or sizes over 8 GiB. Pure: bytes go to a sink. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef int (*tar_sink_fn)(void *ctx, const void *buf, size_t len);

struct tar {
    tar_sink_fn sink;
    void *ctx;
    time_t mtime;
    int error; /* the sink's first failure, sticky */
};

void tar_init(struct tar *t, tar_sink_fn sink, void *ctx, time_t mtime);
/* Adds a regular file. Returns 0 or the sink's negative error. */
int tar_add(struct tar *t, const char *name, const void *data, size_t len, unsigned mode);
/* A member streamed by its writer: the header(s) for len bytes, then len
 * bytes through the sink, then tar_pad(len). */
int tar_add_header(struct tar *t, const char *name, uint64_t len, unsigned mode);
int tar_pad(struct tar *t, uint64_t len);
/* Writes the two zero blocks that end an archive. */
int tar_finish(struct tar *t);

/* Fills a 512-byte ustar header; exposed for tests. */
void tar_header(char hdr[512], const char *name, uint64_t size, unsigned mode, time_t mtime, char type);
