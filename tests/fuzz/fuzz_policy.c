/* libFuzzer target: the policy parser on any bytes, and dump -> re-parse. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy p;
    if (policy_init_defaults(&p) < 0)
        return 0;
    struct diags d = {0};
    if (policy_parse("fuzz", (const char *)data, size, &p, &d) == 0) {
        /* Whatever parses must dump to something that parses the same. */
        char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        FILE *f = open_memstream(&a, &al);
        policy_dump(&p, f);
        fclose(f);
        struct policy q;
        policy_init_defaults(&q);
        struct diags d2 = {0};
        if (policy_parse("dump", a, al, &q, &d2) != 0)
            abort();
        f = open_memstream(&b, &bl);
        policy_dump(&q, f);
        fclose(f);
        if (al != bl || memcmp(a, b, al) != 0)
            abort();
        free(a);
        free(b);
        diags_free(&d2);
        policy_free(&q);
    }
    diags_free(&d);
    policy_free(&p);
    return 0;
}
