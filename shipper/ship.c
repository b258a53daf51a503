/* SPDX-License-Identifier: MIT */
/* crashbox-ship: uploads the bundles of a bundle directory to S3-compatible
 * object storage, exactly once. A second binary so that the static PID-1
 * crashbox carries no TLS library; `crashbox ship` runs this one.
 *
 * Exactly once rests on three facts: the object key is a function of the
 * bundle alone (a re-upload overwrites, it never adds); a bundle is entered
 * in the journal only after the store confirmed the whole object, and the
 * journal is fsynced before the next bundle starts; a multipart upload is
 * invisible until its Complete, and one cut short is aborted (now, or by the
 * next shipper, from the pending file). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundlename.h"
#include "bundledir.h"
#include "exitstatus.h"
#include "fleet.h"
#include "log.h"
#include "oncall.h"
#include "s3.h"
#include "shipconf.h"
#include "units.h"
#include "util.h"

#define MIN_PART (5ULL << 20) /* S3's smallest part but the last */
#define MAX_PARTS 10000

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct shipper {
    struct s3 s3;
    struct s3_conf conf;
    struct s3_target target;
    int dirfd;
    uint64_t part_size;
    bool delete_after; /* once journalled, the local copy goes */
};

static void curl_slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}
#define _cleanup_slist_ __attribute__((cleanup(curl_slist_freep)))

/* The shipped journal's names, sorted. */
struct journal {
    char *buf;
    char **names;
    size_t n;
};

static void journal_free(struct journal *j)
{
    free(j->names);
    free(j->buf);
    *j = (struct journal){0};
}

static int journal_load(int dirfd, struct journal *j)
{
    *j = (struct journal){0};
    size_t len = 0;
    int rc = read_file_at(dirfd, SHIP_JOURNAL, 256 << 20, &j->buf, &len);
    if (rc == -ENOENT)
        return ship_journal_parse((char *)"", 0, &j->names, &j->n);
    if (rc < 0)
        return rc;
    return ship_journal_parse(j->buf, len, &j->names, &j->n);
}

/* Called only after the store confirmed the object: the line reaches the
 * disk before the shipper moves on, so a crash after this never re-ships. */
static int journal_append(int dirfd, const char *name, const char *key)
{
    char line[4096];
    size_t n = ship_journal_format(name, key, line, sizeof line);
    if (!n)
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = openat(dirfd, SHIP_JOURNAL, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    /* A torn line left by a crash mid-append must not swallow this one. */
    if (st.st_size > 0) {
        char last;
        if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n' && write_all(fd, "\n", 1) < 0)
            return -errno;
    }
    int rc = write_all(fd, line, n);
    if (rc < 0)
        return rc;
    if (fsync(fd) < 0)
        return -errno;
    if (st.st_size == 0)
        (void)fsync(dirfd); /* the journal's own directory entry */
    return 0;
}

static int pending_write(int dirfd, const char *key, const char *upload_id)
{
    char tmp[64], line[4096];
    snprintf(tmp, sizeof tmp, "%s.%d", SHIP_PENDING, (int)getpid());
    int n = snprintf(line, sizeof line, "%s\t%s\n", key, upload_id);
    if (n < 0 || (size_t)n >= sizeof line)
        return -ENAMETOOLONG;
    _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, line, (size_t)n);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (rc == 0 && renameat(dirfd, tmp, dirfd, SHIP_PENDING) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(dirfd, tmp, 0);
    return rc;
}

static int multipart_abort(struct shipper *sh, const char *key, const char *upload_id)
{
    char q[1200], eid[1024];
    if (ship_uri_encode(upload_id, false, eid, sizeof eid) == (size_t)-1)
        return -ENAMETOOLONG;
    snprintf(q, sizeof q, "uploadId=%s", eid);
    struct s3_reply r = {0};
    int rc = s3_request(&sh->s3, "DELETE", key, q, NULL, NULL, &r);
    if (rc < 0 && rc != -ENOENT)
        log_warn("ship: could not abort the unfinished upload of %s: %s", key, r.what);
    s3_reply_free(&r);
    return rc == -ENOENT ? 0 : rc;
}

/* A shipper that died mid-multipart left its upload id: abort that upload,
 * so the store does not keep (and bill) its parts. */
static void pending_abort(struct shipper *sh)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    if (read_file_at(sh->dirfd, SHIP_PENDING, 8192, &buf, &len) < 0)
        return;
    char *tab = strchr(buf, '\t'), *nl = tab ? strchr(tab, '\n') : NULL;
    if (tab && nl) {
        *tab = *nl = '\0';
        log_info("ship: aborting the upload of %s left unfinished by an earlier shipper", buf);
        if (multipart_abort(sh, buf, tab + 1) < 0)
            return; /* keep the file: the next start tries again */
    }
    unlinkat(sh->dirfd, SHIP_PENDING, 0);
}

