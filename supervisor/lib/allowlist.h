/* SPDX-License-Identifier: MIT */
/* A seccomp allowlist as a classic BPF program shaped as a search tree.
 * The kernel runs a filter at every system call, and once when it is
 * installed for every syscall number (to cache the calls it allows whatever
 * their arguments), under a lock with interrupts off: a list of 110
 * compares cost some 100 µs of each start, a tree a third of it. Pure. */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the program into f (at most cap instructions): calls numbered in
 * nrs (any order, duplicates allowed) return SECCOMP_RET_ALLOW; any other
 * call, a call of another architecture than arch (an AUDIT_ARCH_*) and an
 * x32 call (nr >= 0x40000000) return deny. Returns the program's length,
 * or 0 when it does not fit in cap, nrs holds more than
 * ALLOWLIST_MAX_CALLS numbers, or a jump would reach past 255. */
#define ALLOWLIST_MAX_CALLS 512
size_t allowlist_filter_build(struct sock_filter *f, size_t cap, uint32_t arch, const int *nrs, size_t n,
                              uint32_t deny);
