#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memrelease.h"
#include "util.h"

/* The smaps of a crashbox 50 ms after start (before its release): the static
 * build (text, rodata, RELRO with the pages static glibc relocated, data,
 * bss) and the dynamic one (the same for libc, libzstd, libcap, libseccomp
 * and ld.so). */
static int plan_fixture(const char *name, struct memrelease_range *out, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "tests/fixtures/smaps/%s", name);
    _cleanup_free_ char *buf = NULL;
    size_t len;
    cr_assert_eq(read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len), 0, "%s", path);
    return memrelease_plan(buf, len, out, cap);
}

/* The mappings of an smaps file (a fixture, or /proc/self/smaps). */
static struct coredump_vma *vmas_of(const char *path, size_t *n)
{
    _cleanup_free_ char *buf = NULL;
    size_t len;
    cr_assert_eq(read_file_at(AT_FDCWD, path, 1 << 24, &buf, &len), 0, "%s", path);
    struct coredump_vma *v;
    cr_assert_eq(coredump_parse_smaps(buf, len, &v, n), 0);
    return v;
}

static bool planned(const struct memrelease_range *r, int n, uint64_t start)
{
    for (int i = 0; i < n; i++)
        if (r[i].start == start)
            return true;
    return false;
}

Test(memrelease, static_build_gives_back_text_and_rodata_never_relro_or_data)
{
    struct memrelease_range r[MEMRELEASE_MAX];
    int n = plan_fixture("crashbox-static.txt", r, MEMRELEASE_MAX);
    cr_assert_eq(n, 4, "headers, text, rodata and the stack, got %d", n);
    cr_assert(planned(r, n, 0x400000) && planned(r, n, 0x401000) && planned(r, n, 0x58b000));
    cr_assert_eq(r[1].end, 0x58b000);
    cr_assert_gt(r[1].rss, 0);
    cr_assert(!planned(r, n, 0x5e4000), "RELRO: written by the relocations at start");
    cr_assert(!planned(r, n, 0x5eb000), "data");
    cr_assert(!planned(r, n, 0x5ee000), "bss");
    cr_assert(r[3].stack && !r[0].stack && !r[1].stack);
    cr_assert_eq(r[3].rss, 0, "the stack's part is decided at apply, not counted");
}

Test(memrelease, dynamic_build_gives_back_every_clean_library_mapping)
{
    struct memrelease_range r[MEMRELEASE_MAX];
    int n = plan_fixture("crashbox-dynamic.txt", r, MEMRELEASE_MAX);
    size_t nv;
    struct coredump_vma *v = vmas_of("tests/fixtures/smaps/crashbox-dynamic.txt", &nv);
    size_t text = 0;
    for (size_t i = 0; i < nv; i++) {
        bool in = planned(r, n, v[i].start);
        if (v[i].x && v[i].has_path) {
            cr_assert(in, "%s r-xp at %llx", v[i].path, (unsigned long long)v[i].start);
            text++;
        }
        if (v[i].w || v[i].anon || !v[i].has_path)
            cr_assert(!in || strcmp(v[i].path, "[stack]") == 0, "%s at %llx: written or not a file", v[i].path,
                      (unsigned long long)v[i].start);
    }
    cr_assert_eq(text, 6, "crashbox, libc, libzstd, libcap, libseccomp, ld.so");
    coredump_vmas_free(v, nv);
}

Test(memrelease, a_swapped_copy_or_a_kernel_without_the_figures_keeps_its_pages)
{
    static const char swapped[] = "00400000-00401000 r--p 00000000 08:01 1 /usr/bin/x\n"
                                  "Rss:                   0 kB\n"
                                  "Anonymous:             0 kB\n"
                                  "Swap:                  4 kB\n"
                                  "00401000-00402000 r-xp 00001000 08:01 1 /usr/bin/x\n"
                                  "Rss:                   4 kB\n"
                                  "Anonymous:             0 kB\n"
                                  "Swap:                  0 kB\n";
    struct memrelease_range r[4];
    cr_assert_eq(memrelease_plan(swapped, strlen(swapped), r, 4), 1);
    cr_assert_eq(r[0].start, 0x401000);
    static const char old[] = "00401000-00402000 r-xp 00001000 08:01 1 /usr/bin/x\nRss:  4 kB\n";
    cr_assert_eq(memrelease_plan(old, strlen(old), r, 4), -ENODATA);
}

