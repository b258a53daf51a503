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

/* A list of numbers a policy key's parser resolved from its words
 * (percents, exit codes, signal numbers), in the words' order. */
struct intlist {
    int *v; /* owned */
    size_t n;
};

int intlist_append(struct intlist *l, int x);
bool intlist_has(const struct intlist *l, int x);
void intlist_free(struct intlist *l);
