#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "buildinfo.h"
#include "classify.h"
#include "cgroup.h"
#include "exithook.h"
#include "policy.h"
#include "redact.h"
#include "tar.h"

Test(cgroup, proc_cgroup_lines)
{
    char path[256];
    const char *v2 = "0::/kubepods.slice/pod-api/ctr\n";
    cr_assert_eq(cgroup_parse_proc(v2, strlen(v2), path, sizeof path), CGROUP_V2);
    cr_assert_str_eq(path, "/kubepods.slice/pod-api/ctr");
    const char *hybrid = "12:pids:/x\n4:memory:/docker/abc123\n1:name=systemd:/y\n0::/z\n";
    cr_assert_eq(cgroup_parse_proc(hybrid, strlen(hybrid), path, sizeof path), CGROUP_V1);
    cr_assert_str_eq(path, "/docker/abc123");
    const char *joined = "5:cpu,memory,pids:/joined\n";
    cr_assert_eq(cgroup_parse_proc(joined, strlen(joined), path, sizeof path), CGROUP_V1);
    cr_assert_str_eq(path, "/joined");
    const char *none = "3:cpu:/a\n";
    cr_assert_eq(cgroup_parse_proc(none, strlen(none), path, sizeof path), CGROUP_NONE);
}

Test(cgroup, keyed_values_and_limits)
{
    const char *ev = "low 0\nhigh 12\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n";
    uint64_t v;
    cr_assert_eq(cgroup_keyed_value(ev, strlen(ev), "oom", &v), 0);
    cr_assert_eq(v, 2, "oom must not match oom_kill");
    cr_assert_eq(cgroup_keyed_value(ev, strlen(ev), "oom_kill", &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(cgroup_keyed_value(ev, strlen(ev), "nope", &v), -ENOENT);
    cr_assert_eq(cgroup_parse_limit("max\n", &v), 0);
    cr_assert_eq(cgroup_parse_limit("9223372036854771712\n", &v), 0, "v1's unlimited");
    cr_assert_eq(cgroup_parse_limit("268435456\n", &v), 1);
    cr_assert_eq(v, 268435456);
    cr_assert_lt(cgroup_parse_limit("lots", &v), 0);
}

/* A fixture tree read as CRASHBOX_CGROUP_ROOT reads it. */
static int read_tree(const char *root, const char *pc, struct cgroup_memory *m)
{
    char mi[8192];
    int n = cgroup_fixture_mountinfo(root, mi, sizeof mi);
    cr_assert_gt(n, 0);
    return cgroup_memory_read(mi, (size_t)n, pc, strlen(pc), m);
}

Test(cgroup, reads_a_v2_fixture_tree)
{
    struct cgroup_memory m;
    const char *pc = "0::/kubepods.slice/pod-api/ctr\n";
    cr_assert_eq(read_tree("tests/fixtures/cgroup-v2", pc, &m), 0);
    cr_assert_eq(m.version, CGROUP_V2);
    cr_assert(m.has_limit);
    cr_assert_eq(m.limit_bytes, 268435456);
    cr_assert_eq(m.usage_bytes, 251658240);
    cr_assert_eq(m.peak_bytes, 268419072);
    cr_assert_eq(m.oom_kills, 2);
    cr_assert_eq(m.oom_events, 3);
    cr_assert_eq(m.oom_group_kills, 1);
}

Test(cgroup, reads_a_v1_fixture_tree)
{
    struct cgroup_memory m;
    const char *pc = "4:memory:/docker/abc123\n0::/\n";
    cr_assert_eq(read_tree("tests/fixtures/cgroup-v1", pc, &m), 0);
    cr_assert_eq(m.version, CGROUP_V1);
    cr_assert_eq(m.limit_bytes, 64 << 20);
    cr_assert_eq(m.peak_bytes, 67104768);
    cr_assert_eq(m.oom_kills, 4);
    cr_assert_not(m.has_oom);
}

Test(tar, ustar_header_fields_and_checksum)
{
    char h[512];
    tar_header(h, "proc/maps", 1234, 0644, 1700000000, '0');
    cr_assert_str_eq(h, "proc/maps");
    cr_assert_str_eq(h + 124, "00000002322", "size in octal");
    cr_assert_eq(memcmp(h + 257, "ustar\0" "00", 8), 0);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)(i >= 148 && i < 156 ? ' ' : h[i]);
    cr_assert_eq(strtoul(h + 148, NULL, 8), sum);
}

static int collect(void *ctx, const void *buf, size_t len)
{
    struct { char *b; size_t n; } *c = ctx;
    c->b = realloc(c->b, c->n + len);
    memcpy(c->b + c->n, buf, len);
    c->n += len;
    return 0;
}

Test(tar, long_names_get_a_pax_header)
{
    struct { char *b; size_t n; } out = {0};
    struct tar t;
    tar_init(&t, collect, &out, 0);
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_eq(tar_add(&t, name, "xyz", 3, 0644), 0);
    cr_assert_eq(tar_finish(&t), 0);
    cr_assert_eq(out.n % 512, 0);
    cr_assert_eq(out.b[156], 'x', "a pax extended header first");
    cr_assert(memmem(out.b, 1024, "path=aaaa", 9));
    free(out.b);
}

Test(redact, secret_names)
{
    struct strlist extra = {0};
    strlist_parse("STRIPE_*", &extra);
    const char *secret[] = {"API_TOKEN", "db_password", "AWS_REGION", "SIGNING_KEY", "STRIPE_ACCT", "GH_SECRET"};
    for (size_t i = 0; i < 6; i++)
        cr_assert(redact_is_secret_name(secret[i], strlen(secret[i]), &extra), "%s", secret[i]);
    const char *plain[] = {"PATH", "HOME", "GOGC", "LANG"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_not(redact_is_secret_name(plain[i], strlen(plain[i]), &extra), "%s", plain[i]);
    const char env[] = "PATH=/bin\0API_TOKEN=abc\0EMPTY=\0";
    char *out;
    size_t n;
    cr_assert_eq(redact_environ(env, sizeof env - 1, &extra, &out, &n), 0);
    cr_assert_eq(n, strlen("PATH=/bin\nAPI_TOKEN=[redacted]\nEMPTY=\n"));
    cr_assert_eq(memcmp(out, "PATH=/bin\nAPI_TOKEN=[redacted]\nEMPTY=\n", n), 0);
    free(out);
    strlist_free(&extra);
}

Test(capture, crash_classification_rules)
{
    int exit2 = W_EXITCODE(2, 0), exit0 = W_EXITCODE(0, 0), killed = W_EXITCODE(0, SIGKILL),
        segv = W_EXITCODE(0, SIGSEGV), abrt = W_EXITCODE(0, SIGABRT);
    cr_assert_eq(crash_classify(exit0, true, GO_CRASH_PANIC, false, 0, false), CRASH_NONE, "forged report");
    cr_assert_eq(crash_classify(exit2, false, GO_CRASH_PANIC, false, 0, false), CRASH_GO_PANIC);
    cr_assert_eq(crash_classify(exit2, false, GO_CRASH_FATAL, true, 0, false), CRASH_GO_FATAL,
                 "an exit is no OOM kill");
    cr_assert_eq(crash_classify(killed, false, GO_CRASH_NONE, true, 0, false), CRASH_OOM_KILL);
    cr_assert_eq(crash_classify(killed, false, GO_CRASH_NONE, false, 0, false), CRASH_SIGNAL);
    cr_assert_eq(crash_classify(segv, false, GO_CRASH_NONE, false, 0, false), CRASH_SIGNAL);
    cr_assert_eq(crash_classify(abrt, false, GO_CRASH_PANIC, false, 0, false), CRASH_GO_PANIC,
                 "GOTRACEBACK=crash: the report names it");
    cr_assert_eq(crash_classify(W_EXITCODE(1, 0), false, GO_CRASH_NONE, false, 0, false), CRASH_EXIT);
    cr_assert_eq(crash_classify(W_EXITCODE(66, 0), false, GO_CRASH_RACE, false, 0, false), CRASH_RACE);
    int term = W_EXITCODE(0, SIGTERM);
    cr_assert_eq(crash_classify(term, false, GO_CRASH_NONE, false, SIGTERM, false), CRASH_NONE,
                 "stopped by the SIGTERM crashbox forwarded");
    cr_assert_eq(crash_classify(term, false, GO_CRASH_NONE, false, 0, false), CRASH_NONE,
                 "a SIGTERM from elsewhere only ends the service: a stop");
    cr_assert_eq(crash_classify(term, false, GO_CRASH_NONE, false, 0, true), CRASH_SIGNAL,
                 "unless the policy lists it in crash_signals");
    int pipe_death = W_EXITCODE(0, SIGPIPE), hup = W_EXITCODE(0, SIGHUP), intr = W_EXITCODE(0, SIGINT);
    cr_assert_eq(crash_classify(pipe_death, false, GO_CRASH_NONE, false, 0, false), CRASH_NONE);
    cr_assert_eq(crash_classify(hup, false, GO_CRASH_NONE, false, 0, false), CRASH_NONE);
    cr_assert_eq(crash_classify(intr, false, GO_CRASH_PANIC, false, 0, false), CRASH_NONE,
                 "Ctrl-C after a recovered panic's report is still Ctrl-C");
    cr_assert(signal_only_ends(SIGINT) && signal_only_ends(SIGPIPE) && !signal_only_ends(SIGSEGV) &&
              !signal_only_ends(SIGABRT) && !signal_only_ends(SIGKILL) && !signal_only_ends(SIGUSR1));
    cr_assert_eq(crash_classify(killed, false, GO_CRASH_NONE, false, SIGTERM, false), CRASH_SIGNAL,
                 "SIGKILL after the grace period is worth a bundle");
}

Test(exithook, classification_of_notifications)
{
    struct exithook_call c = {.nr = SYS_exit_group, .native = true, .args = {2}};
    int arg;
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_EXIT);
    cr_assert_eq(arg, 2);
    cr_assert_eq(exithook_classify(&c, 100, false, false, &arg), EXITHOOK_OTHER, "a descendant");
    c = (struct exithook_call){.nr = SYS_tgkill, .native = true, .args = {100, 101, SIGABRT}};
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_SIGNAL);
    cr_assert_eq(arg, SIGABRT);
    c.args[0] = 555; /* the service signalling another process */
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_OTHER);
    c = (struct exithook_call){.nr = SYS_kill, .native = true, .args = {100, SIGSEGV}};
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_SIGNAL);
    c.args[0] = 4242;
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_OTHER);
    c = (struct exithook_call){.nr = SYS_exit_group, .native = false};
    cr_assert_eq(exithook_classify(&c, 100, true, false, &arg), EXITHOOK_OTHER);
}

