/* SPDX-License-Identifier: MIT */
#include "classify.h"

#include <signal.h>
#include <sys/wait.h>

#include "policy.h"
#include "sigtable.h"

const char *crash_kind_name(enum crash_kind k)
{
    static const char *const names[] = {
        [CRASH_NONE] = "none",         [CRASH_GO_PANIC] = "go-panic", [CRASH_GO_FATAL] = "go-fatal",
        [CRASH_RACE] = "race",         [CRASH_OOM_KILL] = "oom-kill", [CRASH_SIGNAL] = "signal",
        [CRASH_EXIT] = "exit",
    };
    return names[k];
}

enum crash_kind crash_classify(int wait_status, bool normal_exit, enum go_crash_kind go_kind,
                               bool oom_killed, int stop_signal, bool crash_signal)
{
    if (WIFEXITED(wait_status) && normal_exit)
        return CRASH_NONE; /* a forged report in a clean exit stays clean */
    if (WIFSIGNALED(wait_status) && stop_signal && WTERMSIG(wait_status) == stop_signal)
        return CRASH_NONE; /* asked to stop, and it did */
    if (WIFSIGNALED(wait_status) && signal_only_ends(WTERMSIG(wait_status)) && !crash_signal)
        return CRASH_NONE; /* Ctrl-C, kill, a closed pipe: told to end, and it did */
    if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL && oom_killed)
        return CRASH_OOM_KILL;
    switch (go_kind) {
    case GO_CRASH_PANIC:
        return CRASH_GO_PANIC;
    case GO_CRASH_FATAL:
        return CRASH_GO_FATAL;
    case GO_CRASH_RACE:
        return CRASH_RACE;
    case GO_CRASH_NONE:
        break;
    }
    return WIFSIGNALED(wait_status) ? CRASH_SIGNAL : CRASH_EXIT;
}
