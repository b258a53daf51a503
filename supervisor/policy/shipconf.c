/* SPDX-License-Identifier: MIT */
#include "shipconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int s3_target_parse(const char *url, struct s3_target *t)
{
    *t = (struct s3_target){0};
    if (strncmp(url, "s3://", 5) != 0)
        return -EINVAL;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    /* S3's own bucket rules: 3..63 of [a-z0-9.-]; they also make the name
     * safe as a host name label for virtual-hosted addressing. */
    if (bl < 3 || bl >= sizeof t->bucket)
        return -EINVAL;
    for (size_t i = 0; i < bl; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' || b[i] == '.'))
            return -EINVAL;
    memcpy(t->bucket, b, bl);
    const char *p = slash ? slash + 1 : "";
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    if (pl >= sizeof t->prefix)
        return -EINVAL;
    memcpy(t->prefix, p, pl);
    return 0;
}

static const char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int aws_credentials_parse(const char *buf, size_t len, const char *profile, struct aws_creds *out)
{
    *out = (struct aws_creds){0};
    bool in = false, found = false;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[4600];
        if (ll >= sizeof line)
            ll = sizeof line - 1;
        memcpy(line, p, ll);
        line[ll] = '\0';
        p = nl ? nl + 1 : end;
        char *s = (char *)trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                continue;
            *close = '\0';
            const char *name = trim(s + 1);
            /* the config file spells it "[profile NAME]"; accept both */
            if (strncmp(name, "profile ", 8) == 0)
                name = trim((char *)name + 8);
            in = strcmp(name, profile) == 0;
            found |= in;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in || !eq)
            continue;
        *eq = '\0';
        const char *k = trim(s), *v = trim(eq + 1);
        if (strcmp(k, "aws_access_key_id") == 0)
            snprintf(out->access_key, sizeof out->access_key, "%s", v);
        else if (strcmp(k, "aws_secret_access_key") == 0)
            snprintf(out->secret_key, sizeof out->secret_key, "%s", v);
        else if (strcmp(k, "aws_session_token") == 0)
            snprintf(out->session_token, sizeof out->session_token, "%s", v);
    }
    if (!found)
        return -ENOENT;
    return out->access_key[0] && out->secret_key[0] ? 0 : -EINVAL;
}

int ship_object_key(const char *prefix, const char *service, time_t t, const char *bundle, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, cap, "%s%s%s/%04d/%02d/%02d/%s", prefix, *prefix ? "/" : "", service,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, bundle);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static const char hexdig[] = "0123456789ABCDEF";

size_t ship_header_encode(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)in; *s; s++) {
        bool plain = *s >= 0x20 && *s < 0x7f && *s != '%';
        size_t need = plain ? 1 : 3;
        if (n + need + 1 > cap)
            break;
        if (plain) {
            out[n++] = (char)*s;
        } else {
            out[n++] = '%';
            out[n++] = hexdig[*s >> 4];
            out[n++] = hexdig[*s & 15];
        }
    }
    if (cap)
        out[n] = '\0';
    return n;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

size_t ship_header_decode(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = in; *s && n + 1 < cap; s++) {
        int hi, lo;
        if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            s += 2;
        } else {
            out[n++] = *s;
        }
    }
    if (cap)
        out[n] = '\0';
    return n;
}

size_t ship_uri_encode(const char *s, bool keep_slash, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (n + (plain ? 1 : 3) + 1 > cap)
            return (size_t)-1;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hexdig[*p >> 4];
            out[n++] = hexdig[*p & 15];
        }
    }
    out[n] = '\0';
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ship_journal_parse(char *buf, size_t len, char ***names, size_t *n)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    char **v = malloc(cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* torn by a crash mid-append: that upload was never confirmed here */
        *nl = '\0';
        char *tab;
        if (strncmp(p, "v1\t", 3) == 0 && (tab = strchr(p + 3, '\t'))) {
            *tab = '\0';
            v[k++] = p + 3;
        }
        p = nl + 1;
    }
    if (k)
        qsort(v, k, sizeof *v, cmp_str);
    *names = v;
    *n = k;
    return 0;
}

bool ship_journal_has(char *const *names, size_t n, const char *name)
{
    return n && bsearch(&name, names, n, sizeof *names, cmp_str);
}

size_t ship_journal_format(const char *name, const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "v1\t%s\t%s\n", name, key);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
