/* SPDX-License-Identifier: MIT */
#include "exitstatus.h"

#include <errno.h>
#include <sys/wait.h>

int exit_code_from_wait_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_CRASHBOX_SYSTEM;
}

int exit_code_from_exec_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
        return EXIT_EXEC_NOT_FOUND;
    default:
        return EXIT_EXEC_NOT_EXECUTABLE;
    }
}
