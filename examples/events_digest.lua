-- Why did it fail? The ERROR and *_FAILED events of a stack, by resource: of every deployment
-- RFS still lists, or of one when DEPLOYMENT_ID is given (continue-deploy prints it).
--   lua5.4 examples/events_digest.lua my-stack [DEPLOYMENT_ID]   (RFS_ENDPOINT=... for the emulator)
-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or error("usage: events_digest.lua STACK_NAME [DEPLOYMENT_ID]")
local stack = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }:stack(name)
local meta = assert(stack:metadata())
print(tostring(meta))

local events, err = stack:events{ deployment_id = arg[2],
                                  filter = "event_type==ERROR|event_type==CREATION_FAILED|event_type==UPDATE_FAILED"
                                    .. "|event_type==DELETION_FAILED" }
if not events then
  io.stderr:write(tostring(err), "\n")
  os.exit(3)
end
local by_resource, order = {}, {}
for i = #events, 1, -1 do -- oldest first
  local e = events[i]
  local key = e.resource_name or "(stack)"
  if not by_resource[key] then
    by_resource[key] = {}
    order[#order + 1] = key
  end
  table.insert(by_resource[key], ("%s %s: %s"):format(e.time, e.event_type, e.event_message or ""))
end
if #order == 0 then print("no failure events") end
for _, key in ipairs(order) do
  print(key)
  for _, line in ipairs(by_resource[key]) do print("  " .. line) end
end
os.exit(#order == 0 and 0 or 1)
