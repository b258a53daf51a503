/* SPDX-License-Identifier: MIT */
/* Name checks for the policy parser: libcap's and libseccomp's tables. */
#pragma once

#include <stdbool.h>

bool sandbox_capability_known(const char *name, int *cap);
bool sandbox_syscall_known(const char *name);
