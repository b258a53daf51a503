/* SPDX-License-Identifier: MIT */
#include "shipexec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define SHIP_BINARY "crashbox-ship"

int ship_exec(int argc, char **argv)
{
    _cleanup_free_ char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args)
        return 1;
    args[0] = (char *)SHIP_BINARY;
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    /* Beside this executable (the build tree, a bin/ with both), then the
     * installed libexec/crashbox/ next to bin/, then PATH. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = {"/" SHIP_BINARY, "/../libexec/crashbox/" SHIP_BINARY};
            for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
                char path[PATH_MAX + 64];
                snprintf(path, sizeof path, "%s%s", self, rel[i]);
                if (access(path, X_OK) == 0) {
                    execv(path, args);
                    fprintf(stderr, "crashbox %s: cannot run %s: %s\n", argv[0], path, strerror(errno));
                    return 126;
                }
            }
        }
    }
    execvp(SHIP_BINARY, args);
    fprintf(stderr,
            "crashbox %s: %s not found beside crashbox, in ../libexec/crashbox/ or on PATH (%s);\n"
            "  it is built by `make` and installed by `make install`, and needs libcurl\n",
            argv[0], SHIP_BINARY, strerror(errno));
    return 127;
}
