/* crash_record_build from fixtures alone: real Go outputs as the relay's
 * tail or the shim's report, real cgroup trees as the memory evidence. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "goparse.h"
#include "policy.h"
#include "record.h"
#include "util.h"

static char *fixture(const char *path, size_t *len)
{
    char *buf = NULL;
    cr_assert_eq(read_file_at(AT_FDCWD, path, 64 << 20, &buf, len), 0, "cannot read fixture %s", path);
    return buf;
}

static void cgroup_tree(const char *root, const char *proc_cgroup, struct cgroup_memory *m)
{
    char mi[8192];
    int n = cgroup_fixture_mountinfo(root, mi, sizeof mi);
    cr_assert_gt(n, 0);
    cr_assert_eq(cgroup_memory_read(mi, (size_t)n, proc_cgroup, strlen(proc_cgroup), m), 0);
}

/* The memory evidence of a fixture tree, with the OOM-kill counter at start. */
static void oom_evidence(const char *root, const char *proc_cgroup, uint64_t kills_at_start, struct crash_evidence *ev)
{
    *ev = (struct crash_evidence){0};
    cgroup_tree(root, proc_cgroup, &ev->mem);
    ev->mem_start = ev->mem;
    ev->mem_start.oom_kills = kills_at_start;
}

static const char *member(const struct crash_record *r, const char *name, size_t *len)
{
    const struct item *it = items_find(&r->items, name);
    if (!it)
        return NULL;
    *len = it->len;
    return it->data;
}

Test(record, a_go_panic_on_stderr)
{
    struct policy p;
    policy_init_defaults(&p);
    size_t len;
    _cleanup_free_ char *tail = fixture("tests/fixtures/go1.23/nil-deref.txt", &len);
    struct crash_evidence ev = {.tail = tail, .tail_len = len, .at = 1700000000};
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(2, 0), &p, &r), CRASH_GO_PANIC);
    cr_assert(r.have_gc && !r.from_shim);
    cr_assert_str_eq(r.message, "runtime error: invalid memory address or nil pointer dereference");
    cr_assert_str_eq(r.fingerprint, r.gc.fingerprint);
    cr_assert(strncmp(r.culprit, "main.handle (", 13) == 0, "%s", r.culprit);
    cr_assert(strstr(r.culprit, ":14)"), "%s", r.culprit);
    size_t n;
    const char *crash = member(&r, "crash.txt", &n);
    cr_assert(crash && strncmp(crash, "panic: runtime error", 20) == 0, "the report, without the log before it");
    cr_assert(member(&r, "stderr.log", &n) && n == len);
    cr_assert_eq(r.at, 1700000000);
    crash_record_free(&r);
    crash_evidence_free(&ev);
    policy_free(&p);
}

Test(record, the_shims_report_wins_over_a_garbled_tail)
{
    struct policy p;
    policy_init_defaults(&p);
    size_t len;
    _cleanup_free_ char *report = fixture("tests/fixtures/go1.21/custom-panic.txt", &len);
    const char *tail = "log line\nanother\n";
    struct crash_evidence ev = {.tail = tail, .tail_len = strlen(tail), .shim_report = report,
                                .shim_report_len = len};
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(2, 0), &p, &r), CRASH_GO_PANIC);
    cr_assert(r.from_shim);
    cr_assert_str_eq(r.message, "reconcile batch 3: ledger out of balance by 42 cents");
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, the_same_crash_in_four_go_versions_has_one_fingerprint)
{
    struct policy p;
    policy_init_defaults(&p);
    static const char *const versions[] = {"go1.19", "go1.21", "go1.22", "go1.23"};
    char first[17] = "";
    for (size_t v = 0; v < 4; v++) {
        char path[128];
        snprintf(path, sizeof path, "tests/fixtures/%s/index-out-of-range.txt", versions[v]);
        size_t len;
        _cleanup_free_ char *tail = fixture(path, &len);
        struct crash_evidence ev = {.tail = tail, .tail_len = len};
        struct crash_record r;
        cr_assert_eq(crash_record_build(&ev, W_EXITCODE(2, 0), &p, &r), CRASH_GO_PANIC);
        if (!first[0])
            memcpy(first, r.fingerprint, sizeof first);
        cr_assert_str_eq(r.fingerprint, first, "%s", versions[v]);
        crash_record_free(&r);
    }
    policy_free(&p);
}

