/* buf.c - growable byte buffer; see buf.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "buf.h"

void rfs_buf_init(rfs_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
    b->fixed = NULL;
}

void rfs_buf_init_fixed(rfs_buf *b, char *storage, size_t cap)
{
    rfs_buf_init(b);
    if (storage != NULL && cap > 0) {
        b->p = b->fixed = storage;
        b->cap = cap;
        b->p[0] = '\0';
    }
}

int rfs_buf_reserve(rfs_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return 0;
    if (extra > ((size_t)-1) / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = malloc(cap);
    if (p == NULL) {
        b->failed = 1;
        return 0;
    }
    if (b->p != NULL) {
        memcpy(p, b->p, b->len);
        OPENSSL_cleanse(b->p, b->len);
        if (b->p != b->fixed)
            free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

int rfs_buf_add(rfs_buf *b, const char *s, size_t n)
{
    if (!rfs_buf_reserve(b, n))
        return 0;
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 1;
}

int rfs_buf_adds(rfs_buf *b, const char *s)
{
    return rfs_buf_add(b, s, strlen(s));
}

int rfs_buf_addc(rfs_buf *b, char c)
{
    return rfs_buf_add(b, &c, 1);
}

/* Only the first len bytes were ever written: wiping them wipes every secret. */
void rfs_buf_free(rfs_buf *b)
{
    if (b->p != NULL) {
        OPENSSL_cleanse(b->p, b->len);
        if (b->p != b->fixed)
            free(b->p);
    }
    rfs_buf_init(b);
}

const char *rfs_buf_cstr(rfs_buf *b)
{
    return (b->p != NULL && !b->failed) ? b->p : "";
}
