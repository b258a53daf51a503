/* SPDX-License-Identifier: MIT */
#include "gogroups.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "goparse.h"
#include "textspan.h"

#define MAX_KEY_FRAMES 64 /* deeper stacks group by their top 64 frames */
#define INDEX_SLOTS (GOGROUPS_MAX_TRACKED * 2)

static uint64_t fnv_sep(uint64_t h)
{
    h ^= 0xff; /* a byte no name holds, so "ab","c" and "a","bc" differ */
    return h * 0x100000001b3ULL;
}

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return fnv_sep(h);
}

/* One goroutine as it is read, before it joins its group. Spans point into
 * the buffer. */
struct pending {
    bool open;
    struct span state;
    bool state_known;
    unsigned wait;
    struct span functions[MAX_KEY_FRAMES];
    struct span files[MAX_KEY_FRAMES];
    unsigned lines[MAX_KEY_FRAMES];
    size_t nframes;
    struct span created_by;
};

struct grouper {
    struct go_groups *g;
    int32_t index[INDEX_SLOTS]; /* open addressing over g->v, -1 empty */
    bool failed;
};

static char *dup_span(struct span s)
{
    char *d = malloc(s.n + 1);
    if (d) {
        memcpy(d, s.s, s.n);
        d[s.n] = '\0';
    }
    return d;
}

static bool is_runtime_span(struct span f)
{
    char name[64];
    size_t n = f.n < sizeof name - 1 ? f.n : sizeof name - 1;
    memcpy(name, f.s, n);
    name[n] = '\0';
    return goparse_is_runtime_function(name);
}

static uint64_t pending_key(const struct pending *p, const char *state)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, state ? state : "", state ? strlen(state) : 0);
    for (size_t i = 0; i < p->nframes; i++)
        h = fnv(h, p->functions[i].s, p->functions[i].n);
    return fnv(h, p->created_by.s ? p->created_by.s : "", p->created_by.n);
}

static int group_fill(struct go_group *gr, const struct pending *p, const char *state)
{
    if (state && !(gr->state = strdup(state)))
        return -ENOMEM;
    if (!state && p->state_known && !(gr->state = dup_span(p->state)))
        return -ENOMEM;
    size_t first = 0;
    while (first + 1 < p->nframes && is_runtime_span(p->functions[first]))
        first++;
    for (size_t i = first; i < p->nframes && gr->nfunctions < GOGROUPS_MAX_FUNCTIONS; i++)
        if (!(gr->functions[gr->nfunctions++] = dup_span(p->functions[i])))
            return -ENOMEM;
    if (first < p->nframes && p->files[first].n) {
        struct span f = p->files[first];
        const char *slash = memrchr(f.s, '/', f.n);
        if (slash)
            f = (struct span){slash + 1, f.n - (size_t)(slash + 1 - f.s)};
        if (!(gr->file = dup_span(f)))
            return -ENOMEM;
        gr->line = p->lines[first];
    }
    if (p->created_by.n && !(gr->created_by = dup_span(p->created_by)))
        return -ENOMEM;
    return 0;
}

static void pending_close(struct grouper *gp, struct pending *p, size_t count)
{
    if (!p->open)
        return;
    p->open = false;
    struct go_groups *g = gp->g;
    g->goroutines += count;
    char state_buf[128];
    const char *state = NULL;
    if (p->state_known) {
        size_t n = p->state.n < sizeof state_buf - 1 ? p->state.n : sizeof state_buf - 1;
        memcpy(state_buf, p->state.s, n);
        state_buf[n] = '\0';
        state = state_buf;
    }
    uint64_t key = pending_key(p, state);
    size_t slot = key % INDEX_SLOTS;
    while (gp->index[slot] >= 0 && g->v[gp->index[slot]].key != key)
        slot = (slot + 1) % INDEX_SLOTS;
    if (gp->index[slot] >= 0) {
        struct go_group *gr = &g->v[gp->index[slot]];
        gr->count += count;
        if (p->wait > gr->wait_minutes_max)
            gr->wait_minutes_max = p->wait;
        return;
    }
    if (g->n == GOGROUPS_MAX_TRACKED || gp->failed) {
        g->ungrouped += count;
        return;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        struct go_group *v = realloc(g->v, cap * sizeof *v);
        if (!v) {
            gp->failed = true;
            g->ungrouped += count;
            return;
        }
        g->v = v;
        g->cap = cap;
    }
    struct go_group *gr = &g->v[g->n];
    *gr = (struct go_group){.count = count, .wait_minutes_max = p->wait, .key = key, .seq = g->n};
    g->n++;
    gp->index[slot] = (int32_t)(g->n - 1);
    if (group_fill(gr, p, state) < 0)
        gp->failed = true;
}

