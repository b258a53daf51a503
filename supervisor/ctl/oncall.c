/* SPDX-License-Identifier: MIT */
#include "oncall.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundlename.h"
#include "bundledir.h"
#include "bundleread.h"
#include "exitstatus.h"
#include "json.h"
#include "jsonread.h"
#include "table.h"
#include "units.h"
#include "util.h"

struct row {
    struct index_entry e; /* type 'B' rows are bundles on disk */
    bool unreadable;
};

struct filters {
    const char *service, *kind, *fingerprint;
    time_t since, until;
};

static bool use_colour(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

/* "1h" (that long ago), "2026-11-22T10:00:00Z" or "2026-11-22". */
static int parse_when(const char *s, time_t *out)
{
    uint64_t ms;
    if (parse_duration(s, &ms) == 0) {
        *out = time(NULL) - (time_t)(ms / 1000);
        return 0;
    }
    struct tm tm = {0};
    const char *e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!e || *e) {
        memset(&tm, 0, sizeof tm);
        e = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!e || *e)
        return -EINVAL;
    *out = timegm(&tm);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct index_entry *)a)->name, ((const struct index_entry *)b)->name);
}

static int row_by_time(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return x->e.time < y->e.time ? -1 : x->e.time > y->e.time ? 1 : strcmp(x->e.name, y->e.name);
}

int bundle_summary_read(int dirfd, const char *name, struct index_entry *e)
{
    struct bundle_name_parts parts;
    bundle_name_parse(name, &parts);
    *e = (struct index_entry){.type = 'B', .time = parts.time};
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->service, sizeof e->service, "%s", parts.service);
    snprintf(e->kind, sizeof e->kind, "%s", parts.kind);
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        e->size = (uint64_t)st.st_size;
    _cleanup_free_ char *m = NULL;
    size_t len;
    int rc = bundle_read_member(dirfd, name, "manifest.json", 4 << 20, &m, &len);
    struct jv *v = rc == 0 ? jv_parse(m, len) : NULL;
    if (!v) {
        snprintf(e->message, sizeof e->message, "(unreadable bundle: %s)",
                 rc < 0 ? strerror(-rc) : "bad manifest");
        return rc < 0 ? rc : -EBADMSG;
    }
    const char *s;
    if ((s = jv_str(v, "crash.message")))
        snprintf(e->message, sizeof e->message, "%s", s);
    if ((s = jv_str(v, "crash.fingerprint")))
        snprintf(e->fingerprint, sizeof e->fingerprint, "%s", s);
    const char *fn = jv_str(v, "crash.culprit.function"), *file = jv_str(v, "crash.culprit.file");
    if (fn)
        snprintf(e->culprit, sizeof e->culprit, "%s (%s:%.0f)", fn, file ? file : "?",
                 jv_num(v, "crash.culprit.line", 0));
    jv_free(v);
    return 0;
}

/* Every bundle in dir as a row (index first, manifests for the rest), and
 * the index's suppression records in *sup. */
static int collect(const char *dir, struct row **rows, size_t *nrows, struct index_entry **sup, size_t *nsup)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    struct index_entry *idx = NULL;
    size_t nidx = 0;
    (void)bundledir_index_read(dfd, &idx, &nidx);
    size_t nb = 0;
    *sup = malloc((nidx + 1) * sizeof **sup);
    *nsup = 0;
    for (size_t i = 0; i < nidx; i++) {
        if (idx[i].type == 'B')
            idx[nb++] = idx[i];
        else if (*sup && idx[i].type == 'S')
            (*sup)[(*nsup)++] = idx[i];
    }
    if (nb)
        qsort(idx, nb, sizeof *idx, by_name);
    DIR *d = opendirat(dfd, ".");
    if (!d) {
        free(idx);
        return -errno;
    }
    size_t cap = 256, n = 0;
    struct row *v = malloc(cap * sizeof *v);
    struct dirent *de;
    while (v && (de = readdir(d))) {
        struct bundle_name_parts parts;
        if (!bundle_name_parse(de->d_name, &parts))
            continue; /* foreign files are not ours to list */
        if (n == cap) {
            struct row *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        struct index_entry key;
        snprintf(key.name, sizeof key.name, "%s", de->d_name);
        struct index_entry *hit = nb ? bsearch(&key, idx, nb, sizeof *idx, by_name) : NULL;
        v[n] = (struct row){0};
        if (hit)
            v[n].e = *hit;
        else
            v[n].unreadable = bundle_summary_read(dfd, de->d_name, &v[n].e) < 0;
        n++;
    }
    closedir(d);
    free(idx);
    if (n)
        qsort(v, n, sizeof *v, row_by_time);
    *rows = v;
    *nrows = n;
    return 0;
}

int (*oncall_remote)(const char *where, struct index_entry **v, size_t *n);

/* The rows of a store (s3://...), from the reader crashbox-ship sets. */
static int collect_remote(const char *where, struct row **rows, size_t *nrows)
{
    struct index_entry *v = NULL;
    size_t n = 0;
    int r = oncall_remote(where, &v, &n);
    if (r < 0)
        return r;
    *rows = calloc(n + 1, sizeof **rows);
    for (size_t i = 0; *rows && i < n; i++)
        (*rows)[i].e = v[i];
    free(v);
    if (!*rows)
        return -ENOMEM;
    if (n)
        qsort(*rows, n, sizeof **rows, row_by_time);
    *nrows = n;
    return 0;
}

static bool row_matches(const struct index_entry *e, const struct filters *f)
{
    if (f->service && strcmp(e->service, f->service) != 0)
        return false;
    if (f->kind && strcmp(e->kind, f->kind) != 0)
        return false;
    if (f->fingerprint && strncmp(e->fingerprint, f->fingerprint, strlen(f->fingerprint)) != 0)
        return false;
    if (f->since && e->time < f->since)
        return false;
    if (f->until && e->time > f->until)
        return false;
    return true;
}

static const char *default_dir(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("CRASHBOX_BUNDLE_DIR");
    return env && *env ? env : NULL;
}

