/* Finding the memory cgroup from the mount table and /proc/PID/cgroup:
 * fixture pairs captured on real hosts and containers, or written from the
 * engines' documented layouts (tests/fixtures/cgroupfs/README.md). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "util.h"

#define FIXTURES "tests/fixtures/cgroupfs"

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, FIXTURES "/%s/%s", dir, name);
    char *buf = NULL;
    size_t n = 0;
    if (read_file_at(AT_FDCWD, path, 1 << 20, &buf, &n) < 0)
        return NULL;
    if (len)
        *len = n;
    return buf;
}

/* "v1 DIR", "v2 DIR" or "none REASON", as expect says. */
static void resolve(const char *dir, char *got, size_t cap)
{
    size_t ml, cl, tl;
    _cleanup_free_ char *mi = slurp(dir, "mountinfo", &ml);
    _cleanup_free_ char *pc = slurp(dir, "cgroup", &cl);
    _cleanup_free_ char *ctl = slurp(dir, "cgroup.controllers", &tl);
    cr_assert(mi && pc, "%s: mountinfo and cgroup", dir);
    struct cgroup_place pl;
    int r = cgroup_locate(mi, ml, pc, cl, &pl);
    if (r == 0 && pl.version == CGROUP_V2) {
        cr_assert(ctl, "%s: a v2 setup needs the cgroup.controllers its mountpoint shows", dir);
        r = cgroup_v2_check_memory(&pl, ctl, tl);
    }
    if (r < 0)
        snprintf(got, cap, "none %s\n", pl.reason);
    else
        snprintf(got, cap, "v%d %s\n", (int)pl.version, pl.dir);
}

Test(cgroupfind, every_fixture_setup_resolves_as_expected)
{
    DIR *d = opendir(FIXTURES);
    cr_assert(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        _cleanup_free_ char *want = slurp(e->d_name, "expect", NULL);
        cr_assert(want, "%s: expect", e->d_name);
        char got[8192];
        resolve(e->d_name, got, sizeof got);
        cr_expect_str_eq(got, want, "%s", e->d_name);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 25, "every setup of the README is there");
}

Test(cgroupfind, mountinfo_fields_escapes_and_optional_fields)
{
    const char *mi = "bad line\n"
                     "36 25 0:31 /a\\040b\\134c /sys/fs/cgroup/mem\\011x rw shared:9 master:2 - cgroup cg rw,nosuid,memory\n"
                     "37 25 0:32 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                     "38 25 0:33 / /x rw - cgroup cgroup rw,memory_pressure\n"
                     "39 25 0:34 / /y rw - cgroup2 cgroup2 rw\n"
                     "40 25 0:35 / /z rw -\n"
                     "41 25 0:36 / /w rw - tmpfs  rw,mode=755";
    const char *p = mi, *end = mi + strlen(mi);
    struct cgroup_mount m;
    cr_assert(cgroup_mountinfo_next(&p, end, &m));
    cr_assert_eq(m.id, 36);
    cr_assert_eq(m.parent, 25);
    cr_assert_str_eq(m.root, "/a b\\c");
    cr_assert_str_eq(m.mountpoint, "/sys/fs/cgroup/mem\tx");
    cr_assert(m.version == CGROUP_V1 && m.memory);
    cr_assert(cgroup_mountinfo_next(&p, end, &m));
    cr_assert(m.version == CGROUP_V1 && !m.memory, "cpu,cpuacct is not memory");
    cr_assert(cgroup_mountinfo_next(&p, end, &m));
    cr_assert(!m.memory, "memory_pressure is not memory");
    cr_assert(cgroup_mountinfo_next(&p, end, &m));
    cr_assert_eq(m.version, CGROUP_V2);
    cr_assert(cgroup_mountinfo_next(&p, end, &m), "an empty source still has super options");
    cr_assert_eq(m.id, 41);
    cr_assert_eq(m.version, CGROUP_NONE);
    cr_assert_not(cgroup_mountinfo_next(&p, end, &m));
}

static int locate(const char *mi, const char *pc, struct cgroup_place *pl)
{
    return cgroup_locate(mi, strlen(mi), pc, strlen(pc), pl);
}

