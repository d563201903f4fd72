/* json.c - core.json_decode(s) -> value | nil, message: the decoder every RFS answer
 * goes through.
 *
 * What it returns is what cjson.safe.decode followed by dropping the nulls gave:
 * objects are tables without the members whose value is null, arrays are tables with
 * 1-based indices where a null leaves a hole, numbers are floats (lua_pushnumber, as
 * Debian's lua-cjson pushes them), strings are Lua strings. A null at the top level is
 * refused (nil, message), as is anything RFC 8259 does not allow (hex, +1, NaN, leading
 * zeros, trailing commas or data); raw control characters inside strings are kept, as
 * lua-cjson keeps them. Nesting deeper than 1000 levels is refused, like cjson's default.
 *
 * Why not cjson: cjson grows every table one rawset at a time (1, 2, 4, 8, 16 slots)
 * and the null stripping walks the result again. Here each object's pairs and each
 * array's elements wait on the Lua stack until the closing bracket, then go into a
 * table created with the exact size. Strings without escapes are pushed straight from
 * the input. Long arrays and objects go into their table in chunks, so that the stack
 * stays under what a C function may use on Lua 5.1 and LuaJIT (8000 slots).
 *
 * Bad input never raises; only a memory error from Lua can. No C heap is used: strings
 * with escapes are built in a luaL_Buffer, long numbers are copied into a Lua string.
 */
#include <float.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfs.h"

#define JSON_MAX_DEPTH 1000
/* Pending items (all levels together, in stack slots) before the current container is
 * flushed into its table: with 2 slots per open level at depth 1000 and the margin
 * below, the stack stays well under LUAI_MAXCSTACK (8000) of Lua 5.1 and LuaJIT. */
#define JSON_PENDING_MAX 4096
/* Room asked for before each value: a luaL_Buffer on Lua 5.1 keeps up to ~10 pieces on
 * the stack, and a flush pushes 2 more. */
#define JSON_STACK_MARGIN 24
/* Numbers up to this many characters are converted from a copy on the C stack. */
#define JSON_SHORT_NUMBER 64

typedef struct {
    lua_State *L;
    const char *s;      /* the input (a Lua string: s[len] is '\0') */
    const char *p;      /* where parsing is */
    const char *end;
    int top0;           /* the stack top when decoding started */
    int depth;
    const char *err;    /* what went wrong (a static string) */
    const char *err_at; /* and where */
} json_parser;

static int parse_value(json_parser *P);

static int fail(json_parser *P, const char *at, const char *what)
{
    P->err = what;
    P->err_at = at;
    return 0;
}

static int fail_here(json_parser *P, const char *what)
{
    return fail(P, P->p, P->p >= P->end ? "unexpected end of input" : what);
}

