/* SPDX-License-Identifier: MIT */
#include "shimctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define SHIM_MAX_ANSWER (64u << 20)

static int wait_fd(int fd, short ev, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return p.revents & (POLLERR | POLLNVAL) ? -EPIPE : 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int read_exact(int fd, char *buf, size_t len, long long deadline)
{
    size_t got = 0;
    while (got < len) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n == 0)
            return -EPIPE;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

int shimctl_greeted(int fd)
{
    static const char hello[] = "crashbox-shim 1\n";
    char buf[sizeof hello];
    ssize_t n = recv(fd, buf, sizeof hello - 1, MSG_DONTWAIT | MSG_PEEK);
    if (n != (ssize_t)sizeof hello - 1 || memcmp(buf, hello, sizeof hello - 1) != 0)
        return 0;
    (void)recv(fd, buf, sizeof hello - 1, MSG_DONTWAIT); /* consume it */
    return 1;
}

int shimctl_request(int fd, const char *what, long long deadline, char **out, size_t *len)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", what);
    if (wait_fd(fd, POLLOUT, deadline) < 0 || send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
        return -EPIPE;
    /* The header, a byte at a time: it is short. */
    char head[96];
    size_t h = 0;
    for (;;) {
        int r = read_exact(fd, head + h, 1, deadline);
        if (r < 0)
            return r;
        if (head[h] == '\n')
            break;
        if (++h == sizeof head - 1)
            return -EPROTO;
    }
    head[h] = '\0';
    char name[64];
    unsigned long long size;
    if (sscanf(head, "%63s %llu", name, &size) != 2 || size > SHIM_MAX_ANSWER)
        return -EPROTO;
    char *body = malloc(size + 1);
    if (!body)
        return -ENOMEM;
    int r = read_exact(fd, body, size, deadline);
    if (r < 0) {
        free(body);
        return r;
    }
    body[size] = '\0';
    if (strcmp(name, what) != 0) {
        free(body);
        return -EREMOTEIO; /* the shim said "error" */
    }
    *out = body;
    *len = size;
    return 0;
}

void shimctl_collect(int fd, long long deadline, struct items *it)
{
    /* The runtime's figures first: the verdicts rest on them, and a
     * service near its limit may not live through the rest. */
    static const struct {
        const char *req, *member;
    } asks[] = {
        {"runtime", "go/runtime.json"},
        {"goroutines", "go/goroutines.txt"},
        {"memstats", "go/memstats.json"},
        {"heap", "go/heap.pb.gz"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(asks); i++) {
        char *buf;
        size_t len;
        int r = shimctl_request(fd, asks[i].req, deadline, &buf, &len);
        if (r < 0) {
            items_add_missing(it, asks[i].member, r == -ETIMEDOUT ? "the Go shim did not answer in time"
                                                  : r == -EPIPE   ? "the Go shim's connection closed before it answered"
                                                  : r == -EREMOTEIO ? "the Go shim does not know this request"
                                                                  : strerror(-r));
        } else {
            items_add(it, asks[i].member, buf, len, false);
        }
        if (r == -EPIPE || r == -ETIMEDOUT) {
            /* A missing or stuck shim: do not wait again, and say so for each. */
            for (size_t k = i + 1; k < ARRAY_SIZE(asks); k++)
                items_add_missing(it, asks[k].member, "not asked: an earlier request to the Go shim failed");
            break;
        }
    }
}