static uint64_t rss_of(void *addr)
{
    size_t n;
    struct coredump_vma *v = vmas_of("/proc/self/smaps", &n);
    uint64_t rss = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (v[i].start == (uint64_t)(uintptr_t)addr)
            rss = v[i].rss;
    coredump_vmas_free(v, n);
    return rss;
}

/* The release on this very process: a read-only file mapping it read is
 * unmapped, mapped back by the restore, and still reads the same; one written before it was made
 * read-only (as RELRO is) keeps what was written. */
Test(memrelease, apply_unmaps_clean_file_pages_and_keeps_written_ones)
{
    char path[] = "/tmp/crashbox-memrelease-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    size_t size = 16 * 4096;
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + i % 26);
    cr_assert_eq(write_all(fd, data, size), 0);
    char *ro = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    char *relro = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    cr_assert(ro != MAP_FAILED && relro != MAP_FAILED);
    volatile char sum = 0;
    for (size_t i = 0; i < size; i += 4096)
        sum += ro[i];
    relro[5000] = 'X';
    cr_assert_eq(mprotect(relro, size, PROT_READ), 0);
    cr_assert_gt(rss_of(ro), 0);

    struct memrelease_range r[MEMRELEASE_MAX * 4];
    int n = memrelease_plan_self(r, ARRAY_SIZE(r));
    cr_assert_gt(n, 0);
    cr_assert(planned(r, n, (uint64_t)(uintptr_t)ro));
    cr_assert(!planned(r, n, (uint64_t)(uintptr_t)relro), "written, then made read-only");
    uint64_t released = memrelease_apply(r, (size_t)n);
    cr_assert_geq(released, size);

    cr_assert_eq(rss_of(ro), 0, "unmapped");
    /* Memory nears the limit: what was given back is mapped again at once. */
    cr_assert_eq(memrelease_restore(r, (size_t)n), 0);
    cr_assert_geq(rss_of(ro), size, "mapped back before anything reads it");
    cr_assert_eq(memcmp(ro, data, size), 0, "faults back the file's bytes");
    cr_assert_eq(relro[5000], 'X', "the written copy is kept");
    cr_assert_eq(memcmp(relro, data, 5000), 0);
    munmap(ro, size);
    munmap(relro, size);
    close(fd);
    free(data);
}

/* Deep start-up calls leave their pages on the stack below the caller. */
__attribute__((noinline)) static void deep_call(void)
{
    volatile char buf[256 << 10];
    for (size_t i = 0; i < sizeof buf; i += 4096)
        buf[i] = 1;
}

static uint64_t stack_rss(void)
{
    size_t n;
    struct coredump_vma *v = vmas_of("/proc/self/smaps", &n);
    uint64_t rss = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].path, "[stack]") == 0)
            rss = v[i].rss;
    coredump_vmas_free(v, n);
    return rss;
}

/* The main thread's stack below the running frame goes; what the callers
 * hold above it stays. */
Test(memrelease, apply_gives_back_the_stack_below_the_frame_only)
{
    char mine[8192];
    for (size_t i = 0; i < sizeof mine; i++)
        mine[i] = (char)i;
    deep_call(); /* start-up, before the plan (which sees the stack as deep as it went) */
    struct memrelease_range r[MEMRELEASE_MAX * 4];
    int n = memrelease_plan_self(r, ARRAY_SIZE(r));
    cr_assert_gt(n, 0);
    uint64_t before = stack_rss();
    cr_assert_geq(before, 256 << 10, "the deep call's pages are resident: %llu", (unsigned long long)before);
    (void)memrelease_apply(r, (size_t)n);
    uint64_t after = stack_rss();
    cr_assert_leq(after + (200 << 10), before, "released: %llu -> %llu", (unsigned long long)before,
                  (unsigned long long)after);
    for (size_t i = 0; i < sizeof mine; i++)
        cr_assert_eq(mine[i], (char)i, "the caller's frame at %zu", i);
}
