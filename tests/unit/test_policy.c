#include <criterion/criterion.h>
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static int parse(const char *text, struct policy *p, struct diags *d)
{
    return policy_parse("t.policy", text, strlen(text), p, d);
}

static char *dump(const struct policy *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    policy_dump(p, f);
    fclose(f);
    return buf;
}

/* The message of the diagnostic on `line`, or NULL. */
static const char *diag_on(const struct diags *d, unsigned line)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].line == line)
            return d->v[i].msg;
    return NULL;
}

Test(policy, defaults)
{
    struct policy p;
    cr_assert_eq(policy_init_defaults(&p), 0);
    cr_assert_eq(p.grace_period_ms, 10000);
    cr_assert_eq(p.tail_size, 8u << 20);
    cr_assert_eq(p.forward_to, FORWARD_CHILD);
    cr_assert_null(p.service_name);
    /* The watcher environment strips the Go runtime's tuning by default. */
    const char *want[] = {"GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GOTRACEBACK"};
    for (size_t i = 0; i < 5; i++) {
        bool found = false;
        for (size_t j = 0; j < p.watcher_env.unset.n; j++)
            found |= strcmp(p.watcher_env.unset.items[j], want[i]) == 0;
        cr_assert(found, "%s must be stripped from watchers by default", want[i]);
    }
    for (size_t j = 0; j < p.env.unset.n; j++)
        cr_assert(strncmp(p.env.unset.items[j], "GO", 2) != 0, "the service keeps GO* by default");
    policy_free(&p);
}

Test(policy, parses_every_type)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    int r = parse("# comment\n; another\n\n[service]\nname = api-1\n"
                  "[signals]\n  forward_to=group  \ngrace_period = 1m30s\n"
                  "[stderr]\ntail_size = 64KiB\r\n"
                  "[environment]\nset = A=1 \"B=two words\"\n",
                  &p, &d);
    diags_print(&d, stderr);
    cr_assert_eq(r, 0);
    cr_assert_str_eq(p.service_name, "api-1");
    cr_assert_eq(p.forward_to, FORWARD_GROUP);
    cr_assert_eq(p.grace_period_ms, 90000);
    cr_assert_eq(p.tail_size, 64 * 1024);
    cr_assert_eq(p.env.set.n, 2);
    cr_assert_str_eq(p.env.set.items[1], "B=two words");
    policy_free(&p);
}

Test(policy, reports_every_error_with_its_line)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    int r = parse("[signals]\n"                 /* 1 */
                  "grace_period = 10\n"         /* 2: no unit */
                  "forward_to = everyone\n"     /* 3 */
                  "[nosuch]\n"                  /* 4 */
                  "whatever = 1\n"              /* 5: not reported again */
                  "[stderr]\n"                  /* 6 */
                  "tail_sise = 1M\n"            /* 7: typo */
                  "tail_size = 1K\n"            /* 8: below the minimum */
                  "just words\n"                /* 9 */
                  "[signals]\n"                 /* 10: duplicate section */
                  "descendant_grace = 1s\n"     /* 11: fine */
                  "descendant_grace = 2s\n",    /* 12: duplicate key */
                  &p, &d);
    cr_assert_eq(r, -EINVAL);
    cr_assert_not_null(diag_on(&d, 2));
    cr_assert(strstr(diag_on(&d, 2), "grace_period"));
    cr_assert(strstr(diag_on(&d, 3), "child"));
    cr_assert(strstr(diag_on(&d, 4), "unknown section [nosuch]"));
    cr_assert_null(diag_on(&d, 5));
    cr_assert(strstr(diag_on(&d, 7), "unknown key 'tail_sise'"));
    cr_assert(strstr(diag_on(&d, 8), "out of range"));
    cr_assert_not_null(diag_on(&d, 9));
    cr_assert(strstr(diag_on(&d, 10), "duplicate section"));
    cr_assert_null(diag_on(&d, 11));
    cr_assert(strstr(diag_on(&d, 12), "first set at line 11"));
    cr_assert_eq(d.n, 8);
    cr_assert_str_eq(d.v[0].file, "t.policy");
    diags_free(&d);
    policy_free(&p);
}

Test(policy, a_bad_file_changes_nothing)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    cr_assert_eq(parse("[signals]\ngrace_period = 3s\n", &p, &d), 0);
    char *before = dump(&p);
    cr_assert_eq(parse("[signals]\ngrace_period = 1s\nforward_to = group\nbogus = 1\n", &p, &d),
                 -EINVAL);
    char *after = dump(&p);
    cr_assert_str_eq(after, before);
    cr_assert_eq(p.grace_period_ms, 3000);
    free(before);
    free(after);
    diags_free(&d);
    policy_free(&p);
}

Test(policy, rejects_binary_and_keys_outside_sections)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    const char text[] = "name = x\n[service]\nname = a\0b\n";
    cr_assert_eq(policy_parse("t", text, sizeof text - 1, &p, &d), -EINVAL);
    cr_assert(strstr(diag_on(&d, 1), "outside of any section"));
    cr_assert(strstr(diag_on(&d, 3), "NUL"));
    diags_free(&d);
    policy_free(&p);
}

