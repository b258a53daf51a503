/* SPDX-License-Identifier: MIT */
#include "diagnosis.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "jsonread.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

/* The thresholds. A share is of the cgroup's usage at the sample; the
 * floors keep a small service's noise from becoming a verdict. */
#define SHARE_OTHER 25       /* % of usage held by other processes */
#define SHARE_FILE 25        /* % of usage in file pages (shmem and tmpfs included) */
#define SHARE_HEAP 50        /* % of usage in the heap's in-use spans */
#define FLOOR_BYTES (8u << 20)
#define LEAK_GOROUTINES 10000 /* a count no service needs */
#define BURST_MS 1500         /* first watermark to the kill */
#define BURST_MIB_S 32

static struct diag_verdict *verdict(struct diag_verdict *out, size_t cap, size_t *n, const char *id,
                                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct diag_verdict *verdict(struct diag_verdict *out, size_t cap, size_t *n, const char *id,
                                    const char *fmt, ...)
{
    if (*n >= cap)
        return NULL;
    struct diag_verdict *v = &out[(*n)++];
    *v = (struct diag_verdict){.id = id};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->text, sizeof v->text, fmt, ap);
    va_end(ap);
    return v;
}

static void fig(struct diag_verdict *v, const char *key, int64_t num)
{
    if (v && v->nfig < DIAG_MAX_FIGURES)
        v->fig[v->nfig++] = (struct diag_figure){.key = key, .num = num};
}

static void fig_str(struct diag_verdict *v, const char *key, const char *s)
{
    if (!v || v->nfig >= DIAG_MAX_FIGURES)
        return;
    struct diag_figure *f = &v->fig[v->nfig++];
    *f = (struct diag_figure){.key = key, .is_str = true};
    snprintf(f->str, sizeof f->str, "%s", s);
}

static double mib(uint64_t b) { return (double)b / MIB; }

static const struct diag_sample *last_with(const struct diag_evidence *ev, bool runtime)
{
    for (size_t i = ev->n; i-- > 0;)
        if (runtime ? ev->samples[i].rt.have : ev->samples[i].have_cgroup)
            return &ev->samples[i];
    return NULL;
}

static const struct diag_proc *service_proc(const struct diag_evidence *ev, const struct diag_sample *s)
{
    for (size_t i = 0; s && i < s->nprocs; i++)
        if (s->procs[i].pid == ev->service_pid)
            return &s->procs[i];
    return NULL;
}

static bool share(uint64_t part, uint64_t whole, unsigned pct)
{
    return whole && part >= FLOOR_BYTES && part * 100 >= whole * pct;
}

static void other_process(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    const struct diag_sample *s = last_with(ev, false);
    if (!s)
        return;
    uint64_t others = 0;
    const struct diag_proc *top = NULL;
    for (size_t i = 0; i < s->nprocs; i++) {
        if (s->procs[i].pid == ev->service_pid)
            continue;
        others += s->procs[i].rss;
        if (!top || s->procs[i].rss > top->rss)
            top = &s->procs[i];
    }
    if (!top || !share(others, s->usage, SHARE_OTHER))
        return;
    const struct diag_proc *svc = service_proc(ev, s);
    struct diag_verdict *v =
        verdict(out, cap, n, "other-process",
                "pid %d (%s) held %.0f MiB of the cgroup's %.0f MiB at %u%%; the service %.0f MiB", top->pid,
                top->comm, mib(top->rss), mib(s->usage), s->percent, svc ? mib(svc->rss) : 0.0);
    fig(v, "pid", top->pid);
    fig_str(v, "comm", top->comm);
    fig(v, "rss_bytes", (int64_t)top->rss);
    fig(v, "others_rss_bytes", (int64_t)others);
    fig(v, "service_rss_bytes", svc ? (int64_t)svc->rss : -1);
    fig(v, "usage_bytes", (int64_t)s->usage);
    fig(v, "watermark_percent", s->percent);
}

static void page_cache(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    const struct diag_sample *s = last_with(ev, false);
    if (!s || !share(s->file, s->usage, SHARE_FILE))
        return;
    struct diag_verdict *v = verdict(out, cap, n, "page-cache",
                                     "file pages held %.0f MiB of the cgroup's %.0f MiB at %u%% (%.0f MiB shmem "
                                     "or tmpfs, which cannot be reclaimed)",
                                     mib(s->file), mib(s->usage), s->percent, mib(s->shmem));
    fig(v, "file_bytes", (int64_t)s->file);
    fig(v, "shmem_bytes", (int64_t)s->shmem);
    fig(v, "usage_bytes", (int64_t)s->usage);
    fig(v, "watermark_percent", s->percent);
}

