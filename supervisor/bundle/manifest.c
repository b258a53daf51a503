/* SPDX-License-Identifier: MIT */
#include "manifest.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>

#include "envbuild.h"
#include "sigtable.h"
#include "util.h"

static void exit_json(struct json *j, const struct crash_record *r)
{
    int st = r->status;
    bool known = r->status_known;
    json_key(j, "exit");
    json_obj_begin(j);
    json_key(j, "code");
    if (known && WIFEXITED(st))
        json_int(j, WEXITSTATUS(st));
    else
        json_null(j);
    json_kv_str(j, "signal", known && WIFSIGNALED(st) ? signal_name(WTERMSIG(st)) : NULL);
    json_kv_bool(j, "core_dumped", known && WIFSIGNALED(st) && WCOREDUMP(st));
    json_obj_end(j);
}

/* How memory was watched: the mechanism, or why nothing watched. */
static void memwatch_json(struct json *j, const struct memwatch_report *w)
{
    json_key(j, "watch");
    if (!w->set) {
        json_null(j);
        return;
    }
    char by[48];
    memwatch_describe(w->by, by, sizeof by);
    json_obj_begin(j);
    json_kv_str(j, "by", w->by ? by : NULL);
    json_kv_str(j, "why_none", w->by ? NULL : w->why_none);
    json_kv_str(j, "registration_refused", w->register_errno ? strerror(w->register_errno) : NULL);
    if (w->by & MW_BY_POLL) {
        json_kv_uint(j, "polls", w->polls);
        json_kv_int(j, "poll_min_ms", w->poll_min_ms);
        json_kv_int(j, "poll_max_ms", w->poll_max_ms);
    }
    json_obj_end(j);
}

static void memory_json(struct json *j, const struct crash_record *c)
{
    const struct cgroup_memory *m = &c->mem;
    json_key(j, "memory");
    json_obj_begin(j);
    json_key(j, "cgroup_version");
    if (m->version)
        json_int(j, m->version);
    else
        json_null(j);
    json_kv_str(j, "cgroup_path", m->version ? m->dir : NULL);
#define OPT(key, has, v)             \
    do {                             \
        json_key(j, key);            \
        if (has)                     \
            json_uint(j, v);         \
        else                         \
            json_null(j);            \
    } while (0)
    OPT("limit_bytes", m->has_limit, m->limit_bytes);
    OPT("usage_bytes", m->has_usage, m->usage_bytes);
    OPT("peak_bytes", m->has_peak, m->peak_bytes);
    OPT("oom_kills", m->has_oom_kills, m->oom_kills);
    OPT("oom_kills_at_start", c->mem_start.has_oom_kills, c->mem_start.oom_kills);
    /* Kills the service outlived (another process in its cgroup): not its end. */
    json_kv_uint(j, "descendant_oom_kills", c->descendant_oom_kills);
    char last[32];
    if (c->descendant_oom_last)
        format_utc(c->descendant_oom_last, last, sizeof last);
    json_kv_str(j, "descendant_oom_last", c->descendant_oom_last ? last : NULL);
    json_key(j, "watermarks_crossed");
    json_arr_begin(j);
    for (size_t i = 0; i < c->ncrossed; i++) {
        json_obj_begin(j);
        json_kv_uint(j, "percent", c->crossed[i].percent);
        if (!c->crossed[i].taken) { /* a recovered run's: only the percent is known */
            json_obj_end(j);
            continue;
        }
        json_kv_uint(j, "usage_bytes", c->crossed[i].usage);
        json_kv_int(j, "before_end_ms", c->crossed[i].age_ms);
        char when[32];
        format_utc(c->crossed[i].taken, when, sizeof when);
        json_kv_str(j, "time", when);
        json_obj_end(j);
    }
    json_arr_end(j);
    memwatch_json(j, &c->watch);
    if (m->version == CGROUP_V2) {
        OPT("oom_events", m->has_oom, m->oom_events);
        OPT("oom_group_kills", m->has_group_kills, m->oom_group_kills);
    }
#undef OPT
    json_obj_end(j);
}

/* A crash without a Go report still gets a crash object of the same shape. */
static void synthetic_crash_fields(struct json *j, const struct crash_record *r)
{
    json_kv_str(j, "kind", crash_kind_name(r->kind));
    json_kv_str(j, "message", r->message);
    if (r->note[0])
        json_kv_str(j, "note", r->note);
    json_kv_str(j, "go_signal", NULL);
    json_key(j, "goroutine");
    json_null(j);
    json_kv_uint(j, "goroutines", 0);
    json_key(j, "culprit");
    json_null(j);
    json_key(j, "frames");
    json_arr_begin(j);
    json_arr_end(j);
    json_kv_str(j, "fingerprint", r->fingerprint);
}

static void core_json(struct json *j, const struct crash_core *c)
{
    json_key(j, "core");
    if (!c->asked) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    json_kv_bool(j, "written", c->written);
    json_kv_uint(j, "bytes", c->bytes);
    json_kv_uint(j, "threads", c->threads);
    json_kv_str(j, "cut", c->cut);
    json_kv_str(j, "why_not", c->written ? NULL
                              : c->why_not[0] ? c->why_not
                                              : "no exit hook snapshot: the service was not held");
    json_obj_end(j);
}

static void random_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(now_ms() >> (i % 8));
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}



/* One cut member: {"item", "kept_bytes", "cut_bytes" (null when not
 * known), "cut_at" (where a cut from its middle is marked, or null)}. */