static void skip_space(json_parser *P)
{
    const char *p = P->p;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    P->p = p; /* the '\0' after the input stops the loop */
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- numbers ---------------------------------------------------------------------- */

/* Exact powers of ten for the fast path (Clinger): a mantissa below 2^53 times or
 * divided by one of these is rounded once, so the result is the correctly rounded
 * value strtod gives. */
static const double POW10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

/* strtod on a NUL-terminated copy of the token, with '.' replaced by the locale's decimal
 * point when that is not "." (strtod follows LC_NUMERIC; JSON does not). */
static __attribute__((noinline)) double number_by_strtod(lua_State *L, const char *tok, size_t len, int has_dot)
{
    const char *dp = ".";
    size_t dplen = 1;
    char copy[JSON_SHORT_NUMBER + 16];
    double d;

    if (has_dot) {
        dp = localeconv()->decimal_point;
        dplen = strlen(dp);
        if (dplen == 0 || dplen > 8) { /* no usable decimal point: keep '.' */
            dp = ".";
            dplen = 1;
        }
    }
    if (len <= JSON_SHORT_NUMBER && dplen <= 8) {
        size_t i, j = 0;
        for (i = 0; i < len; i++) {
            if (tok[i] == '.') {
                memcpy(copy + j, dp, dplen);
                j += dplen;
            } else {
                copy[j++] = tok[i];
            }
        }
        copy[j] = '\0';
        return strtod(copy, NULL);
    }
    lua_pushlstring(L, tok, len); /* Lua strings end with '\0' */
    if (dplen != 1 || dp[0] != '.') {
        luaL_gsub(L, lua_tostring(L, -1), ".", dp);
        d = strtod(lua_tostring(L, -1), NULL);
        lua_pop(L, 2);
        return d;
    }
    d = strtod(lua_tostring(L, -1), NULL);
    lua_pop(L, 1);
    return d;
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT ] */
static int parse_number(json_parser *P)
{
    const char *start = P->p, *p = start;
    uint64_t m = 0;
    int ndigits = 0, frac = 0, neg = 0, has_dot = 0;
    long e = 0;
    int eneg = 0;
    double d;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p == '0') {
        p++;
        ndigits = 1;
    } else if (*p >= '1' && *p <= '9') {
        while (is_digit(*p)) {
            if (ndigits < 19)
                m = m * 10 + (uint64_t)(*p - '0');
            ndigits++;
            p++;
        }
    } else {
        return fail(P, start, "invalid number");
    }
    if (*p == '.') {
        has_dot = 1;
        p++;
        if (!is_digit(*p))
            return fail(P, start, "invalid number (a digit must follow '.')");
        while (is_digit(*p)) {
            if (ndigits < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                frac++;
            }
            ndigits++;
            p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (!is_digit(*p))
            return fail(P, start, "invalid number (a digit must follow the exponent)");
        while (is_digit(*p)) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            e = -e;
    }
    if (is_digit(*p) || *p == '.' || *p == '+' || *p == '-' || *p == 'e' || *p == 'E' || *p == 'x' ||
        *p == 'X')
        return fail(P, start, "invalid number");
    e -= frac;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (ndigits <= 19 && m <= ((uint64_t)1 << 53) && e >= -22 && e <= 22) {
        d = (double)m;
        d = e < 0 ? d / POW10[-e] : d * POW10[e];
        lua_pushnumber(P->L, neg ? -d : d);
        P->p = p;
        return 1;
    }
#endif
    d = number_by_strtod(P->L, start, (size_t)(p - start), has_dot);
    lua_pushnumber(P->L, d);
    P->p = p;
    return 1;
}

/* ---- strings ---------------------------------------------------------------------- */

/* The first '"' or '\\' from q on, or end. Eight bytes at a time while eight remain: a
 * word holds one of them when the word XOR eight '"' (or eight '\\') has a zero byte. */
static const char *string_stop(const char *q, const char *end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - q >= 8) {
        uint64_t x, a, b, hit;
        memcpy(&x, q, 8);
        a = x ^ 0x2222222222222222ULL; /* '"' */
        b = x ^ 0x5C5C5C5C5C5C5C5CULL; /* '\\' */
        hit = (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
        if (hit) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* the lowest flagged byte is exact (a false flag only follows a true one) */
            return q + (__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        q += 8;
    }
    while (q < end && *q != '"' && *q != '\\')
        q++;
    return q;
}

static int hex4(const char *p)
{
    int i, v = 0;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1; /* the '\0' after the input stops here too */
    }
    return v;
}

static void add_utf8(luaL_Buffer *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    luaL_addlstring(b, u, n);
}

/* q points at a '\' followed by 'u': reads the escape (and the low half of a surrogate
 * pair), adds the UTF-8 bytes, returns where the input goes on, or NULL. */
static const char *unicode_escape(json_parser *P, luaL_Buffer *b, const char *q)
{
    int hi = hex4(q + 2), lo;
    if (hi < 0)
        return (fail(P, q, "invalid \\u escape (4 hex digits must follow)"), NULL);
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return (fail(P, q, "invalid \\u escape (a low surrogate without a high one)"), NULL);
    if (hi < 0xD800 || hi > 0xDBFF) {
        add_utf8(b, (unsigned long)hi);
        return q + 6;
    }
    if (q[6] != '\\' || q[7] != 'u' || (lo = hex4(q + 8)) < 0xDC00 || lo > 0xDFFF)
        return (fail(P, q, "invalid \\u escape (a high surrogate without a low one)"), NULL);
    add_utf8(b, 0x10000 + (((unsigned long)hi - 0xD800) << 10) + ((unsigned long)lo - 0xDC00));
    return q + 12;
}

/* The slow path for a string with escapes: q is its first '\'. Kept out of line so the
 * luaL_Buffer (8 KiB on Lua 5.1) never sits in the recursion's frames. */
static __attribute__((noinline)) int parse_escaped_string(json_parser *P, const char *q)
{
    lua_State *L = P->L;
    const char *open = P->p, *run = open + 1, *end = P->end;
    int top = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (;;) {
        q = string_stop(q, end);
        luaL_addlstring(&b, run, (size_t)(q - run));
        if (q >= end)
            break;
        if (*q == '"') {
            luaL_pushresult(&b);
            P->p = q + 1;
            return 1;
        }
        switch (q[1]) {
        case '"': luaL_addchar(&b, '"'); break;
        case '\\': luaL_addchar(&b, '\\'); break;
        case '/': luaL_addchar(&b, '/'); break;
        case 'b': luaL_addchar(&b, '\b'); break;
        case 'f': luaL_addchar(&b, '\f'); break;
        case 'n': luaL_addchar(&b, '\n'); break;
        case 'r': luaL_addchar(&b, '\r'); break;
        case 't': luaL_addchar(&b, '\t'); break;
        case 'u':
            if ((q = unicode_escape(P, &b, q)) == NULL) {
                lua_settop(L, top);
                return 0;
            }
            run = q;
            continue;
        default:
            if (q + 1 >= end)
                break;
            lua_settop(L, top);
            return fail(P, q, "invalid escape");
        }
        if (q + 1 >= end)
            break;
        q += 2;
        run = q;
    }
    lua_settop(L, top);
    return fail(P, open, "unterminated string");
}

static int parse_string(json_parser *P)
{
    const char *q = string_stop(P->p + 1, P->end), *end = P->end;
    if (q < end && *q == '"') { /* no escape: straight from the input */
        lua_pushlstring(P->L, P->p + 1, (size_t)(q - P->p - 1));
        P->p = q + 1;
        return 1;
    }
    if (q >= end)
        return fail(P, P->p, "unterminated string");
    return parse_escaped_string(P, q);
}

/* ---- objects and arrays ----------------------------------------------------------- */

/* The table of the container whose placeholder is at base gets the pending pairs above
 * it (created first, sized for nrec members). A null value removes what an earlier
 * member of the same name set, as cjson's last-wins then the null stripping did. */
static void flush_object(lua_State *L, int base, int *made, int nrec)
{
    int i, top = lua_gettop(L);
    if (!*made) {
        lua_createtable(L, 0, nrec);
        lua_replace(L, base);
        *made = 1;
    }
    for (i = base + 1; i < top; i += 2) {
        if (lua_isnil(L, i + 1)) {
            lua_pushvalue(L, i);
            lua_rawget(L, base);
            if (!lua_isnil(L, -1)) {
                lua_pushvalue(L, i);
                lua_pushnil(L);
                lua_rawset(L, base);
            }
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, i);
        lua_pushvalue(L, i + 1);
        lua_rawset(L, base);
    }
    lua_settop(L, base);
}

/* Elements above base go to indices done+1.., last first (each one is on top when set);
 * a null leaves its index empty. */
static int flush_array(lua_State *L, int base, int *made, int done)
{
    int i, n = lua_gettop(L) - base;
    if (!*made) {
        lua_createtable(L, n, 0);
        lua_replace(L, base);
        *made = 1;
    }
    for (i = n; i >= 1; i--) {
        if (lua_isnil(L, -1))
            lua_pop(L, 1);
        else
            lua_rawseti(L, base, done + i);
    }
    return done + n;
}

static int enter(json_parser *P)
{
    if (++P->depth > JSON_MAX_DEPTH)
        return fail(P, P->p, "nested deeper than 1000 levels");
    P->p++;
    skip_space(P);
    lua_pushnil(P->L); /* the placeholder the table replaces */
    return 1;
}

static int parse_object(json_parser *P)
{
    lua_State *L = P->L;
    int base, made = 0, nrec = 0, r;

    if (!enter(P))
        return 0;
    base = lua_gettop(L);
    if (*P->p == '}') {
        P->p++;
    } else {
        for (;;) {
            if (*P->p != '"')
                return fail_here(P, "expected a string key");
            if (!parse_string(P))
                return 0;
            skip_space(P);
            if (*P->p != ':')
                return fail_here(P, "expected ':'");
            P->p++;
            skip_space(P);
            if ((r = parse_value(P)) == 0)
                return 0;
            nrec += r == 1; /* 2: a null */
            skip_space(P);
            if (*P->p == '}') {
                P->p++;
                break;
            }
            if (*P->p != ',')
                return fail_here(P, "expected ',' or '}'");
            P->p++;
            skip_space(P);
            if (lua_gettop(L) - P->top0 >= JSON_PENDING_MAX) {
                flush_object(L, base, &made, nrec);
                nrec = 0;
            }
        }
    }
    flush_object(L, base, &made, nrec);
    P->depth--;
    return 1;
}

static int parse_array(json_parser *P)
{
    lua_State *L = P->L;
    int base, made = 0, done = 0;

    if (!enter(P))
        return 0;
    base = lua_gettop(L);
    if (*P->p == ']') {
        P->p++;
    } else {
        for (;;) {
            if (!parse_value(P))
                return 0;
            skip_space(P);
            if (*P->p == ']') {
                P->p++;
                break;
            }
            if (*P->p != ',')
                return fail_here(P, "expected ',' or ']'");
            P->p++;
            skip_space(P);
            if (lua_gettop(L) - P->top0 >= JSON_PENDING_MAX)
                done = flush_array(L, base, &made, done);
        }
    }
    flush_array(L, base, &made, done);
    P->depth--;
    return 1;
}

static int literal(json_parser *P, const char *word, size_t n)
{
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0)
        return fail_here(P, "expected a value");
    P->p += n;
    return 1;
}

