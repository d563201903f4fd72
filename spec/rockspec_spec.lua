-- The rockspec installs what the checkout has: every Lua module under lua/ and every C
-- source the Makefile compiles (a module missing there works in the checkout and fails
-- only after `luarocks make`).

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

describe("rfs-scm-1.rockspec", function()
  local rockspec = read("rfs-scm-1.rockspec")

  it("lists every Lua module of lua/rfs under its module name", function()
    local files = lines_of("find lua/rfs -name '*.lua' | sort")
    assert.is_true(#files > 10)
    for _, file in ipairs(files) do
      local name = file:gsub("^lua/", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
      local listed = ('["%s"] = "%s"'):format(name, file)
      assert.is_truthy(rockspec:find(listed, 1, true), "the rockspec does not install " .. file .. " as " .. name)
    end
  end)

  it("compiles the same C sources as the Makefile", function()
    local srcs = read("Makefile"):match("\nSRCS := ([^\n]+)")
    assert.is_truthy(srcs)
    for src in srcs:gmatch("%S+") do
      assert.is_truthy(rockspec:find('"' .. src .. '"', 1, true), "the rockspec does not compile " .. src)
    end
  end)
end)