Test(exithook, filter_compiles)
{
    struct exithook_prog p;
    cr_assert_eq(exithook_compile(&p, true, NULL, false, NULL), 0);
    cr_assert_gt(p.len, 4);
    cr_assert(p.listener);
    unsigned short hook_only = p.len;
    exithook_prog_free(&p);
    struct strlist deny = {0};
    strlist_parse("mkdir mkdirat ptrace", &deny);
    cr_assert_eq(exithook_compile(&p, true, &deny, false, NULL), 0);
    cr_assert_gt(p.len, hook_only, "the deny list is merged into the hook's filter");
    exithook_prog_free(&p);
    cr_assert_eq(exithook_compile(&p, false, &deny, true, NULL), 0);
    cr_assert_not(p.listener);
    exithook_prog_free(&p);
    strlist_free(&deny);
    strlist_parse("no_such_syscall", &deny);
    cr_assert_eq(exithook_compile(&p, true, &deny, false, NULL), -EINVAL);
    strlist_free(&deny);
}

Test(buildinfo, parses_a_go_1_18_plus_blob)
{
    char sec[512] = "\xff Go buildinf:";
    sec[14] = 8;
    sec[15] = 2;
    size_t n = 32;
    const char *ver = "go1.23.5";
    sec[n++] = (char)strlen(ver);
    memcpy(sec + n, ver, strlen(ver));
    n += strlen(ver);
    const char *mod = "0123456789abcdef" "path\texample.com/api/cmd/api\nmod\texample.com/api\tv1.4.2\th1:x=\n"
                      "build\tvcs.revision=abc123\nbuild\tvcs.time=2026-01-02T03:04:05Z\nbuild\tvcs.modified=true\n"
                      "fedcba9876543210";
    size_t ml = strlen(mod);
    sec[n++] = (char)((ml & 0x7f) | 0x80);
    sec[n++] = (char)(ml >> 7);
    memcpy(sec + n, mod, ml);
    n += ml;
    struct go_buildinfo bi;
    cr_assert_eq(buildinfo_parse(sec, n, &bi), 0);
    cr_assert_str_eq(bi.go_version, "go1.23.5");
    cr_assert_str_eq(bi.path, "example.com/api/cmd/api");
    cr_assert_str_eq(bi.module, "example.com/api");
    cr_assert_str_eq(bi.module_version, "v1.4.2");
    cr_assert_str_eq(bi.vcs_revision, "abc123");
    cr_assert_str_eq(bi.vcs_time, "2026-01-02T03:04:05Z");
    cr_assert(bi.vcs_modified);
    buildinfo_free(&bi);
    cr_assert_eq(buildinfo_parse("not go at all, not at all......", 32, &bi), -ENOENT);
}

