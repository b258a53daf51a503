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
        [CRASH_EXIT] = "exit",         [CRASH_SUPERVISOR_KILLED] = "supervisor-killed",
        [CRASH_MEMORY_HIGH] = "memory-high",
    };
    _Static_assert(sizeof names / sizeof names[0] == CRASH_KINDS, "a name for every crash kind");
    return (unsigned)k < CRASH_KINDS ? names[k] : "unknown";
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

bool crash_end_is_clean(int wait_status, const struct policy *p, int stop_signal)
{
    bool normal = WIFEXITED(wait_status) && policy_is_normal_exit(p, WEXITSTATUS(wait_status));
    bool crash_sig = WIFSIGNALED(wait_status) && policy_is_crash_signal(p, WTERMSIG(wait_status));
    return crash_classify(wait_status, normal, GO_CRASH_NONE, false, stop_signal, crash_sig) == CRASH_NONE;
}
