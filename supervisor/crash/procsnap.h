/* SPDX-License-Identifier: MIT */
/* The snapshot of a (dying) process from /proc/PID: each item read on its
 * own, size-capped, best effort, within a time budget. */
#pragma once

#include "items.h"
#include "strlist.h"

/* procfd: an open /proc/PID directory. deadline_ms: now_ms() value after
 * which the remaining items are recorded as missing. */
void procsnap_collect(int procfd, const struct strlist *redact_extra, long long deadline_ms,
                      struct items *out);
