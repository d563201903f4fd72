/* core.c - luaopen_rfs_core: the module table of the C core.
 *
 *   core.sign{method, url, headers, body, ak, sk, security_token, date} -> headers, canonical
 *   core.new_client{...}        -> Client (see client.c)
 *   core.uuid4()                -> a random UUID v4 (OpenSSL CSPRNG)
 *   core.uri_encode(s)          -> RFC 3986 percent-encoding
 *   core.parse_headers(block)   -> { ["lower-case name"] = "value" } from a raw header block
 *   core.monotonic()            -> seconds on a monotonic clock
 *   core.now()                  -> seconds since the epoch (wall clock)
 *   core.sleep(seconds)         -> sleeps without spinning
 *   core.watch_signals()        -> SIGTERM/SIGINT set a flag instead of killing the process
 *   core.signalled()            -> the signal number seen since, or nothing
 *   core.Client, core.Stack     -> the method tables the Lua layer extends
 *   core.ExecutionPlan, core.Template, core.StackSet (the same object type, other kinds)
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <signal.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "rfs.h"

size_t rfs_headers_from_table(lua_State *L, int idx, rfs_header *out, size_t max, const char *argname)
{
    size_t n = 0;

    idx = rfs_absindex(L, idx);
    if (lua_isnoneornil(L, idx))
        return 0;
    if (lua_type(L, idx) != LUA_TTABLE)
        luaL_error(L, "rfs: %s must be a table of name = value strings", argname);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t nl, vl;
        const char *name, *value;
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "rfs: %s must map header names to string values", argname);
        if (n >= max)
            luaL_error(L, "rfs: too many %s (at most %d)", argname, (int)max);
        name = lua_tolstring(L, -2, &nl);
        value = lua_tolstring(L, -1, &vl);
        if (!rfs_header_name_ok(name, nl))
            luaL_error(L, "rfs: header name %s is not a valid HTTP token", rfs_push_display(L, name, nl));
        if (!rfs_header_value_ok(value, vl))
            luaL_error(L, "rfs: header %s contains CR, LF or NUL in its value", rfs_push_display(L, name, nl));
        /* Both strings stay referenced by the table, which stays on the stack. */
        out[n].name = name;
        out[n].name_len = nl;
        out[n].value = value;
        out[n].value_len = vl;
        n++;
        lua_pop(L, 1);
    }
    return n;
}

static const char *SIGN_KEYS[] = { "method", "url", "headers", "body", "ak", "sk", "security_token", "date", NULL };

static void check_known_keys(lua_State *L, int idx, const char **known, const char *fname)
{
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int i, found = 0;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (i = 0; known[i] != NULL && !found; i++)
                found = strcmp(lua_tostring(L, -2), known[i]) == 0;
        if (!found)
            luaL_error(L, "rfs: %s: unknown option %s", fname, rfs_push_display_at(L, -2));
        lua_pop(L, 1);
    }
}

/* Reads t[key] (a string or nil) and leaves it on the stack, where it stays until
 * core_sign returns: an argument table that answers through __index (a proxy) may hand
 * out a string nothing else references, and signing must never read freed memory. */
static const char *string_field(lua_State *L, int idx, const char *key, size_t *len, int required)
{
    lua_getfield(L, idx, key);
    if (lua_isnil(L, -1)) {
        if (required)
            luaL_error(L, "rfs.sign: '%s' is required", key);
        *len = 0;
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "rfs.sign: '%s' must be a string (got %s)", key, luaL_typename(L, -1));
    return lua_tolstring(L, -1, len);
}

