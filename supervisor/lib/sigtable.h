/* SPDX-License-Identifier: MIT */
/* The signal table: names, and what crashbox does with each signal. */
#pragma once

#include <stdbool.h>

enum sig_handling {
    SIGH_FORWARD,     /* read from the signalfd, sent on to the service */
    SIGH_JOB_CONTROL, /* TSTP, TTIN, TTOU: sent on; the service stopping stops crashbox */
    SIGH_FAULT,       /* SEGV, BUS, ILL, FPE, TRAP, SYS: a real fault kills crashbox,
                       * one sent with kill(2) is sent on */
    SIGH_REAP,        /* CHLD: reaps, never sent on */
    SIGH_UNCATCHABLE, /* KILL, STOP */
};

/* "SIGTERM" for 15; NULL outside 1..31. */
const char *signal_name(int sig);
/* 15 for "SIGTERM", "TERM" or "15"; -1 if unknown. */
int signal_from_name(const char *name);
enum sig_handling signal_handling(int sig);
/* SIGTERM and SIGINT: forwarded, then escalated after the grace period. */
bool signal_starts_grace(int sig);
