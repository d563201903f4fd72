-- Recover a failed deployment: continue it, show progress, exit 0 when it completes.
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/recover.lua my-stack
-- RFS_ENDPOINT=http://127.0.0.1:PORT points it at the emulator instead.
-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or error("usage: recover.lua STACK_NAME")
local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
local stack = client:stack(name)

local meta = assert(stack:metadata())
io.stderr:write(tostring(meta), "\n")
if meta.status ~= "DEPLOYMENT_FAILED" then
  io.stderr:write("nothing to recover: ", name, " is ", meta.status, "\n")
  os.exit(meta.status == "DEPLOYMENT_COMPLETE" and 0 or 1)
end

local dep, err = stack:continue_deploy()
if not dep then
  io.stderr:write(tostring(err), "\n")
  os.exit(3)
end
io.stderr:write(tostring(dep), "\n")

local res
res, err = stack:wait{ on_progress = rfs.progress.human{ out = io.stderr } }
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(err.kind == "timeout" and 4 or 3)
end
print(tostring(res))
os.exit(res.ok and 0 or 1)
