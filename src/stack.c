/* stack.c - the one object userdata of lua-rfs: a Stack, ExecutionPlan, Template or
 * StackSet of one client, named, no request made.
 *
 * Every kind is the same C struct with its own named metatable (rfs.Stack,
 * rfs.ExecutionPlan, rfs.Template, rfs.StackSet) and its own method table, which
 * the Lua layer extends. An object holds name, id, status, its last operation and
 * that operation's deployment_id in C, and keeps its Client alive through its user
 * value ({ client, owning stack (for a plan), read-only extra fields }). Fields are
 * read-only from Lua; the Lua layer updates them through obj:_set() and
 * obj:_fields() after a response.
 */
#include <string.h>

#include "rfs.h"

#define NAME_MAX_LEN 128                /* characters */
#define NAME_MAX_BYTES (NAME_MAX_LEN * 3) /* a Chinese character is 3 bytes of UTF-8 */
#define ID_LEN 36
#define STATUS_MAX_LEN 32
#define DEPLOYMENT_ID_MAX_LEN 128
#define OPERATION_MAX_LEN 24

enum { KIND_STACK, KIND_PLAN, KIND_TEMPLATE, KIND_STACK_SET, KIND_COUNT };

typedef struct {
    const char *mt;    /* the metatable's registry name */
    const char *self;  /* how a user names one in a call: stack:metadata() */
    const char *id;    /* the option that carries its id */
} rfs_kind;

static const rfs_kind KINDS[KIND_COUNT] = {
    { RFS_STACK_MT, "stack", "stack_id" },
    { RFS_PLAN_MT, "plan", "execution_plan_id" },
    { RFS_TEMPLATE_MT, "template", "template_id" },
    { RFS_STACK_SET_MT, "stack_set", "stack_set_id" },
};

/* user value slots */
#define UV_CLIENT 1
#define UV_OWNER 2
#define UV_FIELDS 3

