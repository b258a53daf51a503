/* SPDX-License-Identifier: MIT */
/* An ELF core of a live process, written by crashbox itself: every thread
 * attached with PTRACE_SEIZE + PTRACE_INTERRUPT (nothing the process can
 * see), registers read with PTRACE_GETREGSET, memory through /proc/PID/mem,
 * laid out as the kernel's fs/binfmt_elf.c lays out its own cores, so gdb
 * and `dlv core` load it.
 *
 * The core is streamed: the body (segment data, in file order) goes to a
 * sink as it is read; the head (ELF header, program headers, notes, padding
 * to a page) is returned at the end, when it is final, and precedes the
 * body in the file. Its length is known before the body starts (the sink's
 * begin), so a seekable sink may leave room for it. A cut (size cap, time
 * budget, the process gone) stays a loadable core: the segment being
 * written ends where the data ends, later ones keep no data. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct coredump_sink {
    int (*begin)(void *ctx, size_t head_len); /* may be NULL */
    int (*write)(void *ctx, const void *buf, size_t len);
    void *ctx;
};

struct coredump_options {
    pid_t pid;
    pid_t tid;             /* the crashing thread, first in the notes; 0: the leader */
    int signo;             /* the signal it dies of; 0 for an exit */
    int si_code;           /* of that signal (SI_TKILL for a tgkill) */
    uint64_t max_size;     /* of the whole core; 0: no cap */
    long long deadline_ms; /* on the now_ms() clock; 0: none */
    const char *omit_file; /* this file's read-only mappings stay out (the executable, kept apart) */
};

struct coredump_result {
    char *head; /* owned: precedes the body */
    size_t head_len;
    uint64_t body_len;
    unsigned threads;
    const char *cut; /* why the core is cut (a static string), NULL if whole */
};

/* Writes the core of o->pid, which must be stopped at nothing in
 * particular: the threads are attached, stopped, read and detached again
 * before it returns, whatever happens. Returns 0 (maybe cut) or -errno
 * (-EPERM: ptrace refused; nothing written). */
int coredump_write(const struct coredump_options *o, const struct coredump_sink *sink,
                   struct coredump_result *res);
void coredump_result_free(struct coredump_result *r);

/* One mapping of /proc/PID/smaps, as far as dumping it goes. */
struct coredump_vma {
    uint64_t start, end, offset;
    bool r, w, x, shared;
    bool dontdump, io, hugetlb; /* VmFlags dd, io, ht */
    uint64_t rss, swap, anon;   /* bytes */
    bool has_path;              /* a file (path starts with '/') */
    bool deleted;               /* " (deleted)": an unlinked file, shmem */
    bool vdso, vsyscall;
    char *path;                 /* owned: the pathname column, "" if none */
};

/* Parses smaps text. *out is owned by the caller (coredump_vmas_free). */
int coredump_parse_smaps(const char *buf, size_t len, struct coredump_vma **out, size_t *n);
void coredump_vmas_free(struct coredump_vma *v, size_t n);

/* How a mapping is dumped, by the rules of coredump_filter. */
enum coredump_what {
    CORE_SKIP,       /* no data in the core */
    CORE_ELF_HEADER, /* the first page: an ELF file's headers */
    CORE_SPARSE,     /* all of it; pages never touched are zeros, never read */
    CORE_WHOLE,      /* all of it, read page by page */
};
enum coredump_what coredump_vma_rule(const struct coredump_vma *v, unsigned filter, const char *omit_file);
