/* SPDX-License-Identifier: MIT */
#include "coredump.h"

#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#if defined(__x86_64__)
#define CORE_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define CORE_MACHINE EM_AARCH64
#else
#define CORE_MACHINE 0
#endif

#define CHUNK (1u << 20)

/* ---- smaps ---------------------------------------------------------- */

static uint64_t kb_field(const char *line, const char *key)
{
    size_t kl = strlen(key);
    if (strncmp(line, key, kl) != 0)
        return UINT64_MAX;
    return strtoull(line + kl, NULL, 10) * 1024;
}

static bool vmflag(const char *flags, const char *f)
{
    for (const char *p = flags; (p = strstr(p, f)); p += 2)
        if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' || p[2] == '\0'))
            return true;
    return false;
}

static bool header_line(const char *line, struct coredump_vma *v)
{
    unsigned long long s, e, off, ino;
    char perms[5];
    int pos = 0;
    if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %llu %n", &s, &e, perms, &off, &ino, &pos) < 5 || !pos)
        return false;
    *v = (struct coredump_vma){.start = s, .end = e, .offset = off, .r = perms[0] == 'r',
                               .w = perms[1] == 'w', .x = perms[2] == 'x', .shared = perms[3] == 's'};
    const char *path = line + pos;
    size_t pl = strcspn(path, "\n");
    v->path = strndup(path, pl);
    if (!v->path)
        return false;
    v->has_path = path[0] == '/';
    v->deleted = pl > 10 && memcmp(path + pl - 10, " (deleted)", 10) == 0;
    v->vdso = strcmp(v->path, "[vdso]") == 0;
    v->vsyscall = strcmp(v->path, "[vsyscall]") == 0;
    return true;
}

