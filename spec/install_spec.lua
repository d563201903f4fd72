-- What users install: `make install PREFIX=...` and `luarocks make` give a tree from which
-- a fresh interpreter, seeing nothing of this checkout, loads rfs and signs a request.
local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
local ABI = rawget(_G, "jit") and "5.1" or "5.4"

-- (the exit status is read from the output: LuaJIT's popen close() does not report it)
local function run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code == 0, (out:gsub("exit=%d+%s*$", ""))
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

-- Loads rfs from the tree only (the system paths stay, for lua-cjson), outside the checkout,
-- signs a request with it, then removes the tree.
local function assert_signs_from(tree)
  local probe = [[
local rfs = require "rfs"
assert(package.searchpath("rfs", package.path):find(os.getenv("TREE"), 1, true), "rfs came from elsewhere")
local h = rfs.sign{ method = "GET", url = "https://h/v1/p/stacks/s/metadata", ak = "AK", sk = "SK",
                    date = "20261124T000000Z" }
io.write(h.Authorization:match("^SDK%-HMAC%-SHA256 Access=AK") and "signed" or "unsigned")
]]
  local f = assert(io.open(tree .. "/probe.lua", "w"))
  f:write(probe)
  f:close()
  local works, out = run(("cd / && TREE=%s LUA_PATH='%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;' "
                           .. "LUA_CPATH='%s/lib/lua/%s/?.so;;' %s %s/probe.lua")
                          :format(tree, tree, ABI, tree, ABI, tree, ABI, LUA, tree))
  assert.is_true(works, out)
  assert.equal("signed", out)
  os.execute("rm -rf " .. tree)
end

describe("installing", function()
  it("make install PREFIX=DIR lays out a conventional tree that works on its own", function()
    local tree = tmpdir()
    local ok, out = run(("make --no-print-directory install PREFIX=%s LUA=%s"):format(tree, LUA))
    assert.is_true(ok, out)
    for _, f in ipairs({ "/lib/lua/" .. ABI .. "/rfs/core.so", "/share/lua/" .. ABI .. "/rfs/init.lua",
                         "/share/lua/" .. ABI .. "/rfs/emulator/ngx.lua", "/share/lua/" .. ABI .. "/rfs/transport/ngx.lua",
                         "/bin/rfs", "/bin/rfs-emulator" }) do
      assert.truthy(io.open(tree .. f), tree .. f .. " is missing")
    end
    -- the installed command: from /, with no LUA_PATH, with the interpreter it was built for
    local first = io.open(tree .. "/bin/rfs"):read("*l")
    assert.matches("^#!%S*/" .. LUA:gsub("%p", "%%%0") .. "$", first)
    local works, version = run(("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "
                                .. "%s/bin/rfs --version"):format(tree))
    assert.is_true(works, version)
    assert.matches("^rfs %(lua%-rfs%) ", version)
    -- and the completion script, which bash can load
    local completion = tree .. "/share/bash-completion/completions/rfs"
    assert.truthy(io.open(completion), "no bash completion installed")
    local loads, why = run(("bash -c 'source %s && complete -p rfs'"):format(completion))
    assert.is_true(loads, why)
    assert_signs_from(tree)
  end)

  -- the rockspec's build is checked once, with Lua 5.4
  local it_54 = LUA == "lua5.4" and it or pending
  it_54("luarocks make --deps-mode=none builds and installs the rockspec (Lua 5.4)", function()
    assert.is_true((run("command -v luarocks")), "luarocks is not installed (apt-get install luarocks)")
    local tree = tmpdir()
    -- luarocks builds in the directory it is given and leaves objects there: build a copy
    local src = tree .. "/src-copy"
    assert(run(("mkdir -p %s && cp -r src lua bin rfs-scm-1.rockspec %s/"):format(src, src)))
    local ok, out = run(("cd %s && luarocks --lua-version=5.4 make --deps-mode=none --tree %s rfs-scm-1.rockspec")
                        :format(src, tree))
    assert.is_true(ok, out)
    -- every module under lua/rfs ends up in the tree
    for f in io.popen("cd lua && find rfs -name '*.lua'"):lines() do
      assert.truthy(io.open(tree .. "/share/lua/5.4/" .. f), f .. " is not installed by luarocks")
    end
    assert_signs_from(tree)
  end)

  -- README's command as written (only --tree added, so that no root is needed): on Debian,
  -- luarocks builds for its default Lua, 5.1; the rfs it installs must work from anywhere
  it_54("luarocks make --deps-mode=none rfs-scm-1.rockspec, as README writes it, gives a working rfs", function()
    assert.is_true((run("command -v luarocks")), "luarocks is not installed (apt-get install luarocks)")
    local tree = tmpdir()
    local src = tree .. "/src-copy"
    assert(run(("mkdir -p %s && cp -r src lua bin rfs-scm-1.rockspec %s/"):format(src, src)))
    local ok, out = run(("cd %s && luarocks make --deps-mode=none --tree %s rfs-scm-1.rockspec"):format(src, tree))
    assert.is_true(ok, out)
    os.execute("rm -rf " .. src)
    local works, version = run(("cd / && env -u LUA_PATH -u LUA_CPATH %s/bin/rfs --version"):format(tree))
    assert.is_true(works, version)
    assert.matches("^rfs %(lua%-rfs%) ", version)
    -- a command that loads the whole library and the C core, and reaches the network layer
    local _, refused = run(("cd / && env -u LUA_PATH -u LUA_CPATH HUAWEICLOUD_SDK_AK=AK HUAWEICLOUD_SDK_SK=SK "
                            .. "%s/bin/rfs metadata x --endpoint http://127.0.0.1:1 --project-id p01"):format(tree))
    assert.matches("rfs network error", refused, 1, true)
    os.execute("rm -rf " .. tree)
  end)
end)
