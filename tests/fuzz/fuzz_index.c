/* libFuzzer target: the bundle directory's index lines and bundle names
 * (written by any crashbox, planted by anyone), and the table cells that
 * show them: a parsed line formats back to a line that parses the same,
 * and a fitted cell never exceeds its width. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundlename.h"
#include "bundledir.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct index_entry e, again;
    if (index_parse_line((const char *)data, size, &e) == 0) {
        char line[4096];
        size_t n = index_format_line(&e, line, sizeof line);
        if (n < sizeof line) {
            if (n == 0 || line[n - 1] != '\n' || index_parse_line(line, n - 1, &again) != 0)
                abort();
            if (strcmp(e.service, again.service) || strcmp(e.fingerprint, again.fingerprint) ||
                strcmp(e.message, again.message) || e.time != again.time || e.size != again.size)
                abort();
        }
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct bundle_name_parts parts;
    (void)bundle_name_parse(s, &parts);
    for (size_t width = 0; width < 12; width += 3) {
        char out[64];
        size_t w = utf8_fit(s, width, out, sizeof out);
        if (w > width || utf8_width(out) != w)
            abort();
    }
    free(s);
    return 0;
}
