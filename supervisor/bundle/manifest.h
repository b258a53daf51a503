/* SPDX-License-Identifier: MIT */
/* The manifest of a crashbox.bundle/1: a crash record as JSON. */
#pragma once

#include <stdint.h>

#include "json.h"
#include "policy.h"
#include "record.h"

/* Into j (json_init'ed here; json_free it): the record, with the rate
 * limiter's count of crashes suppressed since the last bundle. */
void manifest_build(const struct crash_record *r, const struct policy *p, uint64_t suppressed, struct json *j);
