/* SPDX-License-Identifier: MIT */
/* The Kubernetes termination message: a short crash summary written to the
 * container's termination message path, so `kubectl describe pod` says why
 * the service died. Only an existing, writable file is written. */
#pragma once

#include <stddef.h>

#define TERMLOG_MAX 1024 /* well under the kubelet's 4096 bytes */

/* Pure: the text for a crash. */
size_t termlog_format(char *out, size_t cap, const char *service, const char *kind, const char *message,
                      const char *culprit, const char *bundle);
/* Writes it to path (truncating). Returns 0, or -errno (-ENOENT: no file). */
int termlog_write(const char *path, const char *text, size_t len);