Test(record, an_oom_kill_from_a_v2_cgroup_beats_the_go_report)
{
    struct policy p;
    policy_init_defaults(&p);
    struct crash_evidence ev;
    oom_evidence("tests/fixtures/cgroup-v2", "0::/kubepods.slice/pod-api/ctr\n", 1, &ev); /* 2 at the end */
    size_t len;
    _cleanup_free_ char *tail = fixture("tests/fixtures/go1.23/nil-deref.txt", &len);
    ev.tail = tail;
    ev.tail_len = len;
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, SIGKILL, &p, &r), CRASH_OOM_KILL);
    cr_assert_str_eq(r.message, "killed by the OOM killer at the memory limit of 256MiB");
    char fp[17];
    const char *oom_parts[] = {"service=", "exe=", "signal=SIGKILL"};
    crash_fingerprint("oom-kill", "", oom_parts, 3, fp);
    cr_assert_str_eq(r.fingerprint, fp, "named by its kind and service, not by the Go report");
    cr_assert_str_eq(r.culprit, "");
    crash_record_free(&r);

    /* The same end without a rise of the counter: the Go report names it,
     * and without a report, the signal does. */
    ev.mem_start.oom_kills = 2;
    cr_assert_eq(crash_record_build(&ev, SIGKILL, &p, &r), CRASH_GO_PANIC);
    crash_record_free(&r);
    ev.tail = NULL;
    ev.tail_len = 0;
    cr_assert_eq(crash_record_build(&ev, SIGKILL, &p, &r), CRASH_SIGNAL);
    cr_assert_str_eq(r.message, "killed by SIGKILL");
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, a_v1_cgroup_oom_kill)
{
    struct policy p;
    policy_init_defaults(&p);
    struct crash_evidence ev;
    oom_evidence("tests/fixtures/cgroup-v1", "4:memory:/docker/abc123\n0::/\n", 0, &ev);
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, SIGKILL, &p, &r), CRASH_OOM_KILL);
    cr_assert_str_eq(r.message, "killed by the OOM killer at the memory limit of 64MiB");
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, an_exit_says_what_the_service_said_last)
{
    struct policy p;
    policy_init_defaults(&p);
    static const char tail[] = "starting\nconfig: no such file\n\n";
    struct crash_evidence ev = {.tail = tail, .tail_len = sizeof tail - 1};
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(3, 0), &p, &r), CRASH_EXIT);
    cr_assert_str_eq(r.message, "exit status 3: config: no such file");
    char fp[17];
    const char *exit_parts[] = {"service=", "exe=", "exit=3"};
    crash_fingerprint("exit", r.message, exit_parts, 3, fp);
    cr_assert_str_eq(r.fingerprint, fp);
    crash_record_free(&r);

    static const char nul[] = "bad\0byte\n";
    ev = (struct crash_evidence){.tail = nul, .tail_len = sizeof nul - 1};
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(1, 0), &p, &r), CRASH_EXIT);
    cr_assert_str_eq(r.message, "exit status 1: bad\xef\xbf\xbd" "byte");
    size_t n;
    cr_assert_null(member(&r, "crash.txt", &n), "no Go report, no crash.txt");
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, a_clean_end_leaves_the_evidence_alone)
{
    struct policy p;
    policy_init_defaults(&p);
    size_t len;
    _cleanup_free_ char *tail = fixture("tests/fixtures/go1.23/nil-deref.txt", &len);
    struct crash_evidence ev = {.tail = tail, .tail_len = len};
    items_add_copy(&ev.items, "proc/status", "x", 1);
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(0, 0), &p, &r), CRASH_NONE, "a forged report in a clean exit");
    cr_assert_eq(r.items.n, 0);
    cr_assert_eq(ev.items.n, 1);
    cr_assert(crash_end_is_clean(W_EXITCODE(0, 0), &p, 0));
    cr_assert(crash_end_is_clean(SIGTERM, &p, SIGTERM), "asked to stop, and it did");
    cr_assert_not(crash_end_is_clean(SIGSEGV, &p, 0));
    crash_evidence_free(&ev);
    policy_free(&p);
}

