/* display.c - how the C core quotes a user's value in an error message, the same
 * way errors.display does in Lua: one line, printable ASCII, at most
 * RFS_DISPLAY_MAX bytes of it, control and non-ASCII bytes, the quote and
 * the backslash as \xNN, so a bad value never breaks a log line. Chinese characters
 * (U+4E00..U+9FA5, which names may hold) are shown as they are. */
#include "rfs.h"

#define RFS_DISPLAY_MAX 40

size_t rfs_cjk_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned cp;

    if (n < 3 || u[0] < 0xe4 || u[0] > 0xe9 || (u[1] & 0xc0) != 0x80 || (u[2] & 0xc0) != 0x80)
        return 0;
    cp = ((unsigned)(u[0] & 0x0f) << 12) | ((unsigned)(u[1] & 0x3f) << 6) | (unsigned)(u[2] & 0x3f);
    return cp >= 0x4e00 && cp <= 0x9fa5 ? 3 : 0;
}

const char *rfs_push_display(lua_State *L, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    luaL_Buffer b;
    size_t i;

    luaL_buffinit(L, &b);
    luaL_addchar(&b, '\'');
    for (i = 0; i < n && i < RFS_DISPLAY_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t cjk = rfs_cjk_len(s + i, n - i);
        if (cjk && i + cjk > RFS_DISPLAY_MAX) {
            break; /* never half a character */
        } else if (cjk) {
            luaL_addlstring(&b, s + i, cjk);
            i += cjk - 1;
        } else if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            luaL_addchar(&b, (char)c);
        } else {
            luaL_addchar(&b, '\\');
            luaL_addchar(&b, 'x');
            luaL_addchar(&b, hex[c >> 4]);
            luaL_addchar(&b, hex[c & 15]);
        }
    }
    luaL_addchar(&b, '\'');
    luaL_pushresult(&b);
    if (n > RFS_DISPLAY_MAX) {
        lua_pushfstring(L, "... (%d characters)", (int)n);
        lua_concat(L, 2);
    }
    return lua_tostring(L, -1);
}

const char *rfs_push_display_at(lua_State *L, int idx)
{
    size_t n;
    const char *s;

    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) {
        lua_pushstring(L, luaL_typename(L, idx));
        return lua_tostring(L, -1);
    }
    lua_pushvalue(L, idx); /* a copy: tolstring turns a number into a string in place */
    s = lua_tolstring(L, -1, &n);
    rfs_push_display(L, s, n);
    lua_remove(L, -2);
    return lua_tostring(L, -1);
}