/* Shared option parsing of ls and top. Returns optind or -1 on error. */
static int parse_filters(int argc, char **argv, struct filters *f, bool *json, const char *what)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'}, {"kind", required_argument, NULL, 'k'},
        {"since", required_argument, NULL, 'S'},   {"until", required_argument, NULL, 'U'},
        {"fingerprint", required_argument, NULL, 'f'}, {"json", no_argument, NULL, 'j'},
        {0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': f->service = optarg; break;
        case 'k': f->kind = optarg; break;
        case 'f': f->fingerprint = optarg; break;
        case 'j': *json = true; break;
        case 'S':
        case 'U':
            if (parse_when(optarg, c == 'S' ? &f->since : &f->until) < 0) {
                fprintf(stderr, "crashbox %s: bad time '%s' (a duration such as 2h, or 2026-11-22T10:00:00Z)\n",
                        what, optarg);
                return -1;
            }
            break;
        default:
            return -1;
        }
    }
    return optind;
}

static void entry_json(struct json *j, const struct index_entry *e, const char *dir)
{
    char when[32], path[4352];
    format_utc(e->time, when, sizeof when);
    snprintf(path, sizeof path, "%s/%s", dir, e->name);
    json_obj_begin(j);
    json_kv_str(j, "time", when);
    json_kv_str(j, "service", e->service);
    json_kv_str(j, "kind", e->kind);
    json_kv_str(j, "message", e->message);
    json_kv_str(j, "culprit", e->culprit[0] ? e->culprit : NULL);
    json_kv_str(j, "fingerprint", e->fingerprint);
    json_kv_uint(j, "size", e->size);
    json_kv_str(j, "bundle", path);
    json_obj_end(j);
}

static void human_size(uint64_t v, char *out, size_t cap)
{
    format_size_human(v, out, cap);
}

static const char *kind_colour(const char *kind)
{
    if (!strcmp(kind, "oom-kill"))
        return "\033[1;35m";
    if (!strncmp(kind, "go-", 3) || !strcmp(kind, "race"))
        return "\033[1;31m";
    return "\033[33m";
}

/* What ls and top read: options, the directory, its rows. */
struct listing {
    struct filters f;
    bool json;
    const char *dir;
    struct row *rows;
    size_t n;
    struct index_entry *sup;
    size_t nsup;
};

/* Returns 0, or the exit code to return with (the error already said). */
static int listing_open(int argc, char **argv, const char *what, struct listing *l)
{
    *l = (struct listing){0};
    int at = parse_filters(argc, argv, &l->f, &l->json, what);
    if (at < 0)
        return EXIT_CRASHBOX_USAGE;
    l->dir = default_dir(at < argc ? argv[at] : NULL);
    if (!l->dir) {
        fprintf(stderr, "crashbox %s: no directory (give one, or set CRASHBOX_BUNDLE_DIR)\n", what);
        return EXIT_CRASHBOX_USAGE;
    }
    int r = oncall_remote && strncmp(l->dir, "s3://", 5) == 0 ? collect_remote(l->dir, &l->rows, &l->n)
                                                              : collect(l->dir, &l->rows, &l->n, &l->sup, &l->nsup);
    if (r < 0) {
        fprintf(stderr, "crashbox %s: %s: %s\n", what, l->dir, strerror(-r));
        return EXIT_CRASHBOX_SYSTEM;
    }
    return 0;
}

static void listing_free(struct listing *l)
{
    free(l->rows);
    free(l->sup);
}

static const char *kind_cell_colour(size_t col, const char *text)
{
    return col == 2 ? kind_colour(text) : NULL;
}

static const char *top_cell_colour(size_t col, const char *text)
{
    return col == 3 ? kind_colour(text) : NULL;
}

int oncall_ls(int argc, char **argv)
{
    struct listing l;
    int code = listing_open(argc, argv, "ls", &l);
    if (code)
        return code;
    struct json j;
    json_init(&j, false);
    if (l.json)
        json_arr_begin(&j);
    /* TIME and KIND as wide as they are; MESSAGE, CULPRIT and SERVICE give
     * way, and FP, SIZE, then CULPRIT go when even their minimums do not
     * fit (80 columns keep TIME, SERVICE, KIND, MESSAGE and CULPRIT). FP is the fingerprint's first 8 digits, a prefix that
     * --fingerprint takes. */
    struct table_column cols[] = {
        {.header = "TIME"},
        {.header = "SERVICE", .min = 8, .max = 24, .shrink = 3},
        {.header = "KIND"},
        {.header = "MESSAGE", .min = 20, .max = 60, .shrink = 1},
        {.header = "CULPRIT", .min = 12, .max = 40, .shrink = 2, .drop = 3},
        {.header = "FP", .drop = 1},
        {.header = "SIZE", .right = true, .drop = 2},
    };
    struct table t;
    table_init(&t, cols, ARRAY_SIZE(cols));
    if (use_colour())
        t.colour = kind_cell_colour;
    for (size_t i = 0; i < l.n; i++) {
        const struct index_entry *e = &l.rows[i].e;
        if (!row_matches(e, &l.f))
            continue;
        if (l.json) {
            entry_json(&j, e, l.dir);
            continue;
        }
        char when[32], cul[512], fp[9], size[16];
        format_utc(e->time, when, sizeof when);
        const char *paren = strstr(e->culprit, " (");
        snprintf(cul, sizeof cul, "%.*s", paren ? (int)(paren - e->culprit) : (int)strlen(e->culprit),
                 e->culprit);
        snprintf(fp, sizeof fp, "%s", e->fingerprint[0] ? e->fingerprint : "-");
        human_size(e->size, size, sizeof size);
        const char *cells[] = {when, e->service, e->kind, e->message, cul[0] ? cul : "-", fp, size};
        (void)table_add(&t, cells);
    }
    if (l.json) {
        json_arr_end(&j);
        printf("%s\n", j.buf);
    } else {
        table_print(&t, table_output_columns());
    }
    table_free(&t);
    json_free(&j);
    listing_free(&l);
    return 0;
}