Test(policy, validates_names_paths_and_env)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    cr_assert_eq(parse("[service]\nname = ../etc\n[bundle]\ndirectory = rel/dir\n"
                       "[environment]\nset = NOEQUALS\nkeep = GO*  A-B\n",
                       &p, &d),
                 -EINVAL);
    cr_assert_eq(d.n, 4);
    cr_assert(strstr(diag_on(&d, 4), "absolute"));
    cr_assert(strstr(diag_on(&d, 6), "NAME=VALUE"));
    cr_assert(strstr(diag_on(&d, 7), "A-B"));
    diags_free(&d);
    policy_free(&p);
}

Test(policy, dump_reparses_to_the_same_policy)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    cr_assert_eq(parse("[service]\nname = svc\n[bundle]\ndirectory = /b\n[signals]\ngrace_period = 1500ms\n"
                       "[watcher_environment]\nset = \"X=a \\\"q\\\" b\" Y=\n",
                       &p, &d),
                 0);
    char *first = dump(&p);
    struct policy q;
    policy_init_defaults(&q);
    int r = policy_parse("dump", first, strlen(first), &q, &d);
    diags_print(&d, stderr);
    cr_assert_eq(r, 0);
    char *second = dump(&q);
    cr_assert_str_eq(second, first);
    cr_assert_str_eq(q.watcher_env.set.items[0], "X=a \"q\" b");
    free(first);
    free(second);
    policy_free(&p);
    policy_free(&q);
}

Test(policy, empty_value_resets_optional_strings)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    cr_assert_eq(parse("[service]\nname =\n[environment]\nunset =\n", &p, &d), 0);
    cr_assert_null(p.service_name);
    cr_assert_eq(p.env.unset.n, 0);
    policy_free(&p);
}

Test(policy, init_manners_keys)
{
    struct policy p;
    policy_init_defaults(&p);
    cr_assert(!p.go_shim, "an init hands out no fds unless asked");
    cr_assert(!p.keep_reading_without_reader, "a gone reader reaches the service by default");
    cr_assert_eq(p.crash_signals.n, 0);
    cr_assert(!policy_is_crash_signal(&p, SIGINT) && !policy_is_crash_signal(&p, SIGPIPE));
    cr_assert(policy_is_crash_signal(&p, SIGSEGV) && policy_is_crash_signal(&p, SIGKILL));
    struct diags d = {0};
    int r = parse("[stderr]\nreader_gone = keep\n[capture]\ncrash_signals = int SIGTERM 1\n", &p, &d);
    diags_print(&d, stderr);
    cr_assert_eq(r, 0);
    cr_assert(p.keep_reading_without_reader);
    cr_assert(policy_is_crash_signal(&p, SIGINT) && policy_is_crash_signal(&p, SIGTERM) &&
              policy_is_crash_signal(&p, SIGHUP) && !policy_is_crash_signal(&p, SIGPIPE));
    char *out = dump(&p);
    cr_assert(strstr(out, "reader_gone = keep\n") && strstr(out, "crash_signals = SIGINT SIGTERM SIGHUP\n"), "%s",
              out);
    free(out);
    r = parse("[stderr]\nreader_gone = drop\n[capture]\ncrash_signals = ABRT\n", &p, &d);
    cr_assert_eq(r, -EINVAL);
    cr_assert_str_eq(diag_on(&d, 2), "reader_gone: must be 'pass' or 'keep'");
    cr_assert(strstr(diag_on(&d, 4), "'ABRT' is not one of the signals that only end a process"));
    diags_free(&d);
    policy_free(&p);
}

Test(policy, list_values_are_stored_typed_by_their_parser)
{
    struct policy p;
    policy_init_defaults(&p);
    struct diags d = {0};
    int r = parse("[memory]\nwatermarks = 70 85\n[capture]\nnormal_exit_codes = 0 143\n"
                  "[sandbox]\ncapabilities = cap_chown CAP_NET_BIND_SERVICE\nambient_capabilities = cap_chown\n",
                  &p, &d);
    diags_print(&d, stderr);
    cr_assert_eq(r, 0);
    cr_assert(p.watermarks.n == 2 && p.watermarks.v[0] == 70 && p.watermarks.v[1] == 85);
    cr_assert(policy_is_normal_exit(&p, 143) && !policy_is_normal_exit(&p, 1));
    cr_assert(p.capabilities.n == 2 && p.capabilities.v[0] == CAP_CHOWN &&
              p.capabilities.v[1] == CAP_NET_BIND_SERVICE);
    char *out = dump(&p);
    cr_assert(strstr(out, "watermarks = 70 85\n") && strstr(out, "normal_exit_codes = 0 143\n") &&
                  strstr(out, "capabilities = CAP_CHOWN CAP_NET_BIND_SERVICE\n") &&
                  strstr(out, "ambient_capabilities = CAP_CHOWN\n"),
              "%s", out);
    free(out);
    diags_free(&d);
    policy_free(&p);
}
