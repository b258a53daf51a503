/* SPDX-License-Identifier: MIT */
/* The state of a running service, as its state file keeps it (recovery.h):
 * what the next start knows of a run whose crashbox died with it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct service_state {
    char service[80];
    char host[64];
    pid_t pid;
    long long started;      /* unix seconds */
    long long seen;         /* unix seconds: the last update, when it was last seen alive; 0: not known */
    uint64_t limit_bytes;   /* 0: none */
    uint64_t usage_bytes;   /* at the last update */
    unsigned watermark;     /* highest crossed, 0: none */
    uint64_t oom_kills;     /* the cgroup's counter at start */
    char cgroup[512];
};

/* Pure: one "key=value" line each. */
size_t state_format(const struct service_state *s, char *out, size_t cap);
int state_parse(const char *buf, size_t len, struct service_state *s);
/* Pure: the inference. Near the limit: a watermark of 90% or more crossed,
 * usage within 10% of the limit, or more OOM kills now than at start. */
bool state_shows_oom(const struct service_state *s, bool have_now, uint64_t oom_kills_now);
