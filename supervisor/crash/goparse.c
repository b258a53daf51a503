/* SPDX-License-Identifier: MIT */
#include "goparse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A line of the buffer, without its '\n' (and without a trailing '\r'). */
struct line {
    const char *s;
    size_t n;
};

struct cursor {
    const char *pos, *end;
};

static bool next_line(struct cursor *c, struct line *l)
{
    if (c->pos >= c->end)
        return false;
    const char *nl = memchr(c->pos, '\n', (size_t)(c->end - c->pos));
    const char *e = nl ? nl : c->end;
    l->s = c->pos;
    l->n = (size_t)(e - c->pos);
    if (l->n && l->s[l->n - 1] == '\r')
        l->n--;
    c->pos = nl ? nl + 1 : c->end;
    return true;
}

/* The decimal number at p, reading no further than e (the buffer is not
 * NUL-terminated); capped, 0 if none. */
static long number_at(const char *p, const char *e)
{
    long v = 0;
    for (; p < e && isdigit((unsigned char)*p); p++)
        if (v < 1000000000000L)
            v = v * 10 + (*p - '0');
    return v;
}

static bool starts(const struct line *l, const char *p)
{
    size_t n = strlen(p);
    return l->n >= n && memcmp(l->s, p, n) == 0;
}

static bool ends(const struct line *l, const char *p)
{
    size_t n = strlen(p);
    return l->n >= n && memcmp(l->s + l->n - n, p, n) == 0;
}

static char *dup_n(const char *s, size_t n)
{
    if (n > GOPARSE_MAX_MESSAGE)
        n = GOPARSE_MAX_MESSAGE;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* A goroutine header, as Go 1.19-1.26 print it:
 *   goroutine 7 [chan receive, 3 minutes, locked to thread]:
 *   goroutine 1 gp=0x3b46dcb0c000 m=0 mp=0x5a8f40 [running]:   (GOTRACEBACK=system)
 *   goroutine 19 [chan receive (synctest), synctest group 18]:  (1.24)
 *   goroutine 21 [sleep (durable), synctest bubble 1]:          (1.25+)
 *   goroutine 8 [running labels:{"request": "r-42"}]:           (1.26, tracebacklabels)
 * The state is the wait reason alone; the rest are annotations. */
struct goroutine_header {
    long id;
    const char *state; /* points into the line */
    size_t state_n;
    const char *labels; /* "{...}" or NULL */
    size_t labels_n;
    unsigned long minutes; /* ", N minutes": blocked that long */
};

static const char *find_n(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

static bool goroutine_header(const struct line *l, struct goroutine_header *h)
{
    if (!starts(l, "goroutine ") || !ends(l, "]:"))
        return false;
    const char *p = l->s + 10, *e = l->s + l->n;
    if (p >= e || !isdigit((unsigned char)*p))
        return false;
    long v = number_at(p, e);
    while (p < e && isdigit((unsigned char)*p))
        p++;
    if (p >= e || *p != ' ')
        return false;
    const char *open = memchr(p, '[', (size_t)(e - p));
    if (!open)
        return false;
    *h = (struct goroutine_header){.id = v};
    const char *in = open + 1, *in_end = e - 2;
    const char *lab = find_n(in, (size_t)(in_end - in), " labels:{");
    if (lab) {
        h->labels = lab + 8;
        h->labels_n = (size_t)(in_end - h->labels);
        in_end = lab;
    }
    const char *comma = find_n(in, (size_t)(in_end - in), ", ");
    const char *st_end = comma ? comma : in_end;
    /* ", 3 minutes" and the like follow the state. */
    for (const char *a = comma; a; a = find_n(a + 2, (size_t)(in_end - a - 2), ", ")) {
        const char *q = a + 2;
        long m = number_at(q, in_end);
        while (q < in_end && isdigit((unsigned char)*q))
            q++;
        if (q > a + 2 && (size_t)(in_end - q) >= 7 && memcmp(q, " minute", 7) == 0)
            h->minutes = (unsigned long)m;
    }
    static const char *const marks[] = {" (durable)", " (scan)", " (leaked)"};
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
            size_t m = strlen(marks[i]);
            if ((size_t)(st_end - in) > m && memcmp(st_end - m, marks[i], m) == 0) {
                st_end -= m;
                again = true;
            }
        }
    }
    h->state = in;
    h->state_n = (size_t)(st_end - in);
    return true;
}

static bool is_crash_start(const struct line *l, const struct line *next)
{
    if (starts(l, "panic: ") || starts(l, "fatal error: ") || starts(l, "WARNING: DATA RACE"))
        return true;
    /* A runtime signal dump: "SIGQUIT: quit" followed by "PC=0x... m=0 ...". */
    if (starts(l, "SIG") && l->n < 80 && next && starts(next, "PC=")) {
        const char *colon = memchr(l->s, ':', l->n);
        if (!colon)
            return false;
        for (const char *p = l->s + 3; p < colon; p++)
            if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
                return false;
        return true;
    }
    return false;
}

