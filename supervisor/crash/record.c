/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "envbuild.h"
#include "sigtable.h"
#include "units.h"
#include "util.h"

/* The last non-empty line of the tail: what a log.Fatal or os.Exit(1)
 * service said last. */
static void last_line(const char *buf, size_t len, const char **s, size_t *n)
{
    size_t end = len;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    *s = buf + start;
    *n = end - start > 1024 ? 1024 : end - start;
}

/* The Go report, from the shim's channel first (intact even if the
 * service closed stderr), else from the tail. Sets where it was found. */
static void find_go_report(const struct crash_evidence *ev, struct crash_record *r, const char **report,
                           size_t *report_len, const struct crash_cut **cut)
{
    int pr = 0;
    if (ev->shim_report_len) {
        pr = goparse_crash(ev->shim_report, ev->shim_report_len, &r->gc);
        if (pr > 0) {
            *report = ev->shim_report;
            *report_len = ev->shim_report_len;
            *cut = &ev->shim_cut;
            r->from_shim = true;
        } else {
            go_crash_free(&r->gc);
        }
    }
    if (pr <= 0) {
        pr = ev->tail ? goparse_crash(ev->tail, ev->tail_len, &r->gc) : 0;
        *report = ev->tail;
        *report_len = ev->tail_len;
        *cut = &ev->tail_cut;
    }
    r->have_gc = pr > 0;
    if (!r->have_gc)
        go_crash_free(&r->gc);
    /* Cut in its middle, the report shows only some goroutines: the count
     * made as it streamed past is the true one. */
    if (r->have_gc && (*cut)->bytes && (*cut)->goroutines > r->gc.goroutines)
        r->gc.goroutines = (size_t)(*cut)->goroutines;
}

static void exit_message(const struct crash_evidence *ev, int st, char *out, size_t cap)
{
    const char *ll;
    size_t lln;
    last_line(ev->tail ? ev->tail : "", ev->tail ? ev->tail_len : 0, &ll, &lln);
    int n = snprintf(out, cap, "exit status %d%s", WEXITSTATUS(st), lln ? ": " : "");
    /* The line's bytes as they are, but a NUL (which would end the string)
     * becomes U+FFFD; the JSON writer escapes the rest. */
    for (size_t i = 0; i < lln && (size_t)n + 4 < cap; i++) {
        if (ll[i] == '\0') {
            memcpy(out + n, "\xef\xbf\xbd", 3);
            n += 3;
        } else {
            out[n++] = ll[i];
        }
    }
    out[n] = '\0';
}

static void message_of(const struct crash_evidence *ev, struct crash_record *r)
{
    switch (r->kind) {
    case CRASH_OOM_KILL:
        if (r->recovered)
            snprintf(r->message, sizeof r->message,
                     "the service and crashbox were killed together, most likely by a group OOM kill");
        else if (r->mem.has_limit) {
            char lim[32];
            format_size_human(r->mem.limit_bytes, lim, sizeof lim);
            snprintf(r->message, sizeof r->message, "killed by the OOM killer at the memory limit of %s", lim);
        } else
            snprintf(r->message, sizeof r->message, "killed by the OOM killer");
        break;
    case CRASH_SUPERVISOR_KILLED:
        snprintf(r->message, sizeof r->message, "crashbox was killed with the service still running");
        break;
    case CRASH_SIGNAL:
        snprintf(r->message, sizeof r->message, "killed by %s", signal_name(WTERMSIG(r->status)) ?: "a signal");
        break;
    case CRASH_EXIT:
        exit_message(ev, r->status, r->message, sizeof r->message);
        break;
    case CRASH_MEMORY_HIGH: {
        char use[32] = "?", lim[32] = "?";
        format_size_human(r->ncrossed ? r->crossed[0].usage : 0, use, sizeof use);
        if (r->mem.has_limit)
            format_size_human(r->mem.limit_bytes, lim, sizeof lim);
        snprintf(r->message, sizeof r->message, "memory at %s of %s crossed the %u%% watermark, then fell back", use,
                 lim, r->ncrossed ? r->crossed[0].percent : 0);
        break;
    }
    default:
        snprintf(r->message, sizeof r->message, "%s", r->gc.message);
        break;
    }
}

/* A run whose crashbox died with it: the kind is inferred from the state
 * file and the cgroup's OOM-kill counter now. */
