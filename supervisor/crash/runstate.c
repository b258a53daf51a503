/* SPDX-License-Identifier: MIT */
#include "runstate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t state_format(const struct service_state *s, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "service=%s\nhost=%s\npid=%d\nstarted=%lld\nseen=%lld\nlimit_bytes=%" PRIu64 "\nusage_bytes=%" PRIu64
                     "\nwatermark=%u\noom_kills=%" PRIu64 "\ncgroup=%s\n",
                     s->service, s->host, (int)s->pid, s->started, s->seen, s->limit_bytes, s->usage_bytes, s->watermark,
                     s->oom_kills, s->cgroup);
    return n < 0 ? 0 : (size_t)n;
}

int state_parse(const char *buf, size_t len, struct service_state *s)
{
    *s = (struct service_state){0};
    const char *p = buf, *end = buf + len;
    int fields = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (eq) {
            char key[32], val[512];
            snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
            snprintf(val, sizeof val, "%.*s", (int)(le - eq - 1), eq + 1);
            fields++;
            if (!strcmp(key, "service"))
                snprintf(s->service, sizeof s->service, "%.79s", val);
            else if (!strcmp(key, "host"))
                snprintf(s->host, sizeof s->host, "%.63s", val);
            else if (!strcmp(key, "pid"))
                s->pid = (pid_t)atoi(val);
            else if (!strcmp(key, "started"))
                s->started = atoll(val);
            else if (!strcmp(key, "seen"))
                s->seen = atoll(val);
            else if (!strcmp(key, "limit_bytes"))
                s->limit_bytes = strtoull(val, NULL, 10);
            else if (!strcmp(key, "usage_bytes"))
                s->usage_bytes = strtoull(val, NULL, 10);
            else if (!strcmp(key, "watermark"))
                s->watermark = (unsigned)atoi(val);
            else if (!strcmp(key, "oom_kills"))
                s->oom_kills = strtoull(val, NULL, 10);
            else if (!strcmp(key, "cgroup"))
                snprintf(s->cgroup, sizeof s->cgroup, "%s", val);
            else
                fields--;
        }
        p = nl ? nl + 1 : end;
    }
    return s->service[0] && s->pid > 0 && fields >= 3 ? 0 : -EINVAL;
}

bool state_shows_oom(const struct service_state *s, bool have_now, uint64_t oom_kills_now)
{
    if (have_now && oom_kills_now > s->oom_kills)
        return true;
    if (s->watermark >= 90)
        return true;
    return s->limit_bytes && s->usage_bytes >= s->limit_bytes / 10 * 9;
}
