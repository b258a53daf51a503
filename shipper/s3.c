/* SPDX-License-Identifier: MIT */
#include "s3.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include "log.h"
#include "util.h"

#define REPLY_CAP (1 << 20) /* answers are XML lists and errors */

int s3_open(struct s3 *s, const struct s3_conf *conf)
{
    *s = (struct s3){.conf = conf, .attempts = 5};
    s->h = curl_easy_init();
    return s->h ? 0 : -ENOMEM;
}

void s3_close(struct s3 *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    s->h = NULL;
}

void s3_reply_free(struct s3_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->meta_len = 0;
    r->status = 0;
    r->etag[0] = r->what[0] = r->meta[0] = '\0';
}

struct xfer {
    const struct s3_body *body;
    uint64_t sent;
    struct s3_reply *r;
    volatile sig_atomic_t *stop;
};

/* Streams the body from its file with pread, so a bundle of gigabytes
 * never sits in memory and a retry starts again from its own offset. */
static size_t read_body(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    uint64_t left = x->body->len - x->sent;
    size_t want = size * nmemb < left ? size * nmemb : (size_t)left;
    if (!want)
        return 0;
    if (x->body->fd < 0) {
        memcpy(buf, x->body->mem + x->sent, want);
        x->sent += want;
        return want;
    }
    ssize_t n;
    do
        n = pread(x->body->fd, buf, want, x->body->off + (off_t)x->sent);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return CURL_READFUNC_ABORT; /* the file shrank or failed: never send a short object */
    x->sent += (uint64_t)n;
    return (size_t)n;
}

static int seek_body(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->body->len)
        return CURL_SEEKFUNC_FAIL;
    x->sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t write_reply(char *data, size_t size, size_t nmemb, void *ud)
{
    struct s3_reply *r = ud;
    if (r->to_sink && r->status >= 200 && r->status <= 299)
        return write_all(r->sink_fd, data, size * nmemb) == 0 ? size * nmemb : 0;
    size_t n = size * nmemb, keep = r->len + n > REPLY_CAP ? REPLY_CAP - r->len : n;
    char *nb = realloc(r->body, r->len + keep + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, keep);
    r->len += keep;
    nb[r->len] = '\0';
    r->body = nb;
    return n;
}

static size_t read_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct s3_reply *r = ud;
    size_t n = size * nmemb;
    /* the status line of each answer (a 100 Continue, then the final one) */
    if (n > 9 && strncmp(data, "HTTP/", 5) == 0) {
        const char *sp = memchr(data, ' ', n);
        if (sp)
            r->status = strtol(sp + 1, NULL, 10);
    }
    if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
        const char *v = data + 5;
        size_t vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        snprintf(r->etag, sizeof r->etag, "%.*s", (int)vl, v);
    }
    if (n > 11 && strncasecmp(data, "x-amz-meta-", 11) == 0 && r->meta_len + n < sizeof r->meta) {
        memcpy(r->meta + r->meta_len, data, n);
        r->meta_len += n;
        r->meta[r->meta_len] = '\0';
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct xfer *x = ud;
    return x->stop && *x->stop ? 1 : 0;
}

int s3_xml_text(const char *xml, const char *tag, char *out, size_t cap)
{
    char open[80], close[80];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = xml ? strstr(xml, open) : NULL;
    const char *b = a ? strstr(a, close) : NULL;
    if (!b || !cap)
        return -ENOENT;
    a += strlen(open);
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t n = 0;
    while (a < b && n + 1 < cap) {
        bool done = false;
        for (size_t i = 0; *a == '&' && i < ARRAY_SIZE(ents) && !done; i++) {
            size_t el = strlen(ents[i].ent);
            if ((size_t)(b - a) >= el && strncmp(a, ents[i].ent, el) == 0) {
                out[n++] = ents[i].c;
                a += el;
                done = true;
            }
        }
        if (!done)
            out[n++] = *a++;
    }
    out[n] = '\0';
    return 0;
}

