/* SPDX-License-Identifier: MIT */
#include "bundlename.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void bundle_name(char *out, size_t cap, const char *service, time_t t, const char *host, const char *pid,
                 const char *kind)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char h[64];
    size_t i = 0;
    /* A host name is not ours to trust in a file name: keep it tame. */
    for (; host[i] && i < sizeof h - 1; i++)
        h[i] = isalnum((unsigned char)host[i]) || host[i] == '-' || host[i] == '.' ? host[i] : '_';
    h[i] = '\0';
    snprintf(out, cap, "%s-%04d%02d%02dT%02d%02d%02dZ-%s-%s-%s.tar.zst", service, tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, h, pid, kind);
}

bool bundle_name_parse(const char *name, struct bundle_name_parts *out)
{
    /* <service>-<yyyymmddThhmmssZ>-<host>-<pid>-<kind>.tar.zst; the
     * service and host may hold '-', the time anchors the split. */
    size_t n = strlen(name);
    static const char suffix[] = ".tar.zst";
    if (n < 30 || strcmp(name + n - (sizeof suffix - 1), suffix) != 0 || name[0] == '.')
        return false;
    for (size_t i = 1; i + 17 <= n; i++) {
        const char *t = name + i;
        if (name[i - 1] != '-' || t[8] != 'T' || t[15] != 'Z' || t[16] != '-')
            continue;
        bool digits = true;
        for (int k = 0; k < 15; k++)
            if (k != 8 && !isdigit((unsigned char)t[k]))
                digits = false;
        if (!digits)
            continue;
        *out = (struct bundle_name_parts){0};
        size_t sl = i - 1 < sizeof out->service - 1 ? i - 1 : sizeof out->service - 1;
        memcpy(out->service, name, sl);
        struct tm tm = {0};
        if (sscanf(t, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) != 6)
            return false;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        out->time = timegm(&tm);
        /* The rest: <host>-<pid>-<kind>.tar.zst; kind and pid from the right. */
        char rest[256];
        size_t rl = n - (sizeof suffix - 1) - (i + 17);
        if (rl >= sizeof rest)
            return false;
        memcpy(rest, t + 17, rl);
        rest[rl] = '\0';
        char *kdash = strrchr(rest, '-');
        if (!kdash)
            return false;
        /* kinds may hold a dash ("go-panic"): try the known ones. */
        static const char *const kinds[] = {"go-panic", "go-fatal", "oom-kill", "memory-high",
                                            "supervisor-killed", "race", "signal", "exit"};
        char *kstart = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
            size_t kl = strlen(kinds[k]);
            if (rl > kl + 1 && strcmp(rest + rl - kl, kinds[k]) == 0 && rest[rl - kl - 1] == '-') {
                kstart = rest + rl - kl;
                break;
            }
        }
        if (!kstart)
            return false;
        snprintf(out->kind, sizeof out->kind, "%s", kstart);
        kstart[-1] = '\0';
        char *pdash = strrchr(rest, '-');
        if (!pdash || !isdigit((unsigned char)pdash[1]))
            return false; /* "<pid>" or "<pid>_<n>" after a same-second collision */
        out->pid = atoi(pdash + 1);
        *pdash = '\0';
        snprintf(out->host, sizeof out->host, "%.63s", rest);
        return out->service[0] && out->host[0];
    }
    return false;
}
