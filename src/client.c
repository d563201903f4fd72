/* client.c - the Client userdata: credentials held in C, one libcurl handle.
 *
 * Lifecycle as in luaossl/luasocket: the userdata is created zeroed with its
 * metatable set before anything is acquired, so a half-built client is always
 * safe to collect; one idempotent release() serves close(), __gc and __close.
 */
#include <math.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "rfs.h"

static void wipe_free(char **p, size_t len)
{
    if (*p != NULL) {
        OPENSSL_cleanse(*p, len);
        free(*p);
        *p = NULL;
    }
}

static void client_release(rfs_client *c)
{
    rfs_http_release(&c->http);
    rfs_http_response_free(&c->resp);
    wipe_free(&c->sk, c->sk_len);
    wipe_free(&c->token, c->token_len);
    wipe_free(&c->ak, c->ak_len);
    c->sk_len = c->token_len = c->ak_len = 0;
    free(c->endpoint);
    free(c->project_id);
    free(c->region);
    free(c->source);
    c->endpoint = c->project_id = c->region = c->source = NULL;
    c->open = 0;
}

static rfs_client *check_client(lua_State *L, int idx)
{
    return (rfs_client *)luaL_checkudata(L, idx, RFS_CLIENT_MT);
}

rfs_client *rfs_client_check_open(lua_State *L, int idx)
{
    rfs_client *c = check_client(L, idx);
    if (!c->open)
        luaL_error(L, "rfs: this client is closed; create a new one with rfs.new{}");
    return c;
}

/* Copies opts[key] (a string or nil) into C memory. */
static char *dup_field(lua_State *L, int opts, const char *key, size_t *len, int required)
{
    size_t n = 0;
    const char *s;
    char *copy;

    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (required)
            luaL_error(L, "rfs: option '%s' is required", key);
        if (len)
            *len = 0;
        return NULL;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "rfs: option '%s' must be a string (got %s)", key, luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &n);
    if (!rfs_header_value_ok(s, n))
        luaL_error(L, "rfs: option '%s' contains CR, LF or NUL", key);
    copy = malloc(n + 1);
    if (copy == NULL)
        luaL_error(L, "rfs: out of memory");
    memcpy(copy, s, n);
    copy[n] = '\0';
    lua_pop(L, 1);
    if (len)
        *len = n;
    return copy;
}

/* Seconds between RFS_MIN_SECONDS and RFS_MAX_SECONDS; the defaults live in
 * lua/rfs/client.lua, which always passes them. NaN fails every comparison, so the
 * range check is written to refuse it. */
#define RFS_MIN_SECONDS 0.001
#define RFS_MAX_SECONDS 86400.0

static double num_field(lua_State *L, int opts, const char *key)
{
    double v;
    lua_getfield(L, opts, key);
    if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "rfs: option '%s' must be a number of seconds (got %s)", key, luaL_typename(L, -1));
    v = lua_tonumber(L, -1);
    if (!(v >= RFS_MIN_SECONDS && v <= RFS_MAX_SECONDS))
        luaL_error(L, "rfs: option '%s' must be between 0.001 and 86400 seconds (got %s)", key,
                   rfs_push_display_at(L, -1));
    lua_pop(L, 1);
    return v;
}

