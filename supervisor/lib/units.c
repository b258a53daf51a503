/* SPDX-License-Identifier: MIT */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Reads an unsigned decimal number; *end is left after it. */
static int parse_u64_prefix(const char *s, uint64_t *out, const char **end)
{
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
        s++;
    }
    *out = v;
    *end = s;
    return 0;
}

static const struct {
    const char *name;
    unsigned shift;
} size_units[] = {
    {"", 0},     {"B", 0},     {"K", 10},   {"KiB", 10}, {"M", 20},
    {"MiB", 20}, {"G", 30},    {"GiB", 30}, {"T", 40},   {"TiB", 40},
};

int parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    const char *end;
    int r = parse_u64_prefix(s, &v, &end);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
        if (strcmp(end, size_units[i].name) != 0)
            continue;
        unsigned sh = size_units[i].shift;
        if (sh && v > (UINT64_MAX >> sh))
            return -ERANGE;
        *out = v << sh;
        return 0;
    }
    return -EINVAL;
}

void format_size(uint64_t v, char *buf, size_t len)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned i = 0;
    while (i + 1 < ARRAY_SIZE(names) && v != 0 && (v & 1023) == 0) {
        v >>= 10;
        i++;
    }
    snprintf(buf, len, "%llu%s", (unsigned long long)v, names[i]);
}

void format_size_human(uint64_t v, char *buf, size_t len)
{
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned i = 0;
    while (i + 1 < ARRAY_SIZE(names) && v >> (10 * (i + 1)))
        i++;
    uint64_t unit = 1ULL << (10 * i);
    if (v % unit == 0)
        snprintf(buf, len, "%llu%s", (unsigned long long)(v / unit), names[i]);
    else
        snprintf(buf, len, "%.1f%s", (double)v / (double)unit, names[i]);
}

static const struct {
    const char *name;
    uint64_t ms;
} duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
};

int parse_duration(const char *s, uint64_t *out_ms)
{
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    uint64_t total = 0;
    if (!*s)
        return -EINVAL;
    while (*s) {
        uint64_t v;
        const char *end;
        int r = parse_u64_prefix(s, &v, &end);
        if (r < 0)
            return r;
        size_t ulen = 0;
        while (isalpha((unsigned char)end[ulen]))
            ulen++;
        if (ulen == 0)
            return -EINVAL;
        uint64_t mul = 0;
        for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++)
            if (strlen(duration_units[i].name) == ulen &&
                strncmp(end, duration_units[i].name, ulen) == 0)
                mul = duration_units[i].ms;
        if (!mul)
            return -EINVAL;
        if (v > UINT64_MAX / mul || total > UINT64_MAX - v * mul)
            return -ERANGE;
        total += v * mul;
        s = end + ulen;
    }
    *out_ms = total;
    return 0;
}

void format_duration(uint64_t ms, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "0");
    else if (ms % 86400000 == 0)
        snprintf(buf, len, "%llud", (unsigned long long)(ms / 86400000));
    else if (ms % 3600000 == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

