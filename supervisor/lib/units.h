/* SPDX-License-Identifier: MIT */
/* Strict parsers and canonical formatters for policy values: sizes,
 * durations, booleans and word lists. Pure: no I/O, no logging.
 * Parsers return 0 or a negative errno (-EINVAL malformed, -ERANGE overflow). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "8MiB", "512K", "1G", "4096", "0". Units are binary (K = KiB = 1024). */
int parse_size(const char *s, uint64_t *out);
/* Canonical form: the largest exact binary unit ("8MiB", "1536KiB", "12B"). */
void format_size(uint64_t v, char *buf, size_t len);
/* For people: the largest binary unit it reaches, exact when it is a whole
 * number of it ("96MiB"), else to one decimal ("95.4MiB", "5.2KiB"). */
void format_size_human(uint64_t v, char *buf, size_t len);

/* "10s", "500ms", "1m30s", "2h", "30d", "0". Stored in milliseconds. A non-zero
 * value needs a unit. */
int parse_duration(const char *s, uint64_t *out_ms);
void format_duration(uint64_t ms, char *buf, size_t len);

/* yes/no, true/false, on/off, 1/0. */
int parse_bool(const char *s, bool *out);