/* After a crash start, the runtime prints a goroutine header or "runtime
 * stack:" soon; with GOTRACEBACK=none or a truncated capture, only a few
 * indented or bracketed lines follow. An application's log line that just
 * happens to begin with "panic: " is followed by more log lines. Before Go
 * 1.23 a panic value's own newlines are printed raw: up to the first blank
 * line, any line may belong to the value, and then the report must follow. */
static bool crash_start_is_real(const char *start, const char *end)
{
    struct cursor c = {start, end};
    struct line l;
    next_line(&c, &l);
    bool race = starts(&l, "WARNING: DATA RACE");
    bool in_value = starts(&l, "panic: ") || starts(&l, "fatal error: ");
    bool raw_value_lines = false;
    for (int i = 0; i < 200 && next_line(&c, &l); i++) {
        struct goroutine_header h;
        if (goroutine_header(&l, &h) || starts(&l, "runtime stack:"))
            return true;
        if (race && (starts(&l, "==================") || ends(&l, ":")))
            return true;
        if (l.n == 0)
            in_value = false;
        if (l.n == 0 || l.s[0] == '\t' || l.s[0] == '[' || starts(&l, "PC=") ||
            starts(&l, "runtime: ") || starts(&l, "signal arrived during") ||
            starts(&l, "exit status ") || starts(&l, "fatal error: ") ||
            starts(&l, "goroutine ") || starts(&l, "panic: "))
            continue;
        if (in_value) {
            raw_value_lines = true;
            continue;
        }
        return false;
    }
    /* Only report-shaped lines up to the end: truncated. Raw lines with no
     * report after them are more likely a log line and its successors. */
    return !raw_value_lines;
}

bool goparse_report_is_real(const char *buf, size_t len) { return crash_start_is_real(buf, buf + len); }

static const char *first_of_chain(const char *buf, size_t len, const char *start);

/* Finds the start of the last real crash report. Returns NULL if none. */
static const char *find_report(const char *buf, size_t len)
{
    /* The newest candidates are the ones that matter: keep the last few. */
    enum { KEEP = 16 };
    const char *cand[KEEP];
    size_t ncand = 0;
    struct cursor c = {buf, buf + len};
    struct line l, next;
    bool have = next_line(&c, &l);
    while (have) {
        bool have_next = next_line(&c, &next);
        if (l.n && (l.s[0] == 'p' || l.s[0] == 'f' || l.s[0] == 'S' || l.s[0] == 'W') &&
            is_crash_start(&l, have_next ? &next : NULL))
            cand[ncand++ % KEEP] = l.s;
        l = next;
        have = have_next;
    }
    size_t kept = ncand < KEEP ? ncand : KEEP;
    for (size_t i = 0; i < kept; i++) {
        const char *s = cand[(ncand - 1 - i) % KEEP];
        if (crash_start_is_real(s, buf + len))
            return first_of_chain(buf, len, s);
    }
    return NULL;
}

/* The line before the one starting at *p (which moves to it); false at
 * the start of the buffer. */
static bool prev_line(const char *buf, const char **p, struct line *l)
{
    if (*p <= buf)
        return false;
    const char *e = *p - 1; /* the '\n' ending the previous line */
    const char *nl = e > buf ? memrchr(buf, '\n', (size_t)(e - buf)) : NULL;
    const char *s = nl ? nl + 1 : buf;
    l->s = s;
    l->n = (size_t)(e - s);
    if (l->n && l->s[l->n - 1] == '\r')
        l->n--;
    *p = s;
    return true;
}

/* The report's real start, given its last part. Under GOTRACEBACK=crash the
 * crashing thread's report is followed, for every other thread, by "-----",
 * a blank line and that thread's own signal dump: the first is the report.
 * The race detector prints one report per race until the program exits
 * with "Found N data race(s)": the first race is the crash's. */
static const char *first_of_chain(const char *buf, size_t len, const char *start)
{
    for (;;) {
        struct cursor c = {start, buf + len};
        struct line l, later = {0};
        next_line(&c, &l);
        bool race = starts(&l, "WARNING: DATA RACE");
        const char *p = start;
        if (!race) {
            if (l.s[0] != 'S')
                return start;
            /* Only a dump right after "-----" continues an earlier report. */
            while (prev_line(buf, &p, &l) && l.n == 0)
                ;
            if (p == start || !(l.n == 5 && memcmp(l.s, "-----", 5) == 0))
                return start;
        }
        const char *found = NULL;
        while (!found && prev_line(buf, &p, &l)) {
            if (race && starts(&l, "Found ") && find_n(l.s, l.n, " data race"))
                break; /* the end of a previous run */
            if (l.n && is_crash_start(&l, later.s ? &later : NULL)) {
                if (race && !starts(&l, "WARNING: DATA RACE"))
                    break;
                found = l.s;
            }
            later = l;
        }
        if (!found || (!race && !crash_start_is_real(found, start)))
            return start;
        start = found;
    }
}

