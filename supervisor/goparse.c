/* SPDX-License-Identifier: MIT */
#include "goparse.h"

#include <ctype.h>
#include <errno.h>
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

/* "goroutine 7 [running]:", "goroutine 1 gp=0xc000002380 m=0 mp=0x547e40
 * [running, locked to thread]:". Fills id and state (pointing into l). */
static bool goroutine_header(const struct line *l, long *id, const char **state, size_t *state_n)
{
    if (!starts(l, "goroutine ") || !ends(l, "]:"))
        return false;
    const char *p = l->s + 10, *e = l->s + l->n;
    if (p >= e || !isdigit((unsigned char)*p))
        return false;
    long v = 0;
    while (p < e && isdigit((unsigned char)*p)) {
        if (v < 1000000000000L)
            v = v * 10 + (*p - '0');
        p++;
    }
    const char *open = memchr(p, '[', (size_t)(e - p));
    if (!open)
        return false;
    *id = v;
    *state = open + 1;
    *state_n = (size_t)(e - 2 - (open + 1));
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
 * happens to begin with "panic: " is followed by more log lines. */
static bool crash_start_is_real(const char *start, const char *end)
{
    struct cursor c = {start, end};
    struct line l;
    next_line(&c, &l);
    bool race = starts(&l, "WARNING: DATA RACE");
    for (int i = 0; i < 200 && next_line(&c, &l); i++) {
        long id;
        const char *st;
        size_t stn;
        if (goroutine_header(&l, &id, &st, &stn) || starts(&l, "runtime stack:"))
            return true;
        if (race && (starts(&l, "==================") || ends(&l, ":")))
            return true;
        if (l.n == 0 || l.s[0] == '\t' || l.s[0] == '[' || starts(&l, "PC=") ||
            starts(&l, "runtime: ") || starts(&l, "signal arrived during") ||
            starts(&l, "exit status ") || starts(&l, "fatal error: ") ||
            starts(&l, "goroutine ") || starts(&l, "panic: "))
            continue;
        return false;
    }
    return true; /* only report-shaped lines up to the end: truncated */
}

bool goparse_report_is_real(const char *buf, size_t len) { return crash_start_is_real(buf, buf + len); }

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
            return s;
    }
    return NULL;
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

/* Strips Go's " [recovered]" / " [recovered, repanicked]" markers. */
static size_t strip_recovered(const char *s, size_t n)
{
    static const char *const marks[] = {" [recovered, repanicked]", " [recovered]"};
    for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
        size_t m = strlen(marks[i]);
        if (n >= m && memcmp(s + n - m, marks[i], m) == 0)
            return n - m;
    }
    return n;
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

