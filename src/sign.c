/* sign.c - SDK-HMAC-SHA256, byte for byte as the official Huawei Cloud signer.
 *
 * canonical request =
 *   METHOD \n canonical URI \n canonical query \n canonical headers \n
 *   signed header names \n hex(sha256(body))
 * string to sign = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(canonical request))
 * Authorization  = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex(hmac(SK, sts))"
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sign.h"

static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

typedef struct {
    const char *scheme_end;
    const char *host;
    size_t host_len;
    const char *path;
    size_t path_len;
    const char *query;
    size_t query_len;
} rfs_url;

typedef struct {
    const char *name; /* lower case, in the names scratch buffer */
    size_t name_len;
    const char *value;
    size_t value_len;
} rfs_canon_header;

typedef struct {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} rfs_query_pair;

void rfs_sign_output_init(rfs_sign_output *out)
{
    memset(out, 0, sizeof(*out));
    rfs_buf_init(&out->host);
    rfs_buf_init(&out->authorization);
    rfs_buf_init(&out->canonical);
}

void rfs_sign_output_free(rfs_sign_output *out)
{
    rfs_buf_free(&out->host);
    rfs_buf_free(&out->authorization);
    rfs_buf_free(&out->canonical);
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = HEX_LOWER[in[i] >> 4];
        out[2 * i + 1] = HEX_LOWER[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* OpenSSL 3 looks an algorithm up (under a lock) on every one-shot call;
 * fetch SHA-256 once and reuse it. */
static const EVP_MD *sha256_md(void)
{
    static EVP_MD *md = NULL;
    if (md == NULL)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    return md;
}

/* One digest context per thread, reused; EVP_DigestInit_ex resets it, and
 * EVP_DigestFinal_ex leaves no key-derived state in it that a later call could see. */
static EVP_MD_CTX *digest_ctx(void)
{
    static __thread EVP_MD_CTX *ctx = NULL;
    if (ctx == NULL)
        ctx = EVP_MD_CTX_new();
    return ctx;
}

static int sha256_parts(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32])
{
    EVP_MD_CTX *ctx = digest_ctx();
    unsigned int len = 0;
    return ctx != NULL && sha256_md() != NULL && EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1 &&
           EVP_DigestUpdate(ctx, a, an) == 1 && (bn == 0 || EVP_DigestUpdate(ctx, b, bn) == 1) &&
           EVP_DigestFinal_ex(ctx, out, &len) == 1;
}

/* HMAC-SHA256 (RFC 2104) on the prefetched digest; key material is wiped. */
static int hmac_sha256(const char *key, size_t key_len, const char *msg, size_t msg_len,
                       unsigned char out[32])
{
    unsigned char k[64], pad[64], inner[32];
    size_t i;
    int ok = 1;

    memset(k, 0, sizeof(k));
    if (key_len > sizeof(k))
        ok = sha256_parts(key, key_len, NULL, 0, k);
    else
        memcpy(k, key, key_len);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && sha256_parts(pad, 64, msg, msg_len, inner);
    for (i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && sha256_parts(pad, 64, inner, 32, out);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
    return ok;
}

void rfs_sha256_hex(const char *data, size_t n, char out[65])
{
    unsigned char md[32];
    if (!sha256_parts(data, n, NULL, 0, md)) {
        out[0] = '\0';
        return;
    }
    hex_encode(md, sizeof(md), out);
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int rfs_uri_encode(rfs_buf *out, const char *s, size_t n)
{
    size_t i;
    char *w;
    if (n > ((size_t)-1) / 4 || !rfs_buf_reserve(out, 3 * n))
        return 0;
    w = out->p + out->len;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = HEX_UPPER[c >> 4];
            *w++ = HEX_UPPER[c & 15];
        }
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = '\0';
    return 1;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int rfs_uri_decode(rfs_buf *out, const char *s, size_t n)
{
    size_t i;
    char *w;
    if (!rfs_buf_reserve(out, n))
        return 0;
    w = out->p + out->len;
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            int hi = hex_value((unsigned char)s[i + 1]);
            int lo = hex_value((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                *w++ = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        *w++ = s[i];
    }
    out->len = (size_t)(w - out->p);
    out->p[out->len] = '\0';
    return 1;
}

int rfs_header_value_ok(const char *v, size_t n)
{
    /* memchr scans a word at a time: an Authorization value is checked in a few steps */
    return memchr(v, '\r', n) == NULL && memchr(v, '\n', n) == NULL && memchr(v, '\0', n) == NULL;
}

/* RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~" */
static const unsigned char TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int rfs_header_name_ok(const char *v, size_t n)
{
    size_t i;
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!TCHAR[(unsigned char)v[i]])
            return 0;
    return 1;
}

static int parse_url(const char *url, size_t len, rfs_url *u, const char **err)
{
    const char *end = url + len, *p, *auth, *auth_end, *at;

    memset(u, 0, sizeof(*u));
    if (len >= 7 && strncasecmp(url, "http://", 7) == 0)
        auth = url + 7;
    else if (len >= 8 && strncasecmp(url, "https://", 8) == 0)
        auth = url + 8;
    else {
        *err = "url must start with http:// or https://";
        return 0;
    }
    for (p = auth; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
        ;
    auth_end = p;
    at = NULL;
    for (p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    u->host = at ? at + 1 : auth;
    u->host_len = (size_t)(auth_end - u->host);
    if (u->host_len == 0) {
        *err = "url has no host";
        return 0;
    }
    for (p = auth_end; p < end && *p != '?' && *p != '#'; p++)
        ;
    u->path = auth_end;
    u->path_len = (size_t)(p - auth_end);
    if (p < end && *p == '?') {
        const char *q = p + 1;
        for (p = q; p < end && *p != '#'; p++)
            ;
        u->query = q;
        u->query_len = (size_t)(p - q);
    }
    return 1;
}

/* Each '/'-separated segment decoded, then encoded; always ends with '/'. */
static int canonical_uri(rfs_buf *out, const char *path, size_t n)
{
    rfs_buf seg;
    char seg_storage[256];
    size_t i, start = 0;
    int ok = 1;

    if (n == 0)
        return rfs_buf_addc(out, '/');
    rfs_buf_init_fixed(&seg, seg_storage, sizeof(seg_storage));
    for (i = 0; i <= n && ok; i++) {
        if (i == n || path[i] == '/') {
            seg.len = 0;
            ok = rfs_uri_decode(&seg, path + start, i - start) &&
                 rfs_uri_encode(out, seg.p ? seg.p : "", seg.len);
            if (ok && i < n)
                ok = rfs_buf_addc(out, '/');
            start = i + 1;
        }
    }
    rfs_buf_free(&seg);
    if (ok && (out->len == 0 || out->p[out->len - 1] != '/'))
        ok = rfs_buf_addc(out, '/');
    return ok;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return (an > bn) - (an < bn);
}

static int query_pair_cmp(const void *pa, const void *pb)
{
    const rfs_query_pair *a = pa, *b = pb;
    int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);
    return c != 0 ? c : bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

static size_t count_pairs(const char *q, size_t n)
{
    size_t i, count = 1;
    for (i = 0; i < n; i++)
        if (q[i] == '&')
            count++;
    return count;
}

/* Decodes s into scratch, whose room was reserved up front (decoding never
 * grows a string), so the pointer stays valid. */
static const char *decode_into(rfs_buf *scratch, const char *s, size_t n, size_t *out_len)
{
    size_t before = scratch->len;
    rfs_uri_decode(scratch, s, n);
    *out_len = scratch->len - before;
    return scratch->p + before;
}

#define RFS_QUERY_PAIRS_ON_STACK 32

/* Keys sorted, a repeated key's values sorted, both RFC 3986 encoded. */
static int canonical_query(rfs_buf *out, const char *q, size_t n)
{
    rfs_query_pair stack_pairs[RFS_QUERY_PAIRS_ON_STACK], *pairs = stack_pairs;
    size_t npairs = 0, cap, i, start = 0;
    rfs_buf scratch;
    char scratch_storage[512];
    int ok = 1;

    if (q == NULL || n == 0)
        return 1;
    cap = count_pairs(q, n);
    if (cap > RFS_QUERY_PAIRS_ON_STACK && (pairs = calloc(cap, sizeof(*pairs))) == NULL)
        return 0;
    rfs_buf_init_fixed(&scratch, scratch_storage, sizeof(scratch_storage));
    ok = rfs_buf_reserve(&scratch, n + 1);
    for (i = 0; i <= n && ok; i++) {
        if (i == n || q[i] == '&') {
            const char *item = q + start, *eq;
            size_t len = i - start;
            rfs_query_pair *pr = &pairs[npairs];
            start = i + 1;
            if (len == 0)
                continue;
            eq = memchr(item, '=', len);
            if (eq == NULL)
                eq = item + len;
            pr->key = decode_into(&scratch, item, (size_t)(eq - item), &pr->key_len);
            pr->value = eq < item + len ? decode_into(&scratch, eq + 1, len - (size_t)(eq - item) - 1, &pr->value_len)
                                        : "";
            if (eq == item + len)
                pr->value_len = 0;
            npairs++;
        }
    }
    if (ok)
        qsort(pairs, npairs, sizeof(*pairs), query_pair_cmp);
    for (i = 0; i < npairs && ok; i++) {
        ok = (i == 0 || rfs_buf_addc(out, '&')) &&
             rfs_uri_encode(out, pairs[i].key, pairs[i].key_len) &&
             rfs_buf_addc(out, '=') &&
             rfs_uri_encode(out, pairs[i].value, pairs[i].value_len);
    }
    rfs_buf_free(&scratch);
    if (pairs != stack_pairs)
        free(pairs);
    return ok;
}

static int canon_header_cmp(const void *pa, const void *pb)
{
    const rfs_canon_header *a = pa, *b = pb;
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

static void trim(const char **v, size_t *n)
{
    while (*n > 0 && (**v == ' ' || **v == '\t')) {
        (*v)++;
        (*n)--;
    }
    while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

/* names has room reserved for every name up front, so the pointers stay valid. */
static int add_canon_header(rfs_canon_header *h, size_t *count, rfs_buf *names, const char *name,
                            size_t name_len, const char *value, size_t value_len)
{
    size_t i;
    rfs_canon_header *e = &h[*count];
    char *w;
    if (names->len + name_len + 1 > names->cap)
        return 0;
    w = names->p + names->len;
    for (i = 0; i < name_len; i++)
        w[i] = (char)tolower((unsigned char)name[i]);
    w[name_len] = '\0';
    names->len += name_len + 1;
    e->name = w;
    e->name_len = name_len;
    e->value = value;
    e->value_len = value_len;
    trim(&e->value, &e->value_len);
    (*count)++;
    return 1;
}

static int header_is(const rfs_header *h, const char *lname)
{
    return h->name_len == strlen(lname) && strncasecmp(h->name, lname, h->name_len) == 0;
}

static int valid_date(const char *d)
{
    int i;
    if (strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return 0;
    return 1;
}

/* The date signed: `date`, else an X-Sdk-Date header, else now. When both are given
 * they must agree: the header is what the server reads, so signing another date would
 * make a request that can never verify. */
static int pick_date(const rfs_sign_input *in, rfs_sign_output *out, const char **err)
{
    size_t i;
    const rfs_header *header = NULL;

    for (i = 0; i < in->nheaders; i++)
        if (header_is(&in->headers[i], "x-sdk-date"))
            header = &in->headers[i];
    if (header != NULL) {
        out->date_given = 1;
        if (header->value_len != 16) {
            *err = "the X-Sdk-Date header must look like 20261124T000000Z";
            return 0;
        }
        if (in->date != NULL && (strlen(in->date) != 16 || memcmp(in->date, header->value, 16) != 0)) {
            *err = "date and the X-Sdk-Date header differ; give one of them";
            return 0;
        }
        memcpy(out->date, header->value, 16);
        out->date[16] = '\0';
    } else if (in->date != NULL) {
        if (strlen(in->date) != 16) {
            *err = "date must look like 20261124T000000Z";
            return 0;
        }
        memcpy(out->date, in->date, 17);
    } else {
        /* formatted once a second per thread: a loop of requests shares it */
        static __thread time_t cached_at = (time_t)-1;
        static __thread char cached[17];
        time_t now = time(NULL);
        if (now != cached_at) {
            struct tm tm;
            gmtime_r(&now, &tm);
            strftime(cached, sizeof(cached), "%Y%m%dT%H%M%SZ", &tm);
            cached_at = now;
        }
        memcpy(out->date, cached, sizeof(cached));
    }
    if (!valid_date(out->date)) {
        *err = header != NULL ? "the X-Sdk-Date header must look like 20261124T000000Z"
                              : "date must look like 20261124T000000Z";
        return 0;
    }
    return 1;
}

static int collect_headers(const rfs_sign_input *in, const rfs_url *u, rfs_sign_output *out,
                           rfs_canon_header *h, size_t *count, rfs_buf *names, const char **payload_hash,
                           size_t *payload_hash_len, const char **err)
{
    size_t i, j;
    int token_given = 0;

    for (i = 0; i < in->nheaders; i++) {
        const rfs_header *hd = &in->headers[i];
        if (!rfs_header_name_ok(hd->name, hd->name_len)) {
            *err = "header name is not a valid HTTP token";
            return 0;
        }
        if (!rfs_header_value_ok(hd->value, hd->value_len)) {
            *err = "header value contains CR, LF or NUL";
            return 0;
        }
        for (j = 0; j < i; j++) {
            if (in->headers[j].name_len == hd->name_len &&
                strncasecmp(in->headers[j].name, hd->name, hd->name_len) == 0) {
                *err = "the same header is given twice (names are case-insensitive)";
                return 0;
            }
        }
        if (header_is(hd, "host")) {
            out->host_given = 1;
            if (!rfs_buf_add(&out->host, hd->value, hd->value_len))
                return 0;
        }
        if (header_is(hd, "x-security-token"))
            token_given = 1;
        if (header_is(hd, "x-sdk-content-sha256")) {
            *payload_hash = hd->value;
            *payload_hash_len = hd->value_len;
        }
        if (!add_canon_header(h, count, names, hd->name, hd->name_len, hd->value, hd->value_len))
            return 0;
    }
    if (!out->host_given) {
        for (i = 0; i < u->host_len; i++)
            if (!rfs_buf_addc(&out->host, (char)tolower((unsigned char)u->host[i])))
                return 0;
        if (!add_canon_header(h, count, names, "host", 4, out->host.p, out->host.len))
            return 0;
    }
    if (!out->date_given && !add_canon_header(h, count, names, "x-sdk-date", 10, out->date, 16))
        return 0;
    if (in->token != NULL && !token_given &&
        !add_canon_header(h, count, names, "x-security-token", 16, in->token, in->token_len))
        return 0;
    if (in->token != NULL && !rfs_header_value_ok(in->token, in->token_len)) {
        *err = "security_token contains CR, LF or NUL";
        return 0;
    }
    qsort(h, *count, sizeof(*h), canon_header_cmp);
    return 1;
}

static int build_canonical(const rfs_sign_input *in, const rfs_url *u, rfs_canon_header *h,
                           size_t count, const char *payload_hash, size_t payload_hash_len,
                           rfs_buf *canon, rfs_buf *signed_names)
{
    size_t i;
    int ok = rfs_buf_adds(canon, in->method) && rfs_buf_addc(canon, '\n') &&
             canonical_uri(canon, u->path, u->path_len) && rfs_buf_addc(canon, '\n') &&
             canonical_query(canon, u->query, u->query_len) && rfs_buf_addc(canon, '\n');
    for (i = 0; i < count && ok; i++) {
        ok = rfs_buf_add(canon, h[i].name, h[i].name_len) && rfs_buf_addc(canon, ':') &&
             rfs_buf_add(canon, h[i].value, h[i].value_len) && rfs_buf_addc(canon, '\n') &&
             (i == 0 || rfs_buf_addc(signed_names, ';')) &&
             rfs_buf_add(signed_names, h[i].name, h[i].name_len);
    }
    ok = ok && rfs_buf_addc(canon, '\n') && rfs_buf_add(canon, signed_names->p, signed_names->len) &&
         rfs_buf_addc(canon, '\n');
    if (ok && payload_hash != NULL)
        ok = rfs_buf_add(canon, payload_hash, payload_hash_len);
    else if (ok) {
        /* most requests are reads with no body: its digest is a constant */
        static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        char hex[65];
        if (in->body == NULL || in->body_len == 0)
            memcpy(hex, EMPTY_SHA256, sizeof(hex));
        else
            rfs_sha256_hex(in->body, in->body_len, hex);
        ok = hex[0] != '\0' && rfs_buf_add(canon, hex, 64);
    }
    return ok;
}

static int build_authorization(const rfs_sign_input *in, rfs_sign_output *out,
                               const rfs_buf *signed_names)
{
    char canon_hex[65], sig_hex[65];
    unsigned char mac[32];
    rfs_buf sts;
    char sts_storage[128];
    int ok;

    rfs_sha256_hex(out->canonical.p, out->canonical.len, canon_hex);
    rfs_buf_init_fixed(&sts, sts_storage, sizeof(sts_storage));
    ok = rfs_buf_adds(&sts, RFS_SIGN_ALGORITHM "\n") && rfs_buf_add(&sts, out->date, 16) &&
         rfs_buf_addc(&sts, '\n') && rfs_buf_add(&sts, canon_hex, 64);
    ok = ok && canon_hex[0] != '\0' && hmac_sha256(in->sk, in->sk_len, sts.p, sts.len, mac);
    rfs_buf_free(&sts);
    if (!ok)
        return 0;
    hex_encode(mac, sizeof(mac), sig_hex);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rfs_buf_adds(&out->authorization, RFS_SIGN_ALGORITHM " Access=") &&
           rfs_buf_add(&out->authorization, in->ak, in->ak_len) &&
           rfs_buf_adds(&out->authorization, ", SignedHeaders=") &&
           rfs_buf_add(&out->authorization, signed_names->p, signed_names->len) &&
           rfs_buf_adds(&out->authorization, ", Signature=") &&
           rfs_buf_add(&out->authorization, sig_hex, 64);
}

int rfs_sign(const rfs_sign_input *in, rfs_sign_output *out, const char **err)
{
    rfs_url u;
    rfs_canon_header h[RFS_MAX_SIGN_HEADERS + 3];
    size_t count = 0, i, payload_hash_len = 0, names_len;
    const char *payload_hash = NULL;
    rfs_buf signed_names, names;
    char signed_storage[256], names_storage[256];
    int ok;

    *err = NULL;
    if (in->nheaders > RFS_MAX_SIGN_HEADERS) {
        *err = "too many headers to sign (at most 64)";
        return 0;
    }
    if (in->ak_len == 0 || in->sk_len == 0) {
        *err = "ak and sk must not be empty";
        return 0;
    }
    if (!rfs_header_value_ok(in->ak, in->ak_len)) {
        *err = "ak contains CR, LF or NUL";
        return 0;
    }
    if (!parse_url(in->url, in->url_len, &u, err) || !pick_date(in, out, err))
        return 0;
    rfs_buf_init_fixed(&signed_names, signed_storage, sizeof(signed_storage));
    rfs_buf_init_fixed(&names, names_storage, sizeof(names_storage));
    for (i = 0, names_len = 64; i < in->nheaders; i++)
        names_len += in->headers[i].name_len + 1;
    ok = rfs_buf_reserve(&names, names_len) && rfs_buf_reserve(&signed_names, names_len) &&
         rfs_buf_reserve(&out->canonical, 512 + in->url_len * 3 + names_len * 2) &&
         collect_headers(in, &u, out, h, &count, &names, &payload_hash, &payload_hash_len, err) &&
         build_canonical(in, &u, h, count, payload_hash, payload_hash_len, &out->canonical,
                         &signed_names) &&
         !out->canonical.failed && build_authorization(in, out, &signed_names) &&
         !out->authorization.failed;
    rfs_buf_free(&names);
    rfs_buf_free(&signed_names);
    if (!ok && *err == NULL)
        *err = "out of memory while signing";
    return ok;
}
