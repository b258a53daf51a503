/* SPDX-License-Identifier: MIT */
/* Dropping capabilities, the one routine for the service's sandbox (in the
 * child, after fork: raw syscalls only, async-signal-safe) and for crashbox
 * confining itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Drops every capability outside keep (a bitmask) from the bounding set,
 * of those in held (a superset of the bounding set: ~0 when not known).
 * may_lack_setpcap: a process without CAP_SETPCAP (EPERM) goes on, as
 * crashbox itself may run. Returns 0 or -errno. */
int caps_drop_bounding(uint64_t keep, uint64_t held, bool may_lack_setpcap);
/* Sets the permitted, effective and inheritable sets to keep; within_held:
 * to keep as far as they hold it now (narrowing only). Returns 0 or -errno. */
int caps_set(uint64_t keep, bool within_held);
