-- Roll one template out with a stack set: three regions x two accounts, at most two
-- instances at a time per region, one failed instance per region tolerated. Prints the
-- per-region digest; exit 0 when the operation completed, 1 when it failed.
--   HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=... \
--   HUAWEICLOUD_SDK_REGION=cn-north-4 lua5.4 examples/rollout.lua [SET_NAME [ACCOUNT,ACCOUNT]]
-- RFS_ENDPOINT=http://127.0.0.1:PORT points it at the emulator instead. The agencies come
-- from RFS_ADMIN_AGENCY_URN and RFS_MANAGED_AGENCY (see the stack set permission docs).

-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local name = arg[1] or "rollout-demo"
local accounts = {}
for a in (arg[2] or "0a1b2c3d4e5f00000000000000000001,0a1b2c3d4e5f00000000000000000002"):gmatch("[^,]+") do
  accounts[#accounts + 1] = a
end
local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }

local TEMPLATE = [[
variable "env" {
  type    = string
  default = "prod"
}

resource "huaweicloud_vpc" "baseline" {
  name = "baseline-${var.env}"
  cidr = "10.0.0.0/16"
}
]]

-- 1. The set: synchronous, no instances yet.
local ss, err = client:create_stack_set(name, {
  template_body = TEMPLATE,
  description = "network baseline for every account",
  administration_agency_urn = os.getenv("RFS_ADMIN_AGENCY_URN") or "iam::0a1b2c3d:agency:rf_admin_trust",
  managed_agency_name = os.getenv("RFS_MANAGED_AGENCY") or "rf_managed_trust",
})
if not ss and err.kind == "conflict" then ss = client:stack_set(name) end -- it exists: roll it out again
if not ss then io.stderr:write(tostring(err), "\n") os.exit(3) end
print(ss)

-- 2. The instances: every region x every account.
local op = assert(ss:create_instances{
  deployment_targets = { regions = { "cn-north-4", "cn-south-1", "ap-southeast-1" }, domain_ids = accounts },
  operation_preferences = { failure_tolerance_count = 1, max_concurrent_count = 2 },
})
print(op)

-- 3. Wait, with a line per instance state change on stderr; then the digest, one line per region.
local res, werr = ss:wait{ on_progress = rfs.progress.human{ out = io.stderr } }
if not res then io.stderr:write(tostring(werr), "\n") os.exit(werr.kind == "timeout" and 4 or 3) end
print(res)
for _, f in ipairs(res.failures) do
  print(("failed: %s/%s %s: %s"):format(f.region, f.domain_id, f.status, tostring(f.status_message)))
end
os.exit(res.ok and 0 or 1)
