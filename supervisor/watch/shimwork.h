/* SPDX-License-Identifier: MIT */
/* The Go shim's requests at a watermark, on a thread of their own: the
 * supervision loop takes the cheap figures and goes on (the next watermark
 * may come within milliseconds of a burst); the answers are picked up at
 * the service's end. One request at a time: the control socket is one
 * conversation. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "items.h"
#include "memwatch.h"

struct shimwork {
    int fd; /* the control socket, not owned */
    long long budget_ms;
    bool started, stopping;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Per watermark: asked (and not yet taken up), the generation a
     * newer ask or a drop bumps, and the answers. */
    bool queued[MEMWATCH_MAX];
    unsigned gen[MEMWATCH_MAX];
    bool done[MEMWATCH_MAX];
    struct items got[MEMWATCH_MAX]; /* owned */
};

void shimwork_init(struct shimwork *w, int fd, long long budget_ms);
/* Asks for watermark i's answers (replacing earlier ones). */
void shimwork_ask(struct shimwork *w, size_t i);
/* Forgets watermark i's answers (memory fell back). */
void shimwork_drop(struct shimwork *w, size_t i);
/* Lets the asked requests finish (each within its budget) and ends the
 * thread; the answers stay in got[] for the caller. */
void shimwork_finish(struct shimwork *w);
void shimwork_free(struct shimwork *w);
