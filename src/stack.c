/* stack.c - the Stack userdata: a named stack of one client, no request made.
 *
 * A Stack holds its fields in C and keeps its Client alive through its user
 * value ({ client }). Fields are read-only from Lua; lua/rfs/stack.lua updates
 * them through stack:_set() after metadata() and continue_*().
 */
#include <string.h>

#include "rfs.h"

#define NAME_MAX_LEN 128
#define ID_LEN 36
#define STATUS_MAX_LEN 32
#define DEPLOYMENT_ID_MAX_LEN 128
#define OPERATION_MAX_LEN 24

typedef struct {
    char name[NAME_MAX_LEN + 1];
    char id[ID_LEN + 1];
    char status[STATUS_MAX_LEN + 1];
    char deployment_id[DEPLOYMENT_ID_MAX_LEN + 1];
    char operation[OPERATION_MAX_LEN + 1];
} rfs_stack;

static int is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ^[A-Za-z][A-Za-z0-9_-]{0,127}$ */
static int valid_stack_name(const char *s, size_t n)
{
    size_t i;
    if (n < 1 || n > NAME_MAX_LEN || !is_alpha(s[0]))
        return 0;
    for (i = 1; i < n; i++)
        if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* 8-4-4-4-12 hex digits */
static int valid_uuid(const char *s, size_t n)
{
    size_t i;
    if (n != ID_LEN)
        return 0;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Printable ASCII, no space: what status, deployment ids and operations are made of. */
static int valid_token(const char *s, size_t n, size_t max)
{
    size_t i;
    if (n == 0 || n > max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static rfs_stack *check_stack(lua_State *L, int idx)
{
    return (rfs_stack *)luaL_checkudata(L, idx, RFS_STACK_MT);
}

static void copy_field(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* client:_stack(name [, stack_id]) -> Stack */
int rfs_stack_new(lua_State *L)
{
    size_t name_len, id_len = 0;
    const char *name, *id = NULL;
    rfs_stack *s;

    rfs_client_check_open(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_error(L, "rfs: stack name must be a string (got %s)", luaL_typename(L, 2));
    name = lua_tolstring(L, 2, &name_len);
    if (!valid_stack_name(name, name_len))
        return luaL_error(L, "rfs: invalid stack name %s: it must match ^[A-Za-z][A-Za-z0-9_-]{0,127}$",
                          rfs_push_display(L, name, name_len));
    if (!lua_isnoneornil(L, 3)) {
        if (lua_type(L, 3) != LUA_TSTRING)
            return luaL_error(L, "rfs: stack_id must be a string (got %s)", luaL_typename(L, 3));
        id = lua_tolstring(L, 3, &id_len);
        if (!valid_uuid(id, id_len))
            return luaL_error(L, "rfs: invalid stack_id %s: it must be a 36-character UUID such as "
                                 "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3", rfs_push_display(L, id, id_len));
    }
    s = (rfs_stack *)rfs_newuserdata(L, sizeof(*s));
    memset(s, 0, sizeof(*s));
    luaL_getmetatable(L, RFS_STACK_MT);
    lua_setmetatable(L, -2);
    copy_field(s->name, name, name_len);
    if (id != NULL)
        copy_field(s->id, id, id_len);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    rfs_setuservalue(L, -2);
    return 1;
}

static void push_field(lua_State *L, const char *v)
{
    if (v[0] != '\0')
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
}

static char *field_slot(rfs_stack *s, const char *key, size_t *max)
{
    if (strcmp(key, "name") == 0) {
        *max = NAME_MAX_LEN;
        return s->name;
    } else if (strcmp(key, "id") == 0) {
        *max = ID_LEN;
        return s->id;
    } else if (strcmp(key, "status") == 0) {
        *max = STATUS_MAX_LEN;
        return s->status;
    } else if (strcmp(key, "deployment_id") == 0) {
        *max = DEPLOYMENT_ID_MAX_LEN;
        return s->deployment_id;
    } else if (strcmp(key, "operation") == 0) {
        *max = OPERATION_MAX_LEN;
        return s->operation;
    }
    return NULL;
}

static int stack_index(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    size_t max;
    char *slot;

    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *key = lua_tostring(L, 2);
        if ((slot = field_slot(s, key, &max)) != NULL) {
            push_field(L, slot);
            return 1;
        }
        if (strcmp(key, "client") == 0) {
            rfs_getuservalue(L, 1);
            lua_rawgeti(L, -1, 1);
            return 1;
        }
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int stack_newindex(lua_State *L)
{
    return luaL_error(L, "rfs: stack field %s is read-only; stack:metadata() refreshes id and status",
                      rfs_push_display_at(L, 2));
}

/* stack:_set(field, value|nil): used by the Lua layer after a response. */
static int stack_set(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    const char *key = luaL_checkstring(L, 2);
    size_t max, n = 0;
    const char *v;
    char *slot = field_slot(s, key, &max);

    if (slot == NULL || strcmp(key, "name") == 0)
        return luaL_error(L, "rfs: stack field '%s' cannot be set", key);
    if (lua_isnoneornil(L, 3)) {
        slot[0] = '\0';
        return 0;
    }
    v = luaL_checklstring(L, 3, &n);
    if (strcmp(key, "id") == 0 ? !valid_uuid(v, n) : !valid_token(v, n, max))
        return luaL_error(L, "rfs: invalid value for stack.%s", key);
    copy_field(slot, v, n);
    return 0;
}

static int stack_tostring(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    lua_pushfstring(L, "rfs.Stack(%s%s%s, status=%s%s%s)", s->name, s->id[0] ? ", id=" : "", s->id,
                    s->status[0] ? s->status : "unknown (call stack:metadata())",
                    s->deployment_id[0] ? ", deployment_id=" : "", s->deployment_id);
    return 1;
}

/* Two Stack objects are equal when they name the same stack through the same client. */
static int stack_eq(lua_State *L)
{
    rfs_stack *a = (rfs_stack *)rfs_testudata(L, 1, RFS_STACK_MT);
    rfs_stack *b = (rfs_stack *)rfs_testudata(L, 2, RFS_STACK_MT);
    int same = 0;

    if (a != NULL && b != NULL && strcmp(a->name, b->name) == 0 && strcmp(a->id, b->id) == 0) {
        rfs_getuservalue(L, 1);
        lua_rawgeti(L, -1, 1);
        rfs_getuservalue(L, 2);
        lua_rawgeti(L, -1, 1);
        same = lua_rawequal(L, -1, -3);
        lua_pop(L, 4);
    }
    lua_pushboolean(L, same);
    return 1;
}

static int stack_noop(lua_State *L)
{
    check_stack(L, 1);
    return 0;
}

void rfs_stack_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "_set", stack_set },
        { NULL, NULL },
    };

    if (!luaL_newmetatable(L, RFS_STACK_MT)) { /* already registered by an earlier load */
        lua_pop(L, 1);
        return;
    }
    rfs_newlib(L, methods); /* the methods table, extended by lua/rfs/stack.lua */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_pushcclosure(L, stack_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, stack_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, stack_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, stack_eq);
    lua_setfield(L, -2, "__eq");
    /* A Stack owns no resource of its own: its client is released by the client. */
    lua_pushcfunction(L, stack_noop);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, stack_noop);
    lua_setfield(L, -2, "__close");
    lua_pushliteral(L, "rfs.Stack");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "rfs: the metatable of a stack is protected");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
