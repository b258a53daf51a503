/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A list of words: separated by white space; a double-quoted word may hold
 * spaces, with \" and \\ as escapes. */
struct strlist {
    char **items; /* owned, NULL-terminated */
    size_t n;
};

int strlist_parse(const char *s, struct strlist *out);
int strlist_append(struct strlist *l, const char *item);
int strlist_copy(const struct strlist *src, struct strlist *dst);
void strlist_free(struct strlist *l);
/* Writes the list so that strlist_parse() reads it back unchanged. Returns
 * the number of bytes needed (like snprintf). */
size_t strlist_format(const struct strlist *l, char *buf, size_t len);
