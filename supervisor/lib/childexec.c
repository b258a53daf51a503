/* SPDX-License-Identifier: MIT */
#include "childexec.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void close_fds_from(int from, int keep)
{
    if (keep < from) {
        if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
            return;
    } else {
        if ((keep <= from || syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0) == 0) &&
            syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0)
            return;
    }
    /* Kernels before 5.9: close one by one. */
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = from; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* The signals whose disposition execve would not reset: the ignored ones.
 * Caught ones go back to the default at execve; until then a fault signal
 * someone kill()s the child with reaches crashbox's handler in it, which
 * passes it to crashbox, which forwards it to the child: the same end.
 * Bit s-1 for signal s; every signal until noted. */
static uint64_t not_default = ~0ULL;

static bool status_mask(const char *status, const char *key, uint64_t *out)
{
    const char *p = strstr(status, key);
    if (!p)
        return false;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    unsigned long long v = strtoull(p, &end, 16);
    if (end == p)
        return false;
    *out = (uint64_t)v;
    return true;
}

void signals_note_dispositions(const char *status)
{
    /* One read of /proc instead of a sigaction per signal in every child. */
    uint64_t ign;
    if (status_mask(status, "\nSigIgn:", &ign))
        not_default = ign;
}

void signals_reset_for_exec(void)
{
    /* The raw syscall: glibc refuses to touch the two real-time signals
     * it keeps for itself (32, 33), yet a caller may have left them ignored
     * and an ignored disposition survives execve. */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } dfl = {0};
    for (int s = 1; s < NSIG && s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP && (not_default >> (s - 1) & 1))
            (void)syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof dfl.mask);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
