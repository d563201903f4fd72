-- Calls stack:metadata() N times over one client against a fixed local server, then
-- closes everything, so that valgrind can see whether a request leaks.
--   lua5.4 spec/tools/memcheck.lua PORT [N]
local rfs = require "rfs"

local port = assert(tonumber(arg[1]), "usage: memcheck.lua PORT [N]")
local n = tonumber(arg[2]) or 10000
local client = rfs.new{ endpoint = "http://127.0.0.1:" .. port, project_id = "proj123",
                        ak = "AKMEMCHECK", sk = "memcheck-secret", retry = false }
local stack = client:stack("my-stack")
for i = 1, n do
  local meta, err = stack:metadata()
  if not meta then
    io.stderr:write("call ", i, " failed: ", tostring(err), "\n")
    os.exit(1)
  end
end
local before = collectgarbage("count")
client:close()
print(("memcheck: %d metadata calls, Lua heap %.0f KiB"):format(n, before))
os.exit(0, true) -- close the Lua state so every userdata is collected