/* Lines "runtime: ..." just before a fatal error belong to its report. */
static const char *extend_back(const char *buf, const char *start)
{
    const char *s = start;
    while (s > buf) {
        const char *prev_end = s - 1; /* the '\n' ending the previous line */
        const char *p = prev_end;
        while (p > buf && p[-1] != '\n')
            p--;
        if ((size_t)(prev_end - p) >= 9 && memcmp(p, "runtime: ", 9) == 0)
            s = p;
        else
            break;
    }
    return s;
}

static void set_str(char **dst, const char *s, size_t n)
{
    free(*dst);
    *dst = dup_n(s, n);
}

/* Appends "\n" + text to a multi-line message. */
static void append_line(char **msg, const char *s, size_t n)
{
    size_t old = *msg ? strlen(*msg) : 0;
    if (old + 1 + n > GOPARSE_MAX_MESSAGE)
        return;
    char *m = realloc(*msg, old + n + 2);
    if (!m)
        return;
    m[old] = '\n';
    memcpy(m + old + 1, s, n);
    m[old + 1 + n] = '\0';
    *msg = m;
}

/* Value of "key=VALUE" in a space-separated line, into *dst. */
static void field(const char *s, size_t n, const char *key, char **dst)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k <= n; i++) {
        if ((i == 0 || s[i - 1] == ' ') && memcmp(s + i, key, k) == 0) {
            size_t j = i + k;
            while (j < n && s[j] != ' ' && s[j] != ']')
                j++;
            set_str(dst, s + i + k, j - i - k);
            return;
        }
    }
}

/* "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x48f66c]" */
static void parse_signal_line(struct go_crash *c, const struct line *l)
{
    const char *p = l->s + 8, *e = l->s + l->n;
    const char *colon = memchr(p, ':', (size_t)(e - p));
    const char *sp = memchr(p, ' ', (size_t)(e - p));
    const char *name_end = colon && (!sp || colon < sp) ? colon : sp ? sp : e;
    set_str(&c->go_signal, p, (size_t)(name_end - p));
    field(l->s, l->n, "code=", &c->signal_code);
    field(l->s, l->n, "addr=", &c->signal_addr);
    field(l->s, l->n, "pc=", &c->signal_pc);
}

/* "main.(*T).Method(0xc000010000, {0x4a0f5b?, 0x3})" -> "main.(*T).Method" */
static size_t function_name_len(const char *s, size_t n)
{
    if (n == 0)
        return n;
    if (s[n - 1] != ')') { /* cut mid-arguments: the name ends at the first '(' */
        const char *open = memchr(s, '(', n);
        return open && open > s ? (size_t)(open - s) : n;
    }
    int depth = 0;
    for (size_t i = n; i-- > 0;) {
        if (s[i] == ')')
            depth++;
        else if (s[i] == '(' && --depth == 0)
            return i;
    }
    return n;
}

/* "\t/src/main.go:14 +0x4c fp=0x... sp=0x..." -> file, line */
static void parse_file_line(const struct line *l, struct go_frame *f)
{
    const char *s = l->s + 1, *e = l->s + l->n;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    const char *sp = memchr(s, ' ', (size_t)(e - s));
    const char *fe = sp ? sp : e;
    const char *colon = NULL;
    for (const char *p = fe; p-- > s;)
        if (*p == ':') {
            colon = p;
            break;
        }
    if (!colon)
        return;
    unsigned v = 0;
    for (const char *p = colon + 1; p < fe && isdigit((unsigned char)*p); p++)
        v = v < 100000000 ? v * 10 + (unsigned)(*p - '0') : v;
    free(f->file);
    f->file = dup_n(s, (size_t)(colon - s));
    f->line = v;
}

static bool is_elided_marker(const struct line *l)
{
    return starts(l, "...") && ends(l, "elided...");
}

bool goparse_is_runtime_function(const char *fn)
{
    return strncmp(fn, "runtime.", 8) == 0 || strncmp(fn, "runtime/", 8) == 0 ||
           strncmp(fn, "internal/", 9) == 0 || strcmp(fn, "panic") == 0;
}

/* Where the Go distribution's sources are, from a runtime frame's file
 * ("/usr/lib/go-1.23/src/runtime/proc.go" -> "/usr/lib/go-1.23/src/"): its
 * length, 0 if no frame shows it. */