void coredump_vmas_free(struct coredump_vma *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

int coredump_parse_smaps(const char *buf, size_t len, struct coredump_vma **out, size_t *n)
{
    struct coredump_vma *v = NULL;
    size_t cnt = 0, cap = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[4352];
        if (ll >= sizeof line)
            ll = sizeof line - 1;
        memcpy(line, p, ll);
        line[ll] = '\0';
        p = nl ? nl + 1 : end;
        uint64_t k;
        if (cnt && (k = kb_field(line, "Rss:")) != UINT64_MAX) {
            v[cnt - 1].rss = k;
        } else if (cnt && (k = kb_field(line, "Swap:")) != UINT64_MAX) {
            v[cnt - 1].swap = k;
        } else if (cnt && (k = kb_field(line, "Anonymous:")) != UINT64_MAX) {
            v[cnt - 1].anon = k;
        } else if (cnt && strncmp(line, "VmFlags:", 8) == 0) {
            v[cnt - 1].dontdump = vmflag(line + 8, "dd");
            v[cnt - 1].io = vmflag(line + 8, "io") || vmflag(line + 8, "pf");
            v[cnt - 1].hugetlb = vmflag(line + 8, "ht");
        } else if (strchr(line, '-') && isxdigit((unsigned char)line[0])) {
            struct coredump_vma m;
            if (!header_line(line, &m))
                continue;
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                struct coredump_vma *nv = realloc(v, cap * sizeof *v);
                if (!nv) {
                    free(m.path);
                    coredump_vmas_free(v, cnt);
                    return -ENOMEM;
                }
                v = nv;
            }
            v[cnt++] = m;
        }
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* The kernel's vma_dump_size() (fs/coredump.c), from what smaps shows:
 * "written to" (an anon_vma) is seen as anonymous or swapped pages. */
enum coredump_what coredump_vma_rule(const struct coredump_vma *v, unsigned filter, const char *omit_file)
{
    enum { ANON_PRIVATE = 1, ANON_SHARED = 2, MAPPED_PRIVATE = 4, MAPPED_SHARED = 8, ELF_HEADERS = 16,
           HUGETLB_PRIVATE = 32, HUGETLB_SHARED = 64 };
    if (v->vdso)
        return CORE_WHOLE;
    if (v->vsyscall || v->dontdump || v->io)
        return CORE_SKIP;
    if (!v->r && !v->w && !v->x)
        return CORE_SKIP; /* a reservation (a Go heap arena's unused part) */
    if (v->hugetlb)
        return filter & (v->shared ? HUGETLB_SHARED : HUGETLB_PRIVATE) ? CORE_WHOLE : CORE_SKIP;
    if (v->shared) {
        bool anon = !v->has_path || v->deleted || strncmp(v->path, "/dev/zero", 9) == 0 ||
                    strncmp(v->path, "/SYSV", 5) == 0 || strncmp(v->path, "/memfd:", 7) == 0;
        return filter & (anon ? ANON_SHARED : MAPPED_SHARED) ? CORE_WHOLE : CORE_SKIP;
    }
    if (!v->has_path) {
        /* Never touched: no data, as the kernel has no anon_vma for it. */
        if (!(filter & ANON_PRIVATE) || v->rss + v->swap == 0)
            return CORE_SKIP;
        return CORE_SPARSE;
    }
    if ((v->anon || v->swap) && (filter & ANON_PRIVATE))
        return CORE_WHOLE; /* private file pages, some of them written: all of it, as the kernel does */
    bool omitted = omit_file && !v->w && strcmp(v->path, omit_file) == 0;
    if ((filter & MAPPED_PRIVATE) && !omitted)
        return CORE_WHOLE;
    if ((filter & ELF_HEADERS) && v->offset == 0 && v->r)
        return CORE_ELF_HEADER;
    return CORE_SKIP;
}

/* ---- a growing buffer ----------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void buf_put(struct buf *b, const void *d, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_align(struct buf *b, size_t a)
{
    static const char zeros[8];
    while (b->len % a && !b->failed)
        buf_put(b, zeros, a - b->len % a > sizeof zeros ? sizeof zeros : a - b->len % a);
}

/* A note as binfmt_elf writes one: name and desc each padded to 4. */
static void note_add(struct buf *b, const char *name, uint32_t type, const void *desc, size_t len)
{
    Elf64_Nhdr h = {.n_namesz = (Elf64_Word)strlen(name) + 1, .n_descsz = (Elf64_Word)len, .n_type = type};
    buf_put(b, &h, sizeof h);
    buf_put(b, name, h.n_namesz);
    buf_align(b, 4);
    buf_put(b, desc, len);
    buf_align(b, 4);
}

/* ---- threads -------------------------------------------------------- */

struct thread {
    pid_t tid;
    bool attached, stopped, gone;
    int inject; /* a signal met at the stop, given back at detach */
    struct user_regs_struct regs;
    bool has_regs;
    char *fp; /* owned: NT_FPREGSET */
    size_t fp_len;
    char *xstate; /* owned: NT_X86_XSTATE */
    size_t xstate_len;
};

struct threads {
    struct thread *v;
    size_t n, cap;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char task_state(pid_t pid, pid_t tid)
{
    char path[96], *buf = NULL;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    if (read_file_at(AT_FDCWD, path, 4096, &buf, &len) < 0)
        return 'X';
    const char *rp = strrchr(buf, ')');
    char s = rp && rp[1] && rp[2] ? rp[2] : 'X';
    free(buf);
    return s;
}

/* A traced thread that died is a zombie for its tracer to reap (the
 * leader stays the supervisor's: never reaped here). */
static void reap_thread(pid_t pid, struct thread *th)
{
    if (th->tid == pid)
        return;
    siginfo_t si;
    for (int i = 0; i < 200; i++) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)th->tid, &si, WEXITED | WNOHANG | __WALL) < 0 || si.si_pid == th->tid)
            return;
        sleep_ms(1);
    }
}

static void wait_stop(pid_t pid, struct thread *th, long long give_up)
{
    for (int i = 0;; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)th->tid, &si, WSTOPPED | WNOHANG | __WALL) < 0) {
            th->gone = true; /* ECHILD: not ours any more */
            return;
        }
        if (si.si_pid == th->tid && (si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED)) {
            th->stopped = true;
            int event = si.si_status >> 8, sig = si.si_status & 0xff;
            /* A signal-delivery stop holds a signal meant for the thread. */
            if (event == 0 && sig != SIGTRAP && sig != SIGSTOP)
                th->inject = sig;
            return;
        }
        if (i % 20 == 19) {
            char s = task_state(pid, th->tid);
            if (s == 'Z' || s == 'X') {
                th->gone = true;
                reap_thread(pid, th);
                return;
            }
        }
        if (now_ms() > give_up)
            return;
        sleep_ms(1);
    }
}