/* x-amz-meta-* headers with the bundle's summary, so the fleet view lists
 * crashes from a HEAD or a listing without downloading a bundle. S3 caps
 * all user metadata at 2 KiB: message and culprit are cut to fit. */
static struct curl_slist *summary_headers(const struct index_entry *e, const char *host)
{
    char when[32];
    format_utc(e->time, when, sizeof when);
    const struct {
        const char *name, *value;
        size_t cap;
    } f[] = {
        {"service", e->service, 160}, {"host", host, 130},        {"kind", e->kind, 48},
        {"fingerprint", e->fingerprint, 48}, {"time", when, 32}, {"culprit", e->culprit, 480},
        {"message", e->message, 700},
    };
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/zstd");
    for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
        char enc[720], line[800];
        ship_header_encode(f[i].value, enc, f[i].cap < sizeof enc ? f[i].cap : sizeof enc);
        /* an empty value would be sent as a header removal */
        snprintf(line, sizeof line, "x-amz-meta-crashbox-%s: %s", f[i].name, enc[0] ? enc : "-");
        l = curl_slist_append(l, line);
    }
    char sz[48];
    snprintf(sz, sizeof sz, "x-amz-meta-crashbox-size: %llu", (unsigned long long)e->size);
    return curl_slist_append(l, sz);
}

static int put_whole(struct shipper *sh, const char *key, int fd, uint64_t size, const struct curl_slist *hdr,
                     char *what, size_t wcap)
{
    struct s3_body body = {.fd = fd, .off = 0, .len = size};
    struct s3_reply r = {0};
    int rc = s3_request(&sh->s3, "PUT", key, NULL, hdr, &body, &r);
    snprintf(what, wcap, "%s", r.what);
    s3_reply_free(&r);
    return rc;
}

/* Parts of one upload in flight at once: a store takes parts in parallel
 * faster than one stream, as rclone and the AWS CLI upload. */
#define PART_STREAMS 4

struct part_state {
    char (*etags)[128];
    int rc;
    char what[512];
};

static void on_part(void *ctx, size_t i, int rc, const struct s3_reply *r)
{
    struct part_state *ps = ctx;
    if (rc == 0 && !r->etag[0])
        rc = -EIO;
    if (rc < 0) {
        if (ps->rc == 0) {
            ps->rc = rc;
            snprintf(ps->what, sizeof ps->what, "%s", r->what[0] ? r->what : "UploadPart: no ETag in the answer");
        }
        return;
    }
    snprintf(ps->etags[i], sizeof ps->etags[i], "%s", r->etag);
}

/* Uploads every part, each streamed from its own offset of fd; *etags
 * (heap, one per part) for the Complete. Returns 0 or <0 with what set. */
static int upload_parts(struct shipper *sh, const char *key, const char *eid, int fd, uint64_t size, uint64_t part,
                        size_t nparts, char (**etags)[128], char *what, size_t wcap)
{
    _cleanup_free_ struct s3_job *jobs = calloc(nparts, sizeof *jobs);
    _cleanup_free_ struct s3_body *bodies = calloc(nparts, sizeof *bodies);
    _cleanup_free_ char(*queries)[1100] = calloc(nparts, sizeof *queries);
    char(*tags)[128] = calloc(nparts, sizeof *tags);
    if (!jobs || !bodies || !queries || !tags) {
        free(tags);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nparts; i++) {
        uint64_t off = i * part;
        bodies[i] = (struct s3_body){.fd = fd, .off = (off_t)off, .len = size - off < part ? size - off : part};
        snprintf(queries[i], sizeof queries[i], "partNumber=%zu&uploadId=%s", i + 1, eid);
        jobs[i] = (struct s3_job){.method = "PUT", .key = key, .query = queries[i], .body = &bodies[i]};
    }
    struct part_state ps = {.etags = tags};
    int rc = s3_request_many(&sh->s3, jobs, nparts, PART_STREAMS, on_part, &ps);
    if (rc == 0)
        rc = ps.rc;
    if (rc < 0) {
        snprintf(what, wcap, "%s", ps.what[0] ? ps.what : strerror(-rc));
        free(tags);
        return rc;
    }
    *etags = tags;
    return 0;
}