static int build_url(const struct s3_conf *c, const char *key, const char *query, char *out, size_t cap)
{
    char ekey[3200];
    if (ship_uri_encode(key ? key : "", true, ekey, sizeof ekey) == (size_t)-1)
        return -ENAMETOOLONG;
    const char *q = query && *query ? "?" : "";
    int n;
    if (c->virtual_hosted) {
        const char *sep = strstr(c->endpoint, "://");
        const char *host = sep ? sep + 3 : c->endpoint;
        n = snprintf(out, cap, "%.*s%s.%s/%s%s%s", (int)(host - c->endpoint), c->endpoint, c->bucket, host, ekey,
                     q, query ? query : "");
    } else {
        n = snprintf(out, cap, "%s/%s%s%s%s%s", c->endpoint, c->bucket, key ? "/" : "", ekey, q,
                     query ? query : "");
    }
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static bool worth_retrying(CURLcode cc, long status)
{
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return false;
    if (cc != CURLE_OK)
        return cc != CURLE_READ_ERROR && cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL;
    return status >= 500 || status == 429 || status == 408;
}

/* One transfer's own state, so that several can run at once (HEADs). */
struct s3_call {
    struct xfer x;
    struct curl_slist *hl;
    char *userpwd;
    char errbuf[CURL_ERROR_SIZE];
    char url[4096];
    const char *method;
};

static void call_free(struct s3_call *k)
{
    curl_slist_free_all(k->hl);
    free(k->userpwd);
    k->hl = NULL;
    k->userpwd = NULL;
}

static int call_setup(CURL *h, const struct s3_conf *c, struct s3_call *k, const char *method,
                      const struct curl_slist *headers, const struct s3_body *body, struct s3_reply *r,
                      volatile sig_atomic_t *stop)
{
    s3_reply_free(r);
    /* each try writes the body from its start */
    if (r->to_sink && (ftruncate(r->sink_fd, 0) < 0 || lseek(r->sink_fd, 0, SEEK_SET) < 0))
        return -errno;
    curl_easy_reset(h);
    k->errbuf[0] = '\0';
    k->method = method;
    k->x = (struct xfer){.body = body, .r = r, .stop = stop};
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", c->region);
    if (asprintf(&k->userpwd, "%s:%s", c->creds.access_key, c->creds.secret_key) < 0) {
        k->userpwd = NULL;
        return -ENOMEM;
    }
    k->hl = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (c->creds.session_token[0]) {
        char token[4200];
        snprintf(token, sizeof token, "x-amz-security-token: %s", c->creds.session_token);
        k->hl = curl_slist_append(k->hl, token);
    }
    for (const struct curl_slist *e = headers; e; e = e->next)
        k->hl = curl_slist_append(k->hl, e->data);

    curl_easy_setopt(h, CURLOPT_URL, k->url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, k->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, k->hl);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, k->errbuf);
    curl_easy_setopt(h, CURLOPT_PRIVATE, k);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A store that stops answering mid-transfer is a failure to retry, not a hang. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_reply);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &k->x);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "crashbox-ship/" CRASHBOX_VERSION);
    if (strcmp(method, "PUT") == 0 && body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &k->x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &k->x);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body->mem : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body->len : 0));
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
}

