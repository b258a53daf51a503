/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundlename.h"
#include "bundledir.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "util.h"

static enum store_result store_in(const struct crash_record *r, const struct policy *p, const char *dir,
                                  const struct bundle_core *core, gid_t gid, char *path, size_t pathcap)
{
    int dfd = bundledir_open(dir);
    if (dfd < 0) {
        log_warn("cannot open bundle directory %s: %s", dir, strerror(-dfd));
        return STORE_FAILED;
    }
    _cleanup_close_ int dirfd = dfd;
    bundledir_clean_leftovers(dirfd);
    _cleanup_close_ int lock = bundledir_lock(dirfd);
    if (lock < 0)
        log_warn("cannot lock %s/%s: %s; writing without it", dir, BUNDLEDIR_LOCK, strerror(-lock));
    _cleanup_free_ struct index_entry *idx = NULL;
    size_t nidx = 0;
    (void)bundledir_index_read(dirfd, &idx, &nidx);
    uint64_t suppressed = 0;
    struct index_entry e = {.time = r->at, .size = 0};
    snprintf(e.service, sizeof e.service, "%s", r->who.service);
    snprintf(e.kind, sizeof e.kind, "%s", crash_kind_name(r->kind));
    snprintf(e.fingerprint, sizeof e.fingerprint, "%s", r->fingerprint);
    snprintf(e.culprit, sizeof e.culprit, "%.511s", r->culprit);
    snprintf(e.message, sizeof e.message, "%.511s", r->message);
    if (!bundledir_rate_allows(idx, nidx, r->who.service, r->fingerprint, r->at, p, &suppressed)) {
        e.type = 'S';
        int w = bundledir_index_append(dirfd, &e);
        if (w < 0)
            log_warn("cannot record a suppressed crash in %s/%s: %s", dir, BUNDLEDIR_INDEX, strerror(-w));
        return STORE_SUPPRESSED;
    }
    struct json j;
    manifest_build(r, p, suppressed, &j);
    if (json_failed(&j)) {
        json_free(&j);
        return STORE_FAILED;
    }
    char name[300];
    int w = -EEXIST;
    size_t bytes = 0;
    /* Again under another name after a same-second clash (EEXIST), or when
     * another crashbox's start-up cleaning took our fresh temporary file
     * for a dead writer's before we could lock it (EAGAIN). */
    for (int attempt = 0; attempt < 100 && (w == -EEXIST || w == -EAGAIN); attempt++) {
        char pid[32];
        if (attempt)
            snprintf(pid, sizeof pid, "%d_%d", (int)r->who.pid, attempt);
        else
            snprintf(pid, sizeof pid, "%d", (int)r->who.pid);
        bundle_name(name, sizeof name, r->who.service, r->at, r->who.host, pid, crash_kind_name(r->kind));
        w = bundle_write_core(dirfd, name, j.buf, j.len, &r->items, core, r->at,
                              (unsigned)p->bundle_mode, gid, &bytes);
    }
    json_free(&j);
    if (w < 0) {
        log_warn("cannot write crash bundle %s in %s: %s", name, dir, strerror(-w));
        return STORE_FAILED;
    }
    e.type = 'B';
    e.size = bytes;
    snprintf(e.name, sizeof e.name, "%.255s", name);
    int a = bundledir_index_append(dirfd, &e);
    if (a < 0)
        log_warn("cannot update %s/%s: %s", dir, BUNDLEDIR_INDEX, strerror(-a));
    size_t unshipped;
    size_t del = bundledir_enforce_retention(dirfd, r->who.service, r->at, p, &unshipped);
    if (del)
        log_info("retention: deleted %zu old bundle(s) in %s", del, dir);
    if (unshipped)
        log_warn("retention: %zu of them not yet shipped: max_total_size or keep_free forced it", unshipped);
    snprintf(path, pathcap, "%s/%s", dir, name);
    return STORE_WRITTEN;
}

enum store_result store_record(const struct crash_record *r, const struct policy *p, bool only_primary,
                               const struct bundle_core *core, gid_t gid, char *path, size_t pathcap)
{
    enum store_result res = STORE_FAILED;
    const char *dirs[] = {p->bundle_dir, only_primary ? NULL : p->fallback_dir};
    for (size_t i = 0; i < ARRAY_SIZE(dirs) && res == STORE_FAILED; i++)
        if (dirs[i])
            res = store_in(r, p, dirs[i], core, gid, path, pathcap);
    return res;
}
