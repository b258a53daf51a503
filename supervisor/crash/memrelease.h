/* SPDX-License-Identifier: MIT */
/* Giving back what start-up touched, once the service runs: the pages of
 * crashbox's own executable and libraries that start-up faulted in and the
 * idle loop never runs, and the main thread's stack below the running frame
 * (start-up's deepest calls). A private file mapping never written holds
 * only page-cache pages: MADV_DONTNEED unmaps them and the page cache keeps
 * them (a crash faults back what it runs), as the kernel frees its init
 * sections and malloc_trim gives back the heap start-up freed. smaps is read
 * with coredump.h's parser: what a mapping holds is what a core asks too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coredump.h"

struct memrelease_range {
    uint64_t start, end;
    uint64_t rss;  /* bytes resident when planned */
    bool stack;    /* the main thread's stack: only below the running frame */
};

#define MEMRELEASE_MAX 64

/* Whether v can be unmapped without losing a byte: a private, unwritable
 * file mapping with no anonymous (copied-on-write) or swapped page. RELRO
 * and data (written at start: relocations, IRELATIVE, variables) keep
 * theirs; so does a page a debugger or a uprobe wrote into text. */
bool memrelease_vma_clean(const struct coredump_vma *v);

/* The ranges of this process's smaps text to give back, at most cap into
 * out: the clean file mappings with pages resident, and [stack]. Returns
 * how many, or -errno (-ENODATA: smaps without the figures that prove a
 * mapping clean, nothing is planned). */
int memrelease_plan(const char *smaps, size_t len, struct memrelease_range *out, size_t cap);

/* memrelease_plan over /proc/self/smaps. It allocates: plan, then
 * malloc_trim, then apply, all at once: the stack's range is as deep as the
 * stack had grown when planned, and a mapping is proven clean only then. */
int memrelease_plan_self(struct memrelease_range *out, size_t cap);

/* Gives back the planned ranges; the stack's only below this call's frame
 * (less a margin for the calls it makes). To be called on the main thread,
 * last before the idle loop: what runs after it faults back in. Returns the
 * bytes that were resident in what it unmapped (the stack's not counted). */
uint64_t memrelease_apply(const struct memrelease_range *r, size_t n);

/* Maps back what memrelease_apply gave back (not the stack), reading from
 * the disk what the page cache lost meanwhile: done when memory nears the
 * limit, so that writing the bundle at the kill finds crashbox's code in
 * place rather than faulting it in from a cgroup at its limit. Returns 0 or
 * -errno of the first range that could not be mapped (kernels before 5.14
 * have no MADV_POPULATE_READ: there the pages are only read ahead). */
int memrelease_restore(const struct memrelease_range *r, size_t n);
