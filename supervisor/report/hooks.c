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
#include "reap.h"
#include "sigtable.h"
#include "childexec.h"
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

/* Logs the hook's output line by line. */
static void log_lines(char *buf, size_t *len, bool flush)
{
    char *start = buf, *nl;
    while ((nl = memchr(start, '\n', *len - (size_t)(start - buf)))) {
        *nl = '\0';
        log_info("hook: %s", start);
        start = nl + 1;
    }
    size_t rest = *len - (size_t)(start - buf);
    if (flush && rest) {
        log_info("hook: %.*s", (int)rest, start);
        rest = 0;
    }
    memmove(buf, start, rest);
    *len = rest;
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
    hooks_run_watcher(p, argv, env);
}

void hooks_run_watcher(const struct policy *p, char *const *argv, char **env)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return;
    _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("hook %s: fork: %s", argv[0], strerror(errno));
        close(out[0]);
        close(out[1]);
        return;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls: crashbox is multithreaded. */
        setpgid(0, 0);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close_fds_from(3, -1);
        signals_reset_for_exec();
        execvpe(argv[0], argv, env);
        static const char msg[] = "cannot execute the hook\n";
        (void)write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(127);
    }
    close(out[1]);
    (void)setpgid(pid, pid);
    reap_claim(pid);
    long long deadline = now_ms() + (long long)p->hook_timeout_ms;
    char buf[4096];
    size_t len = 0;
    struct pollfd pf = {.fd = out[0], .events = POLLIN};
    bool timed_out = false;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int r = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        ssize_t k = read(out[0], buf + len, sizeof buf - len - 1);
        if (k <= 0)
            break; /* EOF: the hook (and all it started) closed its output */
        len += (size_t)k;
        if (len == sizeof buf - 1) {
            buf[len++] = '\n'; /* an overlong line is logged in parts */
        }
        log_lines(buf, &len, false);
    }
    log_lines(buf, &len, true);
    close(out[0]);
    int st = 0;
    if (timed_out || reap_wait_claimed(pid, deadline, &st) == -ETIMEDOUT) {
        log_warn("hook %s: still running after %llums: killing it", argv[0],
                 (unsigned long long)p->hook_timeout_ms);
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        (void)reap_wait_claimed(pid, now_ms() + 5000, &st);
        reap_unclaim(pid);
        return;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        log_info("hook %s: done", argv[0]);
    else if (WIFEXITED(st))
        log_warn("hook %s: failed with exit status %d", argv[0], WEXITSTATUS(st));
    else
        log_warn("hook %s: killed by %s", argv[0], signal_name(WTERMSIG(st)) ?: "a signal");
}
