/* buf.h - a growable byte buffer for building strings in C before Lua sees them. */
#ifndef RFS_BUF_H
#define RFS_BUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the content is incomplete */
} rfs_buf;

void rfs_buf_init(rfs_buf *b);
/* Room for extra more bytes (and a NUL) without another allocation. */
int rfs_buf_reserve(rfs_buf *b, size_t extra);
int rfs_buf_add(rfs_buf *b, const char *s, size_t n);
int rfs_buf_adds(rfs_buf *b, const char *s);
int rfs_buf_addc(rfs_buf *b, char c);
/* Wipe the content (it may have held a secret) and release the memory. */
void rfs_buf_free(rfs_buf *b);
/* NUL-terminated view; "" for an empty or failed buffer. */
const char *rfs_buf_cstr(rfs_buf *b);

#endif
