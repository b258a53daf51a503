/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "classify.h"
#include "policy.h"

/* Restart decisions, pure: whether a run that ended so is restarted, and
 * the back-off before restart n (rnd: a random number for the jitter). */
bool restart_wanted(const struct policy *p, enum crash_kind kind, int code);
long long restart_delay_ms(const struct policy *p, unsigned n, unsigned rnd);
