/* libFuzzer target: the Go crash parser on any bytes, and the JSON it writes. */
#include <stddef.h>
#include <stdint.h>

#include "goparse.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct go_crash c;
    if (goparse_crash((const char *)data, size, &c) == 1) {
        struct json j;
        json_init(&j, false);
        go_crash_to_json(&c, NULL, &j);
        json_free(&j);
    }
    go_crash_free(&c);
    return 0;
}