static unsigned parse_uint(const char *s, const char *end, const char **after)
{
    unsigned long v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v < 100000000)
            v = v * 10 + (unsigned)(*s - '0');
        s++;
    }
    if (after)
        *after = s;
    return (unsigned)v;
}

/* "goroutine 7 [chan receive, 5 minutes, locked to thread]:" (1.23+ may put
 * "gp=0x... m=..." before the bracket, 1.26 labels after it). */
static bool goroutine_header(struct span l, struct pending *p)
{
    if (!span_starts(l, "goroutine ") || l.n < 12 || l.s[10] < '0' || l.s[10] > '9')
        return false;
    const char *open = memchr(l.s, '[', l.n);
    const char *close = open ? memchr(open, ']', (size_t)(l.s + l.n - open)) : NULL;
    if (!close || l.s[l.n - 1] != ':')
        return false;
    *p = (struct pending){.open = true, .state_known = true};
    const char *s = open + 1;
    const char *comma = memchr(s, ',', (size_t)(close - s));
    p->state = (struct span){s, (size_t)((comma ? comma : close) - s)};
    while (comma) {
        const char *f = comma + 1;
        while (f < close && *f == ' ')
            f++;
        const char *after;
        unsigned v = parse_uint(f, close, &after);
        if (after > f && (size_t)(close - after) >= 8 && !memcmp(after, " minutes", 8))
            p->wait = v;
        comma = memchr(f, ',', (size_t)(close - f));
    }
    return true;
}

/* "main.f(0xc000010000, ...)" -> "main.f": the arguments are the last
 * parenthesised group when the line ends in one. */
static struct span function_of(struct span l)
{
    if (l.n && l.s[l.n - 1] == ')') {
        int depth = 0;
        for (size_t i = l.n; i-- > 0;) {
            if (l.s[i] == ')')
                depth++;
            else if (l.s[i] == '(' && --depth == 0)
                return (struct span){l.s, i};
        }
    }
    return l;
}

/* "\t/src/main.go:23 +0x1d" -> file and line */
static void file_line(struct span l, struct span *file, unsigned *line)
{
    while (l.n && (*l.s == '\t' || *l.s == ' ')) {
        l.s++;
        l.n--;
    }
    const char *sp = memchr(l.s, ' ', l.n);
    const char *end = sp ? sp : l.s + l.n;
    const char *colon = memrchr(l.s, ':', (size_t)(end - l.s));
    if (!colon)
        return;
    *file = (struct span){l.s, (size_t)(colon - l.s)};
    *line = parse_uint(colon + 1, end, NULL);
}

static void parse_traceback(struct grouper *gp, const char *p, const char *end)
{
    struct pending cur = {0};
    struct span l;
    bool creator_file = false;
    while (span_next_line(&p, end, &l)) {
        if (goroutine_header(l, &(struct pending){0})) {
            pending_close(gp, &cur, 1);
            goroutine_header(l, &cur);
            creator_file = false;
            continue;
        }
        if (!cur.open)
            continue;
        if (l.n == 0) {
            pending_close(gp, &cur, 1);
        } else if (span_starts(l, "created by ")) {
            struct span c = {l.s + 11, l.n - 11};
            for (size_t i = 0; i + 14 <= c.n; i++)
                if (!memcmp(c.s + i, " in goroutine ", 14)) {
                    c.n = i;
                    break;
                }
            cur.created_by = c;
            creator_file = true;
        } else if (l.s[0] == '\t') {
            if (!creator_file && cur.nframes && !cur.files[cur.nframes - 1].n)
                file_line(l, &cur.files[cur.nframes - 1], &cur.lines[cur.nframes - 1]);
        } else if (span_starts(l, "...") || creator_file) {
            continue; /* "...additional frames elided..." */
        } else if (cur.nframes < MAX_KEY_FRAMES) {
            cur.functions[cur.nframes++] = function_of(l);
        }
    }
    pending_close(gp, &cur, 1);
}