Test(cgroupfind, the_mount_root_is_stripped_at_a_path_boundary)
{
    struct cgroup_place pl;
    const char *mi = "35 31 0:32 /docker/ab /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
    cr_assert_eq(locate(mi, "4:memory:/docker/ab\n", &pl), 0);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory");
    cr_assert_eq(locate(mi, "4:memory:/docker/ab/x/y/\n", &pl), 0);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory/x/y");
    cr_assert_eq(locate(mi, "4:memory:/docker/abc\n", &pl), -ENOENT);
    cr_assert_str_eq(pl.reason, "the service's cgroup /docker/abc is outside the mounted hierarchy /docker/ab "
                                "(at /sys/fs/cgroup/memory)");
    const char *top = "35 31 0:32 / /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
    cr_assert_eq(locate(top, "4:memory:/\n", &pl), 0);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory");
    cr_assert_eq(locate(top, "4:memory:/../sib\n", &pl), -ENOENT, "a path out of a nested namespace");
    const char *up = "35 31 0:32 /.. /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
    cr_assert_eq(locate(up, "4:memory:/../sib\n", &pl), 0, "a mount made above the namespace's root");
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory/sib");
    const char *slash = "35 31 0:32 /jail / ro - cgroup2 cgroup2 rw\n";
    cr_assert_eq(locate(slash, "0::/jail/x\n", &pl), 0);
    cr_assert_str_eq(pl.dir, "/x");
}

Test(cgroupfind, a_hidden_mount_is_skipped_and_v1_memory_comes_first)
{
    struct cgroup_place pl;
    /* mounted on top of (parent 35), and listed after: both hide 35. */
    const char *over = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                       "68 35 0:32 /a /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    cr_assert_eq(locate(over, "4:memory:/a/svc\n", &pl), 0);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory/svc");
    cr_assert_eq(locate(over, "4:memory:/b\n", &pl), -ENOENT, "the hidden mount's view is gone");
    const char *both = "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
                       "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
    cr_assert_eq(locate(both, "4:memory:/m\n0::/u\n", &pl), 0);
    cr_assert_eq(pl.version, CGROUP_V1);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory/m");
    cr_assert_eq(locate(both, "0::/u\n", &pl), 0, "no v1 memory line: the unified one");
    cr_assert_eq(pl.version, CGROUP_V2);
    cr_assert_str_eq(pl.mountpoint, "/sys/fs/cgroup/unified");
    cr_assert_eq(cgroup_v2_check_memory(&pl, "cpu io\n", 7), -ENOENT);
    cr_assert_eq(pl.version, CGROUP_NONE);
    cr_assert_eq(locate(both, "3:cpu:/c\n", &pl), -ENOENT);
    cr_assert_str_eq(pl.reason, "the service's /proc/PID/cgroup names no memory cgroup");
}

Test(cgroupfind, v2_memory_is_a_whole_word_of_cgroup_controllers)
{
    struct cgroup_place pl = {.version = CGROUP_V2};
    cr_assert_eq(cgroup_v2_check_memory(&pl, "memory", 6), 0);
    cr_assert_eq(cgroup_v2_check_memory(&pl, "cpu memory\n", 11), 0);
    cr_assert_eq(cgroup_v2_check_memory(&pl, "cpu memoryx\n", 12), -ENOENT);
    cr_assert_eq(cgroup_v2_check_memory(&pl, "", 0), -ENOENT);
}

Test(cgroupfind, a_fixture_tree_gets_a_mount_table_of_its_own)
{
    char mi[4096];
    int n = cgroup_fixture_mountinfo("tests/fixtures/cgroup-v1", mi, sizeof mi);
    cr_assert_str_eq(mi, "1 0 0:1 / tests/fixtures/cgroup-v1/memory rw - cgroup cgroup rw,memory\n");
    cr_assert_eq(n, (int)strlen(mi));
    n = cgroup_fixture_mountinfo("tests/fixtures/cgroup-v2", mi, sizeof mi);
    cr_assert_str_eq(mi, "2 0 0:2 / tests/fixtures/cgroup-v2 rw - cgroup2 cgroup2 rw\n");
    cr_assert_eq(cgroup_fixture_mountinfo("/no such dir", mi, sizeof mi), 0);
    cr_assert_eq(cgroup_fixture_mountinfo("tests/fixtures/cgroup-v1", mi, 10), -ENAMETOOLONG);
}