/* A fingerprint's crashes, with each service's share. */
struct fp_group {
    char fingerprint[24], kind[24], message[512];
    size_t bundles, suppressed;
    time_t first, last;
    struct svc_count {
        char name[80];
        size_t n;
    } *svc; /* owned */
    size_t nsvc;
};

static int count_service(struct fp_group *g, const char *service)
{
    for (size_t i = 0; i < g->nsvc; i++)
        if (strcmp(g->svc[i].name, service) == 0) {
            g->svc[i].n++;
            return 0;
        }
    struct svc_count *nv = realloc(g->svc, (g->nsvc + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    g->svc = nv;
    snprintf(g->svc[g->nsvc].name, sizeof g->svc[g->nsvc].name, "%s", service);
    g->svc[g->nsvc++].n = 1;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const struct fp_group *x = a, *y = b;
    size_t cx = x->bundles + x->suppressed, cy = y->bundles + y->suppressed;
    return cx != cy ? (cx > cy ? -1 : 1) : (x->last != y->last ? (x->last > y->last ? -1 : 1) : 0);
}

static int svc_by_count(const void *a, const void *b)
{
    const struct svc_count *x = a, *y = b;
    return x->n != y->n ? (x->n > y->n ? -1 : 1) : strcmp(x->name, y->name);
}

/* "api,web": every service of the group, most crashes first. */
static void services_list(const struct fp_group *g, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < g->nsvc && o < cap; i++) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? "," : "", g->svc[i].name);
        o += n > 0 ? (size_t)n : 0;
    }
}

int oncall_top(int argc, char **argv)
{
    struct listing l;
    int code = listing_open(argc, argv, "top", &l);
    if (code)
        return code;
    struct fp_group *g = calloc(l.n + l.nsup + 1, sizeof *g);
    size_t ng = 0;
    for (size_t i = 0; g && i < l.n + l.nsup; i++) {
        const struct index_entry *e = i < l.n ? &l.rows[i].e : &l.sup[i - l.n];
        if (!row_matches(e, &l.f) || !e->fingerprint[0])
            continue;
        size_t k = 0;
        while (k < ng && strcmp(g[k].fingerprint, e->fingerprint) != 0)
            k++;
        if (k == ng) {
            ng++;
            snprintf(g[k].fingerprint, sizeof g[k].fingerprint, "%s", e->fingerprint);
            snprintf(g[k].kind, sizeof g[k].kind, "%s", e->kind);
            snprintf(g[k].message, sizeof g[k].message, "%s", e->message);
            g[k].first = g[k].last = e->time;
        }
        if (i < l.n)
            g[k].bundles++;
        else
            g[k].suppressed++;
        if (e->time < g[k].first)
            g[k].first = e->time;
        if (e->time > g[k].last)
            g[k].last = e->time;
        (void)count_service(&g[k], e->service);
    }
    if (ng)
        qsort(g, ng, sizeof *g, by_count);
    struct json j;
    json_init(&j, false);
    if (l.json)
        json_arr_begin(&j);
    /* FIRST, then LAST, make way for SERVICES and MESSAGE on a narrow terminal. */
    struct table_column cols[] = {
        {.header = "FINGERPRINT"},
        {.header = "COUNT", .right = true},
        {.header = "SUPPRESSED", .right = true},
        {.header = "KIND"},
        {.header = "FIRST", .drop = 1},
        {.header = "LAST", .drop = 2},
        {.header = "SERVICES", .min = 8, .max = 40, .shrink = 2},
        {.header = "MESSAGE", .min = 12, .max = 80, .shrink = 1},
    };
    struct table t;
    table_init(&t, cols, ARRAY_SIZE(cols));
    if (use_colour())
        t.colour = top_cell_colour;
    for (size_t k = 0; k < ng; k++) {
        char first[32], last[32], services[8192], count[24], suppressed[24];
        format_utc(g[k].first, first, sizeof first);
        format_utc(g[k].last, last, sizeof last);
        if (g[k].nsvc)
            qsort(g[k].svc, g[k].nsvc, sizeof *g[k].svc, svc_by_count);
        services_list(&g[k], services, sizeof services);
        if (l.json) {
            json_obj_begin(&j);
            json_kv_str(&j, "fingerprint", g[k].fingerprint);
            json_kv_uint(&j, "count", g[k].bundles + g[k].suppressed);
            json_kv_uint(&j, "bundles", g[k].bundles);
            json_kv_uint(&j, "suppressed", g[k].suppressed);
            json_kv_str(&j, "kind", g[k].kind);
            json_kv_str(&j, "first_seen", first);
            json_kv_str(&j, "last_seen", last);
            json_kv_str(&j, "services", services);
            json_key(&j, "by_service");
            json_obj_begin(&j);
            for (size_t i = 0; i < g[k].nsvc; i++)
                json_kv_uint(&j, g[k].svc[i].name, g[k].svc[i].n);
            json_obj_end(&j);
            json_kv_str(&j, "message", g[k].message);
            json_obj_end(&j);
            continue;
        }
        snprintf(count, sizeof count, "%zu", g[k].bundles + g[k].suppressed);
        snprintf(suppressed, sizeof suppressed, "%zu", g[k].suppressed);
        const char *cells[] = {g[k].fingerprint, count, suppressed, g[k].kind, first, last, services, g[k].message};
        (void)table_add(&t, cells);
    }
    if (l.json) {
        json_arr_end(&j);
        printf("%s\n", j.buf);
    } else {
        table_print(&t, table_output_columns());
    }
    table_free(&t);
    json_free(&j);
    for (size_t k = 0; k < ng; k++)
        free(g[k].svc);
    free(g);
    listing_free(&l);
    return 0;
}