static size_t goroot_src_len(const struct go_crash *c, const char **root)
{
    for (size_t i = 0; i < c->nframes; i++) {
        const struct go_frame *f = &c->frames[i];
        if (!f->file || strncmp(f->function, "runtime.", 8) != 0)
            continue;
        const char *r = strstr(f->file, "/src/runtime/");
        if (r) {
            *root = f->file;
            return (size_t)(r - f->file) + 5;
        }
    }
    return 0;
}

/* A frame of the Go distribution's own packages ("sync.", "net/http.",
 * "testing."): the import path's first element has no dot and is not
 * "main", and the file, where the runtime's frames show where the
 * distribution is, lies there (a module named "myapp" is not the
 * distribution's). Under it, which wrapper the distribution puts around a
 * call (sync.fatal in 1.23, internal/sync.fatal in 1.24) varies by version. */
static bool is_library_frame(const struct go_frame *f, const char *root, size_t root_n)
{
    const char *fn = f->function;
    const char *dot = strchr(fn, '.'), *slash = strchr(fn, '/');
    if (!dot)
        return false;
    if (slash && slash < dot) {
        /* "net/http.(*conn).serve": the first element is before the slash */
    } else if (slash || (dot - fn == 4 && memcmp(fn, "main", 4) == 0)) {
        return false; /* "example.com/x.F" or "main.main" */
    }
    return !(root_n && f->file && strncmp(f->file, root, root_n) != 0);
}

/* The first frame of the program's own code, or failing that of any
 * non-runtime code; -1 if none. */
static int culprit_frame(const struct go_crash *c)
{
    const char *root = NULL;
    size_t root_n = goroot_src_len(c, &root);
    int fallback = -1;
    for (size_t i = 0; i < c->nframes; i++) {
        const struct go_frame *f = &c->frames[i];
        if (!f->function || goparse_is_runtime_function(f->function))
            continue;
        if (!is_library_frame(f, root, root_n))
            return (int)i;
        if (fallback < 0)
            fallback = (int)i;
    }
    return fallback;
}

static bool has_app_frame(const struct go_crash *c)
{
    const char *root = NULL;
    size_t root_n = goroot_src_len(c, &root);
    for (size_t i = 0; i < c->nframes; i++)
        if (c->frames[i].function && !goparse_is_runtime_function(c->frames[i].function) &&
            !is_library_frame(&c->frames[i], root, root_n))
            return true;
    return false;
}

static void frame_free(struct go_frame *f)
{
    free(f->function);
    free(f->file);
    *f = (struct go_frame){0};
}

static void clear_frames(struct go_crash *c)
{
    for (size_t i = 0; i < c->nframes; i++)
        frame_free(&c->frames[i]);
    c->nframes = 0;
    frame_free(&c->created_by);
    c->created_by_goroutine = -1;
    c->frames_elided = false;
}

/* "\t/src/main.go:14 +0x4c fp=...", "\t/src/main.go:14" (an inlined call,
 * or a newer Go), "\t?:0": a tab, a path, ':' and a line number. */
static bool is_file_line(const struct line *l)
{
    if (l->n < 4 || l->s[0] != '\t')
        return false;
    const char *s = l->s + 1, *e = l->s + l->n;
    const char *sp = memchr(s, ' ', (size_t)(e - s));
    const char *fe = sp ? sp : e;
    const char *p = fe;
    while (p > s && isdigit((unsigned char)p[-1]))
        p--;
    return p < fe && p - 1 > s && p[-1] == ':';
}

/* "main.(*T).Method(0xc000010000, {0x4a0f5b?, 0x3})", "panic({...})": a
 * name with no space in it, then the arguments in parentheses (cut short
 * only by the end of a truncated capture). A C function that a cgo
 * symbolizer names may come without arguments, but always with its file
 * line. A log line is not a function line. */
static bool is_function_line(const struct line *l, bool file_ok)
{
    if (l->n < 3 || l->s[0] == ' ' || l->s[0] == '\t')
        return false;
    if (!memchr(l->s, '(', l->n))
        return file_ok && !memchr(l->s, ' ', l->n);
    if (l->s[l->n - 1] != ')' && file_ok)
        return false;
    size_t name = function_name_len(l->s, l->n);
    if (name == 0 || name == l->n)
        return false;
    return memchr(l->s, ' ', name) == NULL;
}

/* Reads the frames of one goroutine block up to its blank line. A frame is
 * a function line followed by its tab-indented file line; anything else
 * (another process's log line, a register dump under GOTRACEBACK=crash,
 * "goroutine running on other thread") is not a frame and is skipped. */
