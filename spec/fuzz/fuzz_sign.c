/* libFuzzer harness for the signer's parsers and encoders: URL splitting,
 * path and query canonicalisation, header checks, percent-encoding.
 *
 * Input layout: fields separated by '\n':
 *   method \n url \n header-name \n header-value \n body
 * Invariants checked beyond "no crash, no sanitizer report":
 *   - a successful signature always has the documented shape;
 *   - decode(encode(x)) == x for any bytes x.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sign.h"

static const char *next_field(const char **p, const char *end, size_t *len)
{
    const char *start = *p, *nl = memchr(start, '\n', (size_t)(end - start));
    const char *stop = nl ? nl : end;
    *len = (size_t)(stop - start);
    *p = nl ? nl + 1 : end;
    return start;
}

static void check_roundtrip(const char *s, size_t n)
{
    rfs_buf enc, dec;
    rfs_buf_init(&enc);
    rfs_buf_init(&dec);
    if (rfs_uri_encode(&enc, s, n) && rfs_uri_decode(&dec, enc.p ? enc.p : "", enc.len)) {
        if (dec.len != n || (n > 0 && memcmp(dec.p, s, n) != 0))
            abort();
    }
    rfs_buf_free(&enc);
    rfs_buf_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    size_t ml, ul, hnl, hvl, bl;
    const char *m = next_field(&p, end, &ml);
    const char *u = next_field(&p, end, &ul);
    const char *hn = next_field(&p, end, &hnl);
    const char *hv = next_field(&p, end, &hvl);
    const char *b = p;
    char method[32];
    rfs_header h[1];
    rfs_sign_input in;
    rfs_sign_output out;
    const char *err = NULL;

    bl = (size_t)(end - p);
    if (ml >= sizeof(method))
        ml = sizeof(method) - 1;
    memcpy(method, m, ml);
    method[ml] = '\0';
    h[0] = (rfs_header){ hn, hnl, hv, hvl };

    memset(&in, 0, sizeof(in));
    in.method = method;
    in.url = u;
    in.url_len = ul;
    in.headers = h;
    in.nheaders = hnl > 0 ? 1 : 0;
    in.body = b;
    in.body_len = bl;
    in.ak = "AK";
    in.ak_len = 2;
    in.sk = "SK";
    in.sk_len = 2;
    in.date = "20261124T000000Z";
    rfs_sign_output_init(&out);
    if (rfs_sign(&in, &out, &err)) {
        if (out.authorization.len < 40 ||
            strncmp(out.authorization.p, "SDK-HMAC-SHA256 Access=AK, SignedHeaders=", 41) != 0)
            abort();
    } else if (err == NULL) {
        abort();
    }
    rfs_sign_output_free(&out);
    check_roundtrip((const char *)data, size);
    return 0;
}
