/* SPDX-License-Identifier: MIT */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json *j, bool pretty) { *j = (struct json){.pretty = pretty}; }

void json_free(struct json *j)
{
    free(j->buf);
    *j = (struct json){0};
}

bool json_failed(const struct json *j) { return j->failed; }

static void put(struct json *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (j->len + n + 1 > cap)
            cap *= 2;
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->failed = true;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void putc_(struct json *j, char c) { put(j, &c, 1); }

static void newline(struct json *j)
{
    if (!j->pretty)
        return;
    putc_(j, '\n');
    for (int i = 0; i < j->depth; i++)
        put(j, "  ", 2);
}

/* Before any value: a comma if one came before at this level. */
static void value_start(struct json *j)
{
    if (j->depth > 0 && j->depth <= JSON_MAX_DEPTH) {
        if (j->need_comma[j->depth - 1] == true)
            putc_(j, ',');
        j->need_comma[j->depth - 1] = true;
    }
}

static void begin(struct json *j, char c)
{
    if (!j->after_key) {
        value_start(j);
        if (j->depth > 0)
            newline(j);
    }
    j->after_key = false;
    putc_(j, c);
    if (j->depth < JSON_MAX_DEPTH)
        j->need_comma[j->depth] = false;
    j->depth++;
}

static void end(struct json *j, char c)
{
    bool had = j->depth > 0 && j->depth <= JSON_MAX_DEPTH && j->need_comma[j->depth - 1];
    j->depth--;
    if (had)
        newline(j);
    putc_(j, c);
}

void json_obj_begin(struct json *j) { begin(j, '{'); }
void json_obj_end(struct json *j) { end(j, '}'); }
void json_arr_begin(struct json *j) { begin(j, '['); }
void json_arr_end(struct json *j) { end(j, ']'); }

static void scalar_start(struct json *j)
{
    if (!j->after_key) {
        value_start(j);
        if (j->depth > 0)
            newline(j);
    }
    j->after_key = false;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

static void emit_string(struct json *j, const char *s, size_t n)
{
    putc_(j, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t seq = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        } else if (c >= 0x80) {
            seq = utf8_seq(p + i, n - i);
            if (!seq) {
                esc = "\\ufffd";
                seq = 1;
            }
        }
        if (esc) {
            put(j, s + i - run, run);
            run = 0;
            put(j, esc, strlen(esc));
            i += seq;
        } else {
            run += seq;
            i += seq;
        }
    }
    put(j, s + n - run, run);
    putc_(j, '"');
}

void json_strn(struct json *j, const char *s, size_t n)
{
    scalar_start(j);
    emit_string(j, s, n);
}

void json_str(struct json *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    json_strn(j, s, strlen(s));
}

void json_key(struct json *j, const char *key)
{
    value_start(j);
    newline(j);
    emit_string(j, key, strlen(key));
    put(j, j->pretty ? ": " : ":", j->pretty ? 2 : 1);
    j->after_key = true;
}

void json_int(struct json *j, int64_t v)
{
    char b[32];
    scalar_start(j);
    snprintf(b, sizeof b, "%" PRId64, v);
    put(j, b, strlen(b));
}

void json_uint(struct json *j, uint64_t v)
{
    char b[32];
    scalar_start(j);
    snprintf(b, sizeof b, "%" PRIu64, v);
    put(j, b, strlen(b));
}

void json_bool(struct json *j, bool v)
{
    scalar_start(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json *j)
{
    scalar_start(j);
    put(j, "null", 4);
}

void json_kv_str(struct json *j, const char *key, const char *s)
{
    json_key(j, key);
    json_str(j, s);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_uint(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}