/* pprof debug=1: "N @ 0x... 0x..." then "#\t0x4a3e44\tmain.f+0x24\t/src/main.go:23" */
static void parse_profile(struct grouper *gp, const char *p, const char *end)
{
    struct pending cur = {0};
    size_t count = 0;
    struct span l;
    while (span_next_line(&p, end, &l)) {
        const char *after;
        unsigned n = parse_uint(l.s, l.s + l.n, &after);
        if (after > l.s && (size_t)(l.s + l.n - after) >= 2 && !memcmp(after, " @", 2)) {
            pending_close(gp, &cur, count);
            cur = (struct pending){.open = true};
            count = n;
            continue;
        }
        if (!cur.open)
            continue;
        if (l.n == 0) {
            pending_close(gp, &cur, count);
        } else if (span_starts(l, "#\t0x") && cur.nframes < MAX_KEY_FRAMES) {
            const char *fs = memchr(l.s + 2, '\t', l.n - 2);
            if (!fs)
                continue;
            fs++;
            const char *fe = memchr(fs, '\t', (size_t)(l.s + l.n - fs));
            struct span fn = {fs, (size_t)((fe ? fe : l.s + l.n) - fs)};
            for (size_t i = fn.n; i-- > 0;)
                if (fn.s[i] == '+') { /* "+0x24": the offset into the function */
                    fn.n = i;
                    break;
                }
            size_t k = cur.nframes++;
            cur.functions[k] = fn;
            if (fe)
                file_line((struct span){fe, (size_t)(l.s + l.n - fe)}, &cur.files[k], &cur.lines[k]);
        }
    }
    pending_close(gp, &cur, count);
}

static int by_count(const void *a, const void *b)
{
    const struct go_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    if (x->wait_minutes_max != y->wait_minutes_max)
        return x->wait_minutes_max < y->wait_minutes_max ? 1 : -1;
    return x->seq < y->seq ? -1 : x->seq > y->seq; /* ties in the report's order: qsort is not stable */
}

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* A profile's ties are in pprof's order, by the stacks' program counters:
 * where a goroutine stood at the dump would reorder them from one dump to
 * the next. Ties here go by their names, then the report's order. */
static int by_count_profile(const void *a, const void *b)
{
    const struct go_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    for (size_t k = 0; k < x->nfunctions && k < y->nfunctions; k++) {
        int c = cmp_str(x->functions[k], y->functions[k]);
        if (c)
            return c;
    }
    if (x->nfunctions != y->nfunctions)
        return x->nfunctions < y->nfunctions ? -1 : 1;
    int c = cmp_str(x->file, y->file);
    if (c)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int gogroups_parse(const char *buf, size_t len, struct go_groups *g)
{
    *g = (struct go_groups){0};
    struct grouper *gp = malloc(sizeof *gp);
    if (!gp)
        return -ENOMEM;
    gp->g = g;
    gp->failed = false;
    memset(gp->index, 0xff, sizeof gp->index);
    const char *end = buf + len;
    const char *p = buf;
    struct span first = {0};
    while (span_next_line(&p, end, &first) && first.n == 0)
        ;
    g->from_profile = span_starts(first, "goroutine profile: total ");
    if (g->from_profile)
        parse_profile(gp, buf, end);
    else
        parse_traceback(gp, buf, end);
    bool failed = gp->failed;
    free(gp);
    if (g->n > 1)
        qsort(g->v, g->n, sizeof *g->v, g->from_profile ? by_count_profile : by_count);
    return failed ? -ENOMEM : (int)g->n;
}

void go_groups_free(struct go_groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct go_group *gr = &g->v[i];
        free(gr->state);
        for (size_t k = 0; k < gr->nfunctions; k++)
            free(gr->functions[k]);
        free(gr->file);
        free(gr->created_by);
    }
    free(g->v);
    *g = (struct go_groups){0};
}

void go_groups_to_json(const struct go_groups *g, size_t max, struct json *j)
{
    json_arr_begin(j);
    for (size_t i = 0; i < g->n && i < max; i++) {
        const struct go_group *gr = &g->v[i];
        json_obj_begin(j);
        json_kv_uint(j, "count", gr->count);
        json_kv_str(j, "state", gr->state);
        json_key(j, "functions");
        json_arr_begin(j);
        for (size_t k = 0; k < gr->nfunctions; k++)
            json_str(j, gr->functions[k]);
        json_arr_end(j);
        json_kv_str(j, "file", gr->file);
        json_kv_uint(j, "line", gr->line);
        json_kv_str(j, "created_by", gr->created_by);
        json_kv_uint(j, "wait_minutes_max", gr->wait_minutes_max);
        json_obj_end(j);
    }
    json_arr_end(j);
}