static int put_multipart(struct shipper *sh, const char *key, int fd, uint64_t size, const struct curl_slist *hdr,
                         char *what, size_t wcap)
{
    uint64_t part = sh->part_size;
    while ((size + part - 1) / part > MAX_PARTS)
        part *= 2;
    size_t nparts = (size_t)((size + part - 1) / part);
    struct s3_reply r = {0};
    int rc = s3_request(&sh->s3, "POST", key, "uploads=", hdr, NULL, &r);
    char upload_id[1024] = "";
    if (rc == 0 && s3_xml_text(r.body, "UploadId", upload_id, sizeof upload_id) < 0)
        snprintf(r.what, sizeof r.what, "CreateMultipartUpload for %.300s: no UploadId in the answer", key), rc = -EIO;
    if (rc < 0) {
        snprintf(what, wcap, "%s", r.what);
        s3_reply_free(&r);
        return rc;
    }
    if ((rc = pending_write(sh->dirfd, key, upload_id)) < 0)
        log_warn("ship: cannot record the upload in flight (%s): a crash now would leave its parts",
                 strerror(-rc));
    char eid[1024];
    ship_uri_encode(upload_id, false, eid, sizeof eid);
    _cleanup_free_ char(*part_etags)[128] = NULL;
    rc = upload_parts(sh, key, eid, fd, size, part, nparts, &part_etags, what, wcap);
    /* The Complete body: one <Part> of about 100 bytes each. */
    size_t xcap = 128 + nparts * 200;
    _cleanup_free_ char *xml = rc == 0 ? malloc(xcap) : NULL;
    size_t xl = 0;
    if (rc == 0 && !xml)
        rc = -ENOMEM;
    if (rc == 0)
        xl = (size_t)snprintf(xml, xcap, "<CompleteMultipartUpload>");
    for (size_t i = 0; rc == 0 && i < nparts; i++) {
        char etag[160];
        size_t el = 0;
        for (const char *p = part_etags[i]; *p && el + 7 < sizeof etag; p++)
            el += (size_t)snprintf(etag + el, sizeof etag - el, "%s", *p == '"' ? "&quot;" : (char[]){*p, 0});
        xl += (size_t)snprintf(xml + xl, xcap - xl, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
                               i + 1, etag);
    }
    if (rc == 0) {
        xl += (size_t)snprintf(xml + xl, xcap - xl, "</CompleteMultipartUpload>");
        struct s3_body body = {.fd = -1, .len = xl, .mem = xml};
        char q[1200];
        snprintf(q, sizeof q, "uploadId=%s", eid);
        _cleanup_slist_ struct curl_slist *ct = curl_slist_append(NULL, "Content-Type: application/xml");
        rc = s3_request(&sh->s3, "POST", key, q, ct, &body, &r);
        snprintf(what, wcap, "%s", r.what);
    }
    s3_reply_free(&r);
    if (rc == 0)
        unlinkat(sh->dirfd, SHIP_PENDING, 0); /* a crash before this aborts a finished upload: a no-op */
    if (rc < 0) {
        /* Nothing of this upload is visible; abort it so its parts go too.
         * On a stop, the abort runs with the stop flag cleared for it. */
        sig_atomic_t was = stop_requested;
        stop_requested = 0;
        if (multipart_abort(sh, key, upload_id) == 0)
            unlinkat(sh->dirfd, SHIP_PENDING, 0);
        stop_requested = was;
    }
    return rc;
}