Test(record, members_are_in_order_and_fitted_to_the_size_cap)
{
    struct policy p;
    policy_init_defaults(&p);
    size_t len;
    _cleanup_free_ char *tail = fixture("tests/fixtures/go1.23/nil-deref.txt", &len);
    struct crash_evidence ev = {.tail = tail, .tail_len = len};
    char *big = malloc(1 << 20);
    memset(big, 'a', 1 << 20);
    items_add(&ev.items, "proc/maps", big, 1 << 20, false);
    items_add_copy(&ev.items, "cgroup/memory.max", "max\n", 4);
    p.bundle_max_size = 64 << 10;
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, W_EXITCODE(2, 0), &p, &r), CRASH_GO_PANIC);
    cr_assert_eq(ev.items.n, 0, "the record took the members");
    cr_assert_str_eq(r.items.v[0].name, "stderr.log");
    cr_assert_str_eq(r.items.v[1].name, "crash.txt");
    cr_assert_str_eq(r.items.v[2].name, "proc/maps");
    size_t total = 0;
    for (size_t i = 0; i < r.items.n; i++)
        total += r.items.v[i].len;
    cr_assert_leq(total, 64 << 10);
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, a_recovered_run_is_inferred_from_its_state)
{
    struct policy p;
    policy_init_defaults(&p);
    struct service_state st = {.service = "api", .pid = 42, .limit_bytes = 100 << 20, .usage_bytes = 95 << 20,
                               .watermark = 90, .oom_kills = 0, .started = 1700000000, .seen = 1700000123};
    struct crash_evidence ev = {.recovered = &st, .who = {.service = "api"}};
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, 0, &p, &r), CRASH_OOM_KILL);
    cr_assert(r.recovered && r.status_known && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    cr_assert(strstr(r.note, "inferred at the next start from the state file"), "%s", r.note);
    cr_assert(strstr(r.note, "last seen alive at 2023-11-14T22:15:23Z"), "%s", r.note);
    cr_assert(strstr(r.note, "near its limit"), "%s", r.note);
    cr_assert(r.mem.has_limit && r.mem.limit_bytes == 100 << 20 && r.mem.usage_bytes == 95 << 20);
    char fp[17];
    const char *parts[] = {"service=api"};
    crash_fingerprint("oom-kill", "", parts, 1, fp);
    cr_assert_str_eq(r.fingerprint, fp, "one per service and kind");
    crash_record_free(&r);

    ev.have_kills_now = true;
    ev.kills_now = 1;
    st.watermark = 0;
    st.usage_bytes = 10 << 20;
    cr_assert_eq(crash_record_build(&ev, 0, &p, &r), CRASH_OOM_KILL);
    cr_assert(strstr(r.note, "counter rose"), "%s", r.note);
    crash_record_free(&r);

    ev.kills_now = 0;
    cr_assert_eq(crash_record_build(&ev, 0, &p, &r), CRASH_SUPERVISOR_KILLED);
    cr_assert_not(r.status_known);
    cr_assert_str_eq(crash_kind_name(r.kind), "supervisor-killed");
    cr_assert(strstr(r.note, "not near its limit"));
    crash_record_free(&r);
    policy_free(&p);
}

Test(record, a_memory_high_snapshot_is_a_record_of_a_live_service)
{
    struct policy p;
    policy_init_defaults(&p);
    struct crash_evidence ev;
    oom_evidence("tests/fixtures/cgroup-v2", "0::/kubepods.slice/pod-api/ctr\n", 1, &ev);
    snprintf(ev.who.service, sizeof ev.who.service, "api");
    ev.memory_high = true;
    ev.crossed[0] = (struct crash_crossing){.percent = 80, .usage = 210 << 20, .age_ms = 1500, .taken = 1700000000};
    ev.ncrossed = 1;
    items_add_copy(&ev.items, "proc/status", "VmRSS:\t1 kB\n", 12);
    struct crash_record r;
    cr_assert_eq(crash_record_build(&ev, 0, &p, &r), CRASH_MEMORY_HIGH);
    cr_assert(r.memory_high && !r.status_known);
    cr_assert_str_eq(crash_kind_name(r.kind), "memory-high");
    cr_assert_str_eq(r.message, "memory at 210MiB of 256MiB crossed the 80% watermark, then fell back");
    size_t len;
    cr_assert_null(member(&r, "stderr.log", &len), "a live service has no stderr of an end");
    cr_assert_not_null(member(&r, "proc/status", &len));
    char fp[17];
    const char *parts[] = {"service=api", "exe=", "watermark=80"};
    crash_fingerprint("memory-high", "", parts, 3, fp);
    cr_assert_str_eq(r.fingerprint, fp, "one fingerprint per service and watermark: the rate limit's key");
    crash_record_free(&r);
    crash_evidence_free(&ev);
    policy_free(&p);
}
