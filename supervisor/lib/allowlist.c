/* SPDX-License-Identifier: MIT */
#include "allowlist.h"

#include <linux/seccomp.h>
#include <stdbool.h>

/* A run of consecutive syscall numbers, both ends allowed. */
struct run {
    uint32_t lo, hi;
};

/* A leaf tests up to this many runs one after another: fewer instructions
 * than splitting further, for one or two more compares on the way. */
enum { LEAF_RUNS = 4 };

static size_t run_insns(const struct run *r) { return r->lo == r->hi ? 1 : 2; }

static size_t tree_insns(const struct run *r, size_t n)
{
    size_t s = 0;
    if (n <= LEAF_RUNS) {
        for (size_t i = 0; i < n; i++)
            s += run_insns(&r[i]);
        return s;
    }
    return 1 + tree_insns(r, n / 2) + tree_insns(r + n / 2, n - n / 2);
}

/* Emits the subtree over runs r[0..n) at f[at], its leaves jumping to the
 * shared returns at deny_at and allow_at; returns the index after it, or 0
 * when a jump does not fit in its 8 bits. */
static size_t emit(struct sock_filter *f, size_t at, const struct run *r, size_t n, size_t deny_at,
                   size_t allow_at)
{
#define JUMP(op, k, to_t, to_f)                                                                        \
    do {                                                                                               \
        size_t jt_ = (to_t) - at - 1, jf_ = (to_f) - at - 1;                                           \
        if (jt_ > 255 || jf_ > 255)                                                                    \
            return 0;                                                                                  \
        f[at] = (struct sock_filter)BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (uint8_t)jt_, (uint8_t)jf_); \
        at++;                                                                                          \
    } while (0)
    if (n <= LEAF_RUNS) {
        /* Sorted runs: a number below this run is in none of the next. */
        for (size_t i = 0; i < n; i++) {
            size_t next = i + 1 < n ? at + run_insns(&r[i]) : deny_at;
            if (r[i].lo == r[i].hi) {
                JUMP(BPF_JEQ, r[i].lo, allow_at, next);
            } else {
                JUMP(BPF_JGT, r[i].hi, next, at + 1);
                JUMP(BPF_JGE, r[i].lo, allow_at, deny_at);
            }
        }
        return at;
    }
    size_t nl = n / 2;
    size_t right = at + 1 + tree_insns(r, nl);
    JUMP(BPF_JGE, r[nl].lo, right, at + 1);
    at = emit(f, at, r, nl, deny_at, allow_at);
    return at ? emit(f, at, r + nl, n - nl, deny_at, allow_at) : 0;
#undef JUMP
}

size_t allowlist_filter_build(struct sock_filter *f, size_t cap, uint32_t arch, const int *nrs, size_t n,
                              uint32_t deny)
{
    if (n > ALLOWLIST_MAX_CALLS)
        return 0;
    int sorted[ALLOWLIST_MAX_CALLS];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (nrs[i] >= 0 && nrs[i] < 0x40000000)
            sorted[ns++] = nrs[i];
    /* Insertion: a list of some hundred, mostly in order already, where
     * glibc's qsort allocates a buffer to merge sort into. */
    for (size_t i = 1; i < ns; i++) {
        int v = sorted[i];
        size_t j = i;
        for (; j > 0 && sorted[j - 1] > v; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = v;
    }
    struct run runs[ALLOWLIST_MAX_CALLS];
    size_t nr = 0;
    for (size_t i = 0; i < ns; i++) {
        uint32_t v = (uint32_t)sorted[i];
        if (nr && v <= runs[nr - 1].hi + 1) {
            if (v > runs[nr - 1].hi)
                runs[nr - 1].hi = v;
            continue;
        }
        runs[nr++] = (struct run){v, v};
    }
    enum { HEAD = 4 };
    size_t deny_at = HEAD + (nr ? tree_insns(runs, nr) : 0), allow_at = deny_at + 1;
    if (allow_at + 1 > cap || deny_at - 2 > 255)
        return 0;
    f[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, (uint8_t)(deny_at - 2));
    f[2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    f[3] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, (uint8_t)(deny_at - 4), 0);
    if (nr && emit(f, HEAD, runs, nr, deny_at, allow_at) != deny_at)
        return 0;
    f[deny_at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
    f[allow_at] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    return allow_at + 1;
}
