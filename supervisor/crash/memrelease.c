/* SPDX-License-Identifier: MIT */
#include "memrelease.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

/* What memrelease_apply's own frame and the madvise it calls may use below
 * its frame address; the dead stack starts below this. */
#define STACK_MARGIN (4u << 10)

bool memrelease_vma_clean(const struct coredump_vma *v)
{
    /* A mapping written even once holds copies (anon) or had them swapped
     * out; unmapping those would bring the file's bytes back in their place. */
    return v->has_path && !v->w && !v->shared && !v->anon && !v->swap && v->rss && !v->hugetlb && !v->io;
}

int memrelease_plan(const char *smaps, size_t len, struct memrelease_range *out, size_t cap)
{
    /* Without the Anonymous and Swap figures nothing tells a written page
     * from the file's. */
    if (!memmem(smaps, len, "\nAnonymous:", 11) || !memmem(smaps, len, "\nSwap:", 6))
        return -ENODATA;
    struct coredump_vma *v;
    size_t n;
    int r = coredump_parse_smaps(smaps, len, &v, &n);
    if (r < 0)
        return r;
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        bool stack = strcmp(v[i].path, "[stack]") == 0;
        if (stack || memrelease_vma_clean(&v[i]))
            out[k++] = (struct memrelease_range){.start = v[i].start, .end = v[i].end, .rss = stack ? 0 : v[i].rss,
                                                 .stack = stack};
    }
    coredump_vmas_free(v, n);
    return (int)k;
}

int memrelease_plan_self(struct memrelease_range *out, size_t cap)
{
    _cleanup_free_ char *smaps = NULL;
    size_t len;
    int r = read_file_at(AT_FDCWD, "/proc/self/smaps", 1 << 22, &smaps, &len);
    if (r < 0)
        return r;
    return memrelease_plan(smaps, len, out, cap);
}

/* hot: in .text.hot beside the idle loop that runs after it (supervise.c). */
__attribute__((noinline, hot)) uint64_t memrelease_apply(const struct memrelease_range *r, size_t n)
{
    uint64_t released = 0;
    uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        uint64_t end = r[i].end;
        if (r[i].stack) {
            /* Below the running frame the stack is dead (the calls that
             * used it have returned; signals are read from a signalfd). */
            if (here < r[i].start || here >= r[i].end || here - r[i].start <= STACK_MARGIN)
                continue;
            end = (here - STACK_MARGIN) & ~(page - 1);
        }
        if (end > r[i].start && madvise((void *)(uintptr_t)r[i].start, end - r[i].start, MADV_DONTNEED) == 0)
            released += r[i].rss;
    }
    return released;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int memrelease_restore(const struct memrelease_range *r, size_t n)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].stack)
            continue;
        void *at = (void *)(uintptr_t)r[i].start;
        size_t len = r[i].end - r[i].start;
        if (madvise(at, len, MADV_POPULATE_READ) == 0)
            continue;
        int e = errno;
        (void)madvise(at, len, MADV_WILLNEED);
        if (!first)
            first = -e;
    }
    return first;
}
