-- Publish a reviewed template to the private library, add a version, then deploy a stack
-- from the text downloaded back from the library. Exit 0 when every step succeeded.
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/template_library.lua [TEMPLATE_NAME]
-- RFS_ENDPOINT=http://127.0.0.1:PORT points it at the emulator instead.

-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or "network-baseline"
local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }

local function check(value, err)
  if value == nil then
    io.stderr:write(tostring(err), "\n")
    os.exit(err and err.kind == "timeout" and 4 or 3)
  end
  return value
end

local V1 = [[
resource "huaweicloud_vpc" "vpc" {
  name = "baseline-vpc"
  cidr = "192.168.0.0/16"
}
]]

local V2 = V1 .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name       = "baseline-subnet"
  cidr       = "192.168.1.0/24"
  gateway_ip = "192.168.1.1"
  vpc_id     = huaweicloud_vpc.vpc.id
}
]]

-- 1. Publish: the library keeps it as V1.
local tpl = check(client:create_template(name, { template_body = V1, description = "the reviewed network baseline",
                                                version_description = "a VPC" }))
print(("published %s (id %s) as %s"):format(tpl.name, tpl.id, tpl.latest_version_id))

-- 2. A reviewed change becomes V2; the old version stays available.
local v = check(tpl:create_version{ template_body = V2, version_description = "adds a subnet" })
print("added " .. v.version_id)
print(check(tpl:versions()))

-- 3. Anyone can now deploy the latest version: download its text (from a pre-signed
--    location, fetched with no credentials sent) and create a stack from it.
local text = check(tpl:version_content(v.version_id))
local stack = check(client:create_stack(name .. "-stack", { template_body = text }))
local res = check(stack:wait{ on_progress = rfs.progress.human{ out = io.stderr } })
print(res)
if not res.ok then os.exit(1) end

-- Clean up: the stack, then the template with every version.
check(stack:delete())
check(stack:wait{})
check(tpl:delete())
print("deleted the stack and the template")
client:close()