/* BUNDLE: a path, or a name (or unique prefix) in -d DIR / CRASHBOX_BUNDLE_DIR. */
static int resolve_bundle(const char *arg, const char *dir, char *out, size_t cap)
{
    struct stat st;
    if (strchr(arg, '/') || !dir) {
        if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(out, cap, "%s", arg);
            return 0;
        }
        if (!dir)
            return -ENOENT;
    }
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    /* Several matches: the newest, as coredumpctl does. */
    char best[256] = "";
    time_t best_t = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct bundle_name_parts parts;
        if (!bundle_name_parse(de->d_name, &parts) || strncmp(de->d_name, arg, strlen(arg)) != 0)
            continue;
        if (!best[0] || parts.time > best_t || (parts.time == best_t && strcmp(de->d_name, best) > 0)) {
            snprintf(best, sizeof best, "%s", de->d_name);
            best_t = parts.time;
        }
    }
    closedir(d);
    if (!best[0])
        return -ENOENT;
    snprintf(out, cap, "%s/%s", dir, best);
    return 0;
}

/* The show layout: a label column, then values wrapped to fit 80 columns
 * by display width (table.c's: a CJK character takes two). */
#define SHOW_COLUMNS 80
#define SHOW_LABEL 10
#define SHOW_INDENT (2 + SHOW_LABEL + 1)

/* The bytes of the UTF-8 sequence at s (malformed: one). */
static size_t glyph_len(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return k > n ? 1 : k;
}

static size_t span_width(const char *s, size_t n)
{
    char buf[512];
    if (n >= sizeof buf)
        return n; /* longer than any line: it is cut by glyphs anyway */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return utf8_width(buf);
}

/* Prints the label and the value, the value wrapped at spaces (a word too
 * long for a line is cut by columns) onto lines indented under it, hang
 * columns further for a value that begins with a column of counts. Control
 * characters (from a service's own message) never reach the terminal. */
