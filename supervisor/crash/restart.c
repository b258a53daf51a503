/* SPDX-License-Identifier: MIT */
#include "restart.h"

#include <stdint.h>

bool restart_wanted(const struct policy *p, enum crash_kind kind, int code)
{
    switch (p->restart_mode) {
    case RESTART_NEVER:
        return false;
    case RESTART_ON_CRASH:
        return kind != CRASH_NONE;
    case RESTART_ALWAYS:
        return true;
    }
    (void)code;
    return false;
}

/* The pause before restart n (1-based): exponential from min to max, with
 * up to 25% jitter either way so that a fleet does not restart in step. */
long long restart_delay_ms(const struct policy *p, unsigned n, unsigned rnd)
{
    uint64_t d = p->restart_min_delay_ms;
    for (unsigned i = 1; i < n && d < p->restart_max_delay_ms; i++)
        d *= 2;
    if (d > p->restart_max_delay_ms)
        d = p->restart_max_delay_ms;
    long long jitter = d >= 4 ? (long long)(rnd % (d / 2 + 1)) - (long long)(d / 4) : 0;
    long long out = (long long)d + jitter;
    return out < 0 ? 0 : out;
}
