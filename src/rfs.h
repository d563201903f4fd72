/* rfs.h - what the Lua-facing C files share. */
#ifndef RFS_H
#define RFS_H

#include "compat.h"
#include "http.h"
#include "sign.h"

#define RFS_VERSION "0.1.0"
#define RFS_CLIENT_MT "rfs.Client"
#define RFS_STACK_MT "rfs.Stack"
#define RFS_PLAN_MT "rfs.ExecutionPlan"
#define RFS_TEMPLATE_MT "rfs.Template"
#define RFS_STACK_SET_MT "rfs.StackSet"

typedef struct {
    rfs_http http;
    rfs_http_response resp;  /* reused between calls; freed on release */
    char *ak;
    size_t ak_len;
    char *sk;
    size_t sk_len;
    char *token;
    size_t token_len;
    char *endpoint;
    char *project_id;
    char *region;
    char *source;            /* where the keys came from, for tostring: "env", "metadata", ... */
    int open;                /* 1 between a successful construction and close() */
} rfs_client;

/* client.c */
void rfs_client_register(lua_State *L);
int rfs_client_new(lua_State *L);
int rfs_file_mode(lua_State *L);
rfs_client *rfs_client_check_open(lua_State *L, int idx);

/* The one response header parser: a raw "Name: value" block (status lines skipped)
 * -> { ["lower-case name"] = "value" }, repeated names joined with ", ". */
void rfs_push_headers(lua_State *L, const char *block, size_t len);
/* A random UUID v4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx") from the CSPRNG pool; 0 on failure. */
int rfs_uuid4(char out[37]);

/* display.c: pushes a user's value quoted for an error message (one line, printable,
 * cut at 40 characters, as errors.display does) and returns it. _at: the value at idx,
 * or its type name when it is not a string or number (lua_tolstring would convert it in place). */
const char *rfs_push_display(lua_State *L, const char *s, size_t n);
/* What a stack, plan, template or stack set name may be, said in errors. */
#define RFS_NAME_RULE "it must start with a letter or a Chinese character, then hold only letters, " \
                      "Chinese characters, digits, '_' and '-' (1 to 128 characters)"
/* The length (3) of the UTF-8 Chinese character (U+4E00..U+9FA5) at s, or 0. */
size_t rfs_cjk_len(const char *s, size_t n);
const char *rfs_push_display_at(lua_State *L, int idx);

/* stack.c */
void rfs_stack_register(lua_State *L);
int rfs_stack_new(lua_State *L);
int rfs_object_new(lua_State *L);

/* json.c: core.json_decode(s) -> value | nil, message */
int rfs_json_decode(lua_State *L);

/* headers.c: a Lua table of headers as an rfs_header array (valid while the table is on the stack) */
size_t rfs_headers_from_table(lua_State *L, int idx, rfs_header *out, size_t max, const char *argname);

#endif
