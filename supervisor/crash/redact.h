/* SPDX-License-Identifier: MIT */
/* Redaction of secret-looking environment values before they reach a
 * bundle. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "strlist.h"

/* True for names containing TOKEN, SECRET, PASSWORD, PASSWD or KEY (any
 * case), starting with AWS_, or matching one of the extra patterns. */
bool redact_is_secret_name(const char *name, size_t len, const struct strlist *extra);

/* Turns a NUL-separated environ block into "NAME=VALUE\n" lines with
 * secret values replaced by "[redacted]". *out is owned by the caller. */
int redact_environ(const char *buf, size_t len, const struct strlist *extra, char **out, size_t *out_len);