Test(cgroupfind, reads_the_figures_through_a_mount_root)
{
    /* The v1 fixture tree's docker/ directory mounted as a container sees it. */
    const char *mi = "79 75 0:32 /docker tests/fixtures/cgroup-v1/memory/docker ro - cgroup cgroup rw,memory\n";
    const char *pc = "4:memory:/docker/abc123\n";
    struct cgroup_memory m;
    cr_assert_eq(cgroup_memory_read(mi, strlen(mi), pc, strlen(pc), &m), 0, "%s", m.reason);
    cr_assert_eq(m.version, CGROUP_V1);
    cr_assert_str_eq(m.dir, "tests/fixtures/cgroup-v1/memory/docker/abc123");
    cr_assert_eq(m.limit_bytes, 64 << 20);
    const char *gone = "4:memory:/docker/nope\n";
    cr_assert_eq(cgroup_memory_read(mi, strlen(mi), gone, strlen(gone), &m), -ENOENT);
    cr_assert_eq(m.version, CGROUP_NONE);
    cr_assert_str_eq(m.reason, "cannot open tests/fixtures/cgroup-v1/memory/docker/nope: No such file or directory");
    const char *v2 = "25 24 0:26 / tests/fixtures/cgroup-v1 rw - cgroup2 cgroup2 rw\n";
    const char *pc2 = "0::/memory\n";
    cr_assert_eq(cgroup_memory_read(v2, strlen(v2), pc2, strlen(pc2), &m), -ENOENT,
                 "no cgroup.controllers at the mountpoint");
    cr_assert_str_eq(m.reason, "no memory controller is mounted (the unified hierarchy at tests/fixtures/cgroup-v1 has none)");
}

Test(cgroupfind, a_mount_line_made_from_statmount_reads_back_as_the_mount)
{
    char line[512];
    struct cgroup_mount *m = malloc(sizeof *m);
    cr_assert(m);
    /* statmount gives paths raw: the line escapes them as mountinfo does. */
    int n = cgroup_format_mount(line, sizeof line, 41, 30, 0, 35, "/docker/a b", "/sys/fs/cgroup/mem\tory",
                                "cgroup", "memory,name=x");
    cr_assert_eq(n, (int)strlen(line));
    cr_assert_str_eq(line, "41 30 0:35 /docker/a\\040b /sys/fs/cgroup/mem\\011ory rw - cgroup cgroup memory,name=x\n");
    const char *p = line;
    cr_assert(cgroup_mountinfo_next(&p, line + n, m));
    cr_assert_eq(m->id, 41);
    cr_assert_eq(m->parent, 30);
    cr_assert_str_eq(m->root, "/docker/a b");
    cr_assert_str_eq(m->mountpoint, "/sys/fs/cgroup/mem\tory");
    cr_assert_eq(m->version, CGROUP_V1);
    cr_assert(m->memory);
    /* A v2 mount has no options of its own to say: the field is not empty. */
    n = cgroup_format_mount(line, sizeof line, 2, 1, 0, 26, "/", "/sys/fs/cgroup", "cgroup2", "");
    cr_assert_str_eq(line, "2 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    p = line;
    cr_assert(cgroup_mountinfo_next(&p, line + n, m));
    cr_assert_eq(m->version, CGROUP_V2);
    cr_assert_not(m->memory);
    cr_assert_eq(cgroup_format_mount(line, 20, 2, 1, 0, 26, "/", "/sys/fs/cgroup", "cgroup2", ""), -ENAMETOOLONG);
    free(m);
}

Test(cgroupfind, statmount_lines_place_the_cgroup_as_the_whole_table_does)
{
    /* What cgroup_mounts_by_statmount says of a hybrid host (the unified
     * hierarchy at /sys/fs/cgroup/unified, /sys/fs/cgroup a tmpfs) and of a
     * container with --cgroupns host: the same places as their mountinfo. */
    char mi[1024];
    int n = cgroup_format_mount(mi, sizeof mi, 33, 25, 0, 31, "/", "/sys/fs/cgroup/memory", "cgroup", "memory");
    n += cgroup_format_mount(mi + n, sizeof mi - (size_t)n, 27, 25, 0, 26, "/", "/sys/fs/cgroup/unified",
                             "cgroup2", "");
    const char *pc = "12:memory:/user.slice/x\n0::/user.slice/x\n";
    struct cgroup_place pl;
    cr_assert_eq(cgroup_locate(mi, (size_t)n, pc, strlen(pc), &pl), 0);
    cr_assert_eq(pl.version, CGROUP_V1);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory/user.slice/x");
    n = cgroup_format_mount(mi, sizeof mi, 700, 650, 0, 40, "/docker/abc", "/sys/fs/cgroup/memory", "cgroup",
                            "memory");
    pc = "9:memory:/docker/abc\n";
    cr_assert_eq(cgroup_locate(mi, (size_t)n, pc, strlen(pc), &pl), 0);
    cr_assert_str_eq(pl.dir, "/sys/fs/cgroup/memory");
}
