/* SPDX-License-Identifier: MIT */
/* A list of named byte blobs, the members of a bundle, and the items that
 * could not be collected, with why. Best-effort collectors add to it; the
 * bundle writer reads it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct item {
    char *name;   /* owned: the member path, "proc/maps" */
    char *data;   /* owned */
    size_t len;
    bool truncated; /* cut at its size cap */
    uint64_t cut_bytes; /* bytes cut, when known (0: not known) */
    long long cut_at;   /* where a cut from its middle is marked, -1 if none */
};

struct missing_item {
    char *name;   /* owned */
    char *reason; /* owned */
};

struct items {
    struct item *v;
    size_t n;
    struct missing_item *missing;
    size_t nmissing;
};

/* Takes ownership of data (also on failure). */
int items_add(struct items *it, const char *name, char *data, size_t len, bool truncated);
int items_add_copy(struct items *it, const char *name, const char *data, size_t len);
/* Records a cut from the middle of the item just added. */
void items_mark_cut(struct items *it, size_t at, uint64_t bytes);
void items_add_missing(struct items *it, const char *name, const char *reason);
/* Moves every item and missing entry of src into dst under prefix
 * ("pre-oom/90/"), leaving src empty. */
int items_move(struct items *dst, struct items *src, const char *prefix);
/* Fits the members under cap bytes in all by cutting the largest first; a
 * cut stderr.log keeps its end (where a crash is), others their start.
 * Marks what it cuts. Returns the bytes removed. */
size_t items_fit(struct items *it, size_t cap);
const struct item *items_find(const struct items *it, const char *name);
/* Drops the member called name, if there is one, keeping the others' order. */
void items_remove(struct items *it, const char *name);
void items_free(struct items *it);
