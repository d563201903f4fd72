/* http.c - the libcurl side of lua-rfs: one easy handle per client, reused so
 * that consecutive calls share one keep-alive connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "http.h"

int rfs_http_global_init(void)
{
    static int done = 0;
    if (!done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return 0;
        done = 1;
    }
    return 1;
}

static int apply_options(rfs_http *h, CURL *c);

/* Options that do not change between calls are set once, here. */
int rfs_http_init(rfs_http *h)
{
    h->method = RFS_METHOD_UNSET;
    h->curl = curl_easy_init();
    if (h->curl == NULL)
        return 0;
    if (!apply_options(h, (CURL *)h->curl)) {
        curl_easy_cleanup((CURL *)h->curl);
        h->curl = NULL;
        return 0;
    }
    return 1;
}

void rfs_http_release(rfs_http *h)
{
    if (h->curl != NULL) {
        curl_easy_cleanup((CURL *)h->curl);
        h->curl = NULL;
    }
    free(h->url);
    h->url = NULL;
    free(h->ca_file);
    h->ca_file = NULL;
    if (h->proxy != NULL) { /* a proxy URL can carry user:password */
        OPENSSL_cleanse(h->proxy, strlen(h->proxy));
        free(h->proxy);
        h->proxy = NULL;
    }
}

void rfs_http_response_init(rfs_http_response *r)
{
    memset(r, 0, sizeof(*r));
    rfs_buf_init(&r->headers);
    rfs_buf_init(&r->body);
}

void rfs_http_response_free(rfs_http_response *r)
{
    rfs_buf_free(&r->headers);
    rfs_buf_free(&r->body);
}

void rfs_http_response_shrink(rfs_http_response *r)
{
    if (r->body.cap > RFS_KEEP_BUFFER_BYTES)
        rfs_buf_free(&r->body);
    if (r->headers.cap > RFS_KEEP_BUFFER_BYTES)
        rfs_buf_free(&r->headers);
}

typedef struct {
    rfs_http_response *r;
    int too_large;
} rfs_sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    rfs_sink *s = ud;
    size_t n = size * nmemb;
    if (s->r->body.len + n > RFS_MAX_RESPONSE_BYTES) {
        s->too_large = 1;
        return 0;
    }
    return rfs_buf_add(&s->r->body, data, n) ? n : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    rfs_sink *s = ud;
    size_t n = size * nmemb;
    /* A new status line (after 100 Continue, or a proxy's CONNECT answer) starts over. */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        s->r->headers.len = 0;
    if (s->r->headers.len + n > RFS_MAX_RESPONSE_HEADER_BYTES) {
        s->too_large = 1;
        return 0;
    }
    return rfs_buf_add(&s->r->headers, data, n) ? n : 0;
}

static const char *error_kind(CURLcode code)
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return "tls";
    default:
        return "network";
    }
}

/* Set by core.c's signal handler once the process watches SIGINT/SIGTERM. */
volatile sig_atomic_t rfs_signal_seen = 0;

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return rfs_signal_seen != 0; /* non-zero: CURLE_ABORTED_BY_CALLBACK */
}

/* The variables libcurl takes a proxy from for http:// and https:// URLs. */
static int env_proxy_set(void)
{
    static const char *names[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL };
    int i;
    for (i = 0; names[i] != NULL; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && v[0] != '\0')
            return 1;
    }
    return 0;
}

static int apply_options(rfs_http *h, CURL *c)
{
    int ok = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->verify_tls ? 1L : 0L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->verify_tls ? 2L : 0L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
             curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
#else
             curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK &&
#endif
             curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
    if (ok && h->ca_file != NULL)
        ok = curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file) == CURLE_OK;
    /* Without an explicit proxy, curl reads http_proxy, https_proxy (or HTTPS_PROXY),
     * all_proxy and no_proxy from the environment, as the curl tool does; upper-case
     * HTTP_PROXY is ignored there on purpose (a CGI client could set it). */
    if (ok && h->proxy != NULL)
        ok = curl_easy_setopt(c, CURLOPT_PROXY, h->proxy) == CURLE_OK;
    /* With none of those variables set, say so once: libcurl would otherwise look them
     * up (and format their names) on every request. They are read when the client is made. */
    if (ok && h->proxy == NULL && !env_proxy_set())
        ok = curl_easy_setopt(c, CURLOPT_PROXY, "") == CURLE_OK;
    /* Watched signals (core.watch_signals) abort a transfer in flight. */
    if (ok)
        ok = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) == CURLE_OK;
    return ok;
}

