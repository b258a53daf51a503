#include <criterion/criterion.h>
#include <string.h>

#include "json.h"

Test(json, objects_arrays_and_escapes)
{
    struct json j;
    json_init(&j, false);
    json_obj_begin(&j);
    json_kv_str(&j, "a", "q\"b\\s\n\t\x01");
    json_kv_int(&j, "n", -5);
    json_key(&j, "list");
    json_arr_begin(&j);
    json_uint(&j, 1);
    json_null(&j);
    json_obj_begin(&j);
    json_obj_end(&j);
    json_arr_end(&j);
    json_kv_bool(&j, "t", true);
    json_kv_str(&j, "none", NULL);
    json_obj_end(&j);
    cr_assert_str_eq(j.buf, "{\"a\":\"q\\\"b\\\\s\\n\\t\\u0001\",\"n\":-5,\"list\":[1,null,{}],"
                            "\"t\":true,\"none\":null}");
    json_free(&j);
}

Test(json, invalid_utf8_becomes_replacement_characters)
{
    struct json j;
    json_init(&j, false);
    const char bytes[] = "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xc0\xaf \xf0\x9f\x92\xa5 nul\0end";
    json_strn(&j, bytes, sizeof bytes - 1);
    cr_assert_str_eq(j.buf, "\"ok \xc3\xa9 \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd "
                            "\\ufffd\\ufffd \xf0\x9f\x92\xa5 nul\\u0000end\"");
    json_free(&j);
}