static void parse_frames(struct go_crash *c, struct cursor *cur)
{
    struct line l;
    while (next_line(cur, &l)) {
        if (l.n == 0)
            return;
        if (is_elided_marker(&l)) {
            c->frames_elided = true;
            continue;
        }
        struct cursor peek = *cur;
        struct line fl;
        bool have_fl = next_line(&peek, &fl);
        bool file_ok = have_fl && is_file_line(&fl);
        /* The capture ends here, maybe mid-line: take what there is. */
        bool truncated = !have_fl || (peek.pos >= peek.end && fl.n && fl.s[0] == '\t');
        if (!file_ok && !truncated)
            continue;
        struct go_frame *f = NULL;
        if (starts(&l, "created by ")) {
            const char *fs = l.s + 11, *fe = l.s + l.n;
            /* 1.21+: "created by main.main in goroutine 1" */
            const char *in = NULL;
            for (const char *p = fs; p + 14 <= fe; p++)
                if (memcmp(p, " in goroutine ", 14) == 0)
                    in = p;
            if (in) {
                c->created_by_goroutine = number_at(in + 14, fe);
                fe = in;
            }
            f = &c->created_by;
            free(f->function);
            f->function = dup_n(fs, (size_t)(fe - fs));
        } else if (is_function_line(&l, file_ok)) {
            if (c->nframes == GOPARSE_MAX_FRAMES) {
                c->frames_elided = true;
            } else {
                f = &c->frames[c->nframes++];
                f->function = dup_n(l.s, function_name_len(l.s, l.n));
            }
        } else {
            continue;
        }
        if (file_ok) {
            *cur = peek;
            if (f)
                parse_file_line(&fl, f);
        }
    }
}

/* Race reports indent by spaces: "  main.main.func1()" then
 * "      /src/main.go:10 +0x44". Reads the first access's frames. */
static void parse_race(struct go_crash *c, struct cursor *cur)
{
    struct line l;
    bool in_access = false;
    while (next_line(cur, &l)) {
        if (starts(&l, "==================") || starts(&l, "Found "))
            break;
        if (!in_access) {
            /* "Write at 0x00c00001c0f8 by goroutine 7:" */
            const char *by = NULL;
            bool by_main = find_n(l.s, l.n, " by main goroutine") != NULL;
            for (size_t i = 0; i + 14 <= l.n; i++)
                if (memcmp(l.s + i, " by goroutine ", 14) == 0)
                    by = l.s + i;
            if ((by || by_main) && ends(&l, ":") && l.s[0] != ' ') {
                /* "data race: Write at 0x00c00001c0f8 by goroutine 7" */
                char msg[256];
                int n = snprintf(msg, sizeof msg, "data race: %.*s", (int)(l.n - 1 > 200 ? 200 : l.n - 1), l.s);
                set_str(&c->message, msg, n > 0 ? (size_t)n : 0);
                c->goroutine = by ? number_at(by + 14, l.s + l.n) : 1;
                c->goroutine_reason = "crashing";
                in_access = true;
            } else if (starts(&l, "Read at ") || starts(&l, "Write at ")) {
                in_access = true;
            }
            continue;
        }
        if (l.n == 0)
            break;
        if (l.n > 2 && l.s[0] == ' ' && l.s[1] == ' ' && l.s[2] != ' ') {
            if (c->nframes == GOPARSE_MAX_FRAMES) {
                c->frames_elided = true;
                continue;
            }
            struct go_frame *f = &c->frames[c->nframes++];
            f->function = dup_n(l.s + 2, function_name_len(l.s + 2, l.n - 2));
            struct cursor peek = *cur;
            struct line fl;
            if (next_line(&peek, &fl) && starts(&fl, "      ")) {
                *cur = peek;
                struct line t = {fl.s + 5, fl.n - 5}; /* parse_file_line skips one char */
                parse_file_line(&t, f);
            }
        }
    }
}


/* Copies msg with addresses and numbers replaced by '?' into out. */
static void normalize_message(const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = msg; *p && o + 2 < cap;) {
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
            p += 2;
            while (isxdigit((unsigned char)*p))
                p++;
            out[o++] = '?';
        } else if (isdigit((unsigned char)*p)) {
            while (isdigit((unsigned char)*p))
                p++;
            out[o++] = '?';
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void crash_fingerprint(const char *kind, const char *message, const char *const *functions, size_t n,
                       char out[17])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, kind, strlen(kind) + 1);
    char norm[GOPARSE_MAX_MESSAGE + 1];
    normalize_message(message ? message : "", norm, sizeof norm);
    h = fnv1a(h, norm, strlen(norm) + 1);
    for (size_t i = 0; i < n; i++)
        h = fnv1a(h, functions[i], strlen(functions[i]) + 1);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* "main.main.gowrap1" (1.22+) or "main.main.func2" (before): the function
 * a go statement with arguments runs, whose name changed with Go 1.22. */
