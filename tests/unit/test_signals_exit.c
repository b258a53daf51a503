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

#include "restart.h"

Test(restart, back_off_grows_and_is_capped_with_bounded_jitter)
{
    struct policy p;
    policy_init_defaults(&p);
    p.restart_min_delay_ms = 1000;
    p.restart_max_delay_ms = 8000;
    long long expect[] = {1000, 2000, 4000, 8000, 8000, 8000};
    for (unsigned n = 1; n <= 6; n++) {
        long long lo = expect[n - 1] * 3 / 4, hi = expect[n - 1] * 5 / 4;
        for (unsigned rnd = 0; rnd < 5000; rnd += 97) {
            long long d = restart_delay_ms(&p, n, rnd);
            cr_assert(d >= lo && d <= hi, "restart %u: %lld not in [%lld, %lld]", n, d, lo, hi);
        }
    }
    cr_assert(restart_wanted(&p, CRASH_EXIT, 1) == false, "never by default");
    p.restart_mode = RESTART_ON_CRASH;
    cr_assert(restart_wanted(&p, CRASH_GO_PANIC, 2));
    cr_assert_not(restart_wanted(&p, CRASH_NONE, 0));
    p.restart_mode = RESTART_ALWAYS;
    cr_assert(restart_wanted(&p, CRASH_NONE, 0));
    policy_free(&p);
}
