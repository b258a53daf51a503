/* SPDX-License-Identifier: MIT */
/* The pure half of shipping bundles to S3-compatible object storage: the
 * s3:// target, the shared credentials file, the object key layout, header
 * value encoding and the shipped journal. No network, no libcurl: the
 * shipper binary (shipper/) does the talking, these parse and format
 * buffers so unit tests can feed them fixture text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* The journal of shipped bundles in the bundle directory: one line per
 * bundle the store confirmed, "v1 NAME KEY" tab-separated, appended and
 * fsynced only after the confirmation. A torn last line does not count. */
#define SHIP_JOURNAL ".crashbox-shipped"
/* The multipart upload in flight ("KEY UPLOADID"), so that a shipper
 * killed mid-upload has the next one abort it. */
#define SHIP_PENDING ".crashbox-ship-pending"
#define SHIP_LOCK ".crashbox-ship.lock"

struct s3_target {
    char bucket[64];
    char prefix[512]; /* no leading or trailing '/'; may be empty */
};

/* "s3://BUCKET[/PREFIX]". Returns 0 or -EINVAL. */
int s3_target_parse(const char *url, struct s3_target *t);

struct aws_creds {
    char access_key[128];
    char secret_key[256];
    char session_token[4096];
};

/* The [profile] section of an AWS shared credentials file (INI: "[name]",
 * "key = value", '#' and ';' comments). Returns 0, -ENOENT when the profile
 * is absent, -EINVAL when it lacks either key. */
int aws_credentials_parse(const char *buf, size_t len, const char *profile, struct aws_creds *out);

/* PREFIX/SERVICE/YYYY/MM/DD/BUNDLE (UTC). Returns 0 or -ENAMETOOLONG. */
int ship_object_key(const char *prefix, const char *service, time_t t, const char *bundle, char *out, size_t cap);

/* Percent-encodes every byte outside printable ASCII, and '%' itself, so any
 * text fits an HTTP header (x-amz-meta-*) and decodes back exactly; stops at
 * cap (never splitting an escape). Returns the length written. */
size_t ship_header_encode(const char *in, char *out, size_t cap);
size_t ship_header_decode(const char *in, char *out, size_t cap);

/* URI-encodes s for a path or query (RFC 3986 unreserved kept; '/' kept when
 * keep_slash), as SigV4's canonical request wants it. Returns the length, or
 * (size_t)-1 when it does not fit. */
size_t ship_uri_encode(const char *s, bool keep_slash, char *out, size_t cap);

/* The bundle names in a journal buffer (NUL-terminated in place), sorted
 * for ship_journal_has. Returns 0 or -ENOMEM; *names (a heap array of
 * pointers into buf) is owned by the caller. */
int ship_journal_parse(char *buf, size_t len, char ***names, size_t *n);
bool ship_journal_has(char *const *names, size_t n, const char *name);
size_t ship_journal_format(const char *name, const char *key, char *out, size_t cap);
