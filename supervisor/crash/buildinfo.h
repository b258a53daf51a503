/* SPDX-License-Identifier: MIT */
/* Go build information from an executable's ELF ".go.buildinfo" section
 * (Go 1.18+ layout): Go version, main package and module, VCS stamps and
 * build settings. Pure parse over a buffer, plus a reader for an fd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct go_buildinfo {
    char go_version[64];
    char path[512];        /* main package path */
    char module[512];      /* main module path */
    char module_version[128];
    char vcs_revision[128];
    char vcs_time[64];
    bool vcs_modified;
    char *modinfo; /* owned: the whole text, for go/buildinfo.txt */
};

/* Parses the ".go.buildinfo" section's bytes. Returns 0, or -ENOENT (not a
 * Go 1.18+ build info blob), -EINVAL (malformed). */
int buildinfo_parse(const char *sec, size_t len, struct go_buildinfo *bi);
/* Finds and parses the section in the ELF file open at fd. */
int buildinfo_read_fd(int fd, struct go_buildinfo *bi);
void buildinfo_free(struct go_buildinfo *bi);