static bool is_go_wrapper(const char *fn)
{
    const char *dot = strrchr(fn, '.');
    if (!dot)
        return false;
    const char *d = dot + 1;
    if (strncmp(d, "gowrap", 6) == 0)
        d += 6;
    else if (strncmp(d, "func", 4) == 0)
        d += 4;
    else
        return false;
    if (!*d)
        return false;
    for (; *d; d++)
        if (!isdigit((unsigned char)*d))
            return false;
    return true;
}

/* From the culprit down: the same program code whichever Go's runtime and
 * library frames sit above it. A goroutine's entry frame, when it is a
 * closure or a go statement's wrapper below other program frames, is left
 * out: Go 1.22 renamed those wrappers. */
static void fingerprint(struct go_crash *c)
{
    const char *root = NULL;
    size_t root_n = goroot_src_len(c, &root);
    bool app = c->culprit >= 0 && !is_library_frame(&c->frames[c->culprit], root, root_n);
    const char *top[GOPARSE_MAX_FRAMES];
    size_t taken = 0;
    for (size_t i = c->culprit >= 0 ? (size_t)c->culprit : c->nframes; i < c->nframes; i++) {
        const struct go_frame *f = &c->frames[i];
        if (f->function && !goparse_is_runtime_function(f->function) &&
            !(app && is_library_frame(f, root, root_n)))
            top[taken++] = f->function;
    }
    if (taken > 1 && !c->frames_elided && is_go_wrapper(top[taken - 1]))
        taken--;
    crash_fingerprint(go_crash_kind_name(c->kind), c->message, top, taken < 5 ? taken : 5, c->fingerprint);
}

const char *go_crash_kind_name(enum go_crash_kind k)
{
    switch (k) {
    case GO_CRASH_PANIC:
        return "go-panic";
    case GO_CRASH_FATAL:
        return "go-fatal";
    case GO_CRASH_RACE:
        return "race";
    case GO_CRASH_NONE:
        break;
    }
    return "none";
}

void go_crash_free(struct go_crash *c)
{
    free(c->message);
    free(c->go_signal);
    free(c->signal_code);
    free(c->signal_addr);
    free(c->signal_pc);
    free(c->goroutine_state);
    free(c->goroutine_labels);
    clear_frames(c);
    *c = (struct go_crash){0};
}

/* How much a goroutine of a snapshot dump matters (see goparse.h), 0 for
 * not at all, and the reason's name. */
static unsigned long snapshot_rank(const struct go_crash *g, const struct goroutine_header *h,
                                   const char **reason)
{
    if (!has_app_frame(g))
        return 0;
    if (h->minutes) {
        *reason = "blocked longest";
        return 1000 + (h->minutes < ULONG_MAX - 1000 ? h->minutes : ULONG_MAX - 1000);
    }
    if ((h->state_n == 7 && memcmp(h->state, "running", 7) == 0) ||
        (h->state_n == 8 && memcmp(h->state, "runnable", 8) == 0)) {
        *reason = "running";
        return 3;
    }
    *reason = h->id == 1 ? "main" : "first";
    return h->id == 1 ? 2 : 1;
}

static void take_goroutine(struct go_crash *c, struct go_crash *from, const struct goroutine_header *h)
{
    clear_frames(c);
    memcpy(c->frames, from->frames, sizeof c->frames);
    c->nframes = from->nframes;
    c->frames_elided = from->frames_elided;
    c->created_by = from->created_by;
    c->created_by_goroutine = from->created_by_goroutine;
    from->nframes = 0;
    memset(from->frames, 0, sizeof from->frames);
    from->created_by = (struct go_frame){0};
    c->goroutine = h->id;
    set_str(&c->goroutine_state, h->state, h->state_n);
    free(c->goroutine_labels);
    c->goroutine_labels = h->labels ? dup_n(h->labels, h->labels_n) : NULL;
}

/* Reads the goroutine blocks, from the first header on, and keeps the one
 * that matters in c. */
static void parse_goroutines(struct go_crash *c, struct cursor *cur, bool dump, bool snapshot)
{
    struct go_crash g = {.created_by_goroutine = -1};
    unsigned long best = 0;
    struct line l;
    while (next_line(cur, &l)) {
        struct goroutine_header h;
        if (!goroutine_header(&l, &h))
            continue; /* register dumps, "-----", other threads' dump lines */
        bool first = c->goroutines++ == 0;
        if (snapshot) {
            clear_frames(&g);
            parse_frames(&g, cur);
            const char *reason = NULL;
            unsigned long rank = snapshot_rank(&g, &h, &reason);
            if (rank > best) {
                best = rank;
                take_goroutine(c, &g, &h);
                c->goroutine_reason = reason;
            }
        } else if (first || (dump && !has_app_frame(c))) {
            /* The crashing goroutine is printed first. A signal dump of a
             * fault in non-Go code may start with a runtime-only one, such
             * as an idle g0: there, the first with application frames. */
            clear_frames(&g);
            parse_frames(&g, cur);
            take_goroutine(c, &g, &h);
            c->goroutine_reason = "crashing";
        }
    }
    clear_frames(&g);
    if (snapshot && !best)
        c->goroutine_reason = "none";
}