/* The settings: the runtime's when the shim told them, else the
 * environment the service started with. */
static void settings(const struct diag_evidence *ev, int64_t *gogc, int64_t *memlimit, const char **from)
{
    const struct diag_sample *r = last_with(ev, true);
    if (r) {
        *gogc = r->rt.gogc_percent;
        *memlimit = r->rt.gomemlimit;
        *from = "runtime";
        return;
    }
    *gogc = 100;
    *memlimit = DIAG_NO_LIMIT;
    *from = "environment";
    if (ev->env_gogc)
        *gogc = strcmp(ev->env_gogc, "off") == 0 ? -1 : atoll(ev->env_gogc);
    if (ev->env_gomemlimit && diag_parse_memlimit(ev->env_gomemlimit, memlimit) < 0)
        *memlimit = DIAG_NO_LIMIT;
}

static void gc_settings(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    if (!ev->limit)
        return;
    int64_t gogc, memlimit;
    const char *from;
    settings(ev, &gogc, &memlimit, &from);
    bool above = memlimit != DIAG_NO_LIMIT && (uint64_t)memlimit >= ev->limit;
    if (gogc < 0 && (memlimit == DIAG_NO_LIMIT || above)) {
        struct diag_verdict *v =
            memlimit == DIAG_NO_LIMIT
                ? verdict(out, cap, n, "gc-off",
                          "GOGC=off and no GOMEMLIMIT: nothing collects the heap before the %.0f MiB limit",
                          mib(ev->limit))
                : verdict(out, cap, n, "gc-off",
                          "GOGC=off with GOMEMLIMIT %.0f MiB, not below the %.0f MiB limit: nothing "
                          "collects the heap before the kill",
                          mib((uint64_t)memlimit), mib(ev->limit));
        fig(v, "gogc_percent", gogc);
        fig(v, "gomemlimit_bytes", memlimit == DIAG_NO_LIMIT ? -1 : memlimit);
        fig(v, "limit_bytes", (int64_t)ev->limit);
        fig_str(v, "settings_from", from);
    }
    if (above) {
        struct diag_verdict *v =
            verdict(out, cap, n, "memlimit-above-limit",
                    "GOMEMLIMIT %.0f MiB is at or above the container's %.0f MiB limit: the runtime never "
                    "works to stay under it",
                    mib((uint64_t)memlimit), mib(ev->limit));
        fig(v, "gomemlimit_bytes", memlimit);
        fig(v, "limit_bytes", (int64_t)ev->limit);
        fig(v, "gogc_percent", gogc);
        fig_str(v, "settings_from", from);
    }
}

static void retained_heap(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    /* Any watermark will do: the burst that kills reuses the idle memory,
     * so the last sample may no longer show it. */
    for (size_t i = 0; i < ev->n; i++) {
        const struct diag_sample *s = &ev->samples[i];
        const struct diag_runtime *rt = &s->rt;
        if (!rt->have || rt->heap_idle < rt->heap_released)
            continue;
        uint64_t kept = rt->heap_idle - rt->heap_released;
        const struct diag_proc *svc = service_proc(ev, s);
        uint64_t rss = svc ? svc->rss : s->usage;
        if (kept < rt->heap_inuse || !share(kept, rss, 25))
            continue;
        struct diag_verdict *v =
            verdict(out, cap, n, "retained-heap",
                    "RSS %.0f MiB against %.0f MiB of heap in use at %u%%: %.0f MiB idle and not returned "
                    "to the OS",
                    mib(rss), mib(rt->heap_inuse), s->percent, mib(kept));
        fig(v, "rss_bytes", (int64_t)rss);
        fig(v, "heap_inuse_bytes", (int64_t)rt->heap_inuse);
        fig(v, "heap_idle_bytes", (int64_t)rt->heap_idle);
        fig(v, "heap_released_bytes", (int64_t)rt->heap_released);
        fig(v, "watermark_percent", s->percent);
        return;
    }
}