static enum crash_kind classify_recovered(const struct crash_evidence *ev, struct crash_record *r)
{
    const struct service_state *st = ev->recovered;
    bool oom = state_shows_oom(st, ev->have_kills_now, ev->kills_now);
    char seen[32] = "?";
    if (st->seen || st->started)
        format_utc((time_t)(st->seen ? st->seen : st->started), seen, sizeof seen);
    snprintf(r->note, sizeof r->note,
             "inferred at the next start from the state file crashbox left (it ended without an end record): "
             "last seen alive at %s with pid %d; %s",
             seen, (int)st->pid,
             oom ? (ev->have_kills_now && ev->kills_now > st->oom_kills
                        ? "the cgroup's OOM-kill counter rose since the service started"
                        : "memory was near its limit when last seen (watermarks crossed)")
                 : "memory was not near its limit when last seen");
    r->status_known = oom; /* a SIGKILL, by the OOM killer */
    r->status = oom ? SIGKILL : 0;
    r->mem.has_limit = st->limit_bytes != 0;
    r->mem.limit_bytes = st->limit_bytes;
    r->mem.has_usage = true;
    r->mem.usage_bytes = st->usage_bytes;
    return oom ? CRASH_OOM_KILL : CRASH_SUPERVISOR_KILLED;
}

/* The fingerprint of a crash without a Go report (an OOM kill, a signal, an
 * exit). Its kind alone would make every OOM kill in a shared directory one
 * crash, so it also hashes what tells such crashes apart: the service, the
 * executable's name, the signal or exit code, and for an exit the message
 * with stderr's last line (crash_fingerprint strips its numbers and
 * addresses). A Go report's fingerprint names no service: the same bug in
 * two services is one crash, and the rate limit is per service anyway. A
 * recovered run knows only its service: one per service and kind, so `top`
 * never folds one service's group OOM kills into another's. */
static void plain_fingerprint(struct crash_record *r)
{
    const char *exe = r->who.argv && r->who.argv[0] ? r->who.argv[0] : "";
    const char *slash = strrchr(exe, '/');
    char service[96], program[300], how[48];
    snprintf(service, sizeof service, "service=%s", r->who.service);
    snprintf(program, sizeof program, "exe=%s", slash ? slash + 1 : exe);
    if (r->kind == CRASH_MEMORY_HIGH)
        snprintf(how, sizeof how, "watermark=%u", r->ncrossed ? r->crossed[0].percent : 0);
    else if (WIFSIGNALED(r->status))
        snprintf(how, sizeof how, "signal=%s", signal_name(WTERMSIG(r->status)) ?: "?");
    else
        snprintf(how, sizeof how, "exit=%d", WEXITSTATUS(r->status));
    const char *parts[] = {service, program, how};
    crash_fingerprint(crash_kind_name(r->kind), r->kind == CRASH_EXIT ? r->message : "", parts,
                      r->recovered ? 1 : ARRAY_SIZE(parts), r->fingerprint);
}

static void add_buildinfo_item(const struct go_buildinfo *bi, struct items *it)
{
    char head[256];
    int hn = snprintf(head, sizeof head, "go\t%s\n", bi->go_version);
    size_t ml = strlen(bi->modinfo);
    char *txt = malloc((size_t)hn + ml + 1);
    if (!txt)
        return;
    memcpy(txt, head, (size_t)hn);
    memcpy(txt + hn, bi->modinfo, ml + 1);
    items_add(it, "go/buildinfo.txt", txt, (size_t)hn + ml, false);
}

/* The memory verdicts, from the watermarks' figures and what the end was. */
static void verdicts_of(const struct crash_evidence *ev, struct crash_record *r)
{
    struct diag_evidence *d = malloc(sizeof *d);
    if (!d)
        return;
    *d = ev->diag;
    d->service_pid = r->who.pid;
    d->limit = r->mem.has_limit ? r->mem.limit_bytes : ev->mem_start.has_limit ? ev->mem_start.limit_bytes : 0;
    d->oom_killed = r->kind == CRASH_OOM_KILL;
    d->env_gogc = r->who.envp ? env_get(r->who.envp, "GOGC") : NULL;
    d->env_gomemlimit = r->who.envp ? env_get(r->who.envp, "GOMEMLIMIT") : NULL;
    r->nverdicts = diagnose(d, r->verdicts, DIAG_MAX_VERDICTS);
    free(d);
}

