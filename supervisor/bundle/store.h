/* SPDX-License-Identifier: MIT */
/* The one store of crash records: every bundle, its manifest and its index
 * line go through here, with the rate limit and retention, whether the
 * crash was seen live, is a memory-high snapshot or was recovered at the
 * next start. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "bundle.h"
#include "policy.h"
#include "record.h"

enum store_result { STORE_WRITTEN, STORE_SUPPRESSED, STORE_FAILED };

/* Stores r in the policy's bundle directory, or its fallback when that
 * fails (only_primary: never the fallback). core: the core written while
 * the service was held, or NULL. gid: the bundles' group, (gid_t)-1 to
 * leave it. On STORE_WRITTEN, path is the bundle's. Never fails the
 * supervisor: a failure is a warning and STORE_FAILED. */
enum store_result store_record(const struct crash_record *r, const struct policy *p, bool only_primary,
                               const struct bundle_core *core, gid_t gid, char *path, size_t pathcap);
