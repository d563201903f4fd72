/* libFuzzer harness for core.json_decode (src/json.c): the bytes a server answers with.
 * It runs the decoder in a real lua_State (liblua5.4). Beyond "no crash, no sanitizer
 * report" it checks that bad input never raises (only nil, message), that a message
 * names a byte inside the input (or just after its end), that the stack holds exactly
 * the two results, and that a decoded value holds no nil, only float numbers, string
 * keys or positive integer indices, and nothing deeper than 1000 levels. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "../../src/rfs.h"

static void check_value(lua_State *L, int depth)
{
    int t = lua_type(L, -1);
    if (depth > 1000)
        abort();
    if (t == LUA_TNUMBER && lua_isinteger(L, -1))
        abort(); /* floats only, as cjson gave */
    if (t != LUA_TTABLE) {
        if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN)
            abort();
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_Integer i;
            if (!lua_isinteger(L, -2) || (i = lua_tointeger(L, -2)) < 1)
                abort();
        } else if (lua_type(L, -2) != LUA_TSTRING) {
            abort();
        }
        check_value(L, depth + 1);
        lua_pop(L, 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    static unsigned calls;

    if (L == NULL && (L = luaL_newstate()) == NULL)
        abort();
    lua_settop(L, 0);
    lua_pushcfunction(L, rfs_json_decode);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 2, 0) != LUA_OK || lua_gettop(L) != 2)
        abort(); /* bad input must never raise */
    if (lua_isnil(L, 1)) {
        const char *msg = lua_tostring(L, 2);
        unsigned long at;
        if (msg == NULL)
            abort();
        if (strcmp(msg, "the JSON value is null") != 0) {
            if (strncmp(msg, "invalid JSON at byte ", 21) != 0)
                abort();
            at = strtoul(msg + 21, NULL, 10);
            if (at < 1 || at > size + 1)
                abort();
        }
    } else {
        if (!lua_isnil(L, 2))
            abort();
        lua_settop(L, 1);
        check_value(L, 1);
    }
    lua_settop(L, 0);
    if (++calls % 4096 == 0)
        lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
