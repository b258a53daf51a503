/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "table.h"

Test(table, width_counts_columns_not_bytes)
{
    cr_assert_eq(utf8_width("abc"), 3);
    cr_assert_eq(utf8_width("\xe2\x80\xa6"), 1, "… is one column");
    cr_assert_eq(utf8_width("h\xc3\xa9llo"), 5);
    cr_assert_eq(utf8_width("\xe6\x95\xb0\xe6\x8d\xae"), 4, "CJK characters are two");
    cr_assert_eq(utf8_width("e\xcc\x81"), 1, "a combining accent takes none");
    cr_assert_eq(utf8_width("\xff\xc3"), 2, "malformed bytes count one each");
}

Test(table, fit_cuts_with_an_ellipsis_and_never_splits_a_character)
{
    char out[64];
    cr_assert_eq(utf8_fit("short", 10, out, sizeof out), 5);
    cr_assert_str_eq(out, "short");
    cr_assert_eq(utf8_fit("exactly10!", 10, out, sizeof out), 10);
    cr_assert_str_eq(out, "exactly10!");
    cr_assert_eq(utf8_fit("payments-reconciliation", 10, out, sizeof out), 10);
    cr_assert_str_eq(out, "payments-\xe2\x80\xa6");
    /* A wide character that would straddle the edge is left out whole. */
    cr_assert_eq(utf8_fit("ab\xe6\x95\xb0\xe6\x8d\xae", 4, out, sizeof out), 3);
    cr_assert_str_eq(out, "ab\xe2\x80\xa6");
    cr_assert_eq(utf8_fit("\xc3\xa9\xc3\xa9\xc3\xa9", 2, out, sizeof out), 2);
    cr_assert_str_eq(out, "\xc3\xa9\xe2\x80\xa6");
    cr_assert_eq(utf8_fit("abc", 1, out, sizeof out), 1);
    cr_assert_str_eq(out, "\xe2\x80\xa6");
}
