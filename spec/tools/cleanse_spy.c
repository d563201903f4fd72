/* cleanse_spy.c - LD_PRELOAD shim for spec/secrets_spec.lua.
 *
 * Interposes OPENSSL_cleanse and reports on stderr, one line each, when a buffer it is
 * asked to wipe holds the secret named by RFS_SPY_SK or RFS_SPY_TOKEN (exactly, or as an
 * HMAC key block: the secret padded with zeros to 64 bytes). It never prints a secret.
 * What it proves is that the wipe is asked for on the exact buffer that held the secret;
 * it then wipes the buffer itself (libcrypto is loaded RTLD_LOCAL with rfs/core.so, out of
 * reach of RTLD_NEXT, so the real OPENSSL_cleanse cannot be called from here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int holds(const unsigned char *p, size_t len, const char *secret)
{
    size_t n = strlen(secret), i;
    if (n == 0)
        return 0;
    if (len == n && memcmp(p, secret, n) == 0)
        return 1;
    if (len == 64 && n < 64 && memcmp(p, secret, n) == 0) {
        for (i = n; i < len; i++)
            if (p[i] != 0)
                return 0;
        return 2;
    }
    return 0;
}

void OPENSSL_cleanse(void *ptr, size_t len)
{
    volatile unsigned char *v = (volatile unsigned char *)ptr;
    static const char *const vars[] = { "RFS_SPY_SK", "RFS_SPY_TOKEN" };
    int found[2] = { 0, 0 };
    size_t i, k;

    for (k = 0; k < 2; k++) {
        const char *s = getenv(vars[k]);
        if (s != NULL && ptr != NULL)
            found[k] = holds((const unsigned char *)ptr, len, s);
    }
    for (i = 0; i < len; i++)
        v[i] = 0;
    for (k = 0; k < 2; k++)
        if (found[k] != 0)
            fprintf(stderr, "cleanse-spy: %s %s\n", k == 0 ? "sk" : "token", found[k] == 1 ? "buffer" : "hmac-key");
}
