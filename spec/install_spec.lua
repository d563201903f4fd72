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
end)
