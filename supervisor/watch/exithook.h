/* SPDX-License-Identifier: MIT */
/* The exit hook: a seccomp filter, compiled in crashbox and installed in the
 * service just before execve, that turns the service's last syscalls into
 * user notifications: exit_group, and kill/tkill/tgkill with a fatal signal.
 * crashbox snapshots the still-whole process, then lets the syscall go on
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Every other syscall is allowed in the
 * kernel, and so is an exit_group whose status the policy calls clean;
 * SIGURG (Go's preemption) is never trapped. */
#pragma once

#include <linux/audit.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "strlist.h"

/* The architectures whose syscall numbers crashbox's fixed BPF programs
 * (this one, the self-sandbox's) are built for; elsewhere libseccomp. */
#if defined(__x86_64__)
#define EXITHOOK_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EXITHOOK_ARCH AUDIT_ARCH_AARCH64
#endif

struct seccomp_notif;
struct seccomp_notif_resp;

struct exithook_prog {
    struct sock_filter *filter; /* owned */
    unsigned short len;
    bool listener;              /* the exit hook's notify rules are in it */
    bool denies;                /* the policy's deny list is in it */
};

/* Builds the BPF program: the exit hook's notify rules when notify is set,
 * and the policy's deny list (EPERM, or killing the process) merged in.
 * Returns 0, or -errno (-EINVAL for a list libseccomp refuses). */
int exithook_compile(struct exithook_prog *prog, bool notify, const struct strlist *deny, bool deny_kill,
                     const struct intlist *clean);

/* The exit hook alone as a fixed program (no libseccomp at start-up):
 * exit_group traps unless its status is one of the clean codes, which go
 * on in the kernel; kill/tkill/tgkill with a fatal signal trap. Writes at
 * most EXITHOOK_FILTER_MAX instructions; returns how many. Pure. */
#define EXITHOOK_MAX_CLEAN 64
#define EXITHOOK_FILTER_MAX (8 + 4 + EXITHOOK_MAX_CLEAN + 2 * 11)
size_t exithook_filter_build(struct sock_filter *f, const int *clean, size_t nclean);
void exithook_prog_free(struct exithook_prog *prog);

/* In the child, before execve: no_new_privs, install the filter, with a new
 * listener when it has notify rules (*listener, else -1).
 * Async-signal-safe. Returns 0 or -errno. */
int exithook_install(const struct exithook_prog *prog, int *listener);

/* The hand-over of the listener to crashbox: a message (buf, len) sent on
 * sock with the listener (when >= 0) attached. Async-signal-safe. Returns
 * 0 or -errno. */
int exithook_send(int sock, const void *buf, size_t len, int listener);
/* In crashbox: waits for the next message on sock, and takes the listener
 * attached to it (close-on-exec) into *listener, else -1. Returns the
 * message's length (0: the other end is closed) or -errno. */
ssize_t exithook_receive(int sock, void *buf, size_t len, int *listener);

/* What a notification asks about. */
enum exithook_event {
    EXITHOOK_OTHER,      /* not the service, or not fatal: continue at once */
    EXITHOOK_EXIT,       /* the service's exit_group(code) */
    EXITHOOK_SIGNAL,     /* the service sending itself a fatal signal */
};

struct exithook_call {
    uint64_t id;
    pid_t tid;      /* the calling thread */
    int nr;         /* syscall number */
    uint64_t args[6];
    bool native;    /* the syscall is of crashbox's own architecture */
};

/* Classifies a call. service: the service's pid (its thread group id);
 * is_service_thread tells whether a tid belongs to it. Pure. */
enum exithook_event exithook_classify(const struct exithook_call *c, pid_t service,
                                      bool caller_is_service, bool target_is_service_thread,
                                      int *code_or_signal);

/* The kernel's notification buffers, sized once (the size query is a
 * seccomp(2) call crashbox's own filter need not allow later). */
struct exithook_buffers {
    struct seccomp_notif *req;       /* owned */
    struct seccomp_notif_resp *resp; /* owned */
    size_t req_size, resp_size;      /* as the kernel counts them */
};
int exithook_buffers_alloc(struct exithook_buffers *b);
void exithook_buffers_free(struct exithook_buffers *b);

/* Reads one notification. Returns 0, or -errno (-ENOENT: the caller died). */
int exithook_recv(int fd, struct exithook_buffers *b, struct exithook_call *c);
/* True while the notification's process still exists (pid reuse guard). */
bool exithook_still_valid(int fd, uint64_t id);
/* Lets the syscall proceed. */
int exithook_continue(int fd, struct exithook_buffers *b, uint64_t id);
