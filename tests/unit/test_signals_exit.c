#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "exitstatus.h"
#include "reap.h"
#include "sigtable.h"

Test(sigtable, names_round_trip)
{
    for (int s = 1; s < 32; s++) {
        const char *n = signal_name(s);
        cr_assert_not_null(n, "signal %d has no name", s);
        cr_assert_eq(signal_from_name(n), s);
        cr_assert_eq(signal_from_name(n + 3), s);
    }
    cr_assert_eq(signal_from_name("term"), SIGTERM);
    cr_assert_eq(signal_from_name("9"), SIGKILL);
    cr_assert_eq(signal_from_name("SIGNOPE"), -1);
    cr_assert_eq(signal_from_name("32"), -1);
    cr_assert_null(signal_name(0));
    cr_assert_null(signal_name(32));
}

Test(sigtable, handling)
{
    cr_assert_eq(signal_handling(SIGCHLD), SIGH_REAP);
    cr_assert_eq(signal_handling(SIGKILL), SIGH_UNCATCHABLE);
    cr_assert_eq(signal_handling(SIGSTOP), SIGH_UNCATCHABLE);
    cr_assert_eq(signal_handling(SIGTSTP), SIGH_JOB_CONTROL);
    cr_assert_eq(signal_handling(SIGTTOU), SIGH_JOB_CONTROL);
    cr_assert_eq(signal_handling(SIGSEGV), SIGH_FAULT);
    cr_assert_eq(signal_handling(SIGQUIT), SIGH_FORWARD, "Go's goroutine dump signal");
    cr_assert_eq(signal_handling(SIGABRT), SIGH_FORWARD);
    cr_assert_eq(signal_handling(SIGURG), SIGH_FORWARD);
    cr_assert(signal_starts_grace(SIGTERM));
    cr_assert(signal_starts_grace(SIGINT));
    cr_assert_not(signal_starts_grace(SIGHUP));
}

Test(exitstatus, codes_and_signals)
{
    for (int code = 0; code < 256; code++)
        cr_assert_eq(exit_code_from_wait_status(W_EXITCODE(code, 0)), code);
    for (int s = 1; s < 32; s++)
        cr_assert_eq(exit_code_from_wait_status(W_EXITCODE(0, s)), 128 + s);
    cr_assert_eq(exit_code_from_exec_errno(ENOENT), 127);
    cr_assert_eq(exit_code_from_exec_errno(EACCES), 126);
    cr_assert_eq(exit_code_from_exec_errno(ENOEXEC), 126);
}

Test(reap, parses_ppid_from_stat)
{
    pid_t ppid;
    const char *a = "1234 (sleep) S 77 1234 1234 0 -1";
    cr_assert_eq(proc_stat_parse_ppid(a, strlen(a), &ppid), 0);
    cr_assert_eq(ppid, 77);
    const char *b = "99 (a) b) (c) R 4242 99 99";
    cr_assert_eq(proc_stat_parse_ppid(b, strlen(b), &ppid), 0);
    cr_assert_eq(ppid, 4242);
    const char *c = "99 (no close paren S 1";
    cr_assert_lt(proc_stat_parse_ppid(c, strlen(c), &ppid), 0);
    const char *d = "99 (x) S";
    cr_assert_lt(proc_stat_parse_ppid(d, strlen(d), &ppid), 0);
}
