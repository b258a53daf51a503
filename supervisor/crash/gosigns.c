/* SPDX-License-Identifier: MIT */
#include "gosigns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textspan.h"

static const char *find(struct span l, const char *needle)
{
    return memmem(l.s, l.n, needle, strlen(needle));
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static long number_at(const char *s, const char *end)
{
    long v = -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++)
        if (v < 100000000)
            v = (v < 0 ? 0 : v) * 10 + (*s - '0');
    return v;
}

static void frames_free(struct go_frame *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].function);
        free(f[i].file);
    }
}

/* The race detector's stack: "  main.f()" then "      /src/main.go:17 +0x84",
 * up to a blank line. */
static int race_frames(const char **p, const char *end, struct go_frame *f, size_t *n)
{
    struct span l;
    const char *before = *p;
    while (span_next_line(p, end, &l) && l.n) {
        if (l.n > 6 && !memcmp(l.s, "      ", 6)) {
            if (*n && !f[*n - 1].file) {
                const char *s = l.s + 6, *e = l.s + l.n;
                const char *sp = memchr(s, ' ', (size_t)(e - s));
                const char *fe = sp ? sp : e;
                const char *colon = memrchr(s, ':', (size_t)(fe - s));
                if (colon) {
                    if (!(f[*n - 1].file = dup_n(s, (size_t)(colon - s))))
                        return -ENOMEM;
                    f[*n - 1].line = (unsigned)number_at(colon + 1, fe);
                }
            }
        } else if (l.n > 2 && l.s[0] == ' ' && l.s[1] == ' ') {
            if (*n == GOSIGNS_RACE_FRAMES)
                continue;
            const char *s = l.s + 2;
            size_t fn = l.n - 2;
            const char *open = memrchr(s, '(', fn);
            if (open && s[fn - 1] == ')' && open > s)
                fn = (size_t)(open - s);
            if (!(f[(*n)++].function = dup_n(s, fn)))
                return -ENOMEM;
        } else {
            *p = before; /* a header without its blank line: not ours */
            break;
        }
        before = *p;
    }
    return 0;
}

