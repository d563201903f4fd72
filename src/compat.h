/* compat.h - every Lua 5.1 (LuaJIT) / 5.4 difference lua-rfs needs, in one place.
 *
 * The shims are prefixed rfs_ so they never clash with what LuaJIT already
 * declares (luaL_setfuncs, luaL_testudata exist there as 5.2 extensions).
 */
#ifndef RFS_COMPAT_H
#define RFS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM >= 502
#define rfs_rawlen(L, i) lua_rawlen((L), (i))
#else
#define rfs_rawlen(L, i) lua_objlen((L), (i))
#endif

/* A full userdata with room for one user value. */
#if LUA_VERSION_NUM >= 504
#define rfs_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 1)
#else
#define rfs_newuserdata(L, sz) lua_newuserdata((L), (sz))
#endif

/* The user value is always a table (Lua 5.1 environments must be tables). */
static inline void rfs_setuservalue(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 504
    lua_setiuservalue(L, idx, 1);
#elif LUA_VERSION_NUM >= 502
    lua_setuservalue(L, idx);
#else
    lua_setfenv(L, idx);
#endif
}

static inline void rfs_getuservalue(lua_State *L, int idx)
{
#if LUA_VERSION_NUM >= 504
    lua_getiuservalue(L, idx, 1);
#elif LUA_VERSION_NUM >= 502
    lua_getuservalue(L, idx);
#else
    lua_getfenv(L, idx);
#endif
}

static inline void rfs_setfuncs(lua_State *L, const luaL_Reg *l)
{
    for (; l->name != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_setfield(L, -2, l->name);
    }
}

static inline void rfs_newlib(lua_State *L, const luaL_Reg *l)
{
    lua_newtable(L);
    rfs_setfuncs(L, l);
}

/* luaL_testudata: PUC 5.1 lacks it; LuaJIT and 5.2+ have it (a static shim with the
 * same name would clash with LuaJIT's declaration, hence the prefix). */
#if LUA_VERSION_NUM >= 502 || defined(LUAJIT_VERSION_NUM) || defined(LUA_JITLIBNAME)
#define rfs_testudata(L, i, tname) luaL_testudata((L), (i), (tname))
#else
static inline void *rfs_testudata(lua_State *L, int i, const char *tname)
{
    void *p = lua_touserdata(L, i);
    if (p == NULL || !lua_getmetatable(L, i))
        return NULL;
    luaL_getmetatable(L, tname);
    if (!lua_rawequal(L, -1, -2))
        p = NULL;
    lua_pop(L, 2);
    return p;
}
#endif

static inline int rfs_absindex(lua_State *L, int idx)
{
    return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}

#endif
