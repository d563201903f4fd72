/* buf.h - a growable byte buffer for building strings in C before Lua sees them. */
#ifndef RFS_BUF_H
#define RFS_BUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len;
    size_t cap;
    int failed; /* an allocation failed: the content is incomplete */
    char *fixed; /* the caller's storage the buffer started in (never freed here), or NULL */
} rfs_buf;

void rfs_buf_init(rfs_buf *b);
/* A buffer that starts in the caller's storage (cap bytes, e.g. on the stack) and moves
 * to the heap only when it outgrows it: a short-lived buffer costs no allocation. */
void rfs_buf_init_fixed(rfs_buf *b, char *storage, size_t cap);
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
