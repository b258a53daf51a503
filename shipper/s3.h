/* SPDX-License-Identifier: MIT */
/* A small S3 client over libcurl: the requests the shipper needs (PUT
 * object, the multipart upload calls, HEAD, list). libcurl signs every
 * request itself (CURLOPT_AWS_SIGV4); the payload is declared
 * UNSIGNED-PAYLOAD so a body streams from its file without being hashed. */
#pragma once

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "shipconf.h"

struct s3_conf {
    char endpoint[512]; /* scheme://host[:port], no trailing '/' */
    char region[64];
    char bucket[64];
    bool virtual_hosted; /* BUCKET.host/KEY rather than host/BUCKET/KEY */
    struct aws_creds creds;
};

struct s3 {
    CURL *h;
    const struct s3_conf *conf;
    volatile sig_atomic_t *stop; /* set by a signal: the transfer in flight ends */
    int attempts;                /* per request, for answers worth retrying */
};

struct s3_reply {
    long status;
    char *body; /* owned, NUL-terminated, capped */
    size_t len;
    char etag[128];
    char what[512]; /* why it failed, for a person */
    char meta[4096]; /* the x-amz-meta-* header lines, as they came */
    size_t meta_len;
    bool to_sink; /* a 2xx body goes to sink_fd (rewound for each try), not to body */
    int sink_fd;
};

/* A request body: len bytes of fd from off, or of mem when fd < 0. */
struct s3_body {
    int fd;
    off_t off;
    uint64_t len;
    const char *mem;
};

/* The store's address, region and credentials, from the arguments given
 * (NULL: not given), then the standard AWS environment and shared
 * credentials file. Returns 0, or -EINVAL after saying why on stderr. */
int s3_conf_resolve(struct s3_conf *c, const struct s3_target *t, const char *endpoint, const char *region,
                    const char *addressing);

int s3_open(struct s3 *s, const struct s3_conf *conf);
void s3_close(struct s3 *s);
void s3_reply_free(struct s3_reply *r);

/* One request, retried with back-off while the answer says to (no answer,
 * 5xx, 429). query is in canonical form (keys sorted, values encoded).
 * Returns 0 for 2xx; -EAGAIN when it never got through; -EACCES (403),
 * -ENOENT (404) or -EIO for other refusals; -EINTR when stopped. r->what says why. */
int s3_request(struct s3 *s, const char *method, const char *key, const char *query,
               const struct curl_slist *headers, const struct s3_body *body, struct s3_reply *r);

/* n requests, up to `parallel` at once; one that fails is tried again
 * alone, retried as s3_request does. Calls fn(ctx, i, rc, reply) for each.
 * Returns 0, -ENOMEM, or -EINTR when stopped. */
typedef void (*s3_reply_fn)(void *ctx, size_t i, int rc, const struct s3_reply *r);
struct s3_job {
    const char *method, *key, *query;
    const struct curl_slist *headers;
    const struct s3_body *body;
};
int s3_request_many(struct s3 *s, const struct s3_job *jobs, size_t n, int parallel, s3_reply_fn fn, void *ctx);
int s3_head_many(struct s3 *s, const char *const *keys, size_t n, int parallel, s3_reply_fn fn, void *ctx);

/* The text of the first <tag> in xml, entities decoded. Returns 0 or -ENOENT. */
int s3_xml_text(const char *xml, const char *tag, char *out, size_t cap);