/* Sets r->status and, for a failure, r->what. */
static void call_finish(CURL *h, struct s3_call *k, CURLcode cc, struct s3_reply *r)
{
    r->status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (cc != CURLE_OK) {
        snprintf(r->what, sizeof r->what, "%s %.300s: %.180s", k->method, k->url,
                 k->errbuf[0] ? k->errbuf : curl_easy_strerror(cc));
    } else if (r->status < 200 || r->status > 299 || (r->body && strstr(r->body, "<Error>"))) {
        /* CompleteMultipartUpload may answer 200 and put its error in the body. */
        char code[64] = "", msg[256] = "";
        s3_xml_text(r->body, "Code", code, sizeof code);
        s3_xml_text(r->body, "Message", msg, sizeof msg);
        if (r->status >= 200 && r->status <= 299)
            r->status = 500; /* S3 documents that error as one to retry */
        snprintf(r->what, sizeof r->what, "%s %.300s: HTTP %ld%s%.60s%s%.100s", k->method, k->url, r->status,
                 code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
    }
    call_free(k);
}

static int request_once(struct s3 *s, struct s3_call *k, const char *method, const struct curl_slist *headers,
                        const struct s3_body *body, struct s3_reply *r, CURLcode *cc)
{
    int rc = call_setup(s->h, s->conf, k, method, headers, body, r, s->stop);
    if (rc < 0) {
        call_free(k);
        return rc;
    }
    *cc = curl_easy_perform(s->h);
    call_finish(s->h, k, *cc, r);
    return 0;
}

int s3_request(struct s3 *s, const char *method, const char *key, const char *query,
               const struct curl_slist *headers, const struct s3_body *body, struct s3_reply *r)
{
    struct s3_call k = {0};
    int rc = build_url(s->conf, key, query, k.url, sizeof k.url);
    if (rc < 0) {
        snprintf(r->what, sizeof r->what, "object key too long: %s", key);
        return rc;
    }
    long delay_ms = 250;
    for (int attempt = 1;; attempt++) {
        CURLcode cc;
        if ((rc = request_once(s, &k, method, headers, body, r, &cc)) < 0)
            return rc;
        if (cc == CURLE_OK && r->status >= 200 && r->status <= 299)
            return 0;
        if (cc == CURLE_ABORTED_BY_CALLBACK || (s->stop && *s->stop))
            return -EINTR;
        if (!worth_retrying(cc, r->status)) {
            if (cc != CURLE_OK)
                return -EIO;
            return r->status == 403 ? -EACCES : r->status == 404 ? -ENOENT : -EIO;
        }
        if (attempt >= s->attempts)
            return -EAGAIN;
        log_info("ship: %s; retrying in %ld ms", r->what, delay_ms);
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !(s->stop && *s->stop))
            ;
        delay_ms = delay_ms * 2 > 8000 ? 8000 : delay_ms * 2;
    }
}

int s3_request_many(struct s3 *s, const struct s3_job *jobs, size_t n, int parallel, s3_reply_fn fn, void *ctx)
{
    struct slot {
        CURL *h;
        struct s3_call k;
        struct s3_reply r;
        size_t i;
    };
    if (parallel < 1)
        parallel = 1;
    CURLM *m = curl_multi_init();
    _cleanup_free_ struct slot *slots = calloc((size_t)parallel, sizeof *slots);
    if (!m || !slots) {
        if (m)
            curl_multi_cleanup(m);
        return -ENOMEM;
    }
    int rc = 0;
    for (int j = 0; j < parallel && rc == 0; j++)
        if (!(slots[j].h = curl_easy_init()))
            rc = -ENOMEM;
    size_t next = 0, running = 0;
    while (rc == 0 && (next < n || running)) {
        for (int j = 0; j < parallel && next < n; j++) {
            struct slot *sl = &slots[j];
            if (sl->k.method)
                continue; /* busy */
            sl->i = next++;
            const struct s3_job *jb = &jobs[sl->i];
            if (build_url(s->conf, jb->key, jb->query, sl->k.url, sizeof sl->k.url) < 0 ||
                call_setup(sl->h, s->conf, &sl->k, jb->method, jb->headers, jb->body, &sl->r, s->stop) < 0) {
                call_free(&sl->k);
                sl->k.method = NULL;
                fn(ctx, sl->i, -ENAMETOOLONG, &sl->r);
                continue;
            }
            curl_multi_add_handle(m, sl->h);
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct s3_call *k;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&k);
            struct slot *sl = (struct slot *)((char *)k - offsetof(struct slot, k));
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(m, sl->h);
            running--;
            call_finish(sl->h, &sl->k, cc, &sl->r);
            sl->k.method = NULL;
            int one = 0;
            if (cc != CURLE_OK || sl->r.status < 200 || sl->r.status > 299) {
                /* the odd failure: once more, alone, with the usual retries */
                const struct s3_job *jb = &jobs[sl->i];
                one = s->stop && *s->stop ? -EINTR
                                          : s3_request(s, jb->method, jb->key, jb->query, jb->headers, jb->body, &sl->r);
            }
            fn(ctx, sl->i, one, &sl->r);
            s3_reply_free(&sl->r);
        }
        if (s->stop && *s->stop)
            rc = -EINTR;
        else if (running)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    for (int j = 0; j < parallel; j++) {
        if (slots[j].h) {
            curl_multi_remove_handle(m, slots[j].h);
            curl_easy_cleanup(slots[j].h);
        }
        call_free(&slots[j].k);
        s3_reply_free(&slots[j].r);
    }
    curl_multi_cleanup(m);
    return rc;
}

