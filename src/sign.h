/* sign.h - SDK-HMAC-SHA256 request signing, as the Huawei Cloud SDKs do it.
 * Pure C (OpenSSL libcrypto only): no Lua API here. */
#ifndef RFS_SIGN_H
#define RFS_SIGN_H

#include <stddef.h>
#include "buf.h"

#define RFS_SIGN_ALGORITHM "SDK-HMAC-SHA256"
#define RFS_MAX_SIGN_HEADERS 64

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} rfs_header;

typedef struct {
    const char *method;
    const char *url;
    size_t url_len;
    const rfs_header *headers;   /* the headers the caller will send */
    size_t nheaders;
    const char *body;
    size_t body_len;
    const char *ak;
    size_t ak_len;
    const char *sk;
    size_t sk_len;
    const char *token;           /* security token, NULL when none */
    size_t token_len;
    const char *date;            /* YYYYMMDDTHHMMSSZ; NULL: X-Sdk-Date header or now */
} rfs_sign_input;

typedef struct {
    char date[17];               /* the X-Sdk-Date that was signed */
    rfs_buf host;                /* the Host that was signed */
    rfs_buf authorization;       /* the Authorization header value */
    rfs_buf canonical;           /* the canonical request (for diagnostics and tests) */
    int date_given;              /* X-Sdk-Date was among the caller's headers */
    int host_given;              /* Host was among the caller's headers */
} rfs_sign_output;

void rfs_sign_output_init(rfs_sign_output *out);
void rfs_sign_output_free(rfs_sign_output *out);

/* Returns 1 on success; 0 with *err set to a static message otherwise. */
int rfs_sign(const rfs_sign_input *in, rfs_sign_output *out, const char **err);

/* RFC 3986 encoding as the signer does it (unreserved kept, every other byte %XX). */
int rfs_uri_encode(rfs_buf *out, const char *s, size_t n);
/* Percent-decoding; a '%' not followed by two hex digits is kept as is. */
int rfs_uri_decode(rfs_buf *out, const char *s, size_t n);
/* A header value is safe when it holds no CR, LF or NUL. */
int rfs_header_value_ok(const char *v, size_t n);
int rfs_header_name_ok(const char *v, size_t n);
/* Hex digest helpers. out must hold 65 bytes. */
void rfs_sha256_hex(const char *data, size_t n, char out[65]);

#endif
