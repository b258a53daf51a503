#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shipconf.h"

Test(shipconf, s3_targets_parse_and_bad_ones_are_refused)
{
    struct s3_target t;
    cr_assert_eq(s3_target_parse("s3://crash-bundles/prod/eu/", &t), 0);
    cr_assert_str_eq(t.bucket, "crash-bundles");
    cr_assert_str_eq(t.prefix, "prod/eu");
    cr_assert_eq(s3_target_parse("s3://my.bucket", &t), 0);
    cr_assert_str_eq(t.prefix, "");
    cr_assert_eq(s3_target_parse("s3://b12//x", &t), 0);
    cr_assert_str_eq(t.prefix, "x");
    cr_assert_eq(s3_target_parse("s3://Upper/x", &t), -EINVAL);
    cr_assert_eq(s3_target_parse("s3://ab/x", &t), -EINVAL);
    cr_assert_eq(s3_target_parse("s3:///x", &t), -EINVAL);
    cr_assert_eq(s3_target_parse("https://bucket/x", &t), -EINVAL);
    cr_assert_eq(s3_target_parse("s3://b_ucket", &t), -EINVAL);
}

Test(shipconf, the_credentials_file_profile_is_found_and_others_ignored)
{
    static const char f[] = "# a comment\n"
                            "[default]\n"
                            "aws_access_key_id = AKDEFAULT\n"
                            "aws_secret_access_key = sdefault\n"
                            "\n"
                            "[profile ship] \r\n"
                            "  aws_access_key_id=AKSHIP\r\n"
                            "; another\n"
                            "aws_secret_access_key =  s/ship+key== \n"
                            "aws_session_token = tok\n"
                            "[half]\n"
                            "aws_access_key_id = AKHALF\n";
    struct aws_creds c;
    cr_assert_eq(aws_credentials_parse(f, strlen(f), "ship", &c), 0);
    cr_assert_str_eq(c.access_key, "AKSHIP");
    cr_assert_str_eq(c.secret_key, "s/ship+key==");
    cr_assert_str_eq(c.session_token, "tok");
    cr_assert_eq(aws_credentials_parse(f, strlen(f), "default", &c), 0);
    cr_assert_str_eq(c.access_key, "AKDEFAULT");
    cr_assert_str_eq(c.session_token, "");
    cr_assert_eq(aws_credentials_parse(f, strlen(f), "absent", &c), -ENOENT);
    cr_assert_eq(aws_credentials_parse(f, strlen(f), "half", &c), -EINVAL);
}

Test(shipconf, object_keys_are_prefix_service_and_utc_date)
{
    char k[256];
    /* 2026-01-02T23:59:59Z */
    cr_assert_eq(ship_object_key("prod", "api", 1767398399, "api-x.tar.zst", k, sizeof k), 0);
    cr_assert_str_eq(k, "prod/api/2026/01/02/api-x.tar.zst");
    cr_assert_eq(ship_object_key("", "api", 1767398399, "b", k, sizeof k), 0);
    cr_assert_str_eq(k, "api/2026/01/02/b");
    cr_assert_eq(ship_object_key("prod", "api", 0, "a-very-long-name", k, 20), -ENAMETOOLONG);
}

Test(shipconf, header_values_round_trip_any_text)
{
    static const char msg[] = "panic: 100% \xe2\x80\x9c" "bad\xe2\x80\x9d\n\tgoroutine 1";
    char enc[256], dec[256];
    ship_header_encode(msg, enc, sizeof enc);
    for (const char *p = enc; *p; p++)
        cr_assert(*p >= 0x20 && *p < 0x7f, "only printable ASCII in a header");
    cr_assert_str_eq(enc, "panic: 100%25 %E2%80%9Cbad%E2%80%9D%0A%09goroutine 1");
    ship_header_decode(enc, dec, sizeof dec);
    cr_assert_str_eq(dec, msg);
    /* cut to fit, never mid-escape */
    cr_assert_eq(ship_header_encode("ab\xff", enc, 5), 2);
    cr_assert_str_eq(enc, "ab");
}

Test(shipconf, uri_encoding_keeps_unreserved_and_optionally_slashes)
{
    char out[64];
    cr_assert_eq(ship_uri_encode("p/a b+c~d_e.f-g", true, out, sizeof out), strlen("p/a%20b%2Bc~d_e.f-g"));
    cr_assert_str_eq(out, "p/a%20b%2Bc~d_e.f-g");
    ship_uri_encode("a/b=", false, out, sizeof out);
    cr_assert_str_eq(out, "a%2Fb%3D");
    cr_assert_eq(ship_uri_encode("abc", false, out, 3), (size_t)-1);
}

Test(shipconf, the_journal_ignores_a_torn_last_line_and_foreign_lines)
{
    char buf[] = "v1\tb-2.tar.zst\tk/b-2\n"
                 "junk line\n"
                 "v1\ta-1.tar.zst\tk/a-1\n"
                 "v1\tc-3.tar.zst\tk/c";
    char **names;
    size_t n;
    cr_assert_eq(ship_journal_parse(buf, strlen(buf), &names, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert(ship_journal_has(names, n, "a-1.tar.zst"));
    cr_assert(ship_journal_has(names, n, "b-2.tar.zst"));
    cr_assert(!ship_journal_has(names, n, "c-3.tar.zst"), "a torn line was never confirmed");
    free(names);
    char empty[1] = "";
    cr_assert_eq(ship_journal_parse(empty, 0, &names, &n), 0);
    cr_assert(!ship_journal_has(names, n, "a-1.tar.zst"));
    free(names);
    char line[64];
    cr_assert_eq(ship_journal_format("a", "k/a", line, sizeof line), 9);
    cr_assert_str_eq(line, "v1\ta\tk/a\n");
}
