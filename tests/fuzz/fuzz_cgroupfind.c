/* libFuzzer target: finding the memory cgroup from any mount table and
 * cgroup list (the input is both, split at its first NUL). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *mi = (const char *)data;
    const char *nul = memchr(mi, '\0', size);
    size_t mlen = nul ? (size_t)(nul - mi) : size;
    const char *pc = nul ? nul + 1 : "";
    size_t clen = nul ? size - mlen - 1 : 0;
    struct cgroup_place pl;
    if (cgroup_locate(mi, mlen, pc, clen, &pl) == 0 && pl.version == CGROUP_V2)
        (void)cgroup_v2_check_memory(&pl, pc, clen);
    return 0;
}
