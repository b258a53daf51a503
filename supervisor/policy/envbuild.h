/* SPDX-License-Identifier: MIT */
/* Builds the environment of a process crashbox starts from crashbox's own
 * environment and a policy's env_rules. Pure: environ is a parameter. */
#pragma once

#include "policy.h"

/* A NULL-terminated NAME=VALUE array; env_free() releases it. */
int env_build(char *const *base, const struct env_rules *rules, char ***out);
void env_free(char **env);
/* The value of name in env, or NULL. */
const char *env_get(char *const *env, const char *name);