static void vfield(const char *label, size_t hang, bool whole, const char *fmt, va_list ap) _printf_(4, 0);
static void vfield(const char *label, size_t hang, bool whole, const char *fmt, va_list ap)
{
    char value[4096];
    vsnprintf(value, sizeof value, fmt, ap);
    for (char *c = value; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    size_t lw = utf8_width(label);
    printf("  %s%*s ", label, lw < SHOW_LABEL ? (int)(SHOW_LABEL - lw) : 0, "");
    size_t col = lw > SHOW_LABEL ? 2 + lw + 1 : SHOW_INDENT;
    const char *p = value, *end = value + strlen(value);
    bool line_start = false; /* the value's own leading spaces align it ("%8s") */
    bool first = true;       /* the first word stays beside its label, cut if it must be */
    while (p < end) {
        const char *sp = p;
        while (sp < end && *sp == ' ')
            sp++;
        const char *we = sp;
        while (we < end && *we != ' ')
            we++;
        size_t gap = line_start ? 0 : (size_t)(sp - p), ww = span_width(sp, (size_t)(we - sp));
        if (!line_start && !first && col + gap + ww > SHOW_COLUMNS) {
            printf("\n%*s", (int)(SHOW_INDENT + hang), "");
            col = SHOW_INDENT + hang;
            line_start = true;
            gap = 0;
        }
        printf("%*s", (int)gap, "");
        col += gap;
        /* Cut what does not fit even on a line of its own. */
        for (const char *q = sp; q < we;) {
            size_t len = glyph_len(q, (size_t)(we - q)), gw = span_width(q, len);
            if (!whole && col + gw > SHOW_COLUMNS && col > SHOW_INDENT) {
                printf("\n%*s", SHOW_INDENT, "");
                col = SHOW_INDENT;
            }
            fwrite(q, 1, len, stdout);
            col += gw;
            q += len;
        }
        line_start = first = false;
        p = we;
    }
    printf("\n");
}

static void field(const char *label, const char *fmt, ...) _printf_(2, 3);
static void field(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfield(label, 0, false, fmt, ap);
    va_end(ap);
}

/* A field whose wrapped lines hang under its text past a column of counts. */
static void field_hang(const char *label, size_t hang, const char *fmt, ...) _printf_(3, 4);
static void field_hang(const char *label, size_t hang, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfield(label, hang, false, fmt, ap);
    va_end(ap);
}

/* A field with a path or a command to copy: words are never cut; one that
 * does not fit goes whole onto the next line, past the 80th column if it
 * must (the first stays beside its label). */
static void field_whole(const char *label, const char *fmt, ...) _printf_(2, 3);
static void field_whole(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfield(label, 0, true, fmt, ap);
    va_end(ap);
}

/* 50000 -> "50,000" */
static const char *thousands(double v, char *out, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static const char *base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "?";
}

static bool is_number(const struct jv *v, const char *path)
{
    const struct jv *x = jv_path(v, path);
    return x && x->type == JV_NUMBER;
}

/* A bundle without a memory cgroup says why in snapshot.missing. */
static void print_memory(const struct jv *v)
{
    const struct jv *version = jv_path(v, "memory.cgroup_version");
    if (!version || version->type != JV_NUMBER) {
        const char *why = NULL;
        const struct jv *missing = jv_path(v, "snapshot.missing");
        for (const struct jv *e = missing ? missing->child : NULL; e && !why; e = e->next)
            if (jv_str(e, "item") && !strcmp(jv_str(e, "item"), "cgroup"))
                why = jv_str(e, "reason");
        field("memory", "no memory cgroup (%s)", why ? why : "the bundle does not say why");
        return;
    }
    char lim[32] = "none", peak[32] = "?", use[32] = "?", kills[24] = "?";
    if (is_number(v, "memory.limit_bytes"))
        human_size((uint64_t)jv_num(v, "memory.limit_bytes", 0), lim, sizeof lim);
    if (is_number(v, "memory.peak_bytes"))
        human_size((uint64_t)jv_num(v, "memory.peak_bytes", 0), peak, sizeof peak);
    if (is_number(v, "memory.usage_bytes"))
        human_size((uint64_t)jv_num(v, "memory.usage_bytes", 0), use, sizeof use);
    if (is_number(v, "memory.oom_kills"))
        snprintf(kills, sizeof kills, "%.0f", jv_num(v, "memory.oom_kills", 0));
    field("memory", "limit %s, peak %s, usage %s", lim, peak, use);
    field("", "cgroup v%.0f, OOM kills %s", version->num, kills);
}

/* The memory verdicts (diagnosis.h), first: the line an expert would say,
 * each text wrapped under its ID. Then OOM kills of other processes the
 * service outlived: never its end, but evidence. */
static void print_verdicts(const struct jv *v)
{
    const struct jv *d = jv_get(v, "diagnosis");
    for (const struct jv *e = d && d->type == JV_ARRAY ? d->child : NULL; e; e = e->next) {
        field("verdict", "%s", jv_str(e, "verdict") ?: "?");
        field("", "%s", jv_str(e, "text") ?: "");
    }
    double outlived = jv_num(v, "memory.descendant_oom_kills", 0);
    if (outlived > 0)
        field("note", "%.0f OOM kill(s) of other processes in the cgroup, outlived by the service (last %s)",
              outlived, jv_str(v, "memory.descendant_oom_last") ?: "?");
}

/* How memory was watched during the run (bundles before it have no line). */
static void print_watch(const struct jv *v)
{
    const struct jv *w = jv_path(v, "memory.watch");
    if (!w || w->type != JV_OBJECT)
        return;
    const char *by = jv_str(w, "by"), *refused = jv_str(w, "registration_refused");
    if (!by) {
        field("watched", "nothing: %s", jv_str(w, "why_none") ?: "?");
        return;
    }
    char polls[96] = "", ref[160] = "";
    if (jv_path(w, "polls"))
        snprintf(polls, sizeof polls, " (adaptive, %.0f-%.0f ms apart, %.0f reads)", jv_num(w, "poll_min_ms", 0),
                 jv_num(w, "poll_max_ms", 0), jv_num(w, "polls", 0));
    if (refused)
        snprintf(ref, sizeof ref, "; registration refused: %s", refused);
    field("watched", "%s%s%s", by, polls, ref);
}

/* The GC settings the service ran with, from its environment. */
static void print_gc(const struct jv *v)
{
    const struct jv *env = jv_path(v, "go.env");
    if (!env || env->type != JV_OBJECT)
        return;
    const char *gogc = jv_str(env, "GOGC"), *limit = jv_str(env, "GOMEMLIMIT");
    const char *procs = jv_str(env, "GOMAXPROCS");
    field("gc", "GOGC=%s%s, GOMEMLIMIT=%s%s%s%s", gogc ?: "100", gogc ? "" : " (default)", limit ?: "none",
          limit ? "" : " (default)", procs ? ", GOMAXPROCS=" : "", procs ?: "");
}

static void print_frames(const struct jv *frames, int max)
{
    int k = 0;
    for (const struct jv *fr = frames ? frames->child : NULL; fr; fr = fr->next, k++) {
        if (k == max) {
            int more = 0;
            for (; fr; fr = fr->next)
                more++;
            field("", "(%d more in crash.txt)", more);
            break;
        }
        field("", "%s  %s:%.0f", jv_str(fr, "function") ?: "?", base_name(jv_str(fr, "file")),
              jv_num(fr, "line", 0));
    }
}

static bool traceback_shows_all(const struct jv *v)
{
    const char *tb = jv_str(v, "go.env.GOTRACEBACK");
    static const char *const all[] = {"all", "system", "crash", "wer", "1", "2"};
    for (size_t i = 0; tb && i < ARRAY_SIZE(all); i++)
        if (!strcmp(tb, all[i]))
            return true;
    return false;
}

/* The crashing goroutine, its frames and who created it. */
static void print_goroutine(const struct jv *v)
{
    const struct jv *frames = jv_path(v, "crash.frames");
    if (!frames || !frames->child)
        return;
    char id[32] = "", state[128] = "", n[32];
    if (is_number(v, "crash.goroutine"))
        snprintf(id, sizeof id, " %.0f", jv_num(v, "crash.goroutine", 0));
    if (jv_str(v, "crash.goroutine_state"))
        snprintf(state, sizeof state, " [%s]", jv_str(v, "crash.goroutine_state"));
    double all = jv_num(v, "crash.goroutines", 0);
    if (all > 1)
        field("goroutine", "%s%s, %s goroutines in all", id + (id[0] == ' '), state, thousands(all, n, sizeof n));
    else if (all == 1 && traceback_shows_all(v))
        field("goroutine", "%s%s, the only one", id + (id[0] == ' '), state);
    else if (all == 1)
        field("goroutine", "%s%s; no others shown (GOTRACEBACK=%s)", id + (id[0] == ' '), state,
              jv_str(v, "go.env.GOTRACEBACK") ?: "single, the default");
    print_frames(frames, 8);
    const char *cb = jv_str(v, "crash.created_by.function");
    if (cb) {
        char in[40] = "";
        if (is_number(v, "crash.created_by.goroutine"))
            snprintf(in, sizeof in, " in goroutine %.0f", jv_num(v, "crash.created_by.goroutine", 0));
        field("created by", "%s  %s:%.0f%s", cb, base_name(jv_str(v, "crash.created_by.file")),
              jv_num(v, "crash.created_by.line", 0), in);
    }
}

static void print_race_access(const char *label, const struct jv *a)
{
    if (!a || a->type != JV_OBJECT)
        return;
    field(label, "%s", jv_str(a, "what") ?: "?");
    print_frames(jv_path(a, "frames"), 6);
    const struct jv *created = jv_path(a, "created_at");
    if (created && created->child)
        field("", "created by %s  %s:%.0f", jv_str(created->child, "function") ?: "?",
              base_name(jv_str(created->child, "file")), jv_num(created->child, "line", 0));
}

static void print_race(const struct jv *v)
{
    const struct jv *race = jv_path(v, "crash.race");
    if (!race || race->type != JV_OBJECT)
        return;
    double count = jv_num(race, "count", 0);
    char n[32];
    if (count > 1)
        field("race", "the first of %s races reported", thousands(count, n, sizeof n));
    else
        field("race", "one race reported");
    print_race_access("access", jv_path(race, "access"));
    print_race_access("previous", jv_path(race, "previous"));
}

/* "50,000 × [chan receive, 12 minutes] main.(*request).awaitBackend main.go:23, created by main.handle" */
static void print_groups(const struct jv *v)
{
    const struct jv *groups = jv_path(v, "crash.goroutine_groups");
    if (!groups || !groups->child || !groups->child->next)
        return; /* one goroutine alone is the crashing one, shown above */
    char n[32], first[32];
    size_t width = strlen(thousands(jv_num(groups->child, "count", 0), first, sizeof first));
    int shown = 0;
    double rest = 0, rest_groups = 0;
    for (const struct jv *g = groups->child; g; g = g->next) {
        if (shown == 5) {
            rest += jv_num(g, "count", 0);
            rest_groups++;
            continue;
        }
        char state[160] = "", wait[32] = "", where[300] = "", creator[300] = "";
        double mins = jv_num(g, "wait_minutes_max", 0);
        if (mins >= 1)
            snprintf(wait, sizeof wait, ", %.0f minute%s", mins, mins == 1 ? "" : "s");
        if (jv_str(g, "state"))
            snprintf(state, sizeof state, "[%s%s] ", jv_str(g, "state"), wait);
        const struct jv *fns = jv_path(g, "functions");
        if (jv_str(g, "file"))
            snprintf(where, sizeof where, " %s:%.0f", jv_str(g, "file"), jv_num(g, "line", 0));
        if (jv_str(g, "created_by"))
            snprintf(creator, sizeof creator, ", created by %s", jv_str(g, "created_by"));
        field_hang(shown ? "" : "goroutines", width + 3, "%*s × %s%s%s%s", (int)width, thousands(jv_num(g, "count", 0), n, sizeof n),
              state, fns && fns->child && fns->child->str ? fns->child->str : "?", where, creator);
        shown++;
    }
    double total_groups = jv_num(v, "crash.goroutine_groups_total", 0);
    rest_groups += total_groups > shown + rest_groups ? total_groups - shown - rest_groups : 0;
    if (rest_groups)
        field("", "and %.0f more group%s", rest_groups, rest_groups == 1 ? "" : "s");
    const char *source = jv_str(v, "crash.goroutine_groups_source");
    if (source && strcmp(source, "crash.txt") != 0)
        field("", "(grouped from %s)", source);
}

/* Panics recovered before the crash: warning signs. */
static void print_recovered(const struct jv *v)
{
    const struct jv *rp = jv_path(v, "crash.recovered_panics");
    double count = jv_num(rp, "count", 0);
    if (!rp || count < 1)
        return;
    char list[2048] = "", n[32];
    size_t o = 0;
    const struct jv *names = jv_path(rp, "names");
    for (const struct jv *e = names ? names->child : NULL; e && o < sizeof list - 1; e = e->next)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s × %s", o ? "; " : "",
                              thousands(jv_num(e, "count", 0), n, sizeof n), jv_str(e, "text") ?: "?");
    field("warnings", "%.0f panic%s recovered in the output before: %s", count, count == 1 ? "" : "s", list);
}

