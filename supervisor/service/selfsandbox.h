/* SPDX-License-Identifier: MIT */
/* crashbox sandboxing itself once the service runs: it drops the
 * capabilities supervising and capturing do not use, and (when it will
 * never start another process) installs a seccomp allowlist of the system
 * calls it makes. Not ptrace: reading /proc/PID of another user needs
 * CAP_SYS_PTRACE's access check, not the ptrace(2) call, and the allowlist
 * has no ptrace. */
#pragma once

#include <stdbool.h>

#include "policy.h"

/* will_spawn_again: restarts or hooks may still start processes, which
 * would inherit the filter and need the set-id capabilities. Returns 0 or
 * -errno; a failure leaves crashbox as it was. */
int self_sandbox_apply(const struct policy *p, bool will_spawn_again, char *what, size_t whatlen);