static int parse_first_race(const char *p, const char *end, struct go_race *r)
{
    struct span l;
    while (span_next_line(&p, end, &l)) {
        if (span_starts(l, "=================="))
            break;
        if (!l.n || l.s[0] == ' ' || l.s[l.n - 1] != ':')
            continue;
        struct go_race_access *a = NULL;
        const char *by = find(l, " by ");
        if (span_starts(l, "Previous ") && by)
            a = &r->previous;
        else if (by && !r->access.what)
            a = &r->access;
        if (a) {
            if (!(a->what = dup_n(l.s, l.n - 1)))
                return -ENOMEM;
            a->main_goroutine = find(l, " by main goroutine") != NULL;
            const char *g = find(l, " by goroutine ");
            a->goroutine = g ? number_at(g + 14, l.s + l.n) : a->main_goroutine ? 1 : -1;
            if (race_frames(&p, end, a->frames, &a->nframes) < 0)
                return -ENOMEM;
            continue;
        }
        /* "Goroutine 7 (running) created at:" */
        if (span_starts(l, "Goroutine ") && find(l, " created at:")) {
            long id = number_at(l.s + 10, l.s + l.n);
            struct go_race_access *who = id == r->access.goroutine && !r->access.main_goroutine ? &r->access
                                       : id == r->previous.goroutine ? &r->previous
                                                                     : NULL;
            struct go_frame scratch[GOSIGNS_RACE_FRAMES] = {0};
            size_t ns = 0;
            int rc = who && !who->ncreated ? race_frames(&p, end, who->created_at, &who->ncreated)
                                           : race_frames(&p, end, scratch, &ns);
            frames_free(scratch, ns);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int gosigns_race(const char *buf, size_t len, struct go_race *r)
{
    *r = (struct go_race){.access.goroutine = -1, .previous.goroutine = -1};
    const char *p = buf, *end = buf + len, *first = NULL;
    struct span l;
    unsigned found = 0;
    while (span_next_line(&p, end, &l)) {
        if (span_starts(l, "WARNING: DATA RACE")) {
            if (!r->count++)
                first = p;
        } else if (span_starts(l, "Found ") && find(l, " data race")) {
            long n = number_at(l.s + 6, l.s + l.n);
            if (n > 0 && (unsigned long)n > found)
                found = (unsigned)n;
        }
    }
    if (found > r->count)
        r->count = found; /* the tail lost the first reports: the runtime counted them */
    if (!first)
        return 0;
    int rc = parse_first_race(first, end, r);
    return rc < 0 ? rc : 1;
}

static void access_free(struct go_race_access *a)
{
    free(a->what);
    frames_free(a->frames, a->nframes);
    frames_free(a->created_at, a->ncreated);
}

void go_race_free(struct go_race *r)
{
    access_free(&r->access);
    access_free(&r->previous);
    *r = (struct go_race){0};
}

static void frames_json(struct json *j, const char *key, const struct go_frame *f, size_t n)
{
    json_key(j, key);
    json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        json_obj_begin(j);
        json_kv_str(j, "function", f[i].function);
        json_kv_str(j, "file", f[i].file);
        json_kv_uint(j, "line", f[i].line);
        json_obj_end(j);
    }
    json_arr_end(j);
}

static void access_json(struct json *j, const char *key, const struct go_race_access *a)
{
    json_key(j, key);
    if (!a->what) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    json_kv_str(j, "what", a->what);
    json_key(j, "goroutine");
    if (a->goroutine >= 0)
        json_int(j, a->goroutine);
    else
        json_null(j);
    json_kv_bool(j, "main_goroutine", a->main_goroutine);
    frames_json(j, "frames", a->frames, a->nframes);
    frames_json(j, "created_at", a->created_at, a->ncreated);
    json_obj_end(j);
}

void go_race_to_json(const struct go_race *r, struct json *j)
{
    json_obj_begin(j);
    json_kv_uint(j, "count", r->count);
    access_json(j, "access", &r->access);
    access_json(j, "previous", &r->previous);
    json_obj_end(j);
}

static int recovered_add(struct go_recovered *rp, const char *s, size_t n)
{
    rp->count++;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n > 200)
        n = 200;
    for (size_t i = 0; i < rp->nnames; i++)
        if (strlen(rp->names[i].text) == n && !memcmp(rp->names[i].text, s, n)) {
            rp->names[i].count++;
            return 0;
        }
    if (rp->nnames == GOSIGNS_MAX_NAMES)
        return 0;
    if (!(rp->names[rp->nnames].text = dup_n(s, n)))
        return -ENOMEM;
    rp->names[rp->nnames++].count = 1;
    return 0;
}

int gosigns_recovered(const char *buf, size_t len, struct go_recovered *rp)
{
    *rp = (struct go_recovered){0};
    const char *p = buf, *end = buf + len;
    struct span l;
    while (span_next_line(&p, end, &l)) {
        const char *h = find(l, "http: panic serving ");
        int rc = 0;
        if (h) {
            /* "... http: panic serving 127.0.0.1:41234: boom" */
            const char *addr = h + 20, *e = l.s + l.n;
            const char *sep = memmem(addr, (size_t)(e - addr), ": ", 2);
            const char *v = sep ? sep + 2 : addr;
            rc = recovered_add(rp, v, (size_t)(e - v));
        } else if ((span_starts(l, "panic: ") || span_starts(l, "\tpanic: ")) && l.s[l.n - 1] == ']' &&
                   (h = find(l, " [recovered"))) {
            /* "[recovered]", or 1.25's "[recovered, repanicked]" */
            const char *v = l.s + (l.s[0] == '\t' ? 8 : 7);
            rc = recovered_add(rp, v, (size_t)(h - v));
        }
        if (rc < 0)
            return rc;
    }
    return (int)rp->count;
}

void go_recovered_free(struct go_recovered *rp)
{
    for (size_t i = 0; i < rp->nnames; i++)
        free(rp->names[i].text);
    *rp = (struct go_recovered){0};
}

void go_recovered_to_json(const struct go_recovered *rp, struct json *j)
{
    json_obj_begin(j);
    json_kv_uint(j, "count", rp->count);
    json_key(j, "names");
    json_arr_begin(j);
    for (size_t i = 0; i < rp->nnames; i++) {
        json_obj_begin(j);
        json_kv_str(j, "text", rp->names[i].text);
        json_kv_uint(j, "count", rp->names[i].count);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
}

/* "pre-oom/90/go/goroutines.txt" -> 90; the exit hook's "go/goroutines.txt"
 * was taken at the end, so it ranks above every watermark. */
static long dump_rank(const char *name)
{
    static const char suffix[] = "go/goroutines.txt";
    size_t n = strlen(name), k = sizeof suffix - 1;
    if (n < k || strcmp(name + n - k, suffix) != 0)
        return -1;
    if (n == k)
        return 1000;
    if (strncmp(name, "pre-oom/", 8) != 0)
        return -1;
    long pct = number_at(name + 8, name + n);
    return pct < 0 ? 0 : pct;
}

int go_signs_read(struct go_signs *s, const char *report, size_t report_len, const char *tail,
                  size_t tail_len, const struct items *members)
{
    *s = (struct go_signs){0};
    int rc = 0;
    if (report && gogroups_parse(report, report_len, &s->groups) < 0)
        rc = -ENOMEM;
    if (s->groups.goroutines > 1) {
        s->groups_source = strdup("crash.txt");
    } else {
        const struct item *best = NULL;
        long best_rank = -1;
        for (size_t i = 0; members && i < members->n; i++) {
            long rank = dump_rank(members->v[i].name);
            if (rank > best_rank) {
                best = &members->v[i];
                best_rank = rank;
            }
        }
        if (best) {
            go_groups_free(&s->groups);
            if (gogroups_parse(best->data, best->len, &s->groups) < 0)
                rc = -ENOMEM;
            s->groups_source = strdup(best->name);
        } else if (s->groups.goroutines) {
            s->groups_source = strdup("crash.txt");
        }
    }
    int r = tail ? gosigns_race(tail, tail_len, &s->race) : 0;
    if (r < 0)
        rc = r;
    s->have_race = r > 0;
    if (tail && gosigns_recovered(tail, tail_len, &s->recovered) < 0)
        rc = -ENOMEM;
    return rc;
}

void go_signs_free(struct go_signs *s)
{
    go_groups_free(&s->groups);
    free(s->groups_source);
    go_race_free(&s->race);
    go_recovered_free(&s->recovered);
}

void go_signs_json(const struct go_signs *s, struct json *j)
{
    json_key(j, "goroutine_groups");
    go_groups_to_json(&s->groups, GOSIGNS_MAX_GROUPS, j);
    json_kv_str(j, "goroutine_groups_source", s->groups_source);
    json_kv_uint(j, "goroutine_groups_total", s->groups.n);
    json_kv_uint(j, "goroutines_grouped", s->groups.goroutines);
    json_kv_uint(j, "goroutines_ungrouped", s->groups.ungrouped);
    json_key(j, "race");
    if (s->have_race)
        go_race_to_json(&s->race, j);
    else
        json_null(j);
    json_key(j, "recovered_panics");
    go_recovered_to_json(&s->recovered, j);
}