/* When, and how fresh the evidence is. */
static void print_timing(const struct jv *v)
{
    field("when", "%s on %s (pid %.0f, restart %.0f)", jv_str(v, "time") ?: "?", jv_str(v, "host") ?: "?",
          jv_num(v, "pid", 0), jv_num(v, "restarts", 0));
    char held[48] = "";
    if (is_number(v, "snapshot.held_ms"))
        snprintf(held, sizeof held, ", the service held %.0f ms", jv_num(v, "snapshot.held_ms", 0));
    const char *taken = jv_str(v, "snapshot.taken") ?: "?";
    if (jv_str(v, "snapshot.trigger"))
        field("snapshot", "%s at %s%s", taken, jv_str(v, "snapshot.trigger"), held);
    else
        field("snapshot", "%s: %s", taken, jv_str(v, "snapshot.why_post_mortem") ?: "?");
}

/* Under the pre-OOM snapshots' count: when each was taken. */
static void print_crossings(const struct jv *v)
{
    const struct jv *wm = jv_path(v, "memory.watermarks_crossed");
    for (const struct jv *e = wm ? wm->child : NULL; e; e = e->next) {
        char use[32];
        human_size((uint64_t)jv_num(e, "usage_bytes", 0), use, sizeof use);
        field("", "%.0f%% (%s), %.0f ms before the end: pre-oom/%.0f/", jv_num(e, "percent", 0), use,
              jv_num(e, "before_end_ms", 0), jv_num(e, "percent", 0));
    }
}

static void print_top_maps(const char *smaps, size_t len)
{
    /* Per mapping: a header line "start-end perms offset dev inode path",
     * then "Rss: N kB" among its fields. */
    struct { long rss; char what[96]; } top[5] = {0};
    const char *p = smaps, *end = smaps + len;
    char cur[96] = "";
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p > 4 && !memcmp(p, "Rss:", 4)) {
            long rss = strtol(p + 4, NULL, 10);
            for (int i = 0; i < 5; i++)
                if (rss > top[i].rss) {
                    memmove(&top[i + 1], &top[i], (size_t)(4 - i) * sizeof top[0]);
                    top[i].rss = rss;
                    snprintf(top[i].what, sizeof top[i].what, "%s", cur);
                    break;
                }
        } else if (p < le && strchr("0123456789abcdef", *p) && memchr(p, '-', (size_t)(le - p))) {
            /* a mapping header: keep its range and path */
            const char *sp = p;
            int field_no = 0;
            while (sp < le && field_no < 5) {
                sp = memchr(sp, ' ', (size_t)(le - sp));
                if (!sp)
                    break;
                while (sp < le && *sp == ' ')
                    sp++;
                field_no++;
            }
            const char *dash = memchr(p, ' ', (size_t)(le - p));
            /* A file's path says what it is; an anonymous mapping only its range. */
            if (sp && sp < le)
                snprintf(cur, sizeof cur, "%.*s", (int)(le - sp), sp);
            else
                snprintf(cur, sizeof cur, "[anon] %.*s", dash ? (int)(dash - p) : 0, p);
        }
        p = nl ? nl + 1 : end;
    }
    for (int i = 0; i < 5 && top[i].rss; i++) {
        char size[32];
        human_size((uint64_t)top[i].rss << 10, size, sizeof size);
        field(i ? "" : "top maps", "%8s  %s", size, top[i].what);
    }
}

