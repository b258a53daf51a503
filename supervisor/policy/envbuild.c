/* SPDX-License-Identifier: MIT */
#include "envbuild.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool matches_any(const struct strlist *patterns, const char *name)
{
    for (size_t i = 0; i < patterns->n; i++)
        if (fnmatch(patterns->items[i], name, 0) == 0)
            return true;
    return false;
}

void env_free(char **env)
{
    if (!env)
        return;
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

static void env_freep(char ***env) { env_free(*env); }
#define _cleanup_env_ __attribute__((cleanup(env_freep)))

/* Index of the entry named like assignment (up to its '='), or -1. */
static long env_find(char **env, size_t n, const char *name, size_t namelen)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, namelen) == 0 && env[i][namelen] == '=')
            return (long)i;
    return -1;
}

int env_build(char *const *base, const struct env_rules *rules, char ***out)
{
    size_t nbase = 0;
    for (char *const *e = base; e && *e; e++)
        nbase++;
    size_t cap = nbase + rules->set.n + 1, n = 0;
    _cleanup_env_ char **env = calloc(cap, sizeof *env);
    if (!env)
        return -ENOMEM;
    char name[256];
    for (size_t i = 0; i < nbase; i++) {
        const char *eq = strchr(base[i], '=');
        if (!eq || eq == base[i] || (size_t)(eq - base[i]) >= sizeof name)
            continue; /* malformed or absurd entries are not passed on */
        memcpy(name, base[i], (size_t)(eq - base[i]));
        name[eq - base[i]] = '\0';
        if (!matches_any(&rules->keep, name) || matches_any(&rules->unset, name))
            continue;
        if (env_find(env, n, name, strlen(name)) >= 0)
            continue; /* the first of duplicate names wins, as getenv() sees it */
        if (!(env[n] = strdup(base[i])))
            return -ENOMEM;
        n++;
    }
    for (size_t i = 0; i < rules->set.n; i++) {
        const char *a = rules->set.items[i];
        const char *eq = strchr(a, '=');
        if (!eq)
            return -EINVAL;
        char *copy = strdup(a);
        if (!copy)
            return -ENOMEM;
        long at = env_find(env, n, a, (size_t)(eq - a));
        if (at >= 0) {
            free(env[at]);
            env[at] = copy;
        } else {
            env[n++] = copy;
        }
    }
    *out = steal_pointer(&env);
    return 0;
}

const char *env_get(char *const *env, const char *name)
{
    size_t l = strlen(name);
    for (char *const *e = env; e && *e; e++)
        if (strncmp(*e, name, l) == 0 && (*e)[l] == '=')
            return *e + l + 1;
    return NULL;
}
