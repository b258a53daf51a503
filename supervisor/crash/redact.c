/* SPDX-License-Identifier: MIT */
#include "redact.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool contains_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return true;
    return false;
}

bool redact_is_secret_name(const char *name, size_t len, const struct strlist *extra)
{
    static const char *const words[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY",
                                        "CREDENTIAL", "PRIVATE"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (contains_ci(name, len, words[i]))
            return true;
    if (len >= 4 && strncasecmp(name, "AWS_", 4) == 0)
        return true;
    if (extra && extra->n) {
        char buf[256];
        if (len >= sizeof buf)
            return true; /* absurdly long names are not worth the risk */
        memcpy(buf, name, len);
        buf[len] = '\0';
        for (size_t i = 0; i < extra->n; i++)
            if (fnmatch(extra->items[i], buf, 0) == 0)
                return true;
    }
    return false;
}

int redact_environ(const char *buf, size_t len, const struct strlist *extra, char **out, size_t *out_len)
{
    static const char mark[] = "[redacted]";
    char *o = malloc(len + 1 + (len / 2 + 1) * sizeof mark); /* each entry grows by at most mark */
    if (!o)
        return -ENOMEM;
    size_t n = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        const char *e = z ? z : end;
        if (e > p) {
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq && redact_is_secret_name(p, (size_t)(eq - p), extra)) {
                memcpy(o + n, p, (size_t)(eq - p) + 1);
                n += (size_t)(eq - p) + 1;
                memcpy(o + n, mark, sizeof mark - 1);
                n += sizeof mark - 1;
            } else {
                memcpy(o + n, p, (size_t)(e - p));
                n += (size_t)(e - p);
            }
            o[n++] = '\n';
        }
        p = z ? z + 1 : end;
    }
    *out = o;
    *out_len = n;
    return 0;
}