/* The pre-OOM snapshots: one directory per watermark crossed
 * (pre-oom/80/...), however many files each holds. */
static void print_preoom(const struct jv *items)
{
    char seen[16][16], list[256] = "";
    size_t n = 0, files = 0, o = 0;
    for (const struct jv *it = items ? items->child : NULL; it; it = it->next) {
        if (!it->str || strncmp(it->str, "pre-oom/", 8) != 0)
            continue;
        files++;
        const char *name = it->str + 8, *slash = strchr(name, '/');
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        if (len == 0 || len >= sizeof seen[0])
            continue;
        size_t k = 0;
        while (k < n && !(strlen(seen[k]) == len && !memcmp(seen[k], name, len)))
            k++;
        if (k < n || n == ARRAY_SIZE(seen))
            continue;
        memcpy(seen[n], name, len);
        seen[n++][len] = '\0';
        int w = snprintf(list + o, sizeof list - o, "%s%s%%", o ? ", " : "", seen[k]);
        if (w > 0 && (size_t)w < sizeof list - o)
            o += (size_t)w;
    }
    if (n)
        field("pre-OOM", "%zu snapshot%s (%s; %zu files under pre-oom/)", n, n == 1 ? "" : "s", list, files);
}

int oncall_show(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"dir", required_argument, NULL, 'd'}, {0}};
    bool json = false;
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'd')
            dir = optarg;
        else
            return EXIT_CRASHBOX_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "crashbox show: which bundle? (a path, or a name or prefix in -d DIR)\n");
        return EXIT_CRASHBOX_USAGE;
    }
    char path[4352];
    int r = resolve_bundle(argv[optind], default_dir(dir), path, sizeof path);
    if (r < 0) {
        fprintf(stderr, "crashbox show: %s: %s\n", argv[optind],
                r == -EEXIST ? "matches several bundles" : strerror(-r));
        return 1;
    }
    _cleanup_free_ char *m = NULL;
    size_t len;
    r = bundle_read_member(AT_FDCWD, path, "manifest.json", 16 << 20, &m, &len);
    if (r < 0) {
        fprintf(stderr, "crashbox show: %s: not a readable bundle: %s\n", path, strerror(-r));
        return 1;
    }
    if (json) {
        printf("%s\n", m);
        return 0;
    }
    struct jv *v = jv_parse(m, len);
    if (!v) {
        fprintf(stderr, "crashbox show: %s: bad manifest\n", path);
        return 1;
    }
    bool colour = use_colour();
    const char *B = colour ? "\033[1m" : "", *R = colour ? "\033[0m" : "";
    const char *kind = jv_str(v, "crash.kind");
    printf("%s%s%s crashed: %s%s%s\n", B, jv_str(v, "service") ?: "?", R, colour ? kind_colour(kind ?: "") : "",
           kind ?: "?", R);
    /* An expert's first paragraph: the verdicts, then what happened, where
     * and why, then the evidence around it, the details last. */
    print_verdicts(v);
    const struct jv *code = jv_path(v, "exit.code");
    if (code && code->type == JV_NUMBER)
        field("what", "%s, exit code %.0f", kind ?: "?", code->num);
    else if (jv_str(v, "exit.signal"))
        field("what", "%s, killed by %s", kind ?: "?", jv_str(v, "exit.signal"));
    else
        field("what", "%s, its end not seen by crashbox (it ended before the service did)", kind ?: "?");
    const char *cf = jv_str(v, "crash.culprit.function");
    if (cf)
        field("where", "%s  %s:%.0f", cf, base_name(jv_str(v, "crash.culprit.file")),
              jv_num(v, "crash.culprit.line", 0));
    const char *why = jv_str(v, "crash.message");
    if (!why || !jv_str(v, "exit.signal") || strncmp(why, "killed by ", 10) != 0 ||
        strcmp(why + 10, jv_str(v, "exit.signal")) != 0) /* "killed by SIGSEGV" is said above */
        field("why", "%s", why ?: "?");
    if (jv_str(v, "crash.go_signal"))
        field("signal", "%s addr=%s pc=%s", jv_str(v, "crash.go_signal"),
              jv_str(v, "crash.signal_detail.addr") ?: "?", jv_str(v, "crash.signal_detail.pc") ?: "?");
    print_race(v);
    print_memory(v);
    print_watch(v);
    if (!jv_path(v, "crash.race") || jv_path(v, "crash.race")->type != JV_OBJECT)
        print_goroutine(v);
    print_groups(v);
    print_gc(v);
    print_recovered(v);
    print_timing(v);
    print_preoom(jv_path(v, "snapshot.items"));
    print_crossings(v);
    _cleanup_free_ char *smaps = NULL;
    size_t slen;
    if (bundle_read_member(AT_FDCWD, path, "proc/smaps", 8 << 20, &smaps, &slen) == 0)
        print_top_maps(smaps, slen);
    if (jv_str(v, "go.version")) {
        char go[512];
        size_t o = (size_t)snprintf(go, sizeof go, "%s", jv_str(v, "go.version"));
        static const char *const more[] = {"go.path", "go.vcs_revision"};
        for (size_t i = 0; i < ARRAY_SIZE(more) && o < sizeof go; i++)
            if (jv_str(v, more[i]) && *jv_str(v, more[i]))
                o += (size_t)snprintf(go + o, sizeof go - o, " %s", jv_str(v, more[i]));
        field("go", "%s", go);
    }
    const struct jv *cw = jv_path(v, "core.written");
    if (cw && cw->type == JV_BOOL && cw->b) {
        char sz[32];
        human_size((uint64_t)jv_num(v, "core.bytes", 0), sz, sizeof sz);
        field_whole("core", "%s, %.0f threads%s%s%s: crashbox debug %s", sz, jv_num(v, "core.threads", 0),
              jv_str(v, "core.cut") ? " (cut: " : "", jv_str(v, "core.cut") ?: "",
              jv_str(v, "core.cut") ? ")" : "", path);
    } else if (jv_str(v, "core.why_not")) {
        field("core", "none: %s", jv_str(v, "core.why_not"));
    }
    field_whole("bundle", "%s", path);
    jv_free(v);
    return 0;
}