static int valid_method(const char *m)
{
    size_t i, n = strlen(m);
    if (n == 0 || n > 16)
        return 0;
    for (i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return 0;
    return 1;
}

typedef struct {
    rfs_sign_output *out;
    const char *token;
    size_t token_len;
    int canonical;
} rfs_sign_result;

/* Pushes the signed headers (and the canonical request): run under lua_pcall so that
 * a memory error while pushing never skips the wipe of the signing buffers. */
static int push_sign_result(lua_State *L)
{
    rfs_sign_result *r = (rfs_sign_result *)lua_touserdata(L, 1);

    lua_createtable(L, 0, 4);
    lua_pushlstring(L, r->out->date, 16);
    lua_setfield(L, -2, "X-Sdk-Date");
    lua_pushlstring(L, r->out->authorization.p, r->out->authorization.len);
    lua_setfield(L, -2, "Authorization");
    lua_pushlstring(L, r->out->host.p, r->out->host.len);
    lua_setfield(L, -2, "Host");
    if (r->token != NULL) {
        lua_pushlstring(L, r->token, r->token_len);
        lua_setfield(L, -2, "X-Security-Token");
    }
    if (!r->canonical) /* the canonical request only when asked: it costs a string */
        return 1;
    lua_pushlstring(L, r->out->canonical.p, r->out->canonical.len);
    return 2;
}

static int core_sign(lua_State *L)
{
    rfs_header headers[RFS_MAX_SIGN_HEADERS];
    rfs_sign_input in;
    rfs_sign_output out;
    rfs_sign_result result;
    const char *err;
    size_t method_len, date_len;
    int status, nresults = lua_toboolean(L, 2) ? 2 : 1;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_known_keys(L, 1, SIGN_KEYS, "rfs.sign");
    lua_pushcfunction(L, push_sign_result); /* allocated now, before any C buffer exists */
    memset(&in, 0, sizeof(in));
    in.method = string_field(L, 1, "method", &method_len, 1);
    if (!valid_method(in.method))
        return luaL_error(L, "rfs.sign: 'method' must be an upper-case HTTP method such as GET (got %s)",
                          rfs_push_display(L, in.method, method_len));
    in.url = string_field(L, 1, "url", &in.url_len, 1);
    in.body = string_field(L, 1, "body", &in.body_len, 0);
    in.ak = string_field(L, 1, "ak", &in.ak_len, 1);
    in.sk = string_field(L, 1, "sk", &in.sk_len, 1);
    in.token = string_field(L, 1, "security_token", &in.token_len, 0);
    in.date = string_field(L, 1, "date", &date_len, 0);
    if (in.date != NULL && strlen(in.date) != date_len)
        return luaL_error(L, "rfs.sign: date must look like 20261124T000000Z");
    lua_getfield(L, 1, "headers"); /* stays on the stack, and so do its strings */
    in.headers = headers;
    in.nheaders = rfs_headers_from_table(L, -1, headers, RFS_MAX_SIGN_HEADERS, "headers");

    rfs_sign_output_init(&out);
    if (!rfs_sign(&in, &out, &err)) {
        rfs_sign_output_free(&out);
        return luaL_error(L, "rfs.sign: %s", err);
    }
    result.out = &out;
    result.token = in.token;
    result.token_len = in.token_len;
    result.canonical = nresults == 2;
    lua_pushvalue(L, 2); /* push_sign_result */
    lua_pushlightuserdata(L, &result);
    status = lua_pcall(L, 1, nresults, 0);
    rfs_sign_output_free(&out); /* wiped and freed whether the pushes worked or not */
    if (status != 0)
        return lua_error(L);
    return nresults;
}

/* Random bytes come from OpenSSL's CSPRNG 4 KiB at a time (one RAND_bytes call
 * costs about as much as the rest of a request's bookkeeping). The pool is
 * per thread and emptied in a forked child (pthread_atfork), so that nginx
 * workers never share it; every byte handed out is wiped from it. */
static __thread unsigned char random_pool[4096];
static __thread size_t random_pos = sizeof(random_pool);
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_forget_in_child(void)
{
    OPENSSL_cleanse(random_pool, sizeof(random_pool));
    random_pos = sizeof(random_pool);
}

static void random_register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, random_forget_in_child);
}