static int bool_field(lua_State *L, int opts, const char *key, int dflt)
{
    int v = dflt;
    lua_getfield(L, opts, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            luaL_error(L, "rfs: option '%s' must be a boolean", key);
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* core.new_client{endpoint=, project_id=, region=, ak=, sk=, security_token=, source=,
 *                 timeout=, connect_timeout=, verify_tls=, ca_file=, proxy=, keys_later=}
 * keys_later = true: ak, sk and project_id may be missing; client:_set_keys and
 * client:_set_project give them before the first request (rfs.new does no I/O). */
int rfs_client_new(lua_State *L)
{
    rfs_client *c;
    int later;

    luaL_checktype(L, 1, LUA_TTABLE);
    c = (rfs_client *)rfs_newuserdata(L, sizeof(*c));
    memset(c, 0, sizeof(*c));
    rfs_http_response_init(&c->resp);
    luaL_getmetatable(L, RFS_CLIENT_MT);
    lua_setmetatable(L, -2);

    later = bool_field(L, 1, "keys_later", 0);
    c->endpoint = dup_field(L, 1, "endpoint", NULL, 1);
    c->project_id = dup_field(L, 1, "project_id", NULL, !later);
    c->region = dup_field(L, 1, "region", NULL, 0);
    c->source = dup_field(L, 1, "source", NULL, 0);
    c->ak = dup_field(L, 1, "ak", &c->ak_len, !later);
    c->sk = dup_field(L, 1, "sk", &c->sk_len, !later);
    c->token = dup_field(L, 1, "security_token", &c->token_len, 0);
    /* rounded up: a positive timeout never becomes curl's 0, "no timeout" */
    c->http.timeout_ms = (long)ceil(num_field(L, 1, "timeout") * 1000);
    c->http.connect_timeout_ms = (long)ceil(num_field(L, 1, "connect_timeout") * 1000);
    c->http.verify_tls = bool_field(L, 1, "verify_tls", 1);
    c->http.ca_file = dup_field(L, 1, "ca_file", NULL, 0);
    c->http.proxy = dup_field(L, 1, "proxy", NULL, 0);
    if ((c->ak_len == 0 || c->sk_len == 0) && !(later && c->ak == NULL && c->sk == NULL))
        return luaL_error(L, "rfs: ak and sk must not be empty");
    if (!rfs_http_init(&c->http))
        return luaL_error(L, "rfs: could not create a libcurl handle");
    c->open = 1;
    return 1;
}

static int client_close(lua_State *L)
{
    client_release(check_client(L, 1));
    return 0;
}

static int client_gc(lua_State *L)
{
    client_release(check_client(L, 1));
    return 0;
}

static int client_tostring(lua_State *L)
{
    rfs_client *c = check_client(L, 1);
    if (!c->open) {
        lua_pushstring(L, "rfs.Client(closed)");
        return 1;
    }
    /* The AK is shown by its first four characters at most; the SK never. */
    {
        char prefix[5];
        size_t n = c->ak_len > 4 ? 4 : c->ak_len;
        if (c->ak != NULL)
            memcpy(prefix, c->ak, n);
        prefix[n] = '\0';
        lua_pushfstring(L, "rfs.Client(%s, project=%s%s%s, ak=%s%s%s%s)", c->endpoint,
                        c->project_id ? c->project_id : "(looked up on the first request)",
                        c->region ? ", region=" : "", c->region ? c->region : "",
                        c->ak ? prefix : "(fetched on the first request)", c->ak_len > 4 ? "..." : "",
                        c->source ? ", source=" : "", c->source ? c->source : "");
    }
    return 1;
}

static int client_eq(lua_State *L)
{
    lua_pushboolean(L, lua_touserdata(L, 1) == lua_touserdata(L, 2));
    return 1;
}

static void push_opt_string(lua_State *L, const char *s)
{
    if (s != NULL)
        lua_pushstring(L, s);
    else
        lua_pushnil(L);
}

/* Fields first, then the methods table (upvalue 1). */
static int client_index(lua_State *L)
{
    rfs_client *c = check_client(L, 1);
    const char *key = lua_tostring(L, 2);

    if (key != NULL && lua_type(L, 2) == LUA_TSTRING) {
        if (strcmp(key, "endpoint") == 0) {
            push_opt_string(L, c->endpoint);
            return 1;
        } else if (strcmp(key, "project_id") == 0) {
            push_opt_string(L, c->project_id);
            return 1;
        } else if (strcmp(key, "region") == 0) {
            push_opt_string(L, c->region);
            return 1;
        } else if (strcmp(key, "source") == 0) {
            push_opt_string(L, c->source);
            return 1;
        } else if (strcmp(key, "closed") == 0) {
            lua_pushboolean(L, !c->open);
            return 1;
        } else if (strcmp(key, "timeout") == 0) {
            lua_pushnumber(L, c->http.timeout_ms / 1000.0);
            return 1;
        }
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int client_newindex(lua_State *L)
{
    return luaL_error(L, "rfs: client fields are read-only (tried to set %s)", rfs_push_display_at(L, 2));
}

typedef struct {
    rfs_header headers[RFS_MAX_SIGN_HEADERS];
    size_t n;
    rfs_sign_output signed_out;
} rfs_request_headers;

/* Signs r->headers with the client's keys into r->signed_out; returns NULL or an error message. */
static const char *sign_into(rfs_client *c, const char *method, const char *url, size_t url_len,
                             const char *body, size_t body_len, rfs_request_headers *r)
{
    rfs_sign_input in;
    const char *err = NULL;

    memset(&in, 0, sizeof(in));
    in.method = method;
    in.url = url;
    in.url_len = url_len;
    in.headers = r->headers;
    in.nheaders = r->n;
    in.body = body;
    in.body_len = body_len;
    in.ak = c->ak;
    in.ak_len = c->ak_len;
    in.sk = c->sk;
    in.sk_len = c->sk_len;
    in.token = c->token;
    in.token_len = c->token_len;
    return rfs_sign(&in, &r->signed_out, &err) ? NULL : err;
}

typedef struct {
    rfs_client *c;
    rfs_sign_output *out;
    const char *request_id; /* the standard RFS headers were signed: the table is made here */
} rfs_signed_headers;

/* Fills the headers table (argument 2, or a new one for the standard RFS headers) with
 * what signing added and returns it: under lua_pcall, so that a memory error while
 * pushing never skips the wipe of the signing buffers. */
static int set_signed_headers(lua_State *L)
{
    rfs_signed_headers *s = (rfs_signed_headers *)lua_touserdata(L, 1);

    if (s->request_id != NULL) {
        lua_createtable(L, 0, s->c->token != NULL ? 7 : 6);
        lua_replace(L, 2);
        lua_pushlstring(L, s->request_id, 36);
        lua_setfield(L, 2, "Client-Request-Id");
        lua_pushliteral(L, "application/json");
        lua_setfield(L, 2, "Content-Type");
        lua_pushstring(L, s->c->project_id);
        lua_setfield(L, 2, "X-Project-Id");
    }
    lua_pushlstring(L, s->out->date, 16);
    lua_setfield(L, 2, "X-Sdk-Date");
    lua_pushlstring(L, s->out->authorization.p, s->out->authorization.len);
    lua_setfield(L, 2, "Authorization");
    lua_pushlstring(L, s->out->host.p, s->out->host.len);
    lua_setfield(L, 2, "Host");
    if (s->c->token != NULL) {
        lua_pushlstring(L, s->c->token, s->c->token_len);
        lua_setfield(L, 2, "X-Security-Token");
    }
    lua_settop(L, 2);
    return 1;
}

/* client:_sign(method, url, headers, body) -> headers: signs the request and adds
 * X-Sdk-Date, Authorization, Host (and X-Security-Token) to the headers table.
 * client:_sign(method, url, nil, body) -> headers, request_id: the same for the headers
 * every RFS request carries (a new Client-Request-Id, Content-Type: application/json,
 * X-Project-Id), made here without a Lua table to read.
 * The one place every transport's requests are signed. */
static int client_sign(lua_State *L)
{
    rfs_client *c = rfs_client_check_open(L, 1);
    const char *method = luaL_checkstring(L, 2);
    size_t url_len, body_len = 0;
    const char *url = luaL_checklstring(L, 3, &url_len);
    const char *body;
    rfs_request_headers r;
    rfs_signed_headers s;
    char request_id[37];
    const char *err;
    int status, standard = lua_isnoneornil(L, 4);

    if (!standard)
        luaL_checktype(L, 4, LUA_TTABLE);
    body = luaL_optlstring(L, 5, "", &body_len);
    if (c->ak == NULL)
        return luaL_error(L, "rfs: this client has no keys yet (they come with its first request)");
    lua_settop(L, 5);
    lua_pushcfunction(L, set_signed_headers); /* allocated before any C buffer exists */
    if (standard) {
        if (c->project_id == NULL)
            return luaL_error(L, "rfs: this client has no project yet (it comes with its first request)");
        if (!rfs_uuid4(request_id))
            return luaL_error(L, "rfs: the system random generator failed");
        r.headers[0] = (rfs_header){ "Client-Request-Id", 17, request_id, 36 };
        r.headers[1] = (rfs_header){ "Content-Type", 12, "application/json", 16 };
        r.headers[2] = (rfs_header){ "X-Project-Id", 12, c->project_id, strlen(c->project_id) };
        r.n = 3;
    } else {
        r.n = rfs_headers_from_table(L, 4, r.headers, RFS_MAX_SIGN_HEADERS, "headers");
    }
    rfs_sign_output_init(&r.signed_out);
    err = sign_into(c, method, url, url_len, body, body_len, &r);
    if (err != NULL) {
        rfs_sign_output_free(&r.signed_out);
        return luaL_error(L, "rfs: cannot sign: %s", err);
    }
    s.c = c;
    s.out = &r.signed_out;
    s.request_id = standard ? request_id : NULL;
    lua_pushlightuserdata(L, &s);
    lua_pushvalue(L, 4);
    status = lua_pcall(L, 2, 1, 0);
    rfs_sign_output_free(&r.signed_out);
    if (status != 0)
        return lua_error(L);
    if (!standard)
        return 1;
    lua_pushlstring(L, request_id, 36);
    return 2;
}

/* A checked secret argument: a non-empty string without CR, LF or NUL (nil when optional). */
static const char *secret_arg(lua_State *L, int idx, const char *name, size_t *len, int optional)
{
    const char *s;
    *len = 0;
    if (optional && lua_isnoneornil(L, idx))
        return NULL;
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "rfs: %s must be a string (got %s)", name, luaL_typename(L, idx));
    s = lua_tolstring(L, idx, len);
    if (*len == 0 || !rfs_header_value_ok(s, *len))
        luaL_error(L, "rfs: %s must be a non-empty string without CR, LF or NUL", name);
    return s;
}

static char *copy_bytes(const char *s, size_t n)
{
    char *p = s != NULL ? malloc(n + 1) : NULL;
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* client:_set_keys(ak, sk, security_token|nil, source): new (temporary) keys replace the
 * old ones, which are wiped. Every argument is checked before anything is replaced. */
static int client_set_keys(lua_State *L)
{
    rfs_client *c = rfs_client_check_open(L, 1);
    size_t ak_len, sk_len, token_len, source_len;
    const char *ak_s = secret_arg(L, 2, "ak", &ak_len, 0);
    const char *sk_s = secret_arg(L, 3, "sk", &sk_len, 0);
    const char *token_s = secret_arg(L, 4, "security_token", &token_len, 1);
    const char *source_s = luaL_checklstring(L, 5, &source_len);
    char *ak = copy_bytes(ak_s, ak_len), *sk = copy_bytes(sk_s, sk_len);
    char *token = copy_bytes(token_s, token_len), *source = copy_bytes(source_s, source_len);

    if (ak == NULL || sk == NULL || source == NULL || (token_s != NULL && token == NULL)) {
        wipe_free(&ak, ak_len);
        wipe_free(&sk, sk_len);
        wipe_free(&token, token_len);
        free(source);
        return luaL_error(L, "rfs: out of memory");
    }
    wipe_free(&c->ak, c->ak_len);
    wipe_free(&c->sk, c->sk_len);
    wipe_free(&c->token, c->token_len);
    free(c->source);
    c->ak = ak;
    c->ak_len = ak_len;
    c->sk = sk;
    c->sk_len = sk_len;
    c->token = token;
    c->token_len = token_len;
    c->source = source;
    return 0;
}

/* client:_set_project(project_id): the project looked up at IAM. */
static int client_set_project(lua_State *L)
{
    rfs_client *c = rfs_client_check_open(L, 1);
    size_t n;
    const char *s = secret_arg(L, 2, "project_id", &n, 0);
    char *p = copy_bytes(s, n);
    if (p == NULL)
        return luaL_error(L, "rfs: out of memory");
    free(c->project_id);
    c->project_id = p;
    return 0;
}

/* core.file_mode(path) -> the permission bits (e.g. 384 for 0600) | nil, message */
int rfs_file_mode(lua_State *L)
{
    struct stat st;
    const char *path = luaL_checkstring(L, 1);
    if (stat(path, &st) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
    return 1;
}

/* Whether a header named like h (case aside) comes before `before` in the block. */
static int seen_before(const char *block, const char *before, const rfs_header *h)
{
    const char *p = block;
    rfs_header e;
    while (p < before && rfs_header_next(&p, before, &e))
        if (e.name_len == h->name_len && strncasecmp(e.name, h->name, h->name_len) == 0)
            return 1;
    return 0;
}

/* "Name: value\r\n" lines -> { ["name"] = "value" } (repeated names joined with ", "). */
void rfs_push_headers(lua_State *L, const char *block, size_t len)
{
    const char *p = block, *end = block + len, *line;
    rfs_header h;
    char name[RFS_MAX_HEADER_NAME];
    size_t i, n = 0;

    lua_createtable(L, 0, 8); /* a usual answer has fewer: no rehash while it fills */
    if (p == NULL)
        return;
    for (line = p; rfs_header_next(&p, end, &h); line = p) {
        for (i = 0; i < h.name_len; i++)
            name[i] = (char)((h.name[i] >= 'A' && h.name[i] <= 'Z') ? h.name[i] + 32 : h.name[i]);
        lua_pushlstring(L, name, h.name_len);
        /* A name seen before (rare: Set-Cookie, Vary) is joined to what the table has.
         * The first lines are compared in C, cheaper than a table lookup each; past 16
         * the table is asked (a block of thousands of tiny lines stays linear). */
        if (++n > 16) {
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
        } else if (seen_before(block, line, &h)) {
            lua_pushvalue(L, -1);
            lua_rawget(L, -3);
        } else {
            lua_pushnil(L);
        }
        if (!lua_isnil(L, -1)) {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, h.value, h.value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, h.value, h.value_len);
        }
        lua_rawset(L, -3);
    }
}

/* client:_http(method, url, headers, body) -> status, headers, body | nil, kind, message, maybe_applied
 * One exchange through this client's libcurl handle; the headers are sent as given
 * (already signed by the Lua layer, Host included). */
static int client_http(lua_State *L)
{
    rfs_client *c = rfs_client_check_open(L, 1);
    const char *method = luaL_checkstring(L, 2);
    size_t body_len = 0;
    const char *url = luaL_checkstring(L, 3);
    const char *body = luaL_optlstring(L, 5, "", &body_len);
    rfs_header headers[RFS_MAX_REQUEST_HEADERS];
    size_t n;
    int ok;

    n = rfs_headers_from_table(L, 4, headers, RFS_MAX_REQUEST_HEADERS, "headers");
    /* libcurl runs with no Lua error possible; results stay in C until it returns. */
    c->resp.body.len = 0;
    c->resp.headers.len = 0;
    c->resp.status = 0;
    c->resp.error_kind = NULL;
    c->resp.error_message[0] = '\0';
    c->resp.sent = 0;
    ok = rfs_http_perform(&c->http, method, url, headers, n, body, body_len, &c->resp);
    if (!ok) {
        rfs_http_response_shrink(&c->resp);
        lua_pushnil(L);
        lua_pushstring(L, c->resp.error_kind ? c->resp.error_kind : "network");
        lua_pushstring(L, c->resp.error_message);
        lua_pushboolean(L, c->resp.sent);
        return 4;
    }
    lua_pushinteger(L, (lua_Integer)c->resp.status);
    rfs_push_headers(L, c->resp.headers.p, c->resp.headers.len);
    lua_pushlstring(L, c->resp.body.p ? c->resp.body.p : "", c->resp.body.len);
    rfs_http_response_shrink(&c->resp);
    return 3;
}

void rfs_client_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "close", client_close },
        { "_sign", client_sign },
        { "_http", client_http },
        { "_stack", rfs_stack_new },
        { "_object", rfs_object_new },
        { "_set_keys", client_set_keys },
        { "_set_project", client_set_project },
        { NULL, NULL },
    };

    if (!luaL_newmetatable(L, RFS_CLIENT_MT)) { /* already registered by an earlier load */
        lua_pop(L, 1);
        return;
    }
    rfs_newlib(L, methods); /* the methods table, extended by lua/rfs/client.lua */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_pushcclosure(L, client_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, client_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, client_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, client_eq);
    lua_setfield(L, -2, "__eq");
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, client_gc);
    lua_setfield(L, -2, "__close");
    lua_pushliteral(L, "rfs.Client");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "rfs: the metatable of a client is protected");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
