/* SPDX-License-Identifier: MIT */
#include "crashreport.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"
#include "json.h"
#include "log.h"
#include "shipexec.h"
#include "sigtable.h"
#include "termlog.h"
#include "util.h"

static void print_summary(const struct crash_record *r, const char *bundle, bool suppressed)
{
    struct json s;
    json_init(&s, false);
    json_obj_begin(&s);
    json_kv_str(&s, "crashbox", "crash");
    json_kv_str(&s, "service", r->who.service);
    json_kv_str(&s, "kind", crash_kind_name(r->kind));
    json_kv_str(&s, "message", r->message);
    json_kv_str(&s, "culprit", r->culprit[0] ? r->culprit : NULL);
    json_kv_str(&s, "fingerprint", r->fingerprint);
    json_key(&s, "exit_code");
    if (r->status_known && WIFEXITED(r->status))
        json_int(&s, WEXITSTATUS(r->status));
    else
        json_null(&s);
    json_kv_str(&s, "signal", r->status_known && WIFSIGNALED(r->status) ? signal_name(WTERMSIG(r->status)) : NULL);
    json_kv_uint(&s, "restarts", r->who.restarts);
    json_kv_str(&s, "bundle", bundle);
    if (suppressed)
        json_kv_bool(&s, "rate_limited", true);
    json_obj_end(&s);
    if (!json_failed(&s)) {
        s.buf[s.len] = '\n'; /* the writer keeps a byte for the NUL */
        (void)write_all(STDERR_FILENO, s.buf, s.len + 1);
    }
    json_free(&s);
}

void crash_report(const struct crash_record *r, const struct policy *p, enum store_result res, const char *path)
{
    const char *bundle = res == STORE_WRITTEN ? path : NULL;
    print_summary(r, bundle, res == STORE_SUPPRESSED);
    if (p->termination_log) {
        char text[TERMLOG_MAX + 1];
        size_t n = termlog_format(text, sizeof text, r->who.service, crash_kind_name(r->kind), r->message,
                                  r->culprit, bundle);
        int t = termlog_write(p->termination_log, text, n);
        if (t < 0 && t != -ENOENT)
            log_warn("cannot write the termination message to %s: %s", p->termination_log, strerror(-t));
    }
    if (res == STORE_WRITTEN) {
        log_info("crash bundle written: %s", path);
        if (r->reaped_ms)
            log_debug("crash-to-bundle: %lld ms after the service was reaped", now_ms() - r->reaped_ms);
        struct hook_event ev = {.bundle = path, .service = r->who.service, .kind = crash_kind_name(r->kind),
                                .fingerprint = r->fingerprint};
        hooks_on_crash(p, &ev);
        ship_after_bundle(p, path);
    } else if (res == STORE_SUPPRESSED) {
        log_info("crash %s rate-limited: counted in the index, no bundle", r->fingerprint);
    }
}
