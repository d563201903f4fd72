/* http.h - one libcurl easy handle per client, reused for keep-alive.
 * Pure C: collects the whole response in C buffers; no Lua API here. */
#ifndef RFS_HTTP_H
#define RFS_HTTP_H

#include <signal.h>
#include <stddef.h>
#include "buf.h"
#include "sign.h"

#define RFS_MAX_RESPONSE_BYTES (16u * 1024u * 1024u)
#define RFS_MAX_RESPONSE_HEADER_BYTES (64u * 1024u)

typedef struct {
    void *curl;               /* CURL * */
    long timeout_ms;
    long connect_timeout_ms;
    int verify_tls;
    char *ca_file;            /* owned, may be NULL */
    char *proxy;              /* owned, may be NULL */
    int method;               /* RFS_METHOD_*: what the handle's method options are set for */
    char *url;                /* the URL set on the handle (owned, may be NULL): not set again */
} rfs_http;

/* At most this many request headers: the signed ones and the signer's own. */
#define RFS_MAX_REQUEST_HEADERS (RFS_MAX_SIGN_HEADERS + 4)

enum { RFS_METHOD_UNSET = 0, RFS_METHOD_GET, RFS_METHOD_OTHER };

typedef struct {
    long status;              /* HTTP status, 0 when no response */
    rfs_buf headers;          /* raw "Name: value\r\n" lines of the final response */
    rfs_buf body;
    const char *error_kind;   /* NULL on success: "network", "timeout", "tls", "decode", "interrupted" */
    char error_message[256];
    int sent;                 /* the request may have reached the server */
} rfs_http_response;

int rfs_http_init(rfs_http *h);
void rfs_http_release(rfs_http *h);
void rfs_http_response_init(rfs_http_response *r);
void rfs_http_response_free(rfs_http_response *r);
/* After a large response, gives the reused buffers' memory back (a client that once read
 * a 16 MiB answer must not pin it until close()). */
#define RFS_KEEP_BUFFER_BYTES (256u * 1024u)
void rfs_http_response_shrink(rfs_http_response *r);

/* Performs one request. Returns 1 when an HTTP response arrived, 0 otherwise
 * (r->error_kind and r->error_message say why). */
int rfs_http_perform(rfs_http *h, const char *method, const char *url, const rfs_header *headers,
                     size_t nheaders, const char *body, size_t body_len, rfs_http_response *r);

/* Response header fields: the next "Name: value" line of a raw header block, skipping
 * status lines, lines without a colon and names longer than RFS_MAX_HEADER_NAME. The
 * value has leading blanks and a trailing CR removed. Returns 0 at the end. */
#define RFS_MAX_HEADER_NAME 127
int rfs_header_next(const char **cursor, const char *end, rfs_header *out);

/* The signal seen since core.watch_signals(), 0 when none: a transfer in flight aborts
 * with error kind "interrupted". */
extern volatile sig_atomic_t rfs_signal_seen;

/* Global libcurl initialisation (idempotent, call once at module load). */
int rfs_http_global_init(void);

#endif