static bool has_app_frame(const struct go_crash *c)
{
    for (size_t i = 0; i < c->nframes; i++)
        if (c->frames[i].function && !goparse_is_runtime_function(c->frames[i].function))
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

/* Reads the frames of one goroutine block (Go's format: a function line,
 * then a tab-indented file line) up to its blank line. */
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
        struct go_frame *f;
        bool created = starts(&l, "created by ");
        const char *fs = l.s, *fe = l.s + l.n;
        if (created) {
            fs += 11;
            f = &c->created_by;
            /* 1.21+: "created by main.main in goroutine 1" */
            const char *in = NULL;
            for (const char *p = fs; p + 14 <= fe; p++)
                if (memcmp(p, " in goroutine ", 14) == 0)
                    in = p;
            if (in) {
                c->created_by_goroutine = strtol(in + 14, NULL, 10);
                fe = in;
            }
            free(f->function);
            f->function = dup_n(fs, (size_t)(fe - fs));
        } else if (l.s[0] == '\t' || l.s[0] == ' ') {
            continue; /* a file line without its function: skip */
        } else {
            if (c->nframes == GOPARSE_MAX_FRAMES) {
                c->frames_elided = true;
                f = NULL;
            } else {
                f = &c->frames[c->nframes++];
                f->function = dup_n(fs, function_name_len(fs, (size_t)(fe - fs)));
            }
        }
        /* The file line follows, tab-indented. */
        struct cursor peek = *cur;
        struct line fl;
        if (next_line(&peek, &fl) && fl.n && fl.s[0] == '\t') {
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
            for (size_t i = 0; i + 14 <= l.n; i++)
                if (memcmp(l.s + i, " by goroutine ", 14) == 0)
                    by = l.s + i;
            if (by && ends(&l, ":") && l.s[0] != ' ') {
                /* "data race: Write at 0x00c00001c0f8 by goroutine 7" */
                char msg[256];
                int n = snprintf(msg, sizeof msg, "data race: %.*s", (int)(l.n - 1 > 200 ? 200 : l.n - 1), l.s);
                set_str(&c->message, msg, n > 0 ? (size_t)n : 0);
                c->goroutine = strtol(by + 14, NULL, 10);
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

static void fingerprint(struct go_crash *c)
{
    const char *top[5];
    size_t taken = 0;
    for (size_t i = 0; i < c->nframes && taken < ARRAY_SIZE(top); i++) {
        const char *fn = c->frames[i].function;
        if (fn && !goparse_is_runtime_function(fn))
            top[taken++] = fn;
    }
    crash_fingerprint(go_crash_kind_name(c->kind), c->message, top, taken, c->fingerprint);
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
    clear_frames(c);
    *c = (struct go_crash){0};
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
        const char *s = start;
        /* The report opens with a "==================" line. */
        if (s > buf) {
            const char *p = s - 1;
            while (p > buf && p[-1] != '\n')
                p--;
            if ((size_t)(s - 1 - p) >= 18 && memcmp(p, "==================", 18) == 0)
                s = p;
        }
        c->report_offset = (size_t)(s - buf);
        set_str(&c->message, "data race", 9);
        parse_race(c, &cur);
    } else {
        if (starts(&l, "panic: ")) {
            c->kind = GO_CRASH_PANIC;
            c->panics = 1;
            set_str(&c->message, l.s + 7, strip_recovered(l.s + 7, l.n - 7));
        } else if (starts(&l, "fatal error: ")) {
            c->kind = GO_CRASH_FATAL;
            set_str(&c->message, l.s + 13, l.n - 13);
            start = extend_back(buf, start);
        } else { /* a signal dump: "SIGQUIT: quit" */
            c->kind = GO_CRASH_FATAL;
            set_str(&c->message, l.s, l.n);
            const char *colon = memchr(l.s, ':', l.n);
            set_str(&c->go_signal, l.s, (size_t)(colon - l.s));
        }
        c->report_offset = (size_t)(start - buf);
        /* The preamble: up to the first goroutine header. */
        bool in_runtime_stack = false;
        bool dump = c->go_signal != NULL;
        while (next_line(&cur, &l)) {
            long id;
            const char *st;
            size_t stn;
            if (goroutine_header(&l, &id, &st, &stn)) {
                /* The crashing goroutine is printed first. A signal dump
                 * (SIGQUIT) often starts with a runtime-only one, such as
                 * an idle g0: there, the first with application frames. */
                if (c->goroutines++ == 0 || (dump && !has_app_frame(c))) {
                    clear_frames(c);
                    c->goroutine = id;
                    set_str(&c->goroutine_state, st, stn);
                    parse_frames(c, &cur);
                }
                continue;
            }
            if (c->goroutines)
                continue; /* other goroutines: counted only */
            if (starts(&l, "runtime stack:")) {
                in_runtime_stack = true;
                continue;
            }
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
                c->panics++;
                set_str(&c->message, l.s + 8, strip_recovered(l.s + 8, l.n - 8));
            } else if (l.n > 1 && l.s[0] == '\t' && c->kind != GO_CRASH_RACE) {
                append_line(&c->message, l.s + 1, l.n - 1); /* a multi-line message */
            } else if (starts(&l, "fatal error: ") && c->kind == GO_CRASH_PANIC) {
                /* "panic during panic" and friends: the panic message stays. */
            }
        }
    }
    for (size_t i = 0; i < c->nframes; i++)
        if (c->frames[i].function && !goparse_is_runtime_function(c->frames[i].function)) {
            c->culprit = (int)i;
            break;
        }
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
    if (c->kind == GO_CRASH_PANIC)
        json_kv_uint(j, "panics", c->panics);
    json_key(j, "goroutine");
    if (c->goroutine >= 0)
        json_int(j, c->goroutine);
    else
        json_null(j);
    json_kv_str(j, "goroutine_state", c->goroutine_state);
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
    json_obj_end(j);
}
