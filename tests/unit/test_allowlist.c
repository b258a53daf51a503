/* SPDX-License-Identifier: MIT */
/* The allowlist's search tree: for every syscall number, the verdict of a
 * list (is it listed?), on an interpreter of the program; and the real
 * kernel takes it and follows it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allowlist.h"

#define DENY (SECCOMP_RET_ERRNO | EPERM)
#define ARCH AUDIT_ARCH_X86_64

/* Classic BPF as seccomp runs it, for the instructions a tree uses. */
static size_t steps;

static uint32_t run(const struct sock_filter *f, size_t n, uint32_t arch, uint32_t nr)
{
    uint32_t a = 0;
    steps = 0;
    for (size_t pc = 0; pc < n; pc++, steps++) {
        const struct sock_filter *i = &f[pc];
        switch (i->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            cr_assert(i->k == offsetof(struct seccomp_data, arch) || i->k == offsetof(struct seccomp_data, nr));
            a = i->k == offsetof(struct seccomp_data, arch) ? arch : nr;
            break;
        case BPF_RET | BPF_K:
            return i->k;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == i->k ? i->jt : i->jf;
            break;
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += a >= i->k ? i->jt : i->jf;
            break;
        case BPF_JMP | BPF_JGT | BPF_K:
            pc += a > i->k ? i->jt : i->jf;
            break;
        default:
            cr_assert_fail("instruction %#x at %zu", i->code, pc);
        }
    }
    cr_assert_fail("ran off the end of the program");
    return 0;
}

static bool listed(const int *nrs, size_t n, uint32_t nr)
{
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)nrs[i] == nr)
            return true;
    return false;
}

static void check_every_number(const int *nrs, size_t n)
{
    struct sock_filter f[256];
    size_t len = allowlist_filter_build(f, 256, ARCH, nrs, n, DENY);
    cr_assert_gt(len, 0);
    for (uint32_t nr = 0; nr < 2048; nr++)
        cr_assert_eq(run(f, len, ARCH, nr), listed(nrs, n, nr) ? SECCOMP_RET_ALLOW : DENY, "nr %u", nr);
    uint32_t odd[] = {0x40000000u, 0x40000000u | 1, 0x7fffffffu, 0xffffffffu};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
        cr_assert_eq(run(f, len, ARCH, odd[i]), DENY, "x32 or out of range: %#x", odd[i]);
    for (uint32_t nr = 0; nr < 512; nr++)
        cr_assert_eq(run(f, len, AUDIT_ARCH_I386, nr), DENY, "another architecture's call %u", nr);
}

Test(allowlist, every_number_as_listed)
{
    /* Runs of neighbours, lone numbers, duplicates, out of order. */
    int mixed[] = {0, 1, 2, 3, 4, 5, 9, 11, 12, 13, 60, 61, 231, 17, 17, 200, 435, 202, 1, 334, 39, 40, 41};
    check_every_number(mixed, sizeof mixed / sizeof *mixed);
    int one[] = {60};
    check_every_number(one, 1);
    check_every_number(NULL, 0);
    /* Every other number: the most runs for the fewest numbers. */
    int sparse[150];
    for (int i = 0; i < 150; i++)
        sparse[i] = 2 * i + 1;
    check_every_number(sparse, 150);
}

Test(allowlist, what_does_not_fit_is_refused)
{
    struct sock_filter f[256];
    int sparse[200];
    for (int i = 0; i < 200; i++)
        sparse[i] = 2 * i;
    cr_assert_eq(allowlist_filter_build(f, 64, ARCH, sparse, 200, DENY), 0, "longer than cap");
    int many[ALLOWLIST_MAX_CALLS + 1] = {0};
    cr_assert_eq(allowlist_filter_build(f, 256, ARCH, many, ALLOWLIST_MAX_CALLS + 1, DENY), 0);
}

/* What the kernel walks for each number at install, and at each call. */
Test(allowlist, a_short_walk_for_every_number)
{
    int nrs[120];
    for (int i = 0; i < 120; i++)
        nrs[i] = 3 * i;
    struct sock_filter f[256];
    size_t len = allowlist_filter_build(f, 256, ARCH, nrs, 120, DENY);
    cr_assert_gt(len, 0);
    size_t most = 0;
    for (uint32_t nr = 0; nr < 512; nr++) {
        run(f, len, ARCH, nr);
        most = steps > most ? steps : most;
    }
    /* the head, a 30-leaf tree's 5 levels, a leaf's 4 compares, the return */
    cr_assert_leq(most, 4 + 5 + 4 + 1, "%zu instructions walked (a list: 124)", most);
}

#if defined(__x86_64__)
/* The kernel takes the program and follows it: getppid listed, getpid not. */
Test(allowlist, the_kernel_follows_it)
{
    int nrs[] = {SYS_read, SYS_write, SYS_exit_group, SYS_exit, SYS_getppid, SYS_rt_sigreturn};
    struct sock_filter f[64];
    struct sock_fprog prog = {.len = (unsigned short)allowlist_filter_build(f, 64, ARCH, nrs, 6, DENY), .filter = f};
    cr_assert_gt(prog.len, 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
            _exit(10);
        if (syscall(SYS_getppid) <= 0)
            _exit(11);
        if (syscall(SYS_getpid) != -1 || errno != EPERM)
            _exit(12);
        syscall(SYS_exit_group, 0);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
#endif
