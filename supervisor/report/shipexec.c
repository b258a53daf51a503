/* SPDX-License-Identifier: MIT */
#include "shipexec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envbuild.h"
#include "hooks.h"
#include "log.h"
#include "util.h"

#define SHIP_BINARY "crashbox-ship"

extern char **environ;

/* Beside this executable (the build tree, a bin/ with both), then the
 * installed libexec/crashbox/ next to bin/; else the bare name, for PATH. */
static void ship_binary(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    snprintf(out, cap, "%s", SHIP_BINARY);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return;
    *slash = '\0';
    static const char *const rel[] = {"/" SHIP_BINARY, "/../libexec/crashbox/" SHIP_BINARY};
    for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s%s", self, rel[i]);
        if (access(path, X_OK) == 0) {
            snprintf(out, cap, "%s", path);
            return;
        }
    }
}

int ship_exec(int argc, char **argv)
{
    _cleanup_free_ char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return 1;
    args[0] = (char *)SHIP_BINARY;
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    char path[PATH_MAX + 64];
    ship_binary(path, sizeof path);
    execvp(path, args);
    if (strchr(path, '/')) {
        fprintf(stderr, "crashbox %s: cannot run %s: %s\n", argv[0], path, strerror(errno));
        return 126;
    }
    fprintf(stderr,
            "crashbox %s: %s not found beside crashbox, in ../libexec/crashbox/ or on PATH (%s);\n"
            "  it is built by `make` and installed by `make install`, and needs libcurl\n",
            argv[0], SHIP_BINARY, strerror(errno));
    return 127;
}

static void envp_freep(char ***e) { env_free(*e); }

void ship_after_bundle(const struct policy *p, const char *bundle_path)
{
    if (!p->ship_to)
        return;
    char dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s", bundle_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    ship_binary(path, sizeof path);
    __attribute__((cleanup(envp_freep))) char **env = NULL;
    if (env_build(environ, &p->watcher_env, &env) < 0)
        return;
    char *argv[12];
    size_t n = 0;
    argv[n++] = path;
    argv[n++] = (char *)"ship";
    argv[n++] = dir;
    argv[n++] = (char *)"--to";
    argv[n++] = p->ship_to;
    if (p->ship_endpoint) {
        argv[n++] = (char *)"--endpoint";
        argv[n++] = p->ship_endpoint;
    }
    if (p->ship_delete_after)
        argv[n++] = (char *)"--delete-after";
    argv[n++] = (char *)"--once";
    argv[n] = NULL;
    hooks_run_watcher(p, argv, env);
}
