/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer into a growable buffer. Strings are taken as
 * bytes: invalid UTF-8 becomes U+FFFD, control characters are escaped, so
 * any service output can go into a manifest. Allocation failure is sticky
 * (json_failed) instead of checked at every call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json {
    char *buf; /* owned */
    size_t len, cap;
    bool failed;
    int depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool pretty;
    bool after_key; /* the next value follows a key: no comma, no newline */
};

void json_init(struct json *j, bool pretty);
void json_free(struct json *j);
bool json_failed(const struct json *j);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* Key and value in one call; a NULL string writes null. */
void json_kv_str(struct json *j, const char *key, const char *s);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);