/* At most once on the wire. When a reused keep-alive connection turns out to be closed
 * and no response byte came back, libcurl re-sends the request on a new connection by
 * itself, with no option to turn that off; for a continue that means one call applied
 * twice (202, then 409). libcurl only does this on a reused connection, so a request
 * that is not idempotent always goes out on a fresh one: a dropped connection is then
 * reported (maybe_applied) and the Lua retry policy, which reads the stack's state
 * first, decides. GET and HEAD keep the pooled connection and its transparent retry.
 * The cost is one TCP (and TLS) handshake per continue, next to a deployment's minutes. */
static int idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Options that depend on the method are set only when the method kind changes: a client
 * that reads metadata in a loop sets them once. */
static int apply_method(rfs_http *h, CURL *c, const char *method, const char *body, size_t body_len)
{
    int kind = (strcmp(method, "GET") == 0 && body_len == 0) ? RFS_METHOD_GET : RFS_METHOD_OTHER;
    if (kind == RFS_METHOD_GET && h->method == RFS_METHOD_GET)
        return 1;
    h->method = RFS_METHOD_UNSET; /* until every option below is in place */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    if (curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, idempotent(method) ? 0L : 1L) != CURLE_OK)
        return 0;
    if (kind == RFS_METHOD_GET) {
        if (curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK)
            return 0;
        h->method = RFS_METHOD_GET;
        return 1;
    }
    h->method = RFS_METHOD_OTHER;
    if (strcmp(method, "HEAD") == 0)
        return curl_easy_setopt(c, CURLOPT_NOBODY, 1L) == CURLE_OK;
    if (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK)
        return 0;
    if (strcmp(method, "POST") != 0)
        return curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    return 1;
}

/* The URL, set only when it differs from the one the handle has: a client reading the
 * same stack in a loop has it copied and parsed once. */
static int apply_url(rfs_http *h, CURL *c, const char *url)
{
    size_t n;
    if (h->url != NULL && strcmp(h->url, url) == 0)
        return 1;
    free(h->url);
    h->url = NULL;
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK)
        return 0;
    n = strlen(url);
    h->url = malloc(n + 1); /* NULL (out of memory): the URL is simply set again next time */
    if (h->url != NULL)
        memcpy(h->url, url, n + 1);
    return 1;
}

#define RFS_USER_AGENT "User-Agent: lua-rfs/0.1"

/* The authority of an http(s) URL ("host[:port]"), or a zero length. */
static const char *url_authority(const char *url, size_t *len)
{
    const char *p = strstr(url, "://"), *end;
    *len = 0;
    if (p == NULL)
        return url;
    p += 3;
    end = p + strcspn(p, "/?#");
    *len = (size_t)(end - p);
    return p;
}

/* A Host header libcurl would send the same by itself: the URL's authority, with no
 * user part and no default port (which libcurl leaves out of its own Host). */
static int host_is_curls(const rfs_header *h, const char *url)
{
    size_t n;
    const char *a;
    if (h->name_len != 4 || strncasecmp(h->name, "Host", 4) != 0)
        return 0;
    a = url_authority(url, &n);
    if (n == 0 || n != h->value_len || memcmp(a, h->value, n) != 0 || memchr(a, '@', n) != NULL)
        return 0;
    return !((n > 3 && memcmp(a + n - 3, ":80", 3) == 0) || (n > 4 && memcmp(a + n - 4, ":443", 4) == 0));
}

/* The header list of one request, built from the headers the transport was given: the
 * "Name: value" lines go into the caller's buffer (on its stack unless they outgrow it)
 * and the list nodes are the caller's too, so a request allocates nothing for its
 * headers. libcurl only reads the list during the transfer. Fixed lines (User-Agent
 * unless one was given, an empty Expect) are list nodes of their own: set as options,
 * libcurl would format them anew on every request. */