/* " [recovered]" / " [recovered, repanicked]" (1.25+: the same value
 * panicked again, printed once) off the end of a panic value's last line;
 * the number of panics the marker stands for. */
static unsigned recovered_marker(const char *s, size_t *n)
{
    static const struct {
        const char *mark;
        unsigned panics;
    } marks[] = {{" [recovered, repanicked]", 1}, {" [recovered]", 0}};
    for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
        size_t m = strlen(marks[i].mark);
        if (*n >= m && memcmp(s + *n - m, marks[i].mark, m) == 0) {
            *n -= m;
            return marks[i].panics;
        }
    }
    return 0;
}

/* The lines before the first goroutine header: the panic chain, the
 * signal, the value's other lines. */
static void parse_preamble(struct go_crash *c, struct cursor *cur)
{
    struct line l;
    bool in_runtime_stack = false;
    bool in_value = c->kind == GO_CRASH_PANIC; /* the first line's value goes on */
    for (;;) {
        struct cursor before = *cur;
        if (!next_line(cur, &l))
            return;
        struct goroutine_header h;
        if (goroutine_header(&l, &h)) {
            *cur = before;
            return;
        }
        if (l.n == 0) {
            in_value = false;
            continue;
        }
        if (starts(&l, "runtime stack:"))
            in_runtime_stack = true;
        if (in_runtime_stack)
            continue;
        if (starts(&l, "[signal ")) {
            parse_signal_line(c, &l);
        } else if (starts(&l, "PC=")) {
            field(l.s, l.n, "sigcode=", &c->signal_code);
            field(l.s, l.n, "addr=", &c->signal_addr);
            field(l.s, l.n, "PC=", &c->signal_pc);
        } else if (starts(&l, "signal arrived during cgo execution")) {
            c->cgo = true;
        } else if (c->kind == GO_CRASH_PANIC && starts(&l, "\tpanic: ")) {
            size_t n = l.n - 8;
            c->panics += 1 + recovered_marker(l.s + 8, &n);
            set_str(&c->message, l.s + 8, n);
            in_value = true;
        } else if (c->kind == GO_CRASH_PANIC && starts(&l, "\tfatal error: ")) {
            /* 1.26: the panics pending when a deferred call hit a fatal
             * error are printed first; the crash is the fatal error. */
            c->kind = GO_CRASH_FATAL;
            set_str(&c->message, l.s + 14, l.n - 14);
            in_value = true;
        } else if (l.s[0] == '\t' || (in_value && !starts(&l, "runtime: ") && !starts(&l, "fatal error: "))) {
            /* The value's other lines: tab-indented since 1.23, raw before. */
            size_t skip = l.s[0] == '\t', n = l.n - skip;
            if (c->kind == GO_CRASH_PANIC)
                c->panics += recovered_marker(l.s + skip, &n);
            if (n || skip)
                append_line(&c->message, l.s + skip, n);
        }
    }
}

/* The race reports of this run: how many ("Found N data race(s)", or the
 * reports themselves when the run was cut short). */
static unsigned count_races(const char *start, const char *end)
{
    struct cursor c = {start, end};
    struct line l;
    unsigned seen = 0;
    while (next_line(&c, &l)) {
        if (starts(&l, "WARNING: DATA RACE")) {
            seen++;
        } else if (starts(&l, "Found ") && find_n(l.s, l.n, " data race")) {
            long n = number_at(l.s + 6, l.s + l.n);
            return n && n < UINT_MAX ? (unsigned)n : seen;
        }
    }
    return seen;
}

