/* headers.c - splitting a raw HTTP response header block into fields.
 * Pure C over untrusted bytes (what the server sent); fuzzed by spec/fuzz/fuzz_headers.c. */
#include <string.h>

#include "http.h"

int rfs_header_next(const char **cursor, const char *end, rfs_header *out)
{
    const char *p = *cursor;
    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *line_end, *colon, *v;
        size_t len = (size_t)((eol ? eol : end) - p);

        if (len > 0 && p[len - 1] == '\r')
            len--;
        line_end = p + len;
        colon = memchr(p, ':', len);
        if (colon != NULL && colon > p && (size_t)(colon - p) <= RFS_MAX_HEADER_NAME &&
            !(len >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
            v = colon + 1;
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            while (line_end > v && (line_end[-1] == ' ' || line_end[-1] == '\t'))
                line_end--;
            out->name = p;
            out->name_len = (size_t)(colon - p);
            out->value = v;
            out->value_len = (size_t)(line_end - v);
            *cursor = eol ? eol + 1 : end;
            return 1;
        }
        p = eol ? eol + 1 : end;
    }
    *cursor = end;
    return 0;
}