int s3_conf_resolve(struct s3_conf *c, const struct s3_target *t, const char *endpoint, const char *region,
                        const char *addressing)
{
    *c = (struct s3_conf){0};
    snprintf(c->bucket, sizeof c->bucket, "%s", t->bucket);
    const char *r = region;
    if (!r || !*r)
        r = getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    snprintf(c->region, sizeof c->region, "%s", r && *r ? r : "us-east-1");
    const char *ep = endpoint;
    if (!ep || !*ep)
        ep = getenv("AWS_ENDPOINT_URL_S3");
    if (!ep || !*ep)
        ep = getenv("AWS_ENDPOINT_URL");
    bool custom = ep && *ep;
    if (custom) {
        if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
            fprintf(stderr, "crashbox: endpoint '%s' is not an http:// or https:// URL\n", ep);
            return -EINVAL;
        }
        snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
        size_t n = strlen(c->endpoint);
        while (n && c->endpoint[n - 1] == '/')
            c->endpoint[--n] = '\0';
        if (strchr(strstr(c->endpoint, "://") + 3, '/')) {
            fprintf(stderr, "crashbox: endpoint '%s' has a path; give only scheme://host[:port]\n", ep);
            return -EINVAL;
        }
    } else {
        snprintf(c->endpoint, sizeof c->endpoint, "https://s3.%s.amazonaws.com", c->region);
    }
    /* AWS itself: virtual-hosted (path-style is deprecated there); another
     * store (MinIO, Ceph RGW, a test server): path-style, which every one
     * of them serves without DNS for each bucket. */
    c->virtual_hosted = !custom;
    if (addressing && strcmp(addressing, "virtual") == 0)
        c->virtual_hosted = true;
    else if (addressing && strcmp(addressing, "path") == 0)
        c->virtual_hosted = false;
    else if (addressing) {
        fprintf(stderr, "crashbox: --addressing is path or virtual, not '%s'\n", addressing);
        return -EINVAL;
    }
    if (c->virtual_hosted && strchr(c->bucket, '.') && strncmp(c->endpoint, "https://", 8) == 0)
        log_warn("ship: bucket '%s' has a '.': its virtual host will not match the store's certificate; "
                 "use --addressing path", c->bucket);

    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        snprintf(c->creds.access_key, sizeof c->creds.access_key, "%s", ak);
        snprintf(c->creds.secret_key, sizeof c->creds.secret_key, "%s", sk);
        const char *tok = getenv("AWS_SESSION_TOKEN");
        snprintf(c->creds.session_token, sizeof c->creds.session_token, "%s", tok ? tok : "");
        return 0;
    }
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
    char path[4096];
    if (file && *file)
        snprintf(path, sizeof path, "%s", file);
    else
        snprintf(path, sizeof path, "%s/.aws/credentials", home && *home ? home : "/root");
    const char *profile = getenv("AWS_PROFILE");
    if (!profile || !*profile)
        profile = "default";
    _cleanup_free_ char *buf = NULL;
    size_t len;
    int rc = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
    const char *why = rc < 0 ? strerror(-rc) : NULL;
    if (rc == 0 && (rc = aws_credentials_parse(buf, len, profile, &c->creds)) < 0)
        why = rc == -ENOENT ? "it has no such profile" : "that profile lacks a key";
    if (rc < 0) {
        fprintf(stderr,
                "crashbox: no credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and %s: %s\n",
                path, why);
        fprintf(stderr, "crashbox: (profile '%s'; AWS_PROFILE and AWS_SHARED_CREDENTIALS_FILE choose another)\n",
                profile);
        return -EINVAL;
    }
    return 0;
}


int s3_head_many(struct s3 *s, const char *const *keys, size_t n, int parallel, s3_reply_fn fn, void *ctx)
{
    _cleanup_free_ struct s3_job *jobs = calloc(n + 1, sizeof *jobs);
    if (!jobs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        jobs[i] = (struct s3_job){.method = "HEAD", .key = keys[i]};
    return s3_request_many(s, jobs, n, parallel, fn, ctx);
}
