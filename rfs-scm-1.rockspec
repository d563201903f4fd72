rockspec_format = "3.0"
package = "rfs"
version = "scm-1"
source = {
  url = "git+https://example.invalid/lua-rfs.git",
}
description = {
  summary = "Huawei Cloud Resource Formation Service (RFS) stack API client: recover failed deployments from Lua",
  detailed = [[
lua-rfs signs requests with SDK-HMAC-SHA256 in C (OpenSSL), speaks HTTP with
libcurl (keep-alive), and adds retries, deployment-scoped waits, events and
progress output in Lua. Runs on Lua 5.4, LuaJIT and inside OpenResty.
]],
  license = "Apache-2.0",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
external_dependencies = {
  CURL = { library = "curl" },
  OPENSSL = { header = "openssl/evp.h" },
}
build = {
  type = "builtin",
  modules = {
    ["rfs.core"] = {
      sources = { "src/buf.c", "src/sign.c", "src/headers.c", "src/http.c", "src/display.c", "src/client.c", "src/stack.c", "src/json.c", "src/core.c" },
      libraries = { "curl", "crypto" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)" },
      defines = {},
    },
    ["rfs"] = "lua/rfs/init.lua",
    ["rfs.client"] = "lua/rfs/client.lua",
    ["rfs.stack"] = "lua/rfs/stack.lua",
    ["rfs.api"] = "lua/rfs/api.lua",
    ["rfs.operations"] = "lua/rfs/operations.lua",
    ["rfs.lifecycle"] = "lua/rfs/lifecycle.lua",
    ["rfs.plans"] = "lua/rfs/plans.lua",
    ["rfs.plan_diff"] = "lua/rfs/plan_diff.lua",
    ["rfs.stack_sets"] = "lua/rfs/stack_sets.lua",
    ["rfs.stack_set_wait"] = "lua/rfs/stack_set_wait.lua",
    ["rfs.templates"] = "lua/rfs/templates.lua",
    ["rfs.errors"] = "lua/rfs/errors.lua",
    ["rfs.credentials"] = "lua/rfs/credentials.lua",
    ["rfs.credentials.profile"] = "lua/rfs/credentials/profile.lua",
    ["rfs.credentials.fetch"] = "lua/rfs/credentials/fetch.lua",
    ["rfs.regions"] = "lua/rfs/regions.lua",
    ["rfs.retry"] = "lua/rfs/retry.lua",
    ["rfs.wait"] = "lua/rfs/wait.lua",
    ["rfs.progress"] = "lua/rfs/progress.lua",
    ["rfs.transport.ngx"] = "lua/rfs/transport/ngx.lua",
    ["rfs.cli"] = "lua/rfs/cli.lua",
    ["rfs.cli_commands"] = "lua/rfs/cli_commands.lua",
    ["rfs.render"] = "lua/rfs/render.lua",
    ["rfs.whoami"] = "lua/rfs/whoami.lua",
    ["rfs.help"] = "lua/rfs/help.lua",
    ["rfs.repl"] = "lua/rfs/repl.lua",
    ["rfs.emulator"] = "lua/rfs/emulator/init.lua",
    ["rfs.emulator.http"] = "lua/rfs/emulator/http.lua",
    ["rfs.emulator.identity"] = "lua/rfs/emulator/identity.lua",
    ["rfs.emulator.server"] = "lua/rfs/emulator/server.lua",
    ["rfs.emulator.ngx"] = "lua/rfs/emulator/ngx.lua",
    ["rfs.emulator.stacks"] = "lua/rfs/emulator/stacks.lua",
    ["rfs.emulator.deploy"] = "lua/rfs/emulator/deploy.lua",
    ["rfs.emulator.plans"] = "lua/rfs/emulator/plans.lua",
    ["rfs.emulator.input"] = "lua/rfs/emulator/input.lua",
    ["rfs.emulator.replies"] = "lua/rfs/emulator/replies.lua",
    ["rfs.emulator.template_lib"] = "lua/rfs/emulator/template_lib.lua",
    ["rfs.emulator.template"] = "lua/rfs/emulator/template.lua",
    ["rfs.emulator.template_syntax"] = "lua/rfs/emulator/template_syntax.lua",
    ["rfs.emulator.template_json"] = "lua/rfs/emulator/template_json.lua",
    ["rfs.emulator.stack_sets"] = "lua/rfs/emulator/stack_sets.lua",
  },
  install = {
    bin = { ["rfs"] = "bin/rfs", ["rfs-emulator"] = "bin/rfs-emulator" },
  },
}
test = {
  type = "command",
  command = "make test",
}