static struct thread *thread_find(struct threads *t, pid_t tid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].tid == tid)
            return &t->v[i];
    return NULL;
}

/* Attaches every thread and waits for each to stop; threads born meanwhile
 * show up in the next listing, until one adds nobody. */
static int threads_attach(pid_t pid, struct threads *t, long long give_up)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    int first_err = 0;
    for (int round = 0; round < 1000; round++) {
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
            return t->n ? 0 : -errno;
        size_t added = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            pid_t tid = (pid_t)atoi(e->d_name);
            if (tid <= 0 || thread_find(t, tid))
                continue;
            if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 32;
                struct thread *nv = realloc(t->v, cap * sizeof *nv);
                if (!nv)
                    return -ENOMEM;
                t->v = nv;
                t->cap = cap;
            }
            struct thread *th = &t->v[t->n];
            *th = (struct thread){.tid = tid};
            if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
                if (!first_err)
                    first_err = -errno;
                if (errno == ESRCH) /* gone already; remember it so it is not retried */
                    th->gone = true;
                else if (tid == pid)
                    return first_err; /* not allowed: nothing is attached */
                t->n++;
                continue;
            }
            th->attached = true;
            t->n++;
            added++;
            (void)ptrace(PTRACE_INTERRUPT, tid, 0, 0);
        }
        for (size_t i = 0; i < t->n; i++)
            if (t->v[i].attached && !t->v[i].stopped && !t->v[i].gone)
                wait_stop(pid, &t->v[i], give_up);
        if (!added)
            break;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].stopped)
            return 0;
    return first_err ? first_err : -ESRCH;
}

static void threads_detach(pid_t pid, struct threads *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct thread *th = &t->v[i];
        if (!th->attached)
            continue;
        if (!th->stopped && !th->gone)
            wait_stop(pid, th, now_ms() + 5000); /* a running tracee cannot be detached */
        if (ptrace(PTRACE_DETACH, th->tid, 0, (void *)(long)th->inject) < 0 && errno == ESRCH)
            reap_thread(pid, th);
        th->attached = false;
    }
}

static void threads_free(struct threads *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].fp);
        free(t->v[i].xstate);
    }
    free(t->v);
    *t = (struct threads){0};
}

static void regset_read(pid_t tid, int type, size_t max, char **out, size_t *len)
{
    char *b = malloc(max);
    if (!b)
        return;
    struct iovec iov = {b, max};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)(long)type, &iov) < 0 || iov.iov_len == 0) {
        free(b);
        return;
    }
    *out = b;
    *len = iov.iov_len;
}

static void thread_read_regs(struct thread *th)
{
    struct iovec iov = {&th->regs, sizeof th->regs};
    th->has_regs = ptrace(PTRACE_GETREGSET, th->tid, (void *)(long)NT_PRSTATUS, &iov) == 0;
    regset_read(th->tid, NT_FPREGSET, 4096, &th->fp, &th->fp_len);
#if defined(__x86_64__)
    regset_read(th->tid, NT_X86_XSTATE, 1 << 15, &th->xstate, &th->xstate_len);
#endif
}

/* ---- notes ---------------------------------------------------------- */

struct procinfo {
    char state;
    pid_t ppid, pgrp, sid;
    int nice;
    char comm[16];
};

static void read_procinfo(pid_t pid, struct procinfo *pi)
{
    char path[64], *buf = NULL;
    size_t len;
    *pi = (struct procinfo){.state = 'R'};
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_file_at(AT_FDCWD, path, 4096, &buf, &len) < 0)
        return;
    const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
    if (lp && rp && rp > lp)
        snprintf(pi->comm, sizeof pi->comm, "%.*s", (int)(rp - lp - 1), lp + 1);
    int ppid = 0, pgrp = 0, sid = 0, nice = 0;
    char st = 'R';
    if (rp && sscanf(rp + 1, " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d", &st, &ppid,
                     &pgrp, &sid, &nice) >= 4) {
        pi->state = st;
        pi->ppid = ppid;
        pi->pgrp = pgrp;
        pi->sid = sid;
        pi->nice = nice;
    }
    free(buf);
}