typedef struct {
    int kind;
    char name[NAME_MAX_BYTES + 1];
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

/* A letter or a Chinese character (U+4E00..U+9FA5, UTF-8) first, then letters, Chinese
 * characters, digits, '_' and '-': 1 to 128 characters, as RFS takes them. */
static int valid_stack_name(const char *s, size_t n)
{
    size_t i = 0, chars = 0, cjk;
    if (n < 1 || n > NAME_MAX_BYTES)
        return 0;
    while (i < n) {
        cjk = rfs_cjk_len(s + i, n - i);
        if (cjk)
            i += cjk;
        else if (is_alpha(s[i]) || (i > 0 && (is_digit(s[i]) || s[i] == '_' || s[i] == '-')))
            i++;
        else
            return 0;
        chars++;
    }
    return chars <= NAME_MAX_LEN;
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

/* The object at idx, of any kind, or NULL (never raises). */
static rfs_stack *test_object(lua_State *L, int idx)
{
    int k;
    for (k = 0; k < KIND_COUNT; k++) {
        rfs_stack *s = (rfs_stack *)rfs_testudata(L, idx, KINDS[k].mt);
        if (s != NULL)
            return s;
    }
    return NULL;
}

static rfs_stack *check_stack(lua_State *L, int idx)
{
    rfs_stack *s = test_object(L, idx);
    if (s == NULL)
        luaL_error(L, "rfs: expected a stack, plan, template or stack set (got %s)", luaL_typename(L, idx));
    return s;
}

static void copy_field(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Makes an object of kind for the client at index 1: name at name_idx, id (or nil) at
 * name_idx + 1, owning object (or none) at owner_idx (0: none). */
static int new_object(lua_State *L, int kind, int name_idx, int owner_idx)
{
    size_t name_len, id_len = 0;
    const char *name, *id = NULL;
    const rfs_kind *k = &KINDS[kind];
    rfs_stack *s;

    rfs_client_check_open(L, 1);
    if (lua_type(L, name_idx) != LUA_TSTRING)
        return luaL_error(L, "rfs: %s name must be a string (got %s)", k->self, luaL_typename(L, name_idx));
    name = lua_tolstring(L, name_idx, &name_len);
    if (!valid_stack_name(name, name_len))
        return luaL_error(L, "rfs: invalid %s name %s: " RFS_NAME_RULE, k->self,
                          rfs_push_display(L, name, name_len));
    if (!lua_isnoneornil(L, name_idx + 1)) {
        if (lua_type(L, name_idx + 1) != LUA_TSTRING)
            return luaL_error(L, "rfs: %s must be a string (got %s)", k->id, luaL_typename(L, name_idx + 1));
        id = lua_tolstring(L, name_idx + 1, &id_len);
        if (!valid_uuid(id, id_len))
            return luaL_error(L, "rfs: invalid %s %s: it must be a 36-character UUID such as "
                                 "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3", k->id, rfs_push_display(L, id, id_len));
    }
    if (owner_idx != 0 && test_object(L, owner_idx) == NULL)
        return luaL_error(L, "rfs: a %s needs the object it belongs to (got %s)", k->self,
                          luaL_typename(L, owner_idx));
    s = (rfs_stack *)rfs_newuserdata(L, sizeof(*s));
    memset(s, 0, sizeof(*s));
    luaL_getmetatable(L, k->mt);
    lua_setmetatable(L, -2);
    s->kind = kind;
    copy_field(s->name, name, name_len);
    if (id != NULL)
        copy_field(s->id, id, id_len);
    lua_createtable(L, 3, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, UV_CLIENT);
    if (owner_idx != 0) {
        lua_pushvalue(L, owner_idx);
        lua_rawseti(L, -2, UV_OWNER);
    }
    rfs_setuservalue(L, -2);
    return 1;
}

/* client:_stack(name [, stack_id]) -> Stack */
int rfs_stack_new(lua_State *L)
{
    return new_object(L, KIND_STACK, 2, 0);
}

/* client:_object(kind, name [, id [, owner]]) -> Stack | ExecutionPlan | Template | StackSet;
 * kind is "Stack", "ExecutionPlan", "Template" or "StackSet"; a plan needs its stack as owner. */
int rfs_object_new(lua_State *L)
{
    static const char *const names[] = { "Stack", "ExecutionPlan", "Template", "StackSet", NULL };
    int kind = luaL_checkoption(L, 2, NULL, names);
    if (kind == KIND_PLAN)
        return new_object(L, kind, 3, 5);
    return new_object(L, kind, 3, 0);
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
        *max = NAME_MAX_BYTES;
        return s->name;
    } else if (strcmp(key, "id") == 0) {
        *max = ID_LEN;
        return s->id;
    } else if (strcmp(key, "status") == 0) {
        *max = STATUS_MAX_LEN;
        return s->status;
    } else if (strcmp(key, "deployment_id") == 0 ||
               (s->kind == KIND_STACK_SET && strcmp(key, "operation_id") == 0)) {
        /* a stack set's last operation is a stack_set_operation_id: ss.operation_id */
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
        if (strcmp(key, "client") == 0 || (s->kind == KIND_PLAN && strcmp(key, "stack") == 0)) {
            rfs_getuservalue(L, 1);
            lua_rawgeti(L, -1, key[0] == 'c' ? UV_CLIENT : UV_OWNER);
            return 1;
        }
        /* methods before the extras: one lookup on every method call, and no listing
         * field can hide a method */
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
        if (!lua_isnil(L, -1))
            return 1;
        lua_pop(L, 1);
        /* read-only extras a listing filled (description, create_time, ...) */
        rfs_getuservalue(L, 1);
        lua_rawgeti(L, -1, UV_FIELDS);
        if (lua_istable(L, -1)) {
            lua_pushvalue(L, 2);
            lua_rawget(L, -2);
            if (!lua_isnil(L, -1))
                return 1;
        }
        lua_settop(L, 2);
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
}

static int stack_newindex(lua_State *L)
{
    const char *self = KINDS[check_stack(L, 1)->kind].self;
    return luaL_error(L, "rfs: %s field %s is read-only; %s:metadata() refreshes id and status", self,
                      rfs_push_display_at(L, 2), self);
}

/* obj:_fields(t|nil): the read-only extra fields (strings, numbers, booleans) a listing filled. */
static int stack_fields(lua_State *L)
{
    check_stack(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    rfs_getuservalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, UV_FIELDS);
    return 0;
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
        return luaL_error(L, "rfs: %s field '%s' cannot be set", KINDS[s->kind].self, key);
    if (lua_isnoneornil(L, 3)) {
        slot[0] = '\0';
        return 0;
    }
    v = luaL_checklstring(L, 3, &n);
    if (strcmp(key, "id") == 0 ? !valid_uuid(v, n) : !valid_token(v, n, max))
        return luaL_error(L, "rfs: invalid value for %s.%s", KINDS[s->kind].self, key);
    copy_field(slot, v, n);
    return 0;
}

/* obj:_request_parts() -> client, name, id|nil: what building a request URL reads, in one call. */
static int stack_request_parts(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    rfs_getuservalue(L, 1);
    lua_rawgeti(L, -1, UV_CLIENT);
    lua_pushstring(L, s->name);
    push_field(L, s->id);
    return 3;
}

/* obj:_update(id, status) -> true | false, "status" or "id": what an answer said of the
 * object, both checked by the rules _set applies (status first) before either is kept; a
 * value that breaks them is reported, never raised, so that the Lua layer can turn it into
 * a decode error. */
static int stack_update(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    size_t id_len = 0, status_len = 0;
    const char *id = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &id_len) : NULL;
    const char *status = lua_type(L, 3) == LUA_TSTRING ? lua_tolstring(L, 3, &status_len) : NULL;

    if (status == NULL || !valid_token(status, status_len, STATUS_MAX_LEN)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "status");
        return 2;
    }
    if (id == NULL || !valid_uuid(id, id_len)) {
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "id");
        return 2;
    }
    copy_field(s->id, id, id_len);
    copy_field(s->status, status, status_len);
    lua_pushboolean(L, 1);
    return 1;
}

