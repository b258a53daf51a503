/* SPDX-License-Identifier: MIT */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diags_add(struct diags *d, const char *file, unsigned line, const char *fmt, ...)
{
    if (d->n >= DIAGS_MAX) {
        d->dropped++;
        return;
    }
    struct diag *v = realloc(d->v, (d->n + 1) * sizeof *v);
    if (!v) {
        d->dropped++;
        return;
    }
    d->v = v;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    char *f = strdup(file ? file : "-");
    if (!msg || !f) {
        free(msg);
        free(f);
        d->dropped++;
        return;
    }
    d->v[d->n++] = (struct diag){.file = f, .line = line, .msg = msg};
}

void diags_print(const struct diags *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].line)
            fprintf(f, "%s:%u: %s\n", d->v[i].file, d->v[i].line, d->v[i].msg);
        else
            fprintf(f, "%s: %s\n", d->v[i].file, d->v[i].msg);
    }
    if (d->dropped)
        fprintf(f, "(%zu more errors not shown)\n", d->dropped);
}

void diags_free(struct diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    *d = (struct diags){0};
}
