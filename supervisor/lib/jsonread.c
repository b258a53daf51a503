/* SPDX-License-Identifier: MIT */
#include "jsonread.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define JV_MAX_DEPTH 64

struct parser {
    const char *p, *end;
    int depth;
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void put_utf8(char *o, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        o[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*n)++] = (char)(0xc0 | (cp >> 6));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xe0 | (cp >> 12));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*n)++] = (char)(0xf0 | (cp >> 18));
        o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *parse_string(struct parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return NULL;
    ps->p++;
    const char *start = ps->p;
    size_t cap = 0;
    for (const char *q = start; q < ps->end && *q != '"'; q++, cap++)
        if (*q == '\\')
            q++, cap++;
    char *o = malloc(cap * 2 + 1);
    if (!o)
        return NULL;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if ((unsigned char)c < 0x20)
            goto fail;
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        if (ps->p >= ps->end)
            goto fail;
        char e = *ps->p++;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                goto fail;
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned lo;
                if (hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                }
            }
            if (cp == 0)
                cp = 0xfffd; /* a NUL would end the C string */
            put_utf8(o, &n, cp);
            break;
        }
        default:
            goto fail;
        }
    }
    if (ps->p >= ps->end)
        goto fail;
    ps->p++;
    o[n] = '\0';
    return o;
fail:
    free(o);
    return NULL;
}

static struct jv *parse_value(struct parser *ps);

static struct jv *parse_container(struct parser *ps, bool object)
{
    struct jv *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->type = object ? JV_OBJECT : JV_ARRAY;
    ps->p++;
    struct jv **tail = &v->child;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            key = parse_string(ps);
            skip_ws(ps);
            if (!key || ps->p >= ps->end || *ps->p != ':') {
                free(key);
                goto fail;
            }
            ps->p++;
        }
        struct jv *c = parse_value(ps);
        if (!c) {
            free(key);
            goto fail;
        }
        c->key = key;
        *tail = c;
        tail = &c->next;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
            ps->p++;
            return v;
        }
        goto fail;
    }
fail:
    jv_free(v);
    return NULL;
}

static struct jv *parse_value(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end || ps->depth >= JV_MAX_DEPTH)
        return NULL;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        ps->depth++;
        struct jv *v = parse_container(ps, c == '{');
        ps->depth--;
        return v;
    }
    struct jv *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    size_t left = (size_t)(ps->end - ps->p);
    if (c == '"') {
        v->type = JV_STRING;
        if (!(v->str = parse_string(ps)))
            goto fail;
    } else if (left >= 4 && memcmp(ps->p, "null", 4) == 0) {
        v->type = JV_NULL;
        ps->p += 4;
    } else if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
        v->type = JV_BOOL;
        v->b = true;
        ps->p += 4;
    } else if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
        v->type = JV_BOOL;
        ps->p += 5;
    } else if (c == '-' || isdigit((unsigned char)c)) {
        char num[64];
        size_t n = 0;
        while (ps->p < ps->end && n < sizeof num - 1 &&
               (isdigit((unsigned char)*ps->p) || strchr("+-.eE", *ps->p)))
            num[n++] = *ps->p++;
        num[n] = '\0';
        char *e;
        v->type = JV_NUMBER;
        v->num = strtod(num, &e);
        if (*e)
            goto fail;
    } else {
        goto fail;
    }
    return v;
fail:
    jv_free(v);
    return NULL;
}

struct jv *jv_parse(const char *buf, size_t len)
{
    struct parser ps = {buf, buf + len, 0};
    struct jv *v = parse_value(&ps);
    skip_ws(&ps);
    if (v && ps.p != ps.end) {
        jv_free(v);
        return NULL;
    }
    return v;
}

void jv_free(struct jv *v)
{
    while (v) {
        struct jv *next = v->next;
        jv_free(v->child);
        free(v->str);
        free(v->key);
        free(v);
        v = next;
    }
}

const struct jv *jv_get(const struct jv *obj, const char *key)
{
    if (!obj || obj->type != JV_OBJECT)
        return NULL;
    for (const struct jv *c = obj->child; c; c = c->next)
        if (c->key && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

const struct jv *jv_path(const struct jv *v, const char *path)
{
    char part[128];
    while (v && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        v = jv_get(v, part);
        path += n + (dot ? 1 : 0);
    }
    return v;
}

const char *jv_str(const struct jv *v, const char *path)
{
    const struct jv *x = jv_path(v, path);
    return x && x->type == JV_STRING ? x->str : NULL;
}

double jv_num(const struct jv *v, const char *path, double dflt)
{
    const struct jv *x = jv_path(v, path);
    return x && x->type == JV_NUMBER ? x->num : dflt;
}
