/* SPDX-License-Identifier: MIT */
/* crashbox's side of the Go shim's control socket: one request line
 * ("runtime", "heap", "memstats", "goroutines"), one "<name> <length>\n" answer and
 * that many bytes, all within a deadline. */
#pragma once

#include <stddef.h>

#include "items.h"

/* True once the shim's greeting has arrived (read without blocking). */
int shimctl_greeted(int fd);

/* Returns 0 with *out (heap, NUL-terminated), or -errno (-ETIMEDOUT). */
int shimctl_request(int fd, const char *what, long long deadline_ms, char **out, size_t *len);

/* Asks for the runtime's view, the aggregated goroutine profile, MemStats
 * and the heap profile; adds go/runtime.json, go/goroutines.txt,
 * go/memstats.json and go/heap.pb.gz (or records each missing, with why). */
void shimctl_collect(int fd, long long deadline_ms, struct items *it);
