/* SPDX-License-Identifier: MIT */
/* Collected "file:line: message" diagnostics, for parsers that report every
 * error at once instead of stopping at the first. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "util.h"

#define DIAGS_MAX 100

struct diag {
    char *file;    /* owned */
    unsigned line; /* 0: about the whole file */
    char *msg;     /* owned */
};

struct diags {
    struct diag *v; /* owned */
    size_t n;
    size_t dropped; /* errors past DIAGS_MAX, counted only */
};

void diags_add(struct diags *d, const char *file, unsigned line, const char *fmt, ...)
    _printf_(4, 5);
void diags_print(const struct diags *d, FILE *f);
void diags_free(struct diags *d);
