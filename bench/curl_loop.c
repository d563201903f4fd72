/* The practical limit of the request path: the same signed GET in a plain C
 * libcurl loop over one keep-alive connection. Like lua-rfs it signs every
 * call afresh (with lua-rfs's own C signer, the fastest one we have), with a
 * new Client-Request-Id, and sends the same bytes (bench/run passes the URL
 * lua-rfs reads once it knows the stack's id, ?stack_id= included; the same
 * User-Agent); it skips everything else (JSON, errors, Lua).
 * With "nosign" it signs once before the loop and sends those same headers every time:
 * the libcurl exchange alone, so that the cost of signing and decoding shows.
 *   curl_loop URL SECONDS [nosign] -> prints calls per second
 *   curl_loop URL calls=N           -> makes N signed calls (for counting instructions) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/rand.h>

#include "sign.h"

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void request_id(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    int i, j = 0;
    RAND_bytes(b, sizeof(b));
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[36] = '\0';
}

int main(int argc, char **argv)
{
    CURL *c;
    double t0, seconds;
    long calls = 0, status = 0, limit = -1;
    const char *url;
    struct curl_slist *fixed = NULL;
    int sign_every_call;

    if (argc < 3) {
        fprintf(stderr, "usage: curl_loop URL SECONDS [nosign]\n");
        return 2;
    }
    url = argv[1];
    if (strncmp(argv[2], "calls=", 6) == 0)
        limit = atol(argv[2] + 6);
    seconds = atof(argv[2]);
    sign_every_call = !(argc > 3 && strcmp(argv[3], "nosign") == 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    t0 = now();
    while (limit >= 0 ? calls < limit : now() - t0 < seconds) {
        char rid[37], line_rid[80], line_date[40], line_auth[512];
        rfs_header h[3];
        rfs_sign_input in;
        rfs_sign_output out;
        const char *err;
        struct curl_slist *list = NULL;

        if (fixed != NULL) {
            if (curl_easy_perform(c) != CURLE_OK)
                return 1;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            if (status != 200)
                return 1;
            calls++;
            continue;
        }
        request_id(rid);
        h[0] = (rfs_header){ "Client-Request-Id", 17, rid, 36 };
        h[1] = (rfs_header){ "Content-Type", 12, "application/json", 16 };
        h[2] = (rfs_header){ "X-Project-Id", 12, "proj123", 7 };
        memset(&in, 0, sizeof(in));
        in.method = "GET";
        in.url = url;
        in.url_len = strlen(url);
        in.headers = h;
        in.nheaders = 3;
        in.ak = "AKBENCH";
        in.ak_len = 7;
        in.sk = "bench-secret";
        in.sk_len = 12;
        rfs_sign_output_init(&out);
        if (!rfs_sign(&in, &out, &err))
            return 1;
        snprintf(line_rid, sizeof(line_rid), "Client-Request-Id: %s", rid);
        snprintf(line_date, sizeof(line_date), "X-Sdk-Date: %s", out.date);
        snprintf(line_auth, sizeof(line_auth), "Authorization: %s", out.authorization.p);
        list = curl_slist_append(list, line_rid);
        list = curl_slist_append(list, "Content-Type: application/json");
        list = curl_slist_append(list, "X-Project-Id: proj123");
        list = curl_slist_append(list, line_date);
        list = curl_slist_append(list, line_auth);
        list = curl_slist_append(list, "User-Agent: lua-rfs/0.1");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
        if (curl_easy_perform(c) != CURLE_OK)
            return 1;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        rfs_sign_output_free(&out);
        if (status != 200)
            return 1;
        if (!sign_every_call) { /* the first call signed; the rest reuse its headers */
            fixed = list;
            t0 = now();
            continue;
        }
        curl_slist_free_all(list);
        calls++;
    }
    printf("%.0f\n", calls / (now() - t0));
    curl_slist_free_all(fixed);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return 0;
}
