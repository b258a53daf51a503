/* SPDX-License-Identifier: MIT */
#include "tar.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void tar_init(struct tar *t, tar_sink_fn sink, void *ctx, time_t mtime)
{
    *t = (struct tar){.sink = sink, .ctx = ctx, .mtime = mtime};
}

static void octal(char *field, size_t width, uint64_t v)
{
    /* width-1 digits and a NUL, as ustar wants; callers keep v in range. */
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

void tar_header(char hdr[512], const char *name, uint64_t size, unsigned mode, time_t mtime, char type)
{
    memset(hdr, 0, 512);
    strncpy(hdr, name, 100); /* may fill all 100 bytes without a NUL: allowed */
    octal(hdr + 100, 8, mode & 07777);
    octal(hdr + 108, 8, 0);
    octal(hdr + 116, 8, 0);
    octal(hdr + 124, 12, size < 077777777777ULL ? size : 0);
    octal(hdr + 136, 12, (uint64_t)(mtime > 0 ? mtime : 0));
    hdr[156] = type;
    memcpy(hdr + 257, "ustar", 6); /* magic "ustar\0" */
    memcpy(hdr + 263, "00", 2);
    memcpy(hdr + 265, "root", 4);
    memcpy(hdr + 297, "root", 4);
    memset(hdr + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)hdr[i];
    snprintf(hdr + 148, 8, "%06o", sum);
    hdr[155] = ' ';
}

static int emit(struct tar *t, const void *buf, size_t len)
{
    if (t->error)
        return t->error;
    int r = t->sink(t->ctx, buf, len);
    if (r < 0)
        t->error = r;
    return r < 0 ? r : 0;
}

int tar_pad(struct tar *t, uint64_t len)
{
    static const char zeros[512];
    size_t rem = (size_t)(len % 512);
    return rem ? emit(t, zeros, 512 - rem) : 0;
}

/* One pax record: "LEN key=value\n", where LEN counts itself. */
static size_t pax_record(char *out, size_t cap, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t total = body + 1;
    while (total != body + (size_t)snprintf(NULL, 0, "%zu", total))
        total = body + (size_t)snprintf(NULL, 0, "%zu", total);
    snprintf(out, cap, "%zu %s=%s\n", total, key, value);
    return total;
}

int tar_add_header(struct tar *t, const char *name, uint64_t len, unsigned mode)
{
    char hdr[512];
    bool long_name = strlen(name) > 100;
    bool big = len >= 077777777777ULL;
    if (long_name || big) {
        char pax[8192];
        size_t n = 0;
        if (long_name && strlen(name) < 4000)
            n += pax_record(pax + n, sizeof pax - n, "path", name);
        if (big) {
            char sz[32];
            snprintf(sz, sizeof sz, "%llu", (unsigned long long)len);
            n += pax_record(pax + n, sizeof pax - n, "size", sz);
        }
        tar_header(hdr, "././@PaxHeader", n, 0644, t->mtime, 'x');
        int r = emit(t, hdr, 512);
        if (!r)
            r = emit(t, pax, n);
        if (!r)
            r = tar_pad(t, n);
        if (r)
            return r;
    }
    tar_header(hdr, name, len, mode, t->mtime, '0');
    return emit(t, hdr, 512);
}

int tar_add(struct tar *t, const char *name, const void *data, size_t len, unsigned mode)
{
    int r = tar_add_header(t, name, len, mode);
    if (!r && len)
        r = emit(t, data, len);
    if (!r)
        r = tar_pad(t, len);
    return r;
}

int tar_finish(struct tar *t)
{
    static const char zeros[1024];
    return emit(t, zeros, sizeof zeros);
}
