/* SPDX-License-Identifier: MIT */
/* What every child crashbox forks does before execve. */
#pragma once

/* Closes every fd from `from` upward except `keep` (which may be -1). */
void close_fds_from(int from, int keep);

/* Resets signal mask and all dispositions to their defaults: what a
 * freshly exec'd program expects to inherit. Async-signal-safe. */
void signals_reset_for_exec(void);
/* Notes which dispositions signals_reset_for_exec must reset (the ignored
 * ones), from the text of the parent's /proc/self/status, so that it resets
 * only those. Until then it resets every signal. */
void signals_note_dispositions(const char *status);