static unsigned long status_mask(pid_t pid, pid_t tid, const char *key)
{
    char path[96], *buf = NULL;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    if (read_file_at(AT_FDCWD, path, 1 << 16, &buf, &len) < 0)
        return 0;
    const char *p = strstr(buf, key);
    unsigned long v = p ? strtoul(p + strlen(key), NULL, 16) : 0;
    free(buf);
    return v;
}

static void note_prstatus(struct buf *b, pid_t pid, const struct procinfo *pi, const struct thread *th,
                          int signo)
{
    struct elf_prstatus s;
    memset(&s, 0, sizeof s);
    s.pr_info.si_signo = signo;
    s.pr_cursig = (short)signo;
    s.pr_sigpend = status_mask(pid, th->tid, "SigPnd:");
    s.pr_sighold = status_mask(pid, th->tid, "SigBlk:");
    s.pr_pid = th->tid;
    s.pr_ppid = pi->ppid;
    s.pr_pgrp = pi->pgrp;
    s.pr_sid = pi->sid;
    _Static_assert(sizeof s.pr_reg == sizeof th->regs, "elf_gregset_t is user_regs_struct");
    memcpy(&s.pr_reg, &th->regs, sizeof th->regs);
    s.pr_fpvalid = th->fp != NULL;
    note_add(b, "CORE", NT_PRSTATUS, &s, sizeof s);
}

static void note_thread_regsets(struct buf *b, const struct thread *th)
{
    if (th->fp)
        note_add(b, "CORE", NT_FPREGSET, th->fp, th->fp_len);
    if (th->xstate)
        note_add(b, "LINUX", NT_X86_XSTATE, th->xstate, th->xstate_len);
}

static void note_prpsinfo(struct buf *b, pid_t pid, const struct procinfo *pi)
{
    struct elf_prpsinfo ps;
    memset(&ps, 0, sizeof ps);
    const char *states = "RSDTZW";
    const char *sp = strchr(states, pi->state);
    ps.pr_state = sp ? (char)(sp - states) : 0;
    ps.pr_sname = pi->state;
    ps.pr_zomb = pi->state == 'Z';
    ps.pr_nice = (char)pi->nice;
    ps.pr_pid = pid;
    ps.pr_ppid = pi->ppid;
    ps.pr_pgrp = pi->pgrp;
    ps.pr_sid = pi->sid;
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    if (stat(path, &st) == 0) {
        ps.pr_uid = st.st_uid;
        ps.pr_gid = st.st_gid;
    }
    memcpy(ps.pr_fname, pi->comm, sizeof ps.pr_fname);
    char *cmd = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    if (read_file_at(AT_FDCWD, path, 4096, &cmd, &len) == 0) {
        size_t n = len < sizeof ps.pr_psargs - 1 ? len : sizeof ps.pr_psargs - 1;
        for (size_t i = 0; i < n; i++)
            ps.pr_psargs[i] = cmd[i] ? cmd[i] : ' ';
        while (n && ps.pr_psargs[n - 1] == ' ')
            ps.pr_psargs[--n] = '\0';
        free(cmd);
    }
    note_add(b, "CORE", NT_PRPSINFO, &ps, sizeof ps);
}

static void note_siginfo(struct buf *b, pid_t pid, const struct coredump_options *o)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = o->signo;
    si.si_code = o->signo ? o->si_code : 0;
    if (o->signo && o->si_code <= 0) { /* sent by the process to itself */
        si.si_pid = pid;
        si.si_uid = getuid();
    }
    note_add(b, "CORE", NT_SIGINFO, &si, sizeof si);
}

static void note_auxv(struct buf *b, pid_t pid)
{
    char path[64], *auxv = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
    if (read_file_at(AT_FDCWD, path, 1 << 16, &auxv, &len) < 0)
        len = 0;
    note_add(b, "CORE", NT_AUXV, auxv ? auxv : "", len);
    free(auxv);
}

/* NT_FILE: count, page size, (start, end, offset in pages) per file
 * mapping, then their names. */
