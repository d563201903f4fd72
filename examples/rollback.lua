-- Retry a failed rollback (ROLLBACK_FAILED), wait for it, exit 0 on ROLLBACK_COMPLETE.
--   lua5.4 examples/rollback.lua my-stack        (RFS_ENDPOINT=... for the emulator)
-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or error("usage: rollback.lua STACK_NAME")
local stack = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }:stack(name)

local dep, err = stack:continue_rollback()
if not dep then
  io.stderr:write(tostring(err), "\n")
  os.exit(3)
end
local res
res, err = stack:wait{ on_progress = rfs.progress.human() }
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(err.kind == "timeout" and 4 or 3)
end
print(tostring(res))
os.exit(res.ok and 0 or 1)
