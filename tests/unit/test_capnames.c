/* SPDX-License-Identifier: MIT */
/* crashbox's own capability names are libcap's, both ways, for every
 * capability this system knows: a policy reads and dumps as it did with
 * libcap's lookups. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/capability.h>

#include "names.h"

Test(capnames, the_same_as_libcap)
{
    for (int c = 0; c <= CAP_LAST_CAP; c++) {
        char *lc = cap_to_name((cap_value_t)c);
        cr_assert_not_null(lc);
        char upper[64], mine[64];
        size_t i = 0;
        for (; lc[i] && i < sizeof upper - 1; i++)
            upper[i] = (char)(lc[i] >= 'a' && lc[i] <= 'z' ? lc[i] - 32 : lc[i]);
        upper[i] = '\0';
        sandbox_capability_name(c, mine, sizeof mine);
        cr_assert_str_eq(mine, upper, "capability %d", c);
        int v = -1;
        cr_assert(sandbox_capability_known(lc, &v) && v == c, "%s", lc);
        cr_assert(sandbox_capability_known(upper, &v) && v == c, "%s", upper);
        cap_free(lc);
    }
}

Test(capnames, what_is_not_a_capability)
{
    const char *bad[] = {"net_bind_service", "CAP_", "cap_net_bind_servic", "CAP_NET_BIND_SERVICEX", "cap_41", "", "41"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_not(sandbox_capability_known(bad[i], NULL), "%s", bad[i]);
    char buf[16];
    sandbox_capability_name(63, buf, sizeof buf);
    cr_assert_str_eq(buf, "63");
}