static const struct index_entry *index_find(const struct index_entry *v, size_t n, const char *name)
{
    for (size_t i = n; i-- > 0;)
        if (v[i].type == 'B' && strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

/* Ships one bundle; returns 0 once it is both stored and journalled. */
static int ship_bundle(struct shipper *sh, const char *name, const struct index_entry *idx, size_t nidx)
{
    struct bundle_name_parts parts;
    if (!bundle_name_parse(name, &parts))
        return -EINVAL;
    struct index_entry e;
    const struct index_entry *hit = index_find(idx, nidx, name);
    if (hit)
        e = *hit;
    else
        (void)bundle_summary_read(sh->dirfd, name, &e); /* an unreadable bundle still ships, as it is */
    char key[2048];
    int rc = ship_object_key(sh->target.prefix, parts.service, parts.time, name, key, sizeof key);
    if (rc < 0)
        return rc;
    _cleanup_close_ int fd = openat(sh->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    e.size = (uint64_t)st.st_size;
    _cleanup_slist_ struct curl_slist *hdr = summary_headers(&e, parts.host);
    char what[512] = "";
    long long t0 = now_ms();
    if ((uint64_t)st.st_size > sh->part_size)
        rc = put_multipart(sh, key, fd, (uint64_t)st.st_size, hdr, what, sizeof what);
    else
        rc = put_whole(sh, key, fd, (uint64_t)st.st_size, hdr, what, sizeof what);
    if (rc < 0) {
        if (rc != -EINTR)
            log_error("ship: %s not shipped: %s%s", name, what,
                      rc == -EACCES ? " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy)"
                      : rc == -ENOENT ? " (does the bucket exist?)" : "");
        return rc;
    }
    if ((rc = journal_append(sh->dirfd, name, key)) < 0) {
        log_error("ship: %s stored but not journalled (%s): it will be shipped again", name, strerror(-rc));
        return rc;
    }
    log_info("ship: %s -> s3://%s/%s (%lld bytes, %lld ms)", name, sh->conf.bucket, key, (long long)st.st_size,
             now_ms() - t0);
    /* Only now: the journal says it is stored, so a crash before the unlink
     * leaves a bundle that is not shipped again, and one after loses nothing. */
    if (sh->delete_after && unlinkat(sh->dirfd, name, 0) < 0 && errno != ENOENT)
        log_warn("ship: %s shipped but not deleted: %s", name, strerror(errno));
    return 0;
}

static int by_time(const void *a, const void *b)
{
    struct bundle_name_parts x, y;
    const char *na = *(char *const *)a, *nb = *(char *const *)b;
    bundle_name_parse(na, &x);
    bundle_name_parse(nb, &y);
    return x.time < y.time ? -1 : x.time > y.time ? 1 : strcmp(na, nb);
}

/* Ships every bundle not in the journal, oldest first. Returns how many
 * are left unshipped (0: all done), or <0 for a failure that stops all
 * of them (the store refusing our credentials, a stop). */
static int ship_pass(struct shipper *sh, int *last_error)
{
    struct journal j;
    int rc = journal_load(sh->dirfd, &j);
    if (rc < 0) {
        log_error("ship: cannot read the journal %s: %s", SHIP_JOURNAL, strerror(-rc));
        return rc;
    }
    DIR *d = opendirat(sh->dirfd, ".");
    if (!d) {
        journal_free(&j);
        return -errno;
    }
    size_t n = 0, cap = 0;
    char **todo = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct bundle_name_parts parts;
        if (!bundle_name_parse(de->d_name, &parts) || ship_journal_has(j.names, j.n, de->d_name))
            continue;
        if (n == cap) {
            char **nt = realloc(todo, (cap = cap ? cap * 2 : 64) * sizeof *nt);
            if (!nt)
                break;
            todo = nt;
        }
        todo[n++] = strdup(de->d_name);
    }
    closedir(d);
    journal_free(&j);
    if (n)
        qsort(todo, n, sizeof *todo, by_time);
    struct index_entry *idx = NULL;
    size_t nidx = 0;
    if (n)
        (void)bundledir_index_read(sh->dirfd, &idx, &nidx);
    int left = 0;
    *last_error = 0;
    for (size_t i = 0; i < n; i++) {
        if (!todo[i])
            continue;
        rc = stop_requested ? -EINTR : ship_bundle(sh, todo[i], idx, nidx);
        if (rc == -ENOENT && faccessat(sh->dirfd, todo[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            rc = 0; /* deleted by retention between the listing and now */
        if (rc < 0) {
            left++;
            *last_error = rc;
        }
        /* These fail every bundle alike: stop trying the rest. */
        if (rc == -EACCES || rc == -EINTR || rc == -EAGAIN)
            left += (int)(n - i - 1), i = n;
    }
    for (size_t i = 0; i < n; i++)
        free(todo[i]);
    free(todo);
    free(idx);
    return left;
}

static void sleep_or_event(int ifd, long ms)
{
    struct pollfd p = {.fd = ifd, .events = POLLIN};
    if (poll(&p, ifd >= 0 ? 1 : 0, (int)ms) > 0) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (read(ifd, buf, sizeof buf) > 0)
            ;
    }
}

static int follow(struct shipper *sh)
{
    _cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    /* Writers rename a finished bundle into place (IN_MOVED_TO); the
     * directory is watched through its fd, the one the passes read. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", sh->dirfd);
    if (ifd >= 0 && inotify_add_watch(ifd, path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        log_warn("ship: inotify on the directory failed (%s): rescanning every 10 s", strerror(errno));
    long backoff = 1000;
    while (!stop_requested) {
        int err;
        int left = ship_pass(sh, &err);
        if (stop_requested)
            break;
        if (left == 0) {
            backoff = 1000;
            /* Events wake it at once; the timeout also catches bundles that
             * appeared while inotify was not looking (queue overflow). */
            sleep_or_event(ifd, 10000);
            continue;
        }
        log_info("ship: %d bundle(s) waiting; next try in %ld s", left, backoff / 1000);
        sleep_or_event(-1, backoff);
        backoff = backoff * 2 > 60000 ? 60000 : backoff * 2;
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: crashbox ship DIR --to s3://BUCKET[/PREFIX] [--endpoint URL] [--region R]\n"
          "                     [--addressing path|virtual] [--part-size SIZE] [--once | --follow]\n"
          "                     [--delete-after]\n"
          "       crashbox ls|top s3://BUCKET[/PREFIX] [--endpoint URL] [--region R] [--addressing A] [filters]\n"
          "       crashbox show s3://BUCKET/KEY [--endpoint URL] [--json]\n",
          f);
}

static int cmd_ship(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},        {"endpoint", required_argument, NULL, 'e'},
        {"region", required_argument, NULL, 'r'},    {"addressing", required_argument, NULL, 'a'},
        {"part-size", required_argument, NULL, 'p'}, {"once", no_argument, NULL, 'o'},
        {"follow", no_argument, NULL, 'f'},          {"help", no_argument, NULL, 'h'},
        {"delete-after", no_argument, NULL, 'D'},
        {0},
    };
    const char *to = NULL, *endpoint = NULL, *region = NULL, *addressing = NULL;
    bool follow_mode = false, delete_after = false;
    uint64_t part_size = 16ULL << 20;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': to = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'r': region = optarg; break;
        case 'a': addressing = optarg; break;
        case 'o': follow_mode = false; break;
        case 'f': follow_mode = true; break;
        case 'D': delete_after = true; break;
        case 'p':
            if (parse_size(optarg, &part_size) < 0 || part_size < MIN_PART || part_size > (5ULL << 30)) {
                fprintf(stderr, "crashbox ship: --part-size '%s': a size from 5MiB to 5GiB\n", optarg);
                return EXIT_CRASHBOX_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_CRASHBOX_USAGE;
        }
    }
    if (optind != argc - 1 || !to) {
        usage(stderr);
        return EXIT_CRASHBOX_USAGE;
    }
    struct shipper sh = {.part_size = part_size, .dirfd = -1, .delete_after = delete_after};
    if (s3_target_parse(to, &sh.target) < 0) {
        fprintf(stderr, "crashbox ship: --to '%s' is not s3://BUCKET[/PREFIX] (bucket: 3-63 of a-z 0-9 . -)\n", to);
        return EXIT_CRASHBOX_USAGE;
    }
    if (s3_conf_resolve(&sh.conf, &sh.target, endpoint, region, addressing) < 0)
        return EXIT_CRASHBOX_USAGE;
    const char *dir = argv[optind];
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        fprintf(stderr, "crashbox ship: %s: %s\n", dir, strerror(errno));
        return EXIT_CRASHBOX_USAGE;
    }
    sh.dirfd = dfd;
    /* One shipper per directory: two would upload the same bundles and
     * race on the journal. */
    _cleanup_close_ int lfd = openat(dfd, SHIP_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        fprintf(stderr, "crashbox ship: %s: %s\n", dir,
                lfd < 0 ? strerror(errno) : "another shipper is running on this directory");
        return EXIT_CRASHBOX_SYSTEM;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || s3_open(&sh.s3, &sh.conf) < 0) {
        fprintf(stderr, "crashbox ship: libcurl failed to start\n");
        return EXIT_CRASHBOX_SYSTEM;
    }
    sh.s3.stop = &stop_requested;
    pending_abort(&sh);
    int code = 0;
    if (follow_mode) {
        follow(&sh);
    } else {
        int err;
        int left = ship_pass(&sh, &err);
        if (left != 0) {
            fprintf(stderr, "crashbox ship: %d bundle(s) not shipped%s\n", left < 0 ? 0 : left,
                    err == -EAGAIN ? " (the store did not answer; they stay for the next run)" : "");
            code = 1;
        }
    }
    s3_close(&sh.s3);
    curl_global_cleanup();
    return stop_requested ? 128 + SIGTERM : code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ship") == 0)
        return cmd_ship(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "top") || !strcmp(argv[1], "show")))
        return fleet_main(argc - 1, argv + 1);
    usage(stderr);
    return EXIT_CRASHBOX_USAGE;
}
