-- A stack's whole life: create it with a template, wait, read its outputs, deploy a changed
-- template, wait, delete it, wait until it is gone. Exit 0 when every step succeeded.
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/lifecycle.lua [STACK_NAME]
-- RFS_ENDPOINT=http://127.0.0.1:PORT points it at the emulator instead.

-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or "lifecycle-demo"
local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
local show = rfs.progress.human{ out = io.stderr }

-- The first template: a VPC named by a variable.
local V1 = [[
variable "vpc_name" {
  type    = string
  default = "lifecycle-vpc"
}

resource "huaweicloud_vpc" "vpc" {
  name = var.vpc_name
  cidr = "192.168.0.0/16"
}

output "vpc_id" {
  value = huaweicloud_vpc.vpc.id
}
]]

-- The second adds a subnet: a deploy sends the full template, and RFS works out the change.
local V2 = V1 .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name       = "lifecycle-subnet"
  cidr       = "192.168.1.0/24"
  gateway_ip = "192.168.1.1"
  vpc_id     = huaweicloud_vpc.vpc.id
}

output "subnet_id" {
  value = huaweicloud_vpc_subnet.subnet.id
}
]]

-- Stops on an error (exit 3, 4 on a timeout) or a failed operation (exit 1).
local function settle(stack, what)
  local res, err = stack:wait{ on_progress = show }
  if not res then
    io.stderr:write(what, ": ", tostring(err), "\n")
    os.exit(err.kind == "timeout" and 4 or 3)
  end
  print(tostring(res))
  if not res.ok then os.exit(1) end
  return res
end

local function check(value, err)
  if value == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(err.kind == "timeout" and 4 or 3)
  end
  return value
end

local stack = check(client:create_stack(name, { template_body = V1, vars = { vpc_name = name .. "-vpc" } }))
io.stderr:write("created ", name, " (", stack.id, "), deployment ", stack.deployment_id, "\n")
settle(stack, "create")

for _, out in ipairs(check(stack:outputs())) do
  print(("output %s = %s"):format(out.name, out.value))
end

local dep = check(stack:deploy{ template_body = V2, vars = { vpc_name = name .. "-vpc" } })
io.stderr:write(tostring(dep), "\n")
settle(stack, "deploy")

for _, r in ipairs(check(stack:resources())) do
  print(("resource %s.%s %s"):format(r.logical_resource_type, r.logical_resource_name, r.resource_status))
end

check(stack:delete())
settle(stack, "delete")