/* The directory a bundle is unpacked into: DIR, or the bundle's name
 * without .tar.zst. Returns an fd, or -1 (the error said). */
static int open_dest(const char *what, const char *bundle, const char *given, char *dest, size_t cap)
{
    if (given) {
        snprintf(dest, cap, "%s", given);
    } else {
        const char *b = strrchr(bundle, '/');
        b = b ? b + 1 : bundle;
        const char *ext = strstr(b, ".tar.zst");
        snprintf(dest, cap, "%.*s", (int)(ext ? ext - b : (long)strlen(b)), b);
    }
    int dfd = mkdir(dest, 0755) < 0 && errno != EEXIST ? -1 : open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        fprintf(stderr, "crashbox %s: %s: %s\n", what, dest, strerror(errno));
    return dfd;
}

int oncall_extract(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: crashbox extract BUNDLE [DIR]\n");
        return EXIT_CRASHBOX_USAGE;
    }
    char dest[4096];
    _cleanup_close_ int dfd = open_dest("extract", argv[1], argc > 2 ? argv[2] : NULL, dest, sizeof dest);
    if (dfd < 0)
        return EXIT_CRASHBOX_SYSTEM;
    int r = bundle_extract(AT_FDCWD, argv[1], dfd);
    if (r < 0) {
        fprintf(stderr, "crashbox extract: %s: %s\n", argv[1],
                r == -EBADMSG ? "not a valid bundle" : strerror(-r));
        return 1;
    }
    printf("%d files in %s\n", r, dest);
    return 0;
}

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)n, n ? p : ".", prog);
        if (access(full, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

int oncall_debug(int argc, char **argv)
{
    /* crashbox debug BUNDLE [DIR] [-- DLV-ARGS...] */
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--") != 0)
        dash++;
    if (dash < 2 || dash > 3) {
        fprintf(stderr, "usage: crashbox debug BUNDLE [DIR] [-- DLV-ARGS...]\n");
        return EXIT_CRASHBOX_USAGE;
    }
    _cleanup_free_ char *mtext = NULL;
    size_t mlen = 0;
    int r = bundle_read_member(AT_FDCWD, argv[1], "manifest.json", 1 << 20, &mtext, &mlen);
    if (r < 0) {
        fprintf(stderr, "crashbox debug: %s: %s\n", argv[1], r == -EBADMSG || r == -ENOENT ? "not a valid bundle" : strerror(-r));
        return 1;
    }
    struct jv *m = jv_parse(mtext, mlen);
    const struct jv *written = m ? jv_path(m, "core.written") : NULL;
    if (!written || written->type != JV_BOOL || !written->b) {
        const char *why = m ? jv_str(m, "core.why_not") : NULL;
        fprintf(stderr, "crashbox debug: %s has no core: %s\n", argv[1],
                why ? why : "its policy did not ask for one ([core] dump = yes)");
        jv_free(m);
        return 1;
    }
    const char *cut = jv_str(m, "core.cut");
    if (cut)
        fprintf(stderr, "crashbox debug: the core was cut (%s): memory past the cut is missing\n", cut);
    jv_free(m);
    char dest[4096];
    _cleanup_close_ int dfd = open_dest("debug", argv[1], dash > 2 ? argv[2] : NULL, dest, sizeof dest);
    if (dfd < 0)
        return EXIT_CRASHBOX_SYSTEM;
    static const char *const names[] = {"core/core", "core/exe", NULL};
    r = bundle_extract_members(AT_FDCWD, argv[1], names, dfd);
    if (r < 0) {
        fprintf(stderr, "crashbox debug: %s: %s\n", argv[1], r == -EEXIST ? "already unpacked there (give another DIR)" : strerror(-r));
        return 1;
    }
    char core[4200], exe[4200];
    snprintf(core, sizeof core, "%s/core", dest);
    snprintf(exe, sizeof exe, "%s/exe", dest);
    if (faccessat(dfd, "exe", F_OK, 0) < 0)
        fprintf(stderr, "crashbox debug: the bundle has no executable ([core] include_executable = no): "
                        "use the service's exact binary for EXE\n");
    if (on_path("dlv")) {
        fprintf(stderr, "crashbox debug: dlv core %s %s\n", exe, core);
        int extra = dash < argc ? argc - dash - 1 : 0;
        char **dargv = calloc((size_t)extra + 6, sizeof *dargv);
        if (dargv) {
            int k = 0;
            dargv[k++] = "dlv";
            dargv[k++] = "core";
            dargv[k++] = exe;
            dargv[k++] = core;
            /* commands on a pipe (a script, a test) rather than a terminal */
            if (!isatty(STDIN_FILENO))
                dargv[k++] = "--allow-non-terminal-interactive=true";
            for (int i = 0; i < extra; i++)
                dargv[k++] = argv[dash + 1 + i];
            fflush(NULL);
            execvp("dlv", dargv);
            fprintf(stderr, "crashbox debug: dlv: %s\n", strerror(errno));
            free(dargv);
        }
    }
    printf("core and executable in %s; open them with\n"
           "  dlv core %s %s\n"
           "  (add --check-go-version=false when dlv is older than the Go that built the service)\n"
           "  gdb %s %s\n",
           dest, exe, core, exe, core);
    return 0;
}
