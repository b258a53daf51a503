#include <criterion/criterion.h>
#include <string.h>

#include "coredump.h"

/* The mappings of a Go service (trimmed smaps): its executable (text,
 * rodata, data with written pages), a heap arena in use and its unused
 * reservation, a shared memfd, a VM_DONTDUMP mapping, [vvar], [vdso]. */
static const char smaps[] =
    "00400000-00490000 r-xp 00000000 08:01 131 /srv/api\n"
    "Rss:                 580 kB\n"
    "Swap:                  0 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me\n"
    "00490000-00549000 r--p 00090000 08:01 131 /srv/api\n"
    "Rss:                 300 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd mr mw me\n"
    "00549000-00554000 rw-p 00149000 08:01 131 /srv/api\n"
    "Rss:                  44 kB\n"
    "Swap:                  0 kB\n"
    "Anonymous:            16 kB\n"
    "VmFlags: rd wr mr mw me ac\n"
    "c000000000-c000400000 rw-p 00000000 00:00 0 \n"
    "Rss:                2048 kB\n"
    "Swap:                  0 kB\n"
    "Anonymous:          2048 kB\n"
    "VmFlags: rd wr mr mw me ac\n"
    "c000400000-c004000000 ---p 00000000 00:00 0 \n"
    "Rss:                   0 kB\n"
    "VmFlags: mr mw me\n"
    "7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n"
    "Rss:                   0 kB\n"
    "Swap:                  0 kB\n"
    "VmFlags: rd wr mr mw me ac\n"
    "7f0000100000-7f0000200000 rw-s 00000000 00:01 77 /memfd:ring (deleted)\n"
    "Rss:                  64 kB\n"
    "VmFlags: rd wr sh mr mw me ms\n"
    "7f0000200000-7f0000300000 rw-p 00000000 00:00 0 \n"
    "Rss:                1024 kB\n"
    "Anonymous:          1024 kB\n"
    "VmFlags: rd wr mr mw me ac dd\n"
    "7ffd00000000-7ffd00004000 r--p 00000000 00:00 0 [vvar]\n"
    "Rss:                   0 kB\n"
    "VmFlags: rd mr pf io de dd\n"
    "7ffd00004000-7ffd00006000 r-xp 00000000 00:00 0 [vdso]\n"
    "Rss:                   8 kB\n"
    "VmFlags: rd ex mr mw me de\n";

Test(coredump, smaps_parse_reads_what_the_rules_need)
{
    struct coredump_vma *v;
    size_t n;
    cr_assert_eq(coredump_parse_smaps(smaps, strlen(smaps), &v, &n), 0);
    cr_assert_eq(n, 10);
    cr_assert_eq(v[0].start, 0x400000);
    cr_assert_eq(v[0].end, 0x490000);
    cr_assert(v[0].r && v[0].x && !v[0].w && !v[0].shared && v[0].has_path);
    cr_assert_str_eq(v[0].path, "/srv/api");
    cr_assert_eq(v[1].offset, 0x90000);
    cr_assert_eq(v[2].anon, 16 * 1024);
    cr_assert_eq(v[3].rss, 2048 * 1024);
    cr_assert(!v[3].has_path);
    cr_assert(!v[4].r && !v[4].w && !v[4].x);
    cr_assert(v[6].shared && v[6].deleted);
    cr_assert(v[7].dontdump && !v[7].io);
    cr_assert(v[8].io && v[8].dontdump);
    cr_assert(v[9].vdso);
    coredump_vmas_free(v, n);
}

Test(coredump, default_filter_dumps_anonymous_memory_and_elf_headers_only)
{
    struct coredump_vma *v;
    size_t n;
    cr_assert_eq(coredump_parse_smaps(smaps, strlen(smaps), &v, &n), 0);
    enum coredump_what want[] = {
        CORE_ELF_HEADER, /* text: its first page, the ELF headers */
        CORE_SKIP,       /* rodata: in the file */
        CORE_WHOLE,      /* data with written pages: all of it */
        CORE_SPARSE,     /* the heap in use: untouched pages stay holes */
        CORE_SKIP,       /* PROT_NONE reservation */
        CORE_SKIP,       /* anonymous, never touched */
        CORE_WHOLE,      /* shared anonymous (a memfd) */
        CORE_SKIP,       /* MADV_DONTDUMP */
        CORE_SKIP,       /* [vvar]: I/O */
        CORE_WHOLE,      /* [vdso]: always */
    };
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(coredump_vma_rule(&v[i], 0x33, NULL), want[i], "mapping %zu", i);
    /* Without ANON_SHARED the memfd stays out; without ELF_HEADERS, the text. */
    cr_assert_eq(coredump_vma_rule(&v[6], 0x31, NULL), CORE_SKIP);
    cr_assert_eq(coredump_vma_rule(&v[0], 0x23, NULL), CORE_SKIP);
    /* File-backed private memory when asked for; not the executable's
     * read-only segments when the executable is in the bundle. */
    cr_assert_eq(coredump_vma_rule(&v[1], 0x37, NULL), CORE_WHOLE);
    cr_assert_eq(coredump_vma_rule(&v[1], 0x37, "/srv/api"), CORE_SKIP);
    cr_assert_eq(coredump_vma_rule(&v[2], 0x37, "/srv/api"), CORE_WHOLE, "written data stays");
    coredump_vmas_free(v, n);
}

Test(coredump, smaps_parse_survives_garbage)
{
    static const char junk[] = "Rss: 4 kB\nnot a header\nzz-yy r--p\n\n00400000-00401000 rwxp 0 08:01 1\n";
    struct coredump_vma *v = NULL;
    size_t n = 99;
    cr_assert_eq(coredump_parse_smaps(junk, strlen(junk), &v, &n), 0);
    cr_assert_eq(n, 1, "only the one real mapping line");
    cr_assert_eq(v[0].start, 0x400000);
    cr_assert(!v[0].has_path && v[0].path[0] == '\0');
    coredump_vmas_free(v, n);
}
