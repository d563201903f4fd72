-- Continue every failed stack given on the command line and wait on all of them at once,
-- with one shared retry budget. Exits 0 only if every stack completed.
--   lua5.4 examples/watch_many.lua stack-a stack-b stack-c   (RFS_ENDPOINT=... for the emulator)
-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

if #arg == 0 then error("usage: watch_many.lua STACK_NAME...") end
local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
local stacks, refused = {}, 0
for _, name in ipairs(arg) do
  local stack = client:stack(name)
  local dep, err = stack:continue_deploy()
  if dep then
    stacks[#stacks + 1] = stack
    io.stderr:write(name, ": ", tostring(dep), "\n")
  else
    io.stderr:write(name, ": ", tostring(err), "\n")
    refused = refused + 1 -- a stack that could not be continued is an error too
  end
end
local results, summary = rfs.wait_all(stacks, { on_progress = rfs.progress.human() })
for _, r in ipairs(results) do print(r.error and (r.stack .. ": " .. tostring(r.error)) or tostring(r)) end
print(("%d complete, %d failed, %d errors"):format(summary.ok, summary.failed, summary.errors + refused))
os.exit((summary.ok == #arg) and 0 or 1)
