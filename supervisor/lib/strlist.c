/* SPDX-License-Identifier: MIT */
#include "strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int strlist_append(struct strlist *l, const char *item)
{
    char *copy = strdup(item);
    if (!copy)
        return -ENOMEM;
    char **n = realloc(l->items, (l->n + 2) * sizeof *n);
    if (!n) {
        free(copy);
        return -ENOMEM;
    }
    n[l->n++] = copy;
    n[l->n] = NULL;
    l->items = n;
    return 0;
}

void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int strlist_copy(const struct strlist *src, struct strlist *dst)
{
    struct strlist tmp = {0};
    for (size_t i = 0; i < src->n; i++) {
        int r = strlist_append(&tmp, src->items[i]);
        if (r < 0) {
            strlist_free(&tmp);
            return r;
        }
    }
    *dst = tmp;
    return 0;
}

int strlist_parse(const char *s, struct strlist *out)
{
    struct strlist tmp = {0};
    size_t slen = strlen(s);
    _cleanup_free_ char *word = malloc(slen + 1);
    if (!word)
        return -ENOMEM;
    int r = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        size_t w = 0;
        bool quoted = false;
        while (*s && (quoted || (*s != ' ' && *s != '\t'))) {
            if (*s == '"') {
                quoted = !quoted;
                s++;
            } else if (quoted && *s == '\\' && (s[1] == '"' || s[1] == '\\')) {
                word[w++] = s[1];
                s += 2;
            } else {
                word[w++] = *s++;
            }
        }
        if (quoted) {
            r = -EINVAL;
            break;
        }
        word[w] = '\0';
        r = strlist_append(&tmp, word);
        if (r < 0)
            break;
    }
    if (r < 0) {
        strlist_free(&tmp);
        return r;
    }
    *out = tmp;
    return 0;
}

static bool word_needs_quotes(const char *w)
{
    if (!*w)
        return true;
    for (; *w; w++)
        if (*w == ' ' || *w == '\t' || *w == '"' || *w == '\\')
            return true;
    return false;
}

size_t strlist_format(const struct strlist *l, char *buf, size_t len)
{
    size_t off = 0;
#define PUT(c)                   \
    do {                         \
        if (off + 1 < len)       \
            buf[off] = (c);      \
        off++;                   \
    } while (0)
    for (size_t i = 0; i < l->n; i++) {
        const char *w = l->items[i];
        if (i)
            PUT(' ');
        bool q = word_needs_quotes(w);
        if (q)
            PUT('"');
        for (; *w; w++) {
            if (q && (*w == '"' || *w == '\\'))
                PUT('\\');
            PUT(*w);
        }
        if (q)
            PUT('"');
    }
#undef PUT
    if (len)
        buf[off < len ? off : len - 1] = '\0';
    return off;
}

int intlist_append(struct intlist *l, int x)
{
    int *n = realloc(l->v, (l->n + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    n[l->n++] = x;
    l->v = n;
    return 0;
}

bool intlist_has(const struct intlist *l, int x)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == x)
            return true;
    return false;
}

void intlist_free(struct intlist *l)
{
    free(l->v);
    *l = (struct intlist){0};
}
