/* SPDX-License-Identifier: MIT */
#include "items.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int items_add(struct items *it, const char *name, char *data, size_t len, bool truncated)
{
    char *n = strdup(name);
    struct item *v = n ? realloc(it->v, (it->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(n);
        free(data);
        return -ENOMEM;
    }
    it->v = v;
    it->v[it->n++] = (struct item){.name = n, .data = data, .len = len, .truncated = truncated, .cut_at = -1};
    return 0;
}

int items_add_copy(struct items *it, const char *name, const char *data, size_t len)
{
    char *d = malloc(len ? len : 1);
    if (!d)
        return -ENOMEM;
    memcpy(d, data, len);
    return items_add(it, name, d, len, false);
}

void items_add_missing(struct items *it, const char *name, const char *reason)
{
    char *n = strdup(name), *r = strdup(reason);
    struct missing_item *v = n && r ? realloc(it->missing, (it->nmissing + 1) * sizeof *v) : NULL;
    if (!v) {
        free(n);
        free(r);
        return;
    }
    it->missing = v;
    it->missing[it->nmissing++] = (struct missing_item){.name = n, .reason = r};
}

int items_move(struct items *dst, struct items *src, const char *prefix)
{
    char name[512];
    for (size_t i = 0; i < src->n; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, src->v[i].name);
        int r = items_add(dst, name, src->v[i].data, src->v[i].len, src->v[i].truncated);
        if (r == 0) {
            dst->v[dst->n - 1].cut_bytes = src->v[i].cut_bytes;
            dst->v[dst->n - 1].cut_at = src->v[i].cut_at;
        }
        src->v[i].data = NULL;
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < src->nmissing; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, src->missing[i].name);
        items_add_missing(dst, name, src->missing[i].reason);
    }
    items_free(src);
    return 0;
}

void items_mark_cut(struct items *it, size_t at, uint64_t bytes)
{
    if (!it->n)
        return;
    struct item *last = &it->v[it->n - 1];
    last->truncated = true;
    last->cut_at = (long long)at;
    last->cut_bytes += bytes;
}

size_t items_fit(struct items *it, size_t cap)
{
    size_t total = 0, removed = 0;
    for (size_t i = 0; i < it->n; i++)
        total += it->v[i].len;
    while (total > cap) {
        struct item *big = NULL;
        for (size_t i = 0; i < it->n; i++)
            if (!big || it->v[i].len > big->len)
                big = &it->v[i];
        if (!big || big->len == 0)
            break;
        size_t excess = total - cap;
        /* Cut the largest down to the second largest at most per round, so
         * the big ones share the loss instead of one vanishing. */
        size_t second = 0;
        for (size_t i = 0; i < it->n; i++)
            if (&it->v[i] != big && it->v[i].len > second)
                second = it->v[i].len;
        size_t cut = big->len - second;
        if (cut == 0)
            cut = big->len < 4096 ? big->len : 4096;
        if (cut > excess)
            cut = excess;
        size_t keep = big->len - cut;
        if (strcmp(big->name, "stderr.log") == 0) {
            memmove(big->data, big->data + cut, keep);
            if (big->cut_at >= 0)
                big->cut_at = big->cut_at > (long long)cut ? big->cut_at - (long long)cut : 0;
        } else if (big->cut_at > (long long)keep) {
            big->cut_at = (long long)keep;
        }
        big->len = keep;
        big->truncated = true;
        big->cut_bytes += cut;
        total -= cut;
        removed += cut;
    }
    return removed;
}

const struct item *items_find(const struct items *it, const char *name)
{
    for (size_t i = 0; i < it->n; i++)
        if (strcmp(it->v[i].name, name) == 0)
            return &it->v[i];
    return NULL;
}

void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].name);
        free(it->v[i].data);
    }
    for (size_t i = 0; i < it->nmissing; i++) {
        free(it->missing[i].name);
        free(it->missing[i].reason);
    }
    free(it->v);
    free(it->missing);
    *it = (struct items){0};
}

void items_remove(struct items *it, const char *name)
{
    for (size_t i = 0; i < it->n; i++) {
        if (strcmp(it->v[i].name, name) != 0)
            continue;
        free(it->v[i].name);
        free(it->v[i].data);
        memmove(&it->v[i], &it->v[i + 1], (it->n - i - 1) * sizeof it->v[0]);
        it->n--;
        return;
    }
}
