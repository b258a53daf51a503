/* SPDX-License-Identifier: MIT */
#include "fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bundlename.h"
#include "bundledir.h"
#include "exitstatus.h"
#include "log.h"
#include "oncall.h"
#include "s3.h"
#include "shipconf.h"
#include "util.h"

static const char *opt_endpoint, *opt_region, *opt_addressing;

struct found {
    struct index_entry *v;
    char **keys;
    size_t n, cap;
};

/* Takes "x-amz-meta-crashbox-NAME: value" out of a reply's header lines. */
static void meta_get(const char *meta, const char *name, char *out, size_t cap)
{
    char want[64];
    int wl = snprintf(want, sizeof want, "x-amz-meta-crashbox-%s:", name);
    for (const char *p = meta; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (strncasecmp(p, want, (size_t)wl) == 0) {
            const char *v = p + wl;
            while (*v == ' ')
                v++;
            size_t vl = nl ? (size_t)(nl - v) : strlen(v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            char raw[1024];
            snprintf(raw, sizeof raw, "%.*s", (int)vl, v);
            ship_header_decode(strcmp(raw, "-") == 0 ? "" : raw, out, cap);
            return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

static void on_head(void *ctx, size_t i, int rc, const struct s3_reply *r)
{
    struct found *f = ctx;
    struct index_entry *e = &f->v[i];
    if (rc < 0) {
        snprintf(e->message, sizeof e->message, "(no summary: %.400s)", r->what);
        return;
    }
    meta_get(r->meta, "fingerprint", e->fingerprint, sizeof e->fingerprint);
    meta_get(r->meta, "culprit", e->culprit, sizeof e->culprit);
    meta_get(r->meta, "message", e->message, sizeof e->message);
}

/* One page of ListObjectsV2: every bundle-named key, and the token for the next. */
static int list_page(const char *xml, const struct s3_target *t, struct found *f, char *token, size_t tcap)
{
    size_t plen = strlen(t->prefix) + (t->prefix[0] ? 1 : 0);
    for (const char *p = strstr(xml, "<Contents>"); p; p = strstr(p + 1, "<Contents>")) {
        const char *end = strstr(p, "</Contents>");
        if (!end)
            break;
        char item[4096], key[2048], size[32] = "0";
        snprintf(item, sizeof item, "%.*s", (int)(end - p), p);
        if (s3_xml_text(item, "Key", key, sizeof key) < 0)
            continue;
        s3_xml_text(item, "Size", size, sizeof size);
        const char *base = strrchr(key, '/');
        base = base ? base + 1 : key;
        struct bundle_name_parts parts;
        if (!bundle_name_parse(base, &parts) || strlen(key) < plen)
            continue; /* not a bundle: not ours to list */
        if (f->n == f->cap) {
            size_t nc = f->cap ? f->cap * 2 : 1024;
            struct index_entry *nv = realloc(f->v, nc * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            f->v = nv;
            char **nk = realloc(f->keys, nc * sizeof *nk);
            if (!nk)
                return -ENOMEM;
            f->keys = nk;
            f->cap = nc;
        }
        struct index_entry *e = &f->v[f->n];
        *e = (struct index_entry){.type = 'B', .time = parts.time, .size = strtoull(size, NULL, 10)};
        snprintf(e->service, sizeof e->service, "%s", parts.service);
        snprintf(e->kind, sizeof e->kind, "%s", parts.kind);
        snprintf(e->name, sizeof e->name, "%s", key + plen);
        if (!(f->keys[f->n] = strdup(key)))
            return -ENOMEM;
        f->n++;
    }
    char trunc[16] = "";
    s3_xml_text(xml, "IsTruncated", trunc, sizeof trunc);
    token[0] = '\0';
    if (strcmp(trunc, "true") == 0 && s3_xml_text(xml, "NextContinuationToken", token, tcap) < 0)
        return -EBADMSG;
    return 0;
}

static int fleet_collect(const char *where, struct index_entry **v, size_t *n)
{
    struct s3_target t;
    if (s3_target_parse(where, &t) < 0) {
        fprintf(stderr, "crashbox: '%s' is not s3://BUCKET[/PREFIX]\n", where);
        return -EINVAL;
    }
    struct s3_conf conf;
    if (s3_conf_resolve(&conf, &t, opt_endpoint, opt_region, opt_addressing) < 0)
        return -EINVAL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -ENOMEM;
    struct s3 s;
    if (s3_open(&s, &conf) < 0)
        return -ENOMEM;
    struct found f = {0};
    char token[2048] = "", prefix[1200], eprefix[3700];
    snprintf(prefix, sizeof prefix, "%s%s", t.prefix, t.prefix[0] ? "/" : "");
    ship_uri_encode(prefix, false, eprefix, sizeof eprefix);
    int rc = 0;
    do {
        /* the query in SigV4's canonical order: keys sorted */
        char q[12288], etok[6200];
        if (ship_uri_encode(token, false, etok, sizeof etok) == (size_t)-1) {
            rc = -EBADMSG;
            break;
        }
        snprintf(q, sizeof q, "%s%s%slist-type=2&prefix=%s", token[0] ? "continuation-token=" : "", etok,
                 token[0] ? "&" : "", eprefix);
        struct s3_reply r = {0};
        rc = s3_request(&s, "GET", NULL, q, NULL, NULL, &r);
        if (rc < 0)
            fprintf(stderr, "crashbox: cannot list %s: %s\n", where, r.what);
        else
            rc = list_page(r.body ? r.body : "", &t, &f, token, sizeof token);
        s3_reply_free(&r);
    } while (rc == 0 && token[0]);
    if (rc == 0 && f.n)
        rc = s3_head_many(&s, (const char *const *)f.keys, f.n, 32, on_head, &f);
    for (size_t i = 0; i < f.n; i++)
        free(f.keys[i]);
    free(f.keys);
    s3_close(&s);
    curl_global_cleanup();
    if (rc < 0) {
        free(f.v);
        return rc;
    }
    *v = f.v;
    *n = f.n;
    return 0;
}

/* Fetches s3://BUCKET/KEY into dir/BASENAME (so show names the bundle by
 * its own name). Returns 0 or <0, having said why. */
static int fetch_bundle(const char *url, const char *dir, char *path, size_t cap)
{
    struct s3_target t;
    const char *base = strrchr(url, '/');
    if (s3_target_parse(url, &t) < 0 || !t.prefix[0] || !base || !base[1]) {
        fprintf(stderr, "crashbox show: '%s' is not s3://BUCKET/KEY of a bundle\n", url);
        return -EINVAL;
    }
    snprintf(path, cap, "%s/%s", dir, base + 1);
    struct s3_conf conf;
    if (s3_conf_resolve(&conf, &t, opt_endpoint, opt_region, opt_addressing) < 0)
        return -EINVAL;
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -errno;
    struct s3 s;
    if (s3_open(&s, &conf) < 0)
        return -ENOMEM;
    struct s3_reply r = {.to_sink = true, .sink_fd = fd};
    int rc = s3_request(&s, "GET", t.prefix, NULL, NULL, NULL, &r);
    if (rc < 0)
        fprintf(stderr, "crashbox show: cannot fetch %s: %s\n", url, r.what);
    s3_reply_free(&r);
    s3_close(&s);
    curl_global_cleanup();
    return rc;
}

/* show s3://BUCKET/KEY: the bundle fetched to a private temporary
 * directory, shown as a local one, then removed. */
static int fleet_show(int argc, char **argv)
{
    const char *tmpdir = getenv("TMPDIR");
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s/crashbox-show-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    char *dir = mkdtemp(dirbuf);
    if (!dir) {
        fprintf(stderr, "crashbox show: cannot make a temporary directory: %s\n", strerror(errno));
        return EXIT_CRASHBOX_SYSTEM;
    }
    char path[4400] = "";
    int code = EXIT_CRASHBOX_USAGE;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "s3://", 5) != 0)
            continue;
        int rc = fetch_bundle(argv[i], dir, path, sizeof path);
        if (rc < 0) {
            code = rc == -EINVAL ? EXIT_CRASHBOX_USAGE : 1;
            break;
        }
        argv[i] = path;
        code = oncall_show(argc, argv);
        break;
    }
    if (path[0])
        unlink(path);
    rmdir(dir);
    return code;
}

int fleet_main(int argc, char **argv)
{
    /* The store's own options come out here; the rest are ls's and top's. */
    _cleanup_free_ char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return 1;
    int k = 0;
    for (int i = 0; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--endpoint") ? &opt_endpoint
                            : !strcmp(argv[i], "--region") ? &opt_region
                            : !strcmp(argv[i], "--addressing") ? &opt_addressing : NULL;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
            continue;
        }
        rest[k++] = argv[i];
    }
    if (strcmp(argv[0], "show") == 0)
        return fleet_show(k, rest);
    oncall_remote = fleet_collect;
    return strcmp(argv[0], "top") == 0 ? oncall_top(k, rest) : oncall_ls(k, rest);
}