static void note_file(struct buf *b, const struct coredump_vma *v, size_t n)
{
    struct buf d = {0};
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), count = 0;
    for (size_t i = 0; i < n; i++)
        count += v[i].has_path;
    buf_put(&d, &count, 8);
    buf_put(&d, &page, 8);
    for (size_t i = 0; i < n; i++) {
        if (!v[i].has_path)
            continue;
        uint64_t t[3] = {v[i].start, v[i].end, v[i].offset / page};
        buf_put(&d, t, sizeof t);
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].has_path)
            buf_put(&d, v[i].path, strlen(v[i].path) + 1);
    if (d.failed)
        b->failed = true;
    else
        note_add(b, "CORE", NT_FILE, d.p, d.len);
    free(d.p);
}

static void build_notes(struct buf *b, const struct coredump_options *o, const struct threads *t,
                        const struct coredump_vma *v, size_t n)
{
    struct procinfo pi;
    read_procinfo(o->pid, &pi);
    /* The crashing thread first: debuggers take the first as current. */
    const struct thread *first = NULL;
    for (size_t i = 0; i < t->n && !first; i++)
        if (t->v[i].has_regs && t->v[i].tid == (o->tid ? o->tid : o->pid))
            first = &t->v[i];
    for (size_t i = 0; i < t->n && !first; i++)
        if (t->v[i].has_regs)
            first = &t->v[i];
    if (!first)
        return;
    note_prstatus(b, o->pid, &pi, first, o->signo);
    note_prpsinfo(b, o->pid, &pi);
    note_siginfo(b, o->pid, o);
    note_auxv(b, o->pid);
    note_file(b, v, n);
    note_thread_regsets(b, first);
    for (size_t i = 0; i < t->n; i++) {
        const struct thread *th = &t->v[i];
        if (th == first || !th->has_regs)
            continue;
        note_prstatus(b, o->pid, &pi, th, o->signo);
        note_thread_regsets(b, th);
    }
}

/* ---- memory --------------------------------------------------------- */

struct reader {
    int mem, pagemap;
    long page;
    char *buf; /* owned, CHUNK bytes */
    uint64_t *pm; /* owned, CHUNK / page entries */
    bool gone; /* the process's memory is no more */
};

/* Reads [addr, addr + len) into r->buf: untouched pages of a sparse
 * mapping are zeros without a read, pages that cannot be read are zeros. */
static void read_chunk(struct reader *r, uint64_t addr, size_t len, bool sparse)
{
    size_t pages = len / (size_t)r->page;
    bool have_pm = false;
    if (sparse && r->pagemap >= 0) {
        ssize_t n = pread(r->pagemap, r->pm, pages * 8, (off_t)(addr / (uint64_t)r->page * 8));
        have_pm = n == (ssize_t)(pages * 8);
    }
    size_t i = 0;
    while (i < pages) {
        /* a run of pages alike: present (or swapped) or not */
        bool want = !have_pm || (r->pm[i] >> 62) != 0;
        size_t j = i + 1;
        while (j < pages && (!have_pm || ((r->pm[j] >> 62) != 0) == want))
            j++;
        char *dst = r->buf + i * (size_t)r->page;
        size_t n = (j - i) * (size_t)r->page;
        if (!want) {
            memset(dst, 0, n);
        } else {
            uint64_t at = addr + i * (uint64_t)r->page;
            ssize_t got = pread(r->mem, dst, n, (off_t)at);
            if (got == 0) {
                r->gone = true;
                memset(dst, 0, n);
            } else if ((size_t)got != n) {
                /* a page that cannot be read must not lose the rest: page by page */
                size_t from = got > 0 ? (size_t)got / (size_t)r->page * (size_t)r->page : 0;
                for (size_t k = from; k < n; k += (size_t)r->page)
                    if (pread(r->mem, dst + k, (size_t)r->page, (off_t)(at + k)) != r->page)
                        memset(dst + k, 0, (size_t)r->page);
            }
        }
        i = j;
    }
}

struct segment {
    enum coredump_what what;
    uint64_t filesz; /* planned, then written */
};

/* /proc/PID/mem reads 0 bytes only once the address space is gone; a live
 * one refuses address 0 (EIO). Asked after every read of the dump: an
 * address space alive then was alive for all of them. */
static bool address_space_gone(int mem)
{
    char c;
    return pread(mem, &c, 1, 0) == 0;
}

