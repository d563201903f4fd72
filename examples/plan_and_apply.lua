-- A safety gate for changing a stack: plan the change, print it as a diff, and apply it only
-- when it deletes nothing; then wait for the deployment. Exit 0 when the change was applied
-- and deployed, 1 when the gate held it back (or the deployment failed), 3 on an API error.
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/plan_and_apply.lua STACK TEMPLATE_FILE [PLAN_NAME]
-- RFS_ENDPOINT=http://127.0.0.1:PORT points it at the emulator instead.

-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local stack_name, template_file, plan_name = arg[1], arg[2], arg[3] or ("change-" .. os.date("!%Y%m%d%H%M%S"))
if not stack_name or not template_file then
  io.stderr:write("usage: plan_and_apply.lua STACK TEMPLATE_FILE [PLAN_NAME]\n")
  os.exit(2)
end

local f = assert(io.open(template_file, "rb"))
local template = f:read("*a")
f:close()

local function check(value, err)
  if value == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(3)
  end
  return value
end

local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
local stack = client:stack(stack_name)
check(stack:metadata()) -- learns the stack's id: every later call is guarded by it

-- 1. Plan the change and wait until RFS has computed it.
local plan = check(stack:create_plan(plan_name, { template_body = template, description = "planned by a safety gate" }))
local ready = check(plan:wait{})
if not ready.ok then
  print(ready) -- CREATION_FAILED, and why
  os.exit(1)
end

-- 2. Read it as a diff.
local items = check(plan:items())
print(items)

-- 3. The gate: a change that deletes (or replaces) a resource needs a person.
if items.summary.delete > 0 then
  print(("not applied: plan %s deletes %d resource(s); review it and run `rfs plan apply %s %s`")
        :format(plan.name, items.summary.delete, stack.name, plan.name))
  os.exit(1)
end

-- 4. Apply it and follow the deployment.
local dep = check(plan:apply())
print(dep)
local res = check(stack:wait{ on_progress = rfs.progress.human{ out = io.stderr } })
print(res)
client:close()
os.exit(res.ok and 0 or 1)
