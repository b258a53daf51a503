/* SPDX-License-Identifier: MIT */
/* The bundle directory as a shared, hostile place: many crashbox processes
 * (one per service, many hosts on a shared volume) write into it, and
 * anything may be planted in it. Every operation is relative to the
 * directory fd, with O_NOFOLLOW; retention and the index are serialized by
 * an flock'd lock file; crashbox only ever deletes files it names itself.
 *
 * The index (".crashbox-index") has one line per bundle written or crash
 * suppressed by the rate limit: "v1 TYPE TIME SERVICE KIND FINGERPRINT SIZE
 * NAME CULPRIT MESSAGE", tab-separated, with \t \n \\ escaped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy.h"

#define BUNDLEDIR_LOCK ".crashbox.lock"
#define BUNDLEDIR_INDEX ".crashbox-index"
/* The run directory: state files of live supervisors and writers' temporary
 * files, so that what a start scans does not grow with the bundles. Sticky
 * and group-writable: supervisors of several users may share the directory. */
#define BUNDLEDIR_RUN ".crashbox-run"

struct index_entry {
    char type; /* 'B': a bundle was written; 'S': a crash suppressed by the rate limit;
                * 'D': a bundle retention deleted before a shipper shipped it */
    time_t time;
    char service[80];
    char kind[24];
    char fingerprint[24];
    uint64_t size;
    char name[256];
    char culprit[512];
    char message[512];
};

/* Pure: one index line <-> an entry. */
int index_parse_line(const char *line, size_t len, struct index_entry *e);
size_t index_format_line(const struct index_entry *e, char *out, size_t cap);

/* Opens (creating one level) the directory. Returns the fd or -errno. */
int bundledir_open(const char *path);

/* Opens the run directory (creating it if asked). Returns the fd or -errno;
 * -ENOENT when another supervisor removed it, empty, after our mkdir. */
int bundledir_run_open(int dirfd, bool create);

/* Creates and flocks a temporary file in the run directory; *run gets the
 * run directory's fd, to rename the file into dirfd from. Returns the fd or
 * -errno (-EAGAIN when cleaners kept taking it). */
int bundledir_tmp_open(int dirfd, const char *tmp, int flags, int *run);

/* Removes temporary files a crashbox left in the run directory when it died
 * mid-write: only our own prefix, only regular files, only ones no live
 * writer holds a lock on. Returns how many were removed. */
size_t bundledir_clean_leftovers(int dirfd);

/* Takes the directory's lock (blocking). Returns an fd to close, or -errno. */
int bundledir_lock(int dirfd);

/* Reads the whole index (at most max_entries, newest kept). */
int bundledir_index_read(int dirfd, struct index_entry **v, size_t *n);
int bundledir_index_append(int dirfd, const struct index_entry *e);

/* The rate limit, under the lock: whether a crash of this service with this
 * fingerprint at `now` gets a full bundle, and how many were suppressed
 * since the last full one. Keyed by service and fingerprint together: in a
 * directory shared by many services, one service's crash loop never costs
 * another service its bundles. */
bool bundledir_rate_allows(const struct index_entry *v, size_t n, const char *service, const char *fingerprint,
                           time_t now, const struct policy *p, uint64_t *suppressed_since_last);

/* Retention, under the lock: deletes the oldest of our bundles until the
 * policy's limits hold, and rewrites the index without them. Bundles a
 * shipper has not shipped yet (see shipconf.h) go only when max_total_size
 * or keep_free force it, counted in *unshipped_deleted and entered in the
 * index as 'D' lines. Returns how many
 * bundles were deleted. */
size_t bundledir_enforce_retention(int dirfd, const char *service, time_t now, const struct policy *p,
                                   size_t *unshipped_deleted);