enum crash_kind crash_record_build(struct crash_evidence *ev, int status, const struct policy *p,
                                   struct crash_record *r)
{
    *r = (struct crash_record){.who = ev->who, .at = ev->at, .reaped_ms = ev->reaped_ms, .status = status, .status_known = true,
                               .mem = ev->mem, .mem_start = ev->mem_start};
    const char *report = NULL;
    size_t report_len = 0;
    const struct crash_cut *cut = &ev->tail_cut;
    if (ev->recovered) {
        r->recovered = true;
        r->kind = classify_recovered(ev, r);
    } else if (ev->memory_high) {
        r->memory_high = true;
        r->status_known = false; /* the service is still running */
        r->kind = CRASH_MEMORY_HIGH;
    } else {
        find_go_report(ev, r, &report, &report_len, &cut);
        bool oom_killed = r->mem.has_oom_kills && ev->mem_start.has_oom_kills &&
                          r->mem.oom_kills > ev->mem_start.oom_kills;
        bool normal = WIFEXITED(status) && policy_is_normal_exit(p, WEXITSTATUS(status));
        bool crash_sig = WIFSIGNALED(status) && policy_is_crash_signal(p, WTERMSIG(status));
        r->kind = crash_classify(status, normal, r->have_gc ? r->gc.kind : GO_CRASH_NONE, oom_killed,
                                 ev->stop_signal, crash_sig);
    }
    if (r->kind == CRASH_NONE) {
        crash_record_free(r);
        *r = (struct crash_record){0};
        return CRASH_NONE;
    }
    memcpy(r->crossed, ev->crossed, sizeof r->crossed);
    r->ncrossed = ev->ncrossed;
    message_of(ev, r);
    /* A Go report names the crash; anything else is named by its kind (and
     * an exit by what it said last). */
    bool go = r->have_gc && r->kind != CRASH_OOM_KILL;
    if (go)
        snprintf(r->fingerprint, sizeof r->fingerprint, "%s", r->gc.fingerprint);
    else
        plain_fingerprint(r);
    if (go && r->gc.culprit >= 0) {
        const struct go_frame *f = &r->gc.frames[r->gc.culprit];
        snprintf(r->culprit, sizeof r->culprit, "%s (%s:%u)", f->function, f->file ? f->file : "?", f->line);
    }
    r->snapshot = ev->snapshot;
    r->core = ev->core;
    r->descendant_oom_kills = ev->descendant_oom_kills;
    r->descendant_oom_last = ev->descendant_oom_last;
    if (ev->leftovers)
        r->leftovers = *ev->leftovers;
    r->watch = ev->watch;
    verdicts_of(ev, r);

    /* Members: stderr and the Go report first, then what the watchers
     * brought, then the build info. */
    bool ended_here = !r->recovered && !r->memory_high; /* the others have no stderr of an end */
    if (ended_here) {
        if (ev->tail_len) {
            items_add_copy(&r->items, "stderr.log", ev->tail, ev->tail_len);
            if (ev->tail_cut.bytes)
                items_mark_cut(&r->items, ev->tail_cut.at, ev->tail_cut.bytes);
        } else {
            items_add_missing(&r->items, "stderr.log", ev->no_tail_reason ?: "the service wrote nothing to stderr");
        }
        if (r->have_gc) {
            items_add_copy(&r->items, "crash.txt", report + r->gc.report_offset, report_len - r->gc.report_offset);
            if (cut->bytes && cut->at >= r->gc.report_offset)
                items_mark_cut(&r->items, cut->at - r->gc.report_offset, cut->bytes);
        }
    }
    items_move(&r->items, &ev->items, "");
    r->bi = ev->bi;
    r->have_bi = ev->have_bi;
    ev->bi = (struct go_buildinfo){0};
    ev->have_bi = false;
    if (r->have_bi && r->bi.modinfo)
        add_buildinfo_item(&r->bi, &r->items);
    /* Before the members are fitted: a goroutine dump cut for size is
     * still grouped whole. */
    (void)go_signs_read(&r->signs, go ? report + r->gc.report_offset : NULL,
                        go ? report_len - r->gc.report_offset : 0, ended_here ? ev->tail : NULL,
                        ended_here ? ev->tail_len : 0, &r->items);
    items_fit(&r->items, p->bundle_max_size);
    return r->kind;
}

void crash_record_free(struct crash_record *r)
{
    if (r->have_gc)
        go_crash_free(&r->gc);
    buildinfo_free(&r->bi);
    items_free(&r->items);
    go_signs_free(&r->signs);
}

void crash_evidence_free(struct crash_evidence *ev)
{
    items_free(&ev->items);
    buildinfo_free(&ev->bi);
}
