/* SPDX-License-Identifier: MIT */
#include "table.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* One code point at s; malformed or overlong sequences are one byte of
 * U+FFFD, so no input can make the walk stall or skip a NUL. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return 1;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff))) {
        *cp = 0xfffd;
        return 1;
    }
    *cp = c;
    return len;
}

/* Columns a code point takes: wcwidth's answer for the ranges that matter
 * in log lines and names, without depending on the process's locale. */
static size_t cp_width(uint32_t c)
{
    if ((c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff) ||
        (c >= 0x200b && c <= 0x200f) || (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe00 && c <= 0xfe0f) ||
        c == 0xfeff)
        return 0;
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
        (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
        (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

size_t utf8_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        p += utf8_next(p, &c);
        w += cp_width(c);
    }
    return w;
}

size_t utf8_fit(const char *s, size_t width, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0, w = 0;
    /* Where the text stood when one column was still free for the `…`. */
    size_t cut_o = 0, cut_w = 0;
    bool cut_known = width == 0;
    while (*p) {
        uint32_t c;
        size_t n = utf8_next(p, &c), cw = cp_width(c);
        if (!cut_known && w + cw > width - 1) {
            cut_o = o;
            cut_w = w;
            cut_known = true;
        }
        if (w + cw > width || o + n + sizeof ELLIPSIS > cap)
            break;
        memcpy(out + o, p, n);
        o += n;
        w += cw;
        p += n;
    }
    if (*p && width > 0) {
        o = cut_known ? cut_o : o;
        w = cut_known ? cut_w : w;
        memcpy(out + o, ELLIPSIS, sizeof ELLIPSIS - 1);
        o += sizeof ELLIPSIS - 1;
        w++;
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return w;
}

/* A copy safe for a terminal: tabs and newlines become spaces, other
 * control characters '?', malformed UTF-8 U+FFFD. */
static char *sanitize(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        size_t len = utf8_next(p, &c);
        if (c == '\t' || c == '\n' || c == '\r') {
            out[o++] = ' ';
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
            out[o++] = '?';
        } else if (c == 0xfffd && len == 1) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
        } else {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = '\0';
    return out;
}

void table_init(struct table *t, struct table_column *cols, size_t ncols)
{
    *t = (struct table){.cols = cols, .ncols = ncols};
}

int table_add(struct table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **nc = realloc(t->cells, cap * t->ncols * sizeof *nc);
        if (!nc)
            return -ENOMEM;
        t->cells = nc;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = sanitize(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i--)
                free(row[i]);
            return -ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    *t = (struct table){0};
}

static size_t min_width(const struct table_column *c)
{
    return c->min && c->min < c->width ? c->min : c->width;
}

static size_t row_width(const struct table *t, bool minimum)
{
    size_t w = 0, n = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].hidden) {
            w += minimum ? min_width(&t->cols[i]) : t->cols[i].width;
            n++;
        }
    return w + (n ? 2 * (n - 1) : 0);
}

static void layout(struct table *t, size_t columns)
{
    for (size_t i = 0; i < t->ncols; i++) {
        struct table_column *c = &t->cols[i];
        c->hidden = false;
        c->width = utf8_width(c->header);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = utf8_width(t->cells[r * t->ncols + i]);
            if (w > c->width)
                c->width = w;
        }
    }
    /* Columns that matter less go before anything is cut below its minimum. */
    while (row_width(t, true) > columns) {
        struct table_column *victim = NULL;
        for (size_t i = 0; i < t->ncols; i++)
            if (!t->cols[i].hidden && t->cols[i].drop && (!victim || t->cols[i].drop < victim->drop))
                victim = &t->cols[i];
        if (!victim)
            break;
        victim->hidden = true;
    }
    size_t total = row_width(t, false);
    size_t excess = total > columns ? total - columns : 0;
    /* The widest cuttable column gives a column at a time, so the cut is
     * shared rather than one column cut to its minimum: first down to the
     * columns' usual widths (max), then to their minimums; then, on a
     * terminal narrower than every minimum, cuttable columns go down to a
     * few columns, and last of all any column down to one (a `…`). */
    for (int pass = 0; pass < 4 && excess; pass++) {
        while (excess) {
            struct table_column *widest = NULL;
            for (size_t i = 0; i < t->ncols; i++) {
                struct table_column *c = &t->cols[i];
                size_t floor = pass == 0 ? (c->max ? c->max : c->width) : pass == 1 ? min_width(c) : pass == 2 ? 4 : 1;
                if (c->hidden || (pass < 3 && !c->min) || c->width <= floor)
                    continue;
                if (!widest || c->width > widest->width || (c->width == widest->width && c->shrink < widest->shrink))
                    widest = c;
            }
            if (!widest)
                break;
            widest->width--;
            excess--;
        }
    }
}

static void print_row(const struct table *t, const char *const *cells, bool header)
{
    size_t last = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].hidden)
            last = i;
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        const struct table_column *c = &t->cols[i];
        if (c->hidden)
            continue;
        char buf[1024];
        size_t w = utf8_fit(cells[i], c->width, buf, sizeof buf);
        size_t pad = c->width > w ? c->width - w : 0;
        const char *on = !header && t->colour ? t->colour(i, cells[i]) : NULL;
        if (!first)
            fputs("  ", stdout);
        first = false;
        if (c->right)
            printf("%*s", (int)pad, "");
        printf("%s%s%s", on ? on : "", buf, on ? "\033[0m" : "");
        if (!c->right && i != last) /* no trailing blanks */
            printf("%*s", (int)pad, "");
    }
    putchar('\n');
}

void table_print(struct table *t, size_t columns)
{
    layout(t, columns);
    const char *head[64];
    for (size_t i = 0; i < t->ncols && i < 64; i++)
        head[i] = t->cols[i].header;
    print_row(t, head, true);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, (const char *const *)t->cells + r * t->ncols, false);
}

size_t table_output_columns(void)
{
    const char *env = getenv("COLUMNS");
    if (env && *env) {
        char *e;
        long v = strtol(env, &e, 10);
        if (!*e && v > 0 && v < 10000)
            return (size_t)v;
    }
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}
