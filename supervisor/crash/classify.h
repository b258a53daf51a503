/* SPDX-License-Identifier: MIT */
/* What ended the service: the crash kinds and the rules that pick one. */
#pragma once

#include <stdbool.h>

#include "goparse.h"
#include "policy.h"

/* What ended the service, as the manifest's crash.kind names it. */
enum crash_kind {
    CRASH_NONE,     /* a clean end: no bundle */
    CRASH_GO_PANIC,
    CRASH_GO_FATAL,
    CRASH_RACE,
    CRASH_OOM_KILL,
    CRASH_SIGNAL,
    CRASH_EXIT,
    CRASH_SUPERVISOR_KILLED, /* found at the next start: crashbox died with the service running */
    CRASH_MEMORY_HIGH,       /* not an end: a pre-OOM snapshot kept when memory fell back */
    CRASH_KINDS,             /* how many there are */
};

const char *crash_kind_name(enum crash_kind k);

/* The rules, pure: a normal exit code is clean whatever stderr says, and so
 * is a death by the stop signal crashbox forwarded (stop_signal, 0 if none),
 * or by any signal that only ends a process (HUP INT PIPE TERM, from
 * wherever it came) unless crash_signal says the policy lists it; an OOM
 * kill beats everything else; then the Go report; then signal or exit. */
/* The rules' first part, which needs no report: whether the end is clean
 * whatever the Go report and the OOM counter say. */
bool crash_end_is_clean(int wait_status, const struct policy *p, int stop_signal);

enum crash_kind crash_classify(int wait_status, bool normal_exit, enum go_crash_kind go_kind,
                               bool oom_killed, int stop_signal, bool crash_signal);
