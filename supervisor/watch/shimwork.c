/* SPDX-License-Identifier: MIT */
#include "shimwork.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>

#include "log.h"
#include "shimctl.h"
#include "util.h"

static void *run(void *arg)
{
    struct shimwork *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        size_t i = MEMWATCH_MAX;
        for (size_t k = 0; k < MEMWATCH_MAX && i == MEMWATCH_MAX; k++)
            if (w->queued[k])
                i = k;
        if (i == MEMWATCH_MAX) {
            if (w->stopping)
                break;
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        w->queued[i] = false;
        unsigned gen = w->gen[i];
        pthread_mutex_unlock(&w->mu);
        struct items it = {0};
        shimctl_collect(w->fd, now_ms() + w->budget_ms, &it);
        pthread_mutex_lock(&w->mu);
        if (gen == w->gen[i]) {
            items_free(&w->got[i]);
            w->got[i] = it;
            w->done[i] = true;
        } else {
            items_free(&it);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void shimwork_init(struct shimwork *w, int fd, long long budget_ms)
{
    *w = (struct shimwork){.fd = fd, .budget_ms = budget_ms};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

void shimwork_ask(struct shimwork *w, size_t i)
{
    if (!w->started) {
        /* One malloc arena: a thread's own arena would fault in new pages
         * just as the service dies at the limit of a cgroup crashbox
         * shares, and the OOM killer's next victim would be crashbox. */
        mallopt(M_ARENA_MAX, 1);
        int r = pthread_create(&w->thread, NULL, run, w);
        if (r) {
            log_warn("cannot start the thread that asks the Go shim: %s", strerror(r));
            return;
        }
        w->started = true;
    }
    pthread_mutex_lock(&w->mu);
    w->gen[i]++;
    w->queued[i] = true;
    w->done[i] = false;
    items_free(&w->got[i]);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void shimwork_drop(struct shimwork *w, size_t i)
{
    pthread_mutex_lock(&w->mu);
    w->gen[i]++;
    w->queued[i] = false;
    w->done[i] = false;
    items_free(&w->got[i]);
    pthread_mutex_unlock(&w->mu);
}

void shimwork_finish(struct shimwork *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void shimwork_free(struct shimwork *w)
{
    shimwork_finish(w);
    for (size_t i = 0; i < MEMWATCH_MAX; i++)
        items_free(&w->got[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}