static bool elf_magic_at(int mem, uint64_t addr)
{
    char m[SELFMAG];
    return pread(mem, m, SELFMAG, (off_t)addr) == SELFMAG && memcmp(m, ELFMAG, SELFMAG) == 0;
}

static unsigned read_filter(pid_t pid)
{
    char path[64], *buf = NULL;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/coredump_filter", (int)pid);
    if (read_file_at(AT_FDCWD, path, 64, &buf, &len) < 0)
        return 0x33;
    unsigned f = (unsigned)strtoul(buf, NULL, 16);
    free(buf);
    return f;
}

static void head_build(struct buf *h, const struct coredump_vma *v, const struct segment *seg, size_t n,
                       const struct buf *notes, size_t head_len)
{
    Elf64_Ehdr e;
    memset(&e, 0, sizeof e);
    memcpy(e.e_ident, ELFMAG, SELFMAG);
    e.e_ident[EI_CLASS] = ELFCLASS64;
    e.e_ident[EI_DATA] = ELFDATA2LSB;
    e.e_ident[EI_VERSION] = EV_CURRENT;
    e.e_ident[EI_OSABI] = ELFOSABI_NONE;
    e.e_type = ET_CORE;
    e.e_machine = CORE_MACHINE;
    e.e_version = EV_CURRENT;
    e.e_phoff = sizeof e;
    e.e_ehsize = sizeof e;
    e.e_phentsize = sizeof(Elf64_Phdr);
    e.e_phnum = (Elf64_Half)(n + 1);
    buf_put(h, &e, sizeof e);
    Elf64_Phdr p = {.p_type = PT_NOTE, .p_offset = sizeof e + (n + 1) * sizeof(Elf64_Phdr),
                    .p_filesz = notes->len, .p_align = 4};
    buf_put(h, &p, sizeof p);
    uint64_t off = head_len;
    for (size_t i = 0; i < n; i++) {
        p = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = off, .p_vaddr = v[i].start,
                         .p_filesz = seg[i].filesz, .p_memsz = v[i].end - v[i].start,
                         .p_flags = (v[i].r ? PF_R : 0) | (v[i].w ? PF_W : 0) | (v[i].x ? PF_X : 0),
                         .p_align = (uint64_t)sysconf(_SC_PAGESIZE)};
        buf_put(h, &p, sizeof p);
        off += seg[i].filesz;
    }
    buf_put(h, notes->p, notes->len);
    while (h->len < head_len && !h->failed) {
        static const char zeros[512];
        size_t k = head_len - h->len < sizeof zeros ? head_len - h->len : sizeof zeros;
        buf_put(h, zeros, k);
    }
}

/* Writes the planned segments; a cut truncates the one being written. */
static int body_write(struct reader *r, const struct coredump_vma *v, struct segment *seg, size_t n,
                      const struct coredump_options *o, const struct coredump_sink *sink, uint64_t *body,
                      const char **cut)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t planned = seg[i].filesz, done = 0;
        while (done < planned && !*cut) {
            if (o->deadline_ms && now_ms() > o->deadline_ms) {
                *cut = "budget";
                break;
            }
            size_t k = planned - done < CHUNK ? (size_t)(planned - done) : CHUNK;
            read_chunk(r, v[i].start + done, k, seg[i].what == CORE_SPARSE);
            if (r->gone) {
                *cut = "the service ended during the dump";
                break;
            }
            int w = sink->write(sink->ctx, r->buf, k);
            if (w < 0)
                return w;
            done += k;
        }
        seg[i].filesz = done;
        *body += done;
    }
    return 0;
}

static void fds_close(struct reader *r)
{
    if (r->mem >= 0)
        close(r->mem);
    if (r->pagemap >= 0)
        close(r->pagemap);
    free(r->buf);
    free(r->pm);
}

