/* SPDX-License-Identifier: MIT */
/* Text tables for a terminal (crashbox ls, top): columns aligned by display
 * width, not bytes (a `…` or an accented letter is one column, a CJK
 * character two), the whole row fitted to the terminal's width, and every
 * cut cell ending in `…`. Cell text is made safe to print: control
 * characters (an escape sequence in a crash message) and malformed UTF-8
 * never reach the terminal. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Pure: the display width of a UTF-8 string (malformed bytes count one). */
size_t utf8_width(const char *s);

/* Pure: a copy of s fitted to at most `width` columns, ending in `…` if
 * cut. Returns the columns used. */
size_t utf8_fit(const char *s, size_t width, char *out, size_t cap);

struct table_column {
    const char *header;
    size_t min;      /* narrowest it may be cut to; 0: never cut unless nothing else fits */
    size_t max;      /* cut to this first when the row does not fit; 0: none */
    int drop;        /* 0: always shown; else hidden, lowest first, when even the minimums do not fit */
    int shrink;      /* order in which cuttable columns give up width, lowest first */
    bool right;      /* numbers: aligned right */
    /* computed by table_print */
    size_t width;
    bool hidden;
};

struct table {
    struct table_column *cols; /* not owned */
    size_t ncols;
    char **cells; /* owned: nrows * ncols sanitized strings */
    size_t nrows, cap;
    /* An escape sequence to wrap around a cell's text (not its padding),
     * or NULL: colour for a terminal. */
    const char *(*colour)(size_t col, const char *text);
};

void table_init(struct table *t, struct table_column *cols, size_t ncols);
/* Adds a row of ncols cells (copied). Returns 0 or -ENOMEM. */
int table_add(struct table *t, const char *const *cells);
/* Lays the table out for `columns` and writes it, header first. */
void table_print(struct table *t, size_t columns);
void table_free(struct table *t);

/* The width to fit: $COLUMNS if set, else the terminal's (TIOCGWINSZ) when
 * stdout is one, else 80. */
size_t table_output_columns(void);
