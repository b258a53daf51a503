/* SPDX-License-Identifier: MIT */
#include "s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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
    *r = (struct s3_reply){0};
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
    if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
        const char *v = data + 5;
        size_t vl = n - 5;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        snprintf(r->etag, sizeof r->etag, "%.*s", (int)vl, v);
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

static int request_once(struct s3 *s, const char *method, const char *url, const struct curl_slist *headers,
                        const struct s3_body *body, struct s3_reply *r, CURLcode *cc)
{
    const struct s3_conf *c = s->conf;
    CURL *h = s->h;
    s3_reply_free(r);
    curl_easy_reset(h);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct xfer x = {.body = body, .r = r, .stop = s->stop};
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", c->region);
    _cleanup_free_ char *userpwd = NULL;
    if (asprintf(&userpwd, "%s:%s", c->creds.access_key, c->creds.secret_key) < 0)
        return -ENOMEM;
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    char token[4200];
    if (c->creds.session_token[0]) {
        snprintf(token, sizeof token, "x-amz-security-token: %s", c->creds.session_token);
        hl = curl_slist_append(hl, token);
    }
    for (const struct curl_slist *e = headers; e; e = e->next)
        hl = curl_slist_append(hl, e->data);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
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
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "crashbox-ship/" CRASHBOX_VERSION);
    if (strcmp(method, "PUT") == 0 && body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_body);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body->mem : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body->len : 0));
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    *cc = curl_easy_perform(h);
    curl_slist_free_all(hl);
    r->status = 0;
    if (*cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (*cc != CURLE_OK) {
        snprintf(r->what, sizeof r->what, "%s %.300s: %.180s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(*cc));
    } else if (r->status < 200 || r->status > 299 || (r->body && strstr(r->body, "<Error>"))) {
        /* CompleteMultipartUpload may answer 200 and put its error in the body. */
        char code[64] = "", msg[256] = "";
        s3_xml_text(r->body, "Code", code, sizeof code);
        s3_xml_text(r->body, "Message", msg, sizeof msg);
        if (r->status >= 200 && r->status <= 299)
            r->status = 500; /* S3 documents that error as one to retry */
        snprintf(r->what, sizeof r->what, "%s %.300s: HTTP %ld%s%.60s%s%.100s", method, url, r->status, code[0] ? " " : "",
                 code, msg[0] ? ": " : "", msg);
    }
    return 0;
}

int s3_request(struct s3 *s, const char *method, const char *key, const char *query,
               const struct curl_slist *headers, const struct s3_body *body, struct s3_reply *r)
{
    char url[4096];
    int rc = build_url(s->conf, key, query, url, sizeof url);
    if (rc < 0) {
        snprintf(r->what, sizeof r->what, "object key too long: %s", key);
        return rc;
    }
    long delay_ms = 250;
    for (int attempt = 1;; attempt++) {
        CURLcode cc;
        if ((rc = request_once(s, method, url, headers, body, r, &cc)) < 0)
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