static int stack_tostring(lua_State *L)
{
    rfs_stack *s = check_stack(L, 1);
    const rfs_kind *k = &KINDS[s->kind];
    const char *last = s->kind == KIND_STACK_SET ? ", operation_id=" : ", deployment_id=";
    if (s->kind == KIND_TEMPLATE) /* a template has no status: name and id say it all */
        lua_pushfstring(L, "%s(%s%s%s)", k->mt, s->name, s->id[0] ? ", id=" : "", s->id);
    else if (s->status[0])
        lua_pushfstring(L, "%s(%s%s%s, status=%s%s%s)", k->mt, s->name, s->id[0] ? ", id=" : "", s->id,
                        s->status, s->deployment_id[0] ? last : "", s->deployment_id);
    else
        lua_pushfstring(L, "%s(%s%s%s, status=unknown (call %s:metadata())%s%s)", k->mt, s->name,
                        s->id[0] ? ", id=" : "", s->id, k->self, s->deployment_id[0] ? last : "",
                        s->deployment_id);
    return 1;
}

/* Two objects are equal when they are of the same kind and name the same object through
 * the same client (a plan: of the same stack). Anything else compares unequal. */
static int stack_eq(lua_State *L)
{
    rfs_stack *a = test_object(L, 1);
    rfs_stack *b = test_object(L, 2);
    int same = 0;

    if (a != NULL && b != NULL && a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
        strcmp(a->id, b->id) == 0) {
        rfs_getuservalue(L, 1);
        lua_rawgeti(L, -1, 1);
        rfs_getuservalue(L, 2);
        lua_rawgeti(L, -1, 1);
        same = lua_rawequal(L, -1, -3);
        if (same && a->kind == KIND_PLAN) {
            rfs_stack *sa, *sb;
            lua_pop(L, 1);                  /* uv(b) */
            lua_rawgeti(L, -1, UV_OWNER);   /* owner(b) */
            lua_rawgeti(L, -4, UV_OWNER);   /* owner(a) */
            sa = test_object(L, -1);
            sb = test_object(L, -2);
            same = sa != NULL && sb != NULL && strcmp(sa->name, sb->name) == 0 && strcmp(sa->id, sb->id) == 0;
            lua_pop(L, 1);                  /* keep 4 values for the pop below */
        }
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

static void register_kind(lua_State *L, const rfs_kind *k)
{
    static const luaL_Reg methods[] = {
        { "_set", stack_set },
        { "_fields", stack_fields },
        { "_request_parts", stack_request_parts },
        { "_update", stack_update },
        { NULL, NULL },
    };

    if (!luaL_newmetatable(L, k->mt)) { /* already registered by an earlier load */
        lua_pop(L, 1);
        return;
    }
    rfs_newlib(L, methods); /* the methods table, extended by the Lua layer */
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
    /* An object owns no resource of its own: its client is released by the client. */
    lua_pushcfunction(L, stack_noop);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, stack_noop);
    lua_setfield(L, -2, "__close");
    lua_pushstring(L, k->mt);
    lua_setfield(L, -2, "__name");
    lua_pushfstring(L, "rfs: the metatable of a %s is protected", k->self);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

/* Registers the four metatables: rfs.Stack, rfs.ExecutionPlan, rfs.Template, rfs.StackSet. */
void rfs_stack_register(lua_State *L)
{
    int k;
    for (k = 0; k < KIND_COUNT; k++)
        register_kind(L, &KINDS[k]);
}