static int random_bytes(unsigned char *out, size_t n)
{
    pthread_once(&random_once, random_register_fork_handler);
    if (random_pos + n > sizeof(random_pool)) {
        if (RAND_bytes(random_pool, sizeof(random_pool)) != 1)
            return 0;
        random_pos = 0;
    }
    memcpy(out, random_pool + random_pos, n);
    OPENSSL_cleanse(random_pool + random_pos, n);
    random_pos += n;
    return 1;
}

int rfs_uuid4(char s[37])
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    int i, j = 0;

    if (!random_bytes(b, sizeof(b)))
        return 0;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[j++] = '-';
        s[j++] = hex[b[i] >> 4];
        s[j++] = hex[b[i] & 15];
    }
    s[36] = '\0';
    return 1;
}

static int core_uuid4(lua_State *L)
{
    char s[37];
    if (!rfs_uuid4(s))
        return luaL_error(L, "rfs: the system random generator failed");
    lua_pushlstring(L, s, 36);
    return 1;
}

static int core_uri_encode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    rfs_buf b;
    rfs_buf_init(&b);
    if (!rfs_uri_encode(&b, s, n)) {
        rfs_buf_free(&b);
        return luaL_error(L, "rfs: out of memory");
    }
    lua_pushlstring(L, b.p ? b.p : "", b.len);
    rfs_buf_free(&b);
    return 1;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int core_monotonic(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_MONOTONIC));
    return 1;
}

static int core_now(lua_State *L)
{
    lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
    return 1;
}

static int core_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    struct timespec req, rem;

    if (!(s > 0))
        return 0;
    if (s > 86400)
        s = 86400;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (double)req.tv_sec) * 1e9);
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
    return 0;
}

/* For long-running tools (bin/rfs-emulator, bin/rfs): SIGTERM and SIGINT only set a
 * flag, which the tool's loop polls to shut down cleanly and exit 0; a libcurl
 * transfer in flight sees it too and aborts (kind "interrupted"). */
static void remember_signal(int sig)
{
    rfs_signal_seen = sig;
}

static int core_watch_signals(lua_State *L)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = remember_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    (void)L;
    return 0;
}

static int core_signalled(lua_State *L)
{
    if (rfs_signal_seen == 0)
        return 0;
    lua_pushinteger(L, rfs_signal_seen);
    return 1;
}

/* core.parse_headers(block) -> { ["name"] = "value" }: the header parser libcurl's
 * answers go through, for every other transport too. */
static int core_parse_headers(lua_State *L)
{
    size_t n;
    const char *block = luaL_checklstring(L, 1, &n);
    rfs_push_headers(L, block, n);
    return 1;
}

static void push_methods(lua_State *L, const char *mt)
{
    luaL_getmetatable(L, mt);
    lua_getfield(L, -1, "methods");
    lua_remove(L, -2);
}

int luaopen_rfs_core(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "sign", core_sign },
        { "new_client", rfs_client_new },
        { "uuid4", core_uuid4 },
        { "uri_encode", core_uri_encode },
        { "parse_headers", core_parse_headers },
        { "monotonic", core_monotonic },
        { "now", core_now },
        { "sleep", core_sleep },
        { "watch_signals", core_watch_signals },
        { "signalled", core_signalled },
        { "file_mode", rfs_file_mode },
        { "json_decode", rfs_json_decode },
        { NULL, NULL },
    };

    if (!rfs_http_global_init())
        return luaL_error(L, "rfs: libcurl global initialisation failed");
    rfs_client_register(L);
    rfs_stack_register(L);
    rfs_newlib(L, functions);
    push_methods(L, RFS_CLIENT_MT);
    lua_setfield(L, -2, "Client");
    push_methods(L, RFS_STACK_MT);
    lua_setfield(L, -2, "Stack");
    push_methods(L, RFS_PLAN_MT);
    lua_setfield(L, -2, "ExecutionPlan");
    push_methods(L, RFS_TEMPLATE_MT);
    lua_setfield(L, -2, "Template");
    push_methods(L, RFS_STACK_SET_MT);
    lua_setfield(L, -2, "StackSet");
    lua_pushliteral(L, RFS_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