static void goroutine_leak(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    const struct diag_sample *s = last_with(ev, true);
    if (!s)
        return;
    const struct diag_runtime *rt = &s->rt;
    bool stacks = rt->stack_inuse >= FLOOR_BYTES && rt->stack_inuse >= rt->heap_inuse;
    if (!stacks && rt->goroutines < LEAK_GOROUTINES)
        return;
    /* The largest group from the latest profile: the last one asked for
     * may not have come before the kill. */
    for (size_t i = ev->n; !rt->group_count && i-- > 0;)
        if (ev->samples[i].rt.have && ev->samples[i].rt.group_count)
            rt = &ev->samples[i].rt;
    char group[200] = "";
    if (rt->group_count && rt->group_nfunctions)
        snprintf(group, sizeof group, "; %" PRIu64 " in %s", rt->group_count, rt->group_functions[0]);
    const struct diag_runtime *now = &s->rt;
    struct diag_verdict *v = verdict(out, cap, n, "goroutine-leak",
                                     "%" PRIu64 " goroutines, stacks %.0f MiB against a %.0f MiB heap at %u%%%s",
                                     now->goroutines, mib(now->stack_inuse), mib(now->heap_inuse), s->percent, group);
    fig(v, "goroutines", (int64_t)now->goroutines);
    fig(v, "stack_inuse_bytes", (int64_t)now->stack_inuse);
    fig(v, "heap_inuse_bytes", (int64_t)now->heap_inuse);
    fig(v, "watermark_percent", s->percent);
    if (rt->group_count) {
        fig(v, "largest_group_count", (int64_t)rt->group_count);
        if (rt->group_nfunctions)
            fig_str(v, "largest_group_function", rt->group_functions[0]);
    }
}

static void burst(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    if (!ev->oom_killed || !ev->n || !ev->end_ms || !ev->limit)
        return;
    const struct diag_sample *f = &ev->samples[0];
    long long dt = ev->end_ms - f->seen_ms;
    if (dt < 0 || dt > BURST_MS || ev->limit <= f->usage)
        return;
    uint64_t climb = ev->limit - f->usage;
    double rate = mib(climb) * 1000.0 / (double)(dt ? dt : 1);
    if (rate < BURST_MIB_S)
        return;
    struct diag_verdict *v =
        verdict(out, cap, n, "burst",
                "usage climbed %.0f MiB in %lld ms from the %u%% watermark to the kill (%.0f MiB/s): faster "
                "than the GC could react",
                mib(climb), dt, f->percent, rate);
    fig(v, "climb_bytes", (int64_t)climb);
    fig(v, "first_watermark_to_kill_ms", dt);
    fig(v, "mib_per_s", (int64_t)(rate + 0.5));
    fig(v, "watermark_percent", f->percent);
}

static void heap_growth(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap, size_t *n)
{
    const struct diag_sample *s = last_with(ev, true);
    if (!s || !share(s->rt.heap_inuse, s->usage, SHARE_HEAP))
        return;
    const struct diag_runtime *rt = &s->rt;
    char sites[160] = "";
    if (rt->nsites)
        snprintf(sites, sizeof sites, "; most in %.100s (%.0f MiB)", rt->sites[0].function,
                 mib(rt->sites[0].inuse_bytes));
    struct diag_verdict *v = verdict(out, cap, n, "heap-growth",
                                     "the heap itself grew: %.0f MiB in use at the %u%% watermark of %.0f MiB%s",
                                     mib(rt->heap_inuse), s->percent, mib(ev->limit), sites);
    fig(v, "heap_inuse_bytes", (int64_t)rt->heap_inuse);
    fig(v, "usage_bytes", (int64_t)s->usage);
    fig(v, "watermark_percent", s->percent);
    for (size_t i = 0; i < rt->nsites && i < 2; i++) {
        char loc[64];
        snprintf(loc, sizeof loc, "%.40s:%u", strrchr(rt->sites[i].file, '/') ? strrchr(rt->sites[i].file, '/') + 1
                                                                              : rt->sites[i].file,
                 rt->sites[i].line);
        fig_str(v, i ? "site2_function" : "site1_function", rt->sites[i].function);
        fig(v, i ? "site2_inuse_bytes" : "site1_inuse_bytes", (int64_t)rt->sites[i].inuse_bytes);
        if (!i)
            fig_str(v, "site1_location", loc);
    }
}

size_t diagnose(const struct diag_evidence *ev, struct diag_verdict *out, size_t cap)
{
    size_t n = 0;
    /* What the service cannot see in itself first: then its settings, its
     * heap's shape, the pace. The plain growth of the heap is said only
     * when nothing else accounts for the memory: the settings and the
     * pace say why it grew, not where else the memory went. */
    other_process(ev, out, cap, &n);
    page_cache(ev, out, cap, &n);
    goroutine_leak(ev, out, cap, &n);
    retained_heap(ev, out, cap, &n);
    size_t elsewhere = n;
    gc_settings(ev, out, cap, &n);
    burst(ev, out, cap, &n);
    if (!elsewhere)
        heap_growth(ev, out, cap, &n);
    return n;
}

