/* SPDX-License-Identifier: MIT */
/* The capabilities a process may hold, read from its /proc/PID/status
 * text. Pure: no I/O, no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* CapBnd | CapPrm: what it holds and what any later exec may give it (a
 * root process's permitted set after exec is its bounding set). 0, or
 * -EINVAL when either field is missing or malformed. */
int proc_status_caps(const char *buf, size_t len, uint64_t *caps);

/* CapBnd alone: 0, or -EINVAL when it is missing or malformed. */
int proc_status_bounding(const char *buf, size_t len, uint64_t *bnd);
