#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bundlename.h"
#include "bundledir.h"
#include "items.h"
#include "passwd.h"

Test(bundledir, index_lines_round_trip_with_escapes)
{
    struct index_entry e = {.type = 'B', .time = 1795364936, .size = 5274};
    strcpy(e.service, "api");
    strcpy(e.kind, "go-panic");
    strcpy(e.fingerprint, "668223ba9a974957");
    strcpy(e.name, "api-20261122T162850Z-h-7-go-panic.tar.zst");
    strcpy(e.culprit, "main.handle (/src/main.go:14)");
    strcpy(e.message, "line one\n\twith a tab and a \\ backslash");
    char line[2048];
    size_t n = index_format_line(&e, line, sizeof line);
    cr_assert_eq(line[n - 1], '\n');
    cr_assert_null(memchr(line, '\n', n - 1), "one line, whatever the message holds");
    struct index_entry back;
    cr_assert_eq(index_parse_line(line, n - 1, &back), 0);
    cr_assert_eq(back.type, 'B');
    cr_assert_eq(back.time, e.time);
    cr_assert_eq(back.size, e.size);
    cr_assert_str_eq(back.message, e.message);
    cr_assert_str_eq(back.name, e.name);
    cr_assert_lt(index_parse_line("v2\tB\t1", 7, &back), 0);
    cr_assert_lt(index_parse_line("garbage", 7, &back), 0);
}

Test(bundledir, bundle_names)
{
    struct bundle_name_parts p;
    cr_assert(bundle_name_parse("my-api-20261122T162850Z-web-1.example-7_2-go-panic.tar.zst", &p));
    cr_assert_str_eq(p.service, "my-api");
    cr_assert_str_eq(p.host, "web-1.example");
    cr_assert_eq(p.pid, 7);
    cr_assert_str_eq(p.kind, "go-panic");
    cr_assert(bundle_name_parse("a-20200101T000000Z-h-1-oom-kill.tar.zst", &p));
    cr_assert_eq(p.time, 1577836800);
    cr_assert_not(bundle_name_parse("notes.txt", &p));
    cr_assert_not(bundle_name_parse(".crashbox-tmp-1-a-20200101T000000Z-h-1-exit.tar.zst", &p));
    cr_assert_not(bundle_name_parse("a-20200101T000000Z-h-1-bogus.tar.zst", &p));
    cr_assert_not(bundle_name_parse("a-2020010XT000000Z-h-1-exit.tar.zst", &p));
}

Test(bundledir, rate_limit_counts_since_the_last_full_bundle)
{
    struct policy p;
    policy_init_defaults(&p);
    p.rate_limit_burst = 2;
    p.rate_limit_window_ms = 60000;
    struct index_entry v[6] = {0};
    const char types[] = "BBSSSB";
    time_t times[] = {100, 110, 120, 130, 140, 1000};
    for (int i = 0; i < 6; i++) {
        v[i].type = types[i];
        v[i].time = times[i];
        strcpy(v[i].fingerprint, "f");
        strcpy(v[i].service, "api");
    }
    uint64_t sup;
    cr_assert_not(bundledir_rate_allows(v, 2, "api", "f", 130, &p, &sup), "two full in the window");
    cr_assert(bundledir_rate_allows(v, 2, "api", "other", 130, &p, &sup));
    cr_assert(bundledir_rate_allows(v, 2, "web", "f", 130, &p, &sup), "another service's crashes cost it nothing");
    cr_assert_eq(sup, 0);
    cr_assert(bundledir_rate_allows(v, 5, "api", "f", 500, &p, &sup), "the window has passed");
    cr_assert_eq(sup, 3);
    cr_assert(bundledir_rate_allows(v, 6, "api", "f", 1001, &p, &sup));
    cr_assert_eq(sup, 0, "counted from the last full bundle");
    policy_free(&p);
}

Test(items, fit_cuts_the_largest_first_and_keeps_the_stderr_end)
{
    struct items it = {0};
    char *a = malloc(1000), *b = malloc(300);
    memset(a, 'x', 1000);
    memcpy(a + 990, "LAST-LINE\n", 10);
    memset(b, 'y', 300);
    items_add(&it, "stderr.log", a, 1000, false);
    items_add(&it, "proc/maps", b, 300, false);
    size_t removed = items_fit(&it, 800);
    cr_assert_eq(removed, 500);
    cr_assert_eq(it.v[0].len + it.v[1].len, 800);
    cr_assert(it.v[0].truncated);
    cr_assert_eq(memcmp(it.v[0].data + it.v[0].len - 10, "LAST-LINE\n", 10), 0);
    cr_assert_eq(items_fit(&it, 5000), 0, "nothing to do under the cap");
    items_free(&it);
}

Test(passwd, names_from_passwd_and_group_text)
{
    const char pw[] = "root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n";
    const char gr[] = "root:x:0:\ncrash:x:4242:nonroot\n";
    uid_t u;
    gid_t g;
    cr_assert_eq(passwd_lookup_uid(pw, sizeof pw - 1, "nonroot", &u, &g), 0);
    cr_assert_eq(u, 65532);
    cr_assert_eq(g, 65532);
    cr_assert_eq(passwd_lookup_uid(pw, sizeof pw - 1, "nonroo", &u, &g), -ENOENT);
    cr_assert_eq(group_lookup_gid(gr, sizeof gr - 1, "crash", &g), 0);
    cr_assert_eq(g, 4242);
    cr_assert_eq(resolve_group("/nonexistent-root", "123", &g), 0, "numbers need no file");
    cr_assert_eq(g, 123);
}