static void cut_json(struct json *j, const struct item *v)
{
    json_obj_begin(j);
    json_kv_str(j, "item", v->name);
    json_kv_uint(j, "kept_bytes", v->len);
    json_key(j, "cut_bytes");
    if (v->cut_bytes)
        json_uint(j, v->cut_bytes);
    else
        json_null(j);
    json_key(j, "cut_at");
    if (v->cut_at >= 0)
        json_int(j, v->cut_at);
    else
        json_null(j);
    json_obj_end(j);
}

void manifest_build(const struct crash_record *r, const struct policy *p, uint64_t suppressed, struct json *j)
{
    char id[33], when[32];
    random_id(id);
    format_utc(r->at, when, sizeof when);
    const struct crash_service *c = &r->who;
    const struct items *it = &r->items;
    json_init(j, true);
    json_obj_begin(j);
    json_kv_str(j, "schema", "crashbox.bundle/1");
    json_kv_str(j, "id", id);
    json_kv_str(j, "service", c->service);
    json_kv_str(j, "host", c->host);
    json_kv_str(j, "time", when);
    json_kv_int(j, "pid", c->pid);
    json_kv_uint(j, "restarts", c->restarts);
    json_key(j, "command");
    json_arr_begin(j);
    for (char *const *a = c->argv; a && *a; a++)
        json_str(j, *a);
    json_arr_end(j);
    exit_json(j, r);
    json_kv_str(j, "crash_report_source", r->have_gc ? (r->from_shim ? "shim" : "stderr") : NULL);
    json_key(j, "crash");
    json_obj_begin(j);
    if (r->have_gc && r->kind != CRASH_OOM_KILL)
        go_crash_fields_json(&r->gc, NULL, j);
    else
        synthetic_crash_fields(j, r);
    go_signs_json(&r->signs, j);
    json_obj_end(j);
    memory_json(j, r);
    json_key(j, "diagnosis");
    diagnosis_json(r->verdicts, r->nverdicts, j);
    /* What crashbox ended after the service died, and what it let finish. */
    json_key(j, "left_behind");
    json_arr_begin(j);
    for (size_t i = 0; i < r->leftovers.n; i++) {
        const struct leftover *o = &r->leftovers.v[i];
        json_obj_begin(j);
        json_kv_int(j, "pid", o->pid);
        json_kv_str(j, "comm", o->comm);
        json_kv_str(j, "signal", o->signal ? signal_name(o->signal) : NULL);
        json_kv_bool(j, "given_grace", o->graced);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_key(j, "go");
    if (r->have_bi) {
        json_obj_begin(j);
        json_kv_str(j, "version", r->bi.go_version);
        json_kv_str(j, "path", r->bi.path[0] ? r->bi.path : NULL);
        json_kv_str(j, "module", r->bi.module[0] ? r->bi.module : NULL);
        json_kv_str(j, "module_version", r->bi.module_version[0] ? r->bi.module_version : NULL);
        json_kv_str(j, "vcs_revision", r->bi.vcs_revision[0] ? r->bi.vcs_revision : NULL);
        json_kv_str(j, "vcs_time", r->bi.vcs_time[0] ? r->bi.vcs_time : NULL);
        json_kv_bool(j, "vcs_modified", r->bi.vcs_modified);
        json_key(j, "env");
        json_obj_begin(j);
        static const char *const vars[] = {"GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"};
        for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
            json_kv_str(j, vars[i], c->envp ? env_get(c->envp, vars[i]) : NULL);
        json_obj_end(j);
        json_obj_end(j);
    } else {
        json_null(j);
    }
    json_key(j, "rate_limit");
    json_obj_begin(j);
    json_kv_uint(j, "suppressed_since_last", suppressed);
    json_kv_uint(j, "burst", p->rate_limit_burst);
    json_kv_uint(j, "window_s", p->rate_limit_window_ms / 1000);
    json_obj_end(j);
    core_json(j, &r->core);
    json_key(j, "snapshot");
    json_obj_begin(j);
    const struct crash_snapshot *s = &r->snapshot;
    json_kv_str(j, "taken", r->recovered     ? "recovered"
                           : r->memory_high ? "memory-high"
                           : s->taken       ? "exit-hook"
                                            : "post-mortem");
    json_kv_str(j, "trigger", s->taken ? s->trigger : NULL);
    json_kv_str(j, "why_post_mortem",
                s->taken || r->recovered || r->memory_high ? NULL
                : s->why_not[0]          ? s->why_not
                                         : "the service ended without a trapped exit (SIGKILL or an outside signal)");
    if (s->taken)
        json_kv_int(j, "held_ms", s->held_ms);
    json_key(j, "items");
    json_arr_begin(j);
    json_str(j, "manifest.json");
    for (size_t i = 0; i < it->n; i++)
        json_str(j, it->v[i].name);
    json_arr_end(j);
    json_key(j, "missing");
    json_arr_begin(j);
    for (size_t i = 0; i < it->nmissing; i++) {
        json_obj_begin(j);
        json_kv_str(j, "item", it->missing[i].name);
        json_kv_str(j, "reason", it->missing[i].reason);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_key(j, "truncated");
    json_arr_begin(j);
    for (size_t i = 0; i < it->n; i++)
        if (it->v[i].truncated)
            cut_json(j, &it->v[i]);
    json_arr_end(j);
    json_obj_end(j);
    json_obj_end(j);
}

