-- The emulator's execution plan routes as RFS documents them, through handle() with real
-- signatures and a fake clock: status codes, bodies, item shapes and the 400s of a bad request.
local emulator = require "rfs.emulator"
local core = require "rfs.core"
local cjson = require "cjson"

local AK, SK, PROJECT = "AKPLANEMU", "plan-emulator-secret", "proj123"
local EPOCH = 1795478400 -- 2026-11-24T00:00:00Z
local P = "/v1/" .. PROJECT .. "/stacks"

local V1 = [[
resource "huaweicloud_vpc" "vpc" {
  name = "one"
}
]]
local V2 = [[
resource "huaweicloud_vpc" "vpc" {
  name = "two"
}
resource "huaweicloud_vpc_subnet" "sub" {
  count  = 2
  vpc_id = huaweicloud_vpc.vpc.id
}
data "huaweicloud_availability_zones" "az" {}
]]

local function new_emulator()
  local t = { now = 0 }
  return emulator.new{ ak = AK, sk = SK, clock = function() return t.now end, epoch = EPOCH, queue_seconds = 2,
                       project_id = PROJECT }, t
end

local function call(emu, clock, method, path, query, body)
  if type(body) == "table" then body = cjson.encode(body) end
  local headers = { ["Client-Request-Id"] = core.uuid4(), ["Content-Type"] = "application/json",
                    ["X-Sdk-Date"] = os.date("!%Y%m%dT%H%M%SZ", EPOCH + clock.now) }
  local url = "http://127.0.0.1:9" .. path .. ((query or "") ~= "" and ("?" .. query) or "")
  local auth = core.sign{ method = method, url = url, headers = headers, body = body or "", ak = AK, sk = SK }
  local lower = {}
  for k, v in pairs(headers) do lower[k:lower()] = v end
  lower.host, lower.authorization = auth.Host, auth.Authorization
  local resp = emu:handle{ method = method, path = path, query = query or "", headers = lower, body = body or "",
                           peer = "127.0.0.1" }
  return resp.status, resp.body ~= "" and cjson.decode(resp.body) or nil
end

