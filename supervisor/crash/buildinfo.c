/* SPDX-License-Identifier: MIT */
#include "buildinfo.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char magic[14] = "\xff Go buildinf:";

/* Unsigned LEB128, as Go's encoding/binary.Uvarint. */
static int uvarint(const unsigned char *p, size_t n, uint64_t *v, size_t *used)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return -EINVAL;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* modinfo lines: "path\tP", "mod\tM\tV\tSUM", "build\tK=V". */
static void parse_modinfo(struct go_buildinfo *bi, const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *t1 = memchr(p, '\t', (size_t)(le - p));
        if (t1) {
            const char *v = t1 + 1;
            size_t klen = (size_t)(t1 - p);
            if (klen == 4 && memcmp(p, "path", 4) == 0) {
                copy_field(bi->path, sizeof bi->path, v, (size_t)(le - v));
            } else if (klen == 3 && memcmp(p, "mod", 3) == 0) {
                const char *t2 = memchr(v, '\t', (size_t)(le - v));
                copy_field(bi->module, sizeof bi->module, v, (size_t)((t2 ? t2 : le) - v));
                if (t2) {
                    const char *t3 = memchr(t2 + 1, '\t', (size_t)(le - t2 - 1));
                    copy_field(bi->module_version, sizeof bi->module_version, t2 + 1,
                               (size_t)((t3 ? t3 : le) - t2 - 1));
                }
            } else if (klen == 5 && memcmp(p, "build", 5) == 0) {
                size_t vl = (size_t)(le - v);
                if (vl > 13 && memcmp(v, "vcs.revision=", 13) == 0)
                    copy_field(bi->vcs_revision, sizeof bi->vcs_revision, v + 13, vl - 13);
                else if (vl > 9 && memcmp(v, "vcs.time=", 9) == 0)
                    copy_field(bi->vcs_time, sizeof bi->vcs_time, v + 9, vl - 9);
                else if (vl == 17 && memcmp(v, "vcs.modified=true", 17) == 0)
                    bi->vcs_modified = true;
            }
        }
        p = nl ? nl + 1 : end;
    }
}

int buildinfo_parse(const char *sec, size_t len, struct go_buildinfo *bi)
{
    *bi = (struct go_buildinfo){0};
    if (len < 32 || memcmp(sec, magic, sizeof magic) != 0)
        return -ENOENT;
    unsigned char flags = (unsigned char)sec[15];
    if (!(flags & 2))
        return -ENOENT; /* pre-1.18: pointers into the data segment */
    const unsigned char *p = (const unsigned char *)sec + 32;
    size_t left = len - 32;
    uint64_t vlen, mlen;
    size_t used;
    if (uvarint(p, left, &vlen, &used) < 0 || vlen > left - used)
        return -EINVAL;
    copy_field(bi->go_version, sizeof bi->go_version, (const char *)p + used, (size_t)vlen);
    p += used + vlen;
    left -= used + vlen;
    if (uvarint(p, left, &mlen, &used) < 0 || mlen > left - used)
        return -EINVAL;
    const char *mod = (const char *)p + used;
    /* modinfo is wrapped in two 16-byte sentinels. */
    if (mlen >= 33 && mod[mlen - 17] == '\n') {
        mod += 16;
        mlen -= 32;
    }
    bi->modinfo = malloc(mlen + 1);
    if (!bi->modinfo)
        return -ENOMEM;
    memcpy(bi->modinfo, mod, mlen);
    bi->modinfo[mlen] = '\0';
    parse_modinfo(bi, bi->modinfo, (size_t)mlen);
    return 0;
}

int buildinfo_read_fd(int fd, struct go_buildinfo *bi)
{
    *bi = (struct go_buildinfo){0};
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
        return -ENOENT;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return -ENOENT;
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096 ||
        eh.e_shstrndx >= eh.e_shnum)
        return -ENOENT;
    _cleanup_free_ Elf64_Shdr *sh = calloc(eh.e_shnum, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    size_t shsize = (size_t)eh.e_shnum * sizeof *sh;
    if (pread(fd, sh, shsize, (off_t)eh.e_shoff) != (ssize_t)shsize)
        return -ENOENT;
    const Elf64_Shdr *strs = &sh[eh.e_shstrndx];
    if (strs->sh_size > (1 << 20))
        return -EINVAL;
    _cleanup_free_ char *names = malloc(strs->sh_size + 1);
    if (!names)
        return -ENOMEM;
    if (pread(fd, names, strs->sh_size, (off_t)strs->sh_offset) != (ssize_t)strs->sh_size)
        return -ENOENT;
    names[strs->sh_size] = '\0';
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        if (sh[i].sh_name >= strs->sh_size || strcmp(names + sh[i].sh_name, ".go.buildinfo") != 0)
            continue;
        /* The strings follow the header; 64 KiB holds any real modinfo. */
        size_t n = sh[i].sh_size < (64 << 10) ? sh[i].sh_size : (64 << 10);
        _cleanup_free_ char *sec = malloc(n);
        if (!sec)
            return -ENOMEM;
        ssize_t got = pread(fd, sec, n, (off_t)sh[i].sh_offset);
        if (got < 32)
            return -EINVAL;
        return buildinfo_parse(sec, (size_t)got, bi);
    }
    return -ENOENT;
}

void buildinfo_free(struct go_buildinfo *bi)
{
    free(bi->modinfo);
    bi->modinfo = NULL;
}
