#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "proccaps.h"

/* A root service in a container with Docker's default capabilities. */
static const char docker_root[] = "Name:\tnil-deref\nUmask:\t0022\nState:\tS (sleeping)\n"
                                  "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n"
                                  "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
                                  "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\n";

Test(proccaps, bounding_and_permitted_sets)
{
    uint64_t caps = 0;
    cr_assert_eq(proc_status_caps(docker_root, strlen(docker_root), &caps), 0);
    cr_assert_eq(caps, 0xa80425fbULL);
    /* A non-root service holds nothing, but an exec may give back its bounding set. */
    const char *nobody = "CapPrm:\t0000000000000000\nCapBnd:\t000001ffffffffff\n";
    cr_assert_eq(proc_status_caps(nobody, strlen(nobody), &caps), 0);
    cr_assert_eq(caps, 0x1ffffffffffULL);
    const char *held = "CapPrm:\t0000000000080000\nCapBnd:\t0000000000000000";
    cr_assert_eq(proc_status_caps(held, strlen(held), &caps), 0);
    cr_assert_eq(caps, 1ULL << 19);
}

Test(proccaps, missing_or_malformed_fields)
{
    uint64_t caps = 7;
    const char *cases[] = {
        "CapPrm:\t0000000000000000\n",                         /* no CapBnd */
        "CapBnd:\t000001ffffffffff\n",                         /* no CapPrm */
        "XCapPrm:\t0\nCapBnd:\t0\n",                           /* only at a line's start */
        "CapPrm:\t00000000zz\nCapBnd:\t0\n",                   /* not hex */
        "CapPrm:\t\nCapBnd:\t0\n",                             /* empty */
        "CapPrm:\t00000000000000000\nCapBnd:\t0\n",            /* 17 digits */
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_assert_eq(proc_status_caps(cases[i], strlen(cases[i]), &caps), -EINVAL, "case %zu", i);
    cr_assert_eq(caps, 7, "untouched on error");
    /* Only len bytes are read: a cut buffer has no CapBnd. */
    cr_assert_eq(proc_status_caps(docker_root, strstr(docker_root, "CapBnd") - docker_root, &caps), -EINVAL);
}

Test(proccaps, the_bounding_set_alone)
{
    uint64_t bnd = 0;
    cr_assert_eq(proc_status_bounding(docker_root, strlen(docker_root), &bnd), 0);
    cr_assert_eq(bnd, 0xa80425fbULL);
    const char *none = "CapPrm:\t000001ffffffffff\nXCapBnd:\t0\n";
    cr_assert_eq(proc_status_bounding(none, strlen(none), &bnd), -EINVAL);
}