Test(buildinfo, reads_a_real_go_binary)
{
    int fd = open("build/examples/clean", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        cr_skip_test("build/examples/clean not built (make examples)");
    struct go_buildinfo bi;
    cr_assert_eq(buildinfo_read_fd(fd, &bi), 0);
    cr_assert(strncmp(bi.go_version, "go1.", 4) == 0);
    cr_assert_str_eq(bi.path, "crashbox.example/examples/clean");
    buildinfo_free(&bi);
    close(fd);
    fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    cr_assert_eq(buildinfo_read_fd(fd, &bi), -ENOENT, "not a Go binary");
    close(fd);
}

#include "metrics.h"
#include "termlog.h"

Test(termlog, short_summary_within_the_kubelet_limit)
{
    char out[4096], longmsg[3000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    size_t n = termlog_format(out, sizeof out, "api", "go-panic", longmsg, "main.f (/a.go:1)",
                              "/var/crash/api-20260101T000000Z-h-1-go-panic.tar.zst");
    cr_assert_leq(n, TERMLOG_MAX);
    cr_assert(strstr(out, "bundle: api-20260101T000000Z-h-1-go-panic.tar.zst"), "the name, not the path");
    n = termlog_format(out, sizeof out, "api", "exit", "exit status 3", "", NULL);
    cr_assert_str_eq(out, "crashbox: api exit: exit status 3\nbundle: (none)\n");
}

Test(metrics, labels_are_escaped)
{
    struct metrics m = {.restarts = 2};
    strcpy(m.service, "we\"ird\\svc");
    m.crashes[CRASH_OOM_KILL] = 4;
    char out[8192];
    metrics_format(&m, out, sizeof out);
    cr_assert(strstr(out, "crashbox_crashes_total{service=\"we\\\"ird\\\\svc\",kind=\"oom-kill\"} 4\n"), "%s", out);
    cr_assert(strstr(out, "crashbox_restarts_total{service=\"we\\\"ird\\\\svc\"} 2\n"));
    cr_assert(strstr(out, "crashbox_outlived_oom_kills_total{service=\"we\\\"ird\\\\svc\"} 0\n"), "%s", out);
    cr_assert_null(strstr(out, "crashbox_bundle_dir_bytes"), "no directory, no directory series");
}
