/* SPDX-License-Identifier: MIT */
/* A small strict JSON reader for crashbox's own manifests: a tree of
 * values, depth-limited, bounded by its input. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv {
    enum jv_type type;
    bool b;
    double num;
    char *str;          /* owned: strings, and object member keys in key */
    char *key;          /* owned: this value's key inside an object */
    struct jv *child;   /* owned: first element or member */
    struct jv *next;    /* owned: next sibling */
};

/* Parses len bytes. Returns the root (free with jv_free) or NULL. */
struct jv *jv_parse(const char *buf, size_t len);
void jv_free(struct jv *v);
/* Member of an object by key, or NULL. */
const struct jv *jv_get(const struct jv *obj, const char *key);
/* Follows "a.b.c". */
const struct jv *jv_path(const struct jv *v, const char *path);
/* Convenience: a string member or NULL; a number member or dflt. */
const char *jv_str(const struct jv *v, const char *path);
double jv_num(const struct jv *v, const char *path, double dflt);