static struct curl_slist *build_header_list(const rfs_header *headers, size_t n, const char *url,
                                            int with_body, rfs_buf *lines, struct curl_slist *nodes)
{
    size_t i, k = 0, at[RFS_MAX_REQUEST_HEADERS];
    int agent = 0;

    if (n > RFS_MAX_REQUEST_HEADERS)
        return NULL;
    for (i = 0; i < n; i++) {
        if (host_is_curls(&headers[i], url))
            continue; /* the same bytes on the wire, without libcurl parsing a custom Host */
        if (headers[i].name_len == 10 && strncasecmp(headers[i].name, "User-Agent", 10) == 0)
            agent = 1;
        at[k++] = lines->len;
        if (!rfs_buf_add(lines, headers[i].name, headers[i].name_len) ||
            !rfs_buf_adds(lines, headers[i].value_len ? ": " : ";") ||
            !rfs_buf_add(lines, headers[i].value, headers[i].value_len) ||
            !rfs_buf_addc(lines, '\0'))
            return NULL;
    }
    /* the buffer may have moved while it grew: point into it only now */
    for (i = 0; i < k; i++) {
        nodes[i].data = lines->p + at[i];
        nodes[i].next = &nodes[i + 1];
    }
    if (!agent) {
        nodes[k].data = (char *)RFS_USER_AGENT;
        nodes[k].next = &nodes[k + 1];
        k++;
    }
    /* Never let curl add "Expect: 100-continue" (it may, to a request with a body). */
    if (with_body) {
        nodes[k].data = (char *)"Expect:";
        nodes[k].next = &nodes[k + 1];
        k++;
    }
    if (k == 0) /* cannot happen (a User-Agent line is always there); never a dangling list */
        return NULL;
    nodes[k - 1].next = NULL;
    return nodes;
}

static void fail(rfs_http_response *r, const char *kind, const char *fmt, const char *detail)
{
    r->error_kind = kind;
    snprintf(r->error_message, sizeof(r->error_message), fmt, detail);
}

int rfs_http_perform(rfs_http *h, const char *method, const char *url, const rfs_header *headers,
                     size_t nheaders, const char *body, size_t body_len, rfs_http_response *r)
{
    CURL *c = h->curl;
    struct curl_slist *list, nodes[RFS_MAX_REQUEST_HEADERS + 2];
    char storage[8192]; /* the header lines of a signed request fit, a long security token too */
    rfs_buf lines;
    char errbuf[CURL_ERROR_SIZE];
    rfs_sink sink = { r, 0 };
    CURLcode code;
    double pretransfer = 0;
    int ok;

    if (c == NULL) {
        fail(r, "network", "%s", "the client is closed");
        return 0;
    }
    rfs_buf_init_fixed(&lines, storage, sizeof(storage));
    list = build_header_list(headers, nheaders, url, strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0,
                             &lines, nodes);
    errbuf[0] = '\0';
    ok = list != NULL && apply_method(h, c, method, body, body_len) &&
         apply_url(h, c, url) &&
         curl_easy_setopt(c, CURLOPT_HTTPHEADER, list) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
         curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink) == CURLE_OK;
    if (!ok) {
        h->method = RFS_METHOD_UNSET;
        free(h->url);
        h->url = NULL;
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        rfs_buf_free(&lines);
        fail(r, "network", "%s", "could not set up the HTTP request (out of memory?)");
        return 0;
    }
    code = curl_easy_perform(c);
    /* Drop every pointer into this call's stack frame before returning. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    /* the body pointer of a request with one is dropped; a GET's handle has none */
    if (h->method != RFS_METHOD_GET)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    rfs_buf_free(&lines); /* wiped: the lines hold the signature and any security token */
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME, &pretransfer);
    r->sent = pretransfer > 0;
    if (code != CURLE_OK) {
        if (sink.too_large)
            fail(r, "decode", "%s", "the response is larger than lua-rfs accepts (16 MiB body, 64 KiB headers)");
        else if (code == CURLE_ABORTED_BY_CALLBACK)
            fail(r, "interrupted", "%s", rfs_signal_seen == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT");
        else
            fail(r, error_kind(code), "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
        if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
            code == CURLE_COULDNT_RESOLVE_PROXY)
            r->sent = 0;
        return 0;
    }
    if (r->body.failed || r->headers.failed) {
        fail(r, "decode", "%s", "out of memory while reading the response");
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return 1;
}
