/* SPDX-License-Identifier: MIT */
#include "proccaps.h"

#include <errno.h>
#include <string.h>

/* The hex mask of "Field:\t0000003fffffffff\n", at the start of a line. */
static int status_hex(const char *buf, size_t len, const char *field, uint64_t *out)
{
    size_t flen = strlen(field);
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || buf[i - 1] == '\n') && len - i > flen && !memcmp(buf + i, field, flen) &&
            buf[i + flen] == ':') {
            size_t j = i + flen + 1, digits = 0;
            uint64_t v = 0;
            while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
                j++;
            for (; j < len && buf[j] != '\n'; j++, digits++) {
                int d = buf[j] >= '0' && buf[j] <= '9'   ? buf[j] - '0'
                        : buf[j] >= 'a' && buf[j] <= 'f' ? buf[j] - 'a' + 10
                                                         : -1;
                if (d < 0 || digits == 16)
                    return -EINVAL;
                v = v << 4 | (uint64_t)d;
            }
            if (!digits)
                return -EINVAL;
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

int proc_status_bounding(const char *buf, size_t len, uint64_t *bnd)
{
    return status_hex(buf, len, "CapBnd", bnd);
}

int proc_status_caps(const char *buf, size_t len, uint64_t *caps)
{
    uint64_t bnd, prm;
    int r = status_hex(buf, len, "CapBnd", &bnd);
    if (r < 0 || (r = status_hex(buf, len, "CapPrm", &prm)) < 0)
        return r;
    *caps = bnd | prm;
    return 0;
}