int coredump_write(const struct coredump_options *o, const struct coredump_sink *sink,
                   struct coredump_result *res)
{
    *res = (struct coredump_result){0};
    if (!CORE_MACHINE)
        return -ENOTSUP;
    long page = sysconf(_SC_PAGESIZE);
    struct reader rd = {.mem = -1, .pagemap = -1, .page = page};
    rd.buf = malloc(CHUNK);
    rd.pm = malloc(CHUNK / (size_t)page * 8);
    if (!rd.buf || !rd.pm) {
        fds_close(&rd);
        return -ENOMEM;
    }
    struct threads t = {0};
    long long give_up = o->deadline_ms ? o->deadline_ms : now_ms() + 30000;
    int r = threads_attach(o->pid, &t, give_up);
    struct coredump_vma *v = NULL;
    size_t n = 0, nall = 0;
    struct segment *seg = NULL;
    _cleanup_free_ char *smaps = NULL;
    struct buf notes = {0}, head = {0};
    if (r < 0)
        goto out;
    for (size_t i = 0; i < t.n; i++)
        if (t.v[i].stopped && !t.v[i].gone)
            thread_read_regs(&t.v[i]);

    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)o->pid);
    rd.mem = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)o->pid);
    rd.pagemap = open(path, O_RDONLY | O_CLOEXEC);
    size_t slen = 0;
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)o->pid);
    if (rd.mem < 0 || (r = read_file_at(AT_FDCWD, path, 1 << 28, &smaps, &slen)) < 0) {
        r = rd.mem < 0 ? -errno : r;
        goto out;
    }
    if ((r = coredump_parse_smaps(smaps, slen, &v, &nall)) < 0)
        goto out;
    n = nall;
    if (n + 1 >= PN_XNUM) {
        n = PN_XNUM - 2;
        res->cut = "too many mappings";
    }
    seg = calloc(n ? n : 1, sizeof *seg);
    if (!seg) {
        r = -ENOMEM;
        goto out;
    }
    build_notes(&notes, o, &t, v, n);
    if (notes.failed) {
        r = -ENOMEM;
        goto out;
    }
    size_t head_len = sizeof(Elf64_Ehdr) + (n + 1) * sizeof(Elf64_Phdr) + notes.len;
    head_len = (head_len + (size_t)page - 1) / (size_t)page * (size_t)page;

    unsigned filter = read_filter(o->pid);
    uint64_t total = head_len;
    for (size_t i = 0; i < n; i++) {
        seg[i].what = coredump_vma_rule(&v[i], filter, o->omit_file);
        uint64_t want = 0;
        if (seg[i].what == CORE_ELF_HEADER)
            want = elf_magic_at(rd.mem, v[i].start) ? (uint64_t)page : 0;
        else if (seg[i].what != CORE_SKIP)
            want = v[i].end - v[i].start;
        if (o->max_size && total + want > o->max_size) {
            want = o->max_size > total ? (o->max_size - total) / (uint64_t)page * (uint64_t)page : 0;
            res->cut = "max_size";
        }
        seg[i].filesz = want;
        total += want;
    }
    res->threads = 0;
    for (size_t i = 0; i < t.n; i++)
        res->threads += t.v[i].has_regs;
    if (sink->begin && (r = sink->begin(sink->ctx, head_len)) < 0)
        goto out;
    const char *cut = NULL;
    r = body_write(&rd, v, seg, n, o, sink, &res->body_len, &cut);
    /* A process killed mid-dump shows no mappings, or a leader that is
     * gone, or an address space that is: killed after smaps was read, its
     * coredump_filter reads empty (every segment skipped, nothing read that
     * could fail) while its leader is not a zombie yet. */
    char leader = task_state(o->pid, o->pid);
    if (!cut && (n == 0 || leader == 'Z' || leader == 'X' || address_space_gone(rd.mem)))
        cut = "the service ended during the dump";
    if (cut)
        res->cut = cut;
    threads_detach(o->pid, &t);
    if (r < 0)
        goto out;
    head_build(&head, v, seg, n, &notes, head_len);
    if (head.failed) {
        r = -ENOMEM;
        goto out;
    }
    res->head = steal_pointer(&head.p);
    res->head_len = head.len;
out:
    threads_detach(o->pid, &t);
    threads_free(&t);
    fds_close(&rd);
    coredump_vmas_free(v, nall);
    free(seg);
    free(notes.p);
    free(head.p);
    return r < 0 ? r : 0;
}

void coredump_result_free(struct coredump_result *r)
{
    free(r->head);
    *r = (struct coredump_result){0};
}
