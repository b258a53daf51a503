/* SPDX-License-Identifier: MIT */
#include "childexec.h"

#include <signal.h>
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
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof dfl.mask);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