/* Pushes one value (nil for null). Returns 1, 2 for a null, 0 on an error. */
static int parse_value(json_parser *P)
{
    lua_State *L = P->L;

    if (!lua_checkstack(L, JSON_STACK_MARGIN))
        return fail(P, P->p, "nested too deeply for the Lua stack");
    switch (*P->p) {
    case '{':
        return parse_object(P);
    case '[':
        return parse_array(P);
    case '"':
        return parse_string(P);
    case 't':
        if (!literal(P, "true", 4))
            return 0;
        lua_pushboolean(L, 1);
        return 1;
    case 'f':
        if (!literal(P, "false", 5))
            return 0;
        lua_pushboolean(L, 0);
        return 1;
    case 'n':
        if (!literal(P, "null", 4))
            return 0;
        lua_pushnil(L);
        return 2;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(P);
    default:
        return fail_here(P, "expected a value");
    }
}

/* core.json_decode(s) -> value | nil, message */
int rfs_json_decode(lua_State *L)
{
    json_parser P;
    size_t len;
    const char *s;
    char msg[160];
    int r;

    luaL_checktype(L, 1, LUA_TSTRING); /* a number is misuse, not a JSON text */
    s = lua_tolstring(L, 1, &len);
    lua_settop(L, 1);
    P.L = L;
    P.s = P.p = s;
    P.end = s + len;
    P.top0 = 1;
    P.depth = 0;
    P.err = NULL;
    P.err_at = s;
    skip_space(&P);
    r = parse_value(&P);
    if (r != 0) {
        skip_space(&P);
        if (P.p < P.end)
            r = fail(&P, P.p, "unexpected data after the JSON value");
    }
    if (r == 1)
        return 1;
    lua_settop(L, 1);
    lua_pushnil(L);
    if (r == 2)
        lua_pushliteral(L, "the JSON value is null");
    else {
        snprintf(msg, sizeof(msg), "invalid JSON at byte %lu: %s", (unsigned long)(P.err_at - s) + 1, P.err);
        lua_pushstring(L, msg);
    }
    return 2;
}
