/* SPDX-License-Identifier: MIT */
/* crashbox sandboxing itself once the service runs: it drops the
 * capabilities supervising and capturing do not use, and (when it will
 * never start another process) installs a seccomp allowlist of the system
 * calls it makes (ptrace only for [core] dump). Reading /proc/PID of the
 * service passes the kernel's ptrace access check: with CAP_SYS_PTRACE, or
 * holding every capability the service holds, which crashbox then keeps. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy.h"

/* service: the service's pid, whose capabilities may have to be kept.
 * will_spawn_again: restarts or hooks may still start processes, which
 * would inherit the filter and need the set-id capabilities. bounding:
 * crashbox's bounding set as last read (~0 when not known). Returns 0 or
 * -errno; a failure leaves crashbox as it was. */
int self_sandbox_apply(const struct policy *p, pid_t service, bool will_spawn_again, uint64_t bounding, char *what,
                       size_t whatlen);

/* The allowlist as a fixed BPF program (with ptrace when core is set),
 * built without libseccomp: no probing of the kernel at start. Writes at
 * most SELF_FILTER_CAP instructions; returns how many, 0 on an
 * architecture whose syscall numbers are not known here. Pure. */
#define SELF_FILTER_CAP 160
size_t self_filter_build(struct sock_filter *f, bool core);