describe("the emulator's execution plans", function()
  local emu, clock, stack_id

  before_each(function()
    emu, clock = new_emulator()
    local status, body = call(emu, clock, "POST", P, "", { stack_name = "web", template_body = V1 })
    assert.equal(201, status)
    stack_id = body.stack_id
    clock.now = 1000 -- the deployment is done
  end)

  it("answers each operation with its documented status and body", function()
    local status, body = call(emu, clock, "POST", P .. "/web/execution-plans", "",
                              { execution_plan_name = "p", template_body = V2, stack_id = stack_id })
    assert.equal(202, status)
    local id = body.execution_plan_id
    assert.equal(36, #id)
    local _, meta = call(emu, clock, "GET", P .. "/web/execution-plans/p/metadata", "execution_plan_id=" .. id)
    assert.equal("CREATION_IN_PROGRESS", meta.status)
    assert.is_nil(meta.summary)
    local _, early = call(emu, clock, "GET", P .. "/web/execution-plans/p")
    assert.is_nil(early.execution_plan_items) -- not returned while the plan is being created
    clock.now = clock.now + 10
    _, meta = call(emu, clock, "GET", P .. "/web/execution-plans/p/metadata")
    assert.equal("AVAILABLE", meta.status)
    assert.equal("web", meta.stack_name)
    assert.equal(stack_id, meta.stack_id)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", meta.create_time)
    assert.same({ resource_add = 2, resource_update = 1, resource_delete = 0, resource_import = 0 }, meta.summary)

    local _, got = call(emu, clock, "GET", P .. "/web/execution-plans/p", "stack_id=" .. stack_id)
    local by = {}
    for _, it in ipairs(got.execution_plan_items) do by[it.resource_name .. (it.index or "")] = it end
    assert.equal("UPDATE", by.vpc.action)
    assert.same({ { name = "name", previous_value = "one", target_value = "two" } }, by.vpc.attributes)
    assert.equal("ADD", by.sub0.action)
    assert.equal("1", by.sub1.index)
    assert.equal("RESOURCE", by.sub1.mode)
    assert.is_false(by.sub1.drifted)
    assert.is_string(by.sub1.provider_name)
    assert.equal("DATA", by.az.mode)
    assert.equal("NO_OPERATION", by.az.action)

    local _, prices = call(emu, clock, "GET", P .. "/web/execution-plans/p/prices")
    assert.equal("CNY", prices.currency)
    assert.equal(2, #prices.items)
    assert.equal("FREE", prices.items[1].resource_price[1].charge_mode)

    local _, list = call(emu, clock, "GET", P .. "/web/execution-plans")
    assert.equal(1, #list.execution_plans)
    assert.equal(id, list.execution_plans[1].execution_plan_id)

    local apply_status, dep = call(emu, clock, "POST", P .. "/web/execution-plans/p", "", { execution_plan_id = id })
    assert.equal(202, apply_status)
    assert.equal(36, #dep.deployment_id)
    _, meta = call(emu, clock, "GET", P .. "/web/execution-plans/p/metadata")
    assert.equal("APPLY_IN_PROGRESS", meta.status)
    clock.now = clock.now + 1000
    _, meta = call(emu, clock, "GET", P .. "/web/execution-plans/p/metadata")
    assert.equal("APPLIED", meta.status)
    assert.is_string(meta.apply_time)
    local del_status, del_body = call(emu, clock, "DELETE", P .. "/web/execution-plans/p", "execution_plan_id=" .. id)
    assert.equal(204, del_status)
    assert.is_nil(del_body)
  end)

  it("a plan expired by another plan's apply or by a deploy still shows AVAILABLE; applying it is refused", function()
    -- the API reference has no status for an expired plan: only its apply tells (403 RF.10012545)
    local path = P .. "/web/execution-plans"
    for _, name in ipairs({ "a", "b", "c" }) do
      assert.equal(202, (call(emu, clock, "POST", path, "", { execution_plan_name = name, template_body = V2 })))
    end
    clock.now = clock.now + 10
    assert.equal(202, (call(emu, clock, "POST", path .. "/a", "", {})))
    clock.now = clock.now + 1000
    local function statuses()
      local _, list = call(emu, clock, "GET", path)
      local out = {}
      for _, p in ipairs(list.execution_plans) do out[p.execution_plan_name] = p.status end
      return out
    end
    assert.same({ a = "APPLIED", b = "AVAILABLE", c = "AVAILABLE" }, statuses())
    local _, meta = call(emu, clock, "GET", path .. "/b/metadata")
    assert.equal("AVAILABLE", meta.status)
    assert.is_nil(meta.status_message)
    local status, body = call(emu, clock, "POST", path .. "/b", "", {})
    assert.equal(403, status)
    assert.equal("RF.10012545", body.error_code)
    -- a deploy expires the plans made before it the same way
    assert.equal(202, (call(emu, clock, "POST", path, "", { execution_plan_name = "d", template_body = V1 })))
    clock.now = clock.now + 10
    assert.equal(202, (call(emu, clock, "POST", P .. "/web/deployments", "", { template_body = V2 })))
    clock.now = clock.now + 1000
    assert.equal("AVAILABLE", statuses().d)
    status, body = call(emu, clock, "POST", path .. "/d", "", {})
    assert.equal(403, status)
    assert.equal("RF.10012545", body.error_code)
  end)

  it("answers a bad create with the documented 400s and a missing stack or plan with 404", function()
    local function code_of(status, body) return status .. " " .. body.error_code end
    local path = P .. "/web/execution-plans"
    assert.equal("400 RF.10011001", code_of(call(emu, clock, "POST", path, "", { template_body = V1 })))
    assert.equal("400 RF.10011056", code_of(call(emu, clock, "POST", path, "", { execution_plan_name = "p" })))
    assert.equal("400 RF.10011003", code_of(call(emu, clock, "POST", path, "", { execution_plan_name = "p",
      template_body = V1, template_uri = "https://obs.example/x.tf" })))
    assert.equal("400 RF.10011010", code_of(call(emu, clock, "POST", path, "", { execution_plan_name = "1p",
      template_body = V1 })))
    assert.equal("400 RF.10011002", code_of(call(emu, clock, "POST", path, "", { execution_plan_name = "p",
      template_body = V1, colour = "red" })))
    assert.equal("404 RF.10013001", code_of(call(emu, clock, "POST", P .. "/gone/execution-plans", "",
      { execution_plan_name = "p", template_body = V1 })))
    assert.equal("404 RF.10013002", code_of(call(emu, clock, "GET", path .. "/nope/metadata")))
    assert.equal("405 AOS.00.0400", code_of(call(emu, clock, "PATCH", path .. "/nope")))
  end)
end)
