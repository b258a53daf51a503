/* SPDX-License-Identifier: MIT */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "envbuild.h"
#include "log.h"
#include "watcher.h"
#include "util.h"

extern char **environ;

static void envp_freep(char ***e) { env_free(*e); }

/* Adds NAME=VALUE (replacing) to a NULL-terminated env built by env_build. */
static char **env_put(char **env, const char *name, const char *value)
{
    size_t n = 0;
    while (env[n])
        n++;
    char **ne = realloc(env, (n + 2) * sizeof *ne);
    if (!ne)
        return env;
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", name, value ? value : "") < 0)
        return ne;
    ne[n] = kv;
    ne[n + 1] = NULL;
    return ne;
}

void hooks_on_crash(const struct policy *p, const struct hook_event *ev)
{
    __attribute__((cleanup(envp_freep))) char **env = NULL;
    if (!p->on_crash.n)
        return;
    if (env_build(environ, &p->watcher_env, &env) < 0)
        return;
    env = env_put(env, "CRASHBOX_BUNDLE", ev->bundle);
    env = env_put(env, "CRASHBOX_SERVICE", ev->service);
    env = env_put(env, "CRASHBOX_KIND", ev->kind);
    env = env_put(env, "CRASHBOX_FINGERPRINT", ev->fingerprint);
    /* argv: the command, then the bundle's path as its last argument. */
    size_t n = p->on_crash.n;
    _cleanup_free_ char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return;
    for (size_t i = 0; i < n; i++)
        argv[i] = p->on_crash.items[i];
    argv[n] = (char *)ev->bundle;
    (void)watcher_run(p, argv, env, -1);
}