int goparse_crash(const char *buf, size_t len, struct go_crash *c)
{
    *c = (struct go_crash){.goroutine = -1, .created_by_goroutine = -1, .culprit = -1};
    const char *start = find_report(buf, len);
    if (!start)
        return 0;
    struct cursor cur = {start, buf + len};
    struct line l;
    next_line(&cur, &l);

    if (starts(&l, "WARNING: DATA RACE")) {
        c->kind = GO_CRASH_RACE;
        c->races = count_races(start, buf + len);
        const char *s = start;
        struct line prev;
        /* The report opens with a "==================" line. */
        if (prev_line(buf, &s, &prev) && !starts(&prev, "=================="))
            s = start;
        c->report_offset = (size_t)(s - buf);
        set_str(&c->message, "data race", 9);
        parse_race(c, &cur);
    } else {
        if (starts(&l, "panic: ")) {
            c->kind = GO_CRASH_PANIC;
            size_t n = l.n - 7;
            c->panics = 1 + recovered_marker(l.s + 7, &n);
            set_str(&c->message, l.s + 7, n);
        } else if (starts(&l, "fatal error: ")) {
            c->kind = GO_CRASH_FATAL;
            /* Before Go 1.24 two threads failing at once (both writers of a
             * concurrent map write) printed through each other, the three
             * prints of runtime.fatal not under one lock (golang/go#69447):
             * "fatal error: fatal error: X" then "X". */
            size_t skip = 13;
            while (l.n - skip > 13 && !memcmp(l.s + skip, "fatal error: ", 13))
                skip += 13;
            set_str(&c->message, l.s + skip, l.n - skip);
            start = extend_back(buf, start);
        } else { /* a signal dump: "SIGQUIT: quit" */
            c->kind = GO_CRASH_FATAL;
            set_str(&c->message, l.s, l.n);
            const char *colon = memchr(l.s, ':', l.n);
            set_str(&c->go_signal, l.s, (size_t)(colon - l.s));
        }
        c->report_offset = (size_t)(start - buf);
        bool dump = c->go_signal != NULL;
        parse_preamble(c, &cur);
        /* A dump the process was sent: SIGQUIT, or SI_USER (kill). */
        bool snapshot = dump && (!strcmp(c->go_signal, "SIGQUIT") ||
                                 (c->signal_code && !strcmp(c->signal_code, "0")));
        parse_goroutines(c, &cur, dump, snapshot);
    }
    c->culprit = culprit_frame(c);
    if (!c->message)
        return -ENOMEM;
    fingerprint(c);
    return 1;
}

static void frame_json(struct json *j, const struct go_frame *f)
{
    json_obj_begin(j);
    json_kv_str(j, "function", f->function);
    json_kv_str(j, "file", f->file);
    if (f->file)
        json_kv_uint(j, "line", f->line);
    else
        json_kv_str(j, "line", NULL);
    json_obj_end(j);
}

void go_crash_to_json(const struct go_crash *c, const char *kind_override, struct json *j)
{
    json_obj_begin(j);
    go_crash_fields_json(c, kind_override, j);
    json_obj_end(j);
}

void go_crash_fields_json(const struct go_crash *c, const char *kind_override, struct json *j)
{
    json_kv_str(j, "kind", kind_override ? kind_override : go_crash_kind_name(c->kind));
    json_kv_str(j, "message", c->message);
    json_kv_str(j, "go_signal", c->go_signal);
    if (c->go_signal) {
        json_key(j, "signal_detail");
        json_obj_begin(j);
        json_kv_str(j, "code", c->signal_code);
        json_kv_str(j, "addr", c->signal_addr);
        json_kv_str(j, "pc", c->signal_pc);
        json_kv_bool(j, "cgo", c->cgo);
        json_obj_end(j);
    }
    if (c->kind == GO_CRASH_PANIC || c->panics)
        json_kv_uint(j, "panics", c->panics);
    if (c->kind == GO_CRASH_RACE)
        json_kv_uint(j, "races", c->races);
    json_key(j, "goroutine");
    if (c->goroutine >= 0)
        json_int(j, c->goroutine);
    else
        json_null(j);
    json_kv_str(j, "goroutine_state", c->goroutine_state);
    json_kv_str(j, "goroutine_reason", c->goroutine_reason);
    json_kv_str(j, "goroutine_labels", c->goroutine_labels);
    json_kv_uint(j, "goroutines", c->goroutines);
    json_key(j, "culprit");
    if (c->culprit >= 0)
        frame_json(j, &c->frames[c->culprit]);
    else
        json_null(j);
    json_key(j, "frames");
    json_arr_begin(j);
    for (size_t i = 0; i < c->nframes; i++)
        frame_json(j, &c->frames[i]);
    json_arr_end(j);
    json_kv_bool(j, "frames_elided", c->frames_elided);
    json_key(j, "created_by");
    if (c->created_by.function) {
        json_obj_begin(j);
        json_kv_str(j, "function", c->created_by.function);
        json_kv_str(j, "file", c->created_by.file);
        json_kv_uint(j, "line", c->created_by.line);
        json_key(j, "goroutine");
        if (c->created_by_goroutine >= 0)
            json_int(j, c->created_by_goroutine);
        else
            json_null(j);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_kv_str(j, "fingerprint", c->fingerprint);
}
