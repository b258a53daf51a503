#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "strlist.h"
#include "units.h"

Test(units, sizes_parse_with_binary_units)
{
    uint64_t v;
    cr_assert_eq(parse_size("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(parse_size("4096", &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(parse_size("8MiB", &v), 0);
    cr_assert_eq(v, 8ULL << 20);
    cr_assert_eq(parse_size("512K", &v), 0);
    cr_assert_eq(v, 512ULL << 10);
    cr_assert_eq(parse_size("2G", &v), 0);
    cr_assert_eq(v, 2ULL << 30);
    cr_assert_eq(parse_size("1TiB", &v), 0);
    cr_assert_eq(v, 1ULL << 40);
}

Test(units, sizes_reject_garbage_and_overflow)
{
    uint64_t v = 77;
    cr_assert_eq(parse_size("", &v), -EINVAL);
    cr_assert_eq(parse_size("-1", &v), -EINVAL);
    cr_assert_eq(parse_size("8 MiB", &v), -EINVAL);
    cr_assert_eq(parse_size("8MB", &v), -EINVAL);
    cr_assert_eq(parse_size("1.5G", &v), -EINVAL);
    cr_assert_eq(parse_size("0x10", &v), -EINVAL);
    cr_assert_eq(parse_size("99999999999999999999", &v), -ERANGE);
    cr_assert_eq(parse_size("17179869184G", &v), -ERANGE);
    cr_assert_eq(v, 77, "a failed parse must not write its output");
}

Test(units, sizes_format_canonically)
{
    char b[32];
    format_size(8ULL << 20, b, sizeof b);
    cr_assert_str_eq(b, "8MiB");
    format_size(1536 * 1024, b, sizeof b);
    cr_assert_str_eq(b, "1536KiB");
    format_size(12, b, sizeof b);
    cr_assert_str_eq(b, "12B");
    format_size_human(96ULL << 20, b, sizeof b);
    cr_assert_str_eq(b, "96MiB");
    format_size_human(100000000, b, sizeof b);
    cr_assert_str_eq(b, "95.4MiB");
    format_size_human(5282, b, sizeof b);
    cr_assert_str_eq(b, "5.2KiB");
    format_size_human(1023, b, sizeof b);
    cr_assert_str_eq(b, "1023B");
    format_size(0, b, sizeof b);
    cr_assert_str_eq(b, "0B");
}

Test(units, durations)
{
    uint64_t v;
    cr_assert_eq(parse_duration("10s", &v), 0);
    cr_assert_eq(v, 10000);
    cr_assert_eq(parse_duration("500ms", &v), 0);
    cr_assert_eq(v, 500);
    cr_assert_eq(parse_duration("1m30s", &v), 0);
    cr_assert_eq(v, 90000);
    cr_assert_eq(parse_duration("2h", &v), 0);
    cr_assert_eq(v, 7200000);
    cr_assert_eq(parse_duration("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(parse_duration("10", &v), -EINVAL, "a non-zero duration needs a unit");
    cr_assert_eq(parse_duration("10x", &v), -EINVAL);
    cr_assert_eq(parse_duration("s", &v), -EINVAL);
    cr_assert_eq(parse_duration("", &v), -EINVAL);
    cr_assert_eq(parse_duration("99999999999999999h", &v), -ERANGE);
    char b[32];
    format_duration(90000, b, sizeof b);
    cr_assert_str_eq(b, "90s");
    format_duration(120000, b, sizeof b);
    cr_assert_str_eq(b, "2m");
    format_duration(1500, b, sizeof b);
    cr_assert_str_eq(b, "1500ms");
}

Test(units, booleans)
{
    bool b;
    cr_assert_eq(parse_bool("yes", &b), 0);
    cr_assert(b);
    cr_assert_eq(parse_bool("off", &b), 0);
    cr_assert_not(b);
    cr_assert_eq(parse_bool("Yes", &b), -EINVAL);
    cr_assert_eq(parse_bool("2", &b), -EINVAL);
}

Test(units, lists_split_and_quote)
{
    struct strlist l;
    cr_assert_eq(strlist_parse("  a  b\t\"c d\" \"e\\\"f\" g\\h ", &l), 0);
    cr_assert_eq(l.n, 5);
    cr_assert_str_eq(l.items[0], "a");
    cr_assert_str_eq(l.items[2], "c d");
    cr_assert_str_eq(l.items[3], "e\"f");
    cr_assert_str_eq(l.items[4], "g\\h");
    cr_assert_null(l.items[5]);
    char buf[128];
    strlist_format(&l, buf, sizeof buf);
    cr_assert_str_eq(buf, "a b \"c d\" \"e\\\"f\" \"g\\\\h\"");
    struct strlist back;
    cr_assert_eq(strlist_parse(buf, &back), 0);
    cr_assert_eq(back.n, l.n);
    for (size_t i = 0; i < l.n; i++)
        cr_assert_str_eq(back.items[i], l.items[i]);
    strlist_free(&back);
    strlist_free(&l);
    cr_assert_eq(strlist_parse("\"open", &l), -EINVAL);
    cr_assert_eq(strlist_parse("", &l), 0);
    cr_assert_eq(l.n, 0);
    strlist_free(&l);
}
