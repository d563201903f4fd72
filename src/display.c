/* display.c - how the C core quotes a user's value in an error message, the same
 * way errors.display does in Lua: one line, printable ASCII, at most
 * RFS_DISPLAY_MAX characters of it, control and non-ASCII bytes, the quote and
 * the backslash as \xNN, so a bad value never breaks a log line. */
#include "rfs.h"

#define RFS_DISPLAY_MAX 40

const char *rfs_push_display(lua_State *L, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    luaL_Buffer b;
    size_t i;

    luaL_buffinit(L, &b);
    luaL_addchar(&b, '\'');
    for (i = 0; i < n && i < RFS_DISPLAY_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
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
