/* SPDX-License-Identifier: MIT */
#include "sigtable.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[32] = {
    [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT",
    [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",     [SIGABRT] = "SIGABRT",
    [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",       [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",     [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM",
    [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT",
    [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN",
    [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU",
    [SIGXFSZ] = "SIGXFSZ",     [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
    [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",         [SIGPWR] = "SIGPWR",
    [SIGSYS] = "SIGSYS",
};

const char *signal_name(int sig)
{
    if (sig <= 0 || sig >= 32)
        return NULL;
    return names[sig];
}

int signal_from_name(const char *name)
{
    if (!name || !*name)
        return -1;
    char *end;
    long n = strtol(name, &end, 10);
    if (*end == '\0')
        return signal_name((int)n) ? (int)n : -1;
    if (strncasecmp(name, "SIG", 3) == 0)
        name += 3;
    for (int s = 1; s < 32; s++)
        if (names[s] && strcasecmp(names[s] + 3, name) == 0)
            return s;
    return -1;
}

enum sig_handling signal_handling(int sig)
{
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
        return SIGH_UNCATCHABLE;
    case SIGCHLD:
        return SIGH_REAP;
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
        return SIGH_JOB_CONTROL;
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGTRAP:
    case SIGSYS:
        return SIGH_FAULT;
    default:
        return SIGH_FORWARD;
    }
}

bool signal_starts_grace(int sig) { return sig == SIGTERM || sig == SIGINT; }