void diagnosis_json(const struct diag_verdict *v, size_t n, struct json *j)
{
    json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        json_obj_begin(j);
        json_kv_str(j, "verdict", v[i].id);
        json_kv_str(j, "text", v[i].text);
        json_key(j, "figures");
        json_obj_begin(j);
        for (size_t k = 0; k < v[i].nfig; k++) {
            if (v[i].fig[k].is_str)
                json_kv_str(j, v[i].fig[k].key, v[i].fig[k].str);
            else
                json_kv_int(j, v[i].fig[k].key, v[i].fig[k].num);
        }
        json_obj_end(j);
        json_obj_end(j);
    }
    json_arr_end(j);
}

/* Parsers. */

static bool status_kb(const char *line, size_t n, const char *key, uint64_t *out)
{
    size_t k = strlen(key);
    if (n <= k || memcmp(line, key, k) != 0 || line[k] != ':')
        return false;
    *out = strtoull(line + k + 1, NULL, 10) * 1024;
    return true;
}

int diag_parse_status(const char *buf, size_t len, struct diag_proc *p)
{
    int found = 0;
    for (const char *s = buf, *end = buf + len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        char line[128];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), s);
        if (strncmp(line, "Name:", 5) == 0) {
            const char *v = line + 5;
            while (*v == ' ' || *v == '\t')
                v++;
            snprintf(p->comm, sizeof p->comm, "%.31s", v);
            found++;
        }
        size_t ln = strlen(line);
        found += status_kb(line, ln, "VmRSS", &p->rss) + status_kb(line, ln, "RssAnon", &p->rss_anon) +
                 status_kb(line, ln, "RssFile", &p->rss_file) + status_kb(line, ln, "RssShmem", &p->rss_shmem);
        s = nl ? nl + 1 : end;
    }
    return found ? 0 : -ENODATA;
}

int diag_parse_memory_stat(const char *buf, size_t len, struct diag_sample *s)
{
    /* v1's hierarchical totals include child cgroups, as the limit does. */
    if (cgroup_keyed_value(buf, len, "total_cache", &s->file) == 0) {
        (void)cgroup_keyed_value(buf, len, "total_shmem", &s->shmem);
        (void)cgroup_keyed_value(buf, len, "total_rss", &s->anon);
        return 0;
    }
    if (cgroup_keyed_value(buf, len, "file", &s->file) == 0) {
        (void)cgroup_keyed_value(buf, len, "shmem", &s->shmem);
        (void)cgroup_keyed_value(buf, len, "anon", &s->anon);
        return 0;
    }
    return -ENODATA;
}

static uint64_t num_u(const struct jv *v, const char *k)
{
    double d = jv_num(v, k, 0);
    return d > 0 ? (uint64_t)d : 0;
}

int diag_parse_runtime(const char *buf, size_t len, struct diag_runtime *rt)
{
    struct jv *v = jv_parse(buf, len);
    if (!v || v->type != JV_OBJECT) {
        jv_free(v);
        return -EBADMSG;
    }
    rt->have = true;
    rt->read_ms = (long long)jv_num(v, "read_unix_ms", 0);
    rt->heap_inuse = num_u(v, "heap_inuse");
    rt->heap_idle = num_u(v, "heap_idle");
    rt->heap_released = num_u(v, "heap_released");
    rt->stack_inuse = num_u(v, "stack_inuse");
    rt->goroutines = num_u(v, "goroutines");
    rt->num_gc = num_u(v, "num_gc");
    rt->last_gc_ms = (long long)jv_num(v, "last_gc_unix_ms", 0);
    rt->gogc_percent = (int64_t)jv_num(v, "gogc_percent", 100);
    /* A double holds MaxInt64 only approximately: anything that large is "none". */
    double ml = jv_num(v, "gomemlimit_bytes", 9.3e18);
    rt->gomemlimit = ml >= 9.2e18 ? DIAG_NO_LIMIT : (int64_t)ml;
    rt->gomaxprocs = (unsigned)jv_num(v, "gomaxprocs", 0);
    const struct jv *sites = jv_get(v, "top_alloc_sites");
    rt->nsites = 0;
    for (const struct jv *e = sites && sites->type == JV_ARRAY ? sites->child : NULL; e && rt->nsites < DIAG_MAX_SITES;
         e = e->next) {
        struct diag_site *st = &rt->sites[rt->nsites++];
        snprintf(st->function, sizeof st->function, "%s", jv_str(e, "function") ?: "?");
        snprintf(st->file, sizeof st->file, "%s", jv_str(e, "file") ?: "?");
        st->line = (unsigned)jv_num(e, "line", 0);
        st->inuse_bytes = num_u(e, "inuse_bytes");
        st->inuse_objects = num_u(e, "inuse_objects");
    }
    jv_free(v);
    return 0;
}

