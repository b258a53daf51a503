/* SPDX-License-Identifier: MIT */
/* Telling a stored crash: the summary line on stderr, the termination
 * message, the log lines and the on-crash hooks, from the finished record
 * and where the store put it. */
#pragma once

#include "policy.h"
#include "record.h"
#include "store.h"

/* path: the bundle's, when res is STORE_WRITTEN. */
void crash_report(const struct crash_record *r, const struct policy *p, enum store_result res, const char *path);
