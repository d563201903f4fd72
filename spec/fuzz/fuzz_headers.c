/* libFuzzer harness for the response header splitter (src/headers.c): the bytes a
 * server sends back. Beyond "no crash, no sanitizer report" it checks that every field
 * lies inside the input, names are 1..RFS_MAX_HEADER_NAME bytes without ':' or a line
 * break, values hold no line break and do not start with a blank, the cursor always
 * moves forward, and the number of fields equals a line-by-line recount. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http.h"

static size_t recount(const char *p, const char *end)
{
    size_t n = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *le = eol ? eol : end, *c;
        if (le > p && le[-1] == '\r')
            le--;
        c = memchr(p, ':', (size_t)(le - p));
        if (c && c > p && (size_t)(c - p) <= RFS_MAX_HEADER_NAME && !(le - p >= 5 && memcmp(p, "HTTP/", 5) == 0))
            n++;
        p = eol ? eol + 1 : end;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *prev = p;
    rfs_header h;
    size_t n = 0;

    while (rfs_header_next(&p, end, &h)) {
        if (p <= prev && size > 0)
            abort();
        prev = p;
        if (h.name < (const char *)data || h.name + h.name_len > end || h.value < h.name ||
            h.value + h.value_len > end)
            abort();
        if (h.name_len == 0 || h.name_len > RFS_MAX_HEADER_NAME || memchr(h.name, ':', h.name_len) ||
            memchr(h.name, '\n', h.name_len))
            abort();
        if (memchr(h.value, '\n', h.value_len) || (h.value_len > 0 && (h.value[0] == ' ' || h.value[0] == '\t')))
            abort();
        n++;
    }
    if (p != end || n != recount((const char *)data, end))
        abort();
    return 0;
}