int diag_parse_goroutine_profile(const char *buf, size_t len, struct diag_runtime *rt)
{
    /* "goroutine profile: total N", then records by count, largest first:
     * "COUNT @ 0x... 0x..." and "#\t0x...\tFUNC+0x..\tFILE:LINE" lines. */
    const char *end = buf + len, *s = buf;
    bool in_first = false;
    for (; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (!in_first && n && isdigit((unsigned char)s[0]) && memmem(s, n, " @ ", 3)) {
            rt->group_count = strtoull(s, NULL, 10);
            rt->group_nfunctions = 0;
            in_first = true;
        } else if (in_first && n > 2 && s[0] == '#' && s[1] == '\t') {
            const char *f = memchr(s + 2, '\t', n - 2);
            if (f && rt->group_nfunctions < 3) {
                f++;
                const char *fe = f;
                while (fe < s + n && *fe != '\t' && !(fe[0] == '+' && fe + 1 < s + n && fe[1] == '0'))
                    fe++;
                snprintf(rt->group_functions[rt->group_nfunctions++], sizeof rt->group_functions[0], "%.*s",
                         (int)(fe - f), f);
            }
        } else if (in_first && n == 0) {
            break;
        }
        s = nl ? nl + 1 : end;
    }
    return in_first ? 0 : -ENODATA;
}

int diag_parse_memlimit(const char *s, int64_t *out)
{
    if (strcmp(s, "off") == 0) {
        *out = DIAG_NO_LIMIT;
        return 0;
    }
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (e == s || errno || v < 0)
        return -EINVAL;
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {{"", 1},          {"B", 1},          {"KiB", 1024.0}, {"MiB", MIB},
                 {"GiB", MIB * 1024}, {"TiB", MIB * MIB}};
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (strcmp(e, units[i].suffix) == 0) {
            double b = v * units[i].mult;
            *out = b >= 9.2e18 ? DIAG_NO_LIMIT : (int64_t)b;
            return 0;
        }
    return -EINVAL;
}

void diag_sample_json(const struct diag_sample *s, struct json *j)
{
    json_obj_begin(j);
    json_kv_str(j, "schema", "crashbox.figures/1");
    json_kv_uint(j, "watermark_percent", s->percent);
    json_kv_int(j, "seen_unix_ms", s->seen_ms);
    json_key(j, "cgroup");
    if (s->have_cgroup) {
        json_obj_begin(j);
        json_kv_int(j, "read_unix_ms", s->cgroup_read_ms);
        json_kv_uint(j, "usage_bytes", s->usage);
        json_kv_uint(j, "file_bytes", s->file);
        json_kv_uint(j, "shmem_bytes", s->shmem);
        json_kv_uint(j, "anon_bytes", s->anon);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_key(j, "processes");
    json_arr_begin(j);
    for (size_t i = 0; i < s->nprocs; i++) {
        const struct diag_proc *p = &s->procs[i];
        json_obj_begin(j);
        json_kv_int(j, "pid", p->pid);
        json_kv_str(j, "comm", p->comm);
        json_kv_uint(j, "vm_rss", p->rss);
        json_kv_uint(j, "rss_anon", p->rss_anon);
        json_kv_uint(j, "rss_file", p->rss_file);
        json_kv_uint(j, "rss_shmem", p->rss_shmem);
        json_kv_int(j, "read_unix_ms", p->read_ms);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_key(j, "go_runtime");
    const struct diag_runtime *rt = &s->rt;
    if (rt->have) {
        json_obj_begin(j);
        json_kv_int(j, "read_unix_ms", rt->read_ms);
        json_kv_uint(j, "heap_inuse", rt->heap_inuse);
        json_kv_uint(j, "heap_idle", rt->heap_idle);
        json_kv_uint(j, "heap_released", rt->heap_released);
        json_kv_uint(j, "stack_inuse", rt->stack_inuse);
        json_kv_uint(j, "goroutines", rt->goroutines);
        json_kv_uint(j, "num_gc", rt->num_gc);
        json_kv_int(j, "last_gc_unix_ms", rt->last_gc_ms);
        json_kv_int(j, "gogc_percent", rt->gogc_percent);
        json_kv_int(j, "gomemlimit_bytes", rt->gomemlimit == DIAG_NO_LIMIT ? -1 : rt->gomemlimit);
        json_kv_uint(j, "gomaxprocs", rt->gomaxprocs);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_obj_end(j);
}
