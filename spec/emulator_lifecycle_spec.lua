-- The emulator's stack lifecycle: create, list, deploy, update, delete, resources, outputs,
-- templates and variables, driven through handle() with a fake clock and real signatures,
-- and a few requests through the real server process.
local emulator = require "rfs.emulator"
local core = require "rfs.core"
local cjson = require "cjson"
local socket = require "socket"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKLIFECYCLE", "lifecycle-secret", "proj123"
local EPOCH = 1795478400 -- 2026-11-24T00:00:00Z
local P = "/v1/" .. PROJECT .. "/stacks"

local TEMPLATE = [[
variable "env" {
  type        = string
  default     = "dev"
  description = "the environment"
}

resource "huaweicloud_vpc" "main" {
  name = "vpc-main"
  cidr = "10.0.0.0/16"
}

resource "huaweicloud_vpc_subnet" "sub" {
  count  = 2
  name   = "subnet"
  vpc_id = huaweicloud_vpc.main.id
}

resource "huaweicloud_obs_bucket" "b" {
  for_each = { logs = "l", data = "d" }
  bucket   = "bkt"
}

data "huaweicloud_availability_zones" "az" {}

output "vpc_id" {
  value = huaweicloud_vpc.main.id
}
output "cidr" {
  value       = huaweicloud_vpc.main.cidr
  description = "the VPC's range"
}
output "answer" {
  value = 42
}
output "secret" {
  value     = "hunter2"
  sensitive = true
}
]]

local function new_emulator(opts)
  local t = { now = 0 }
  local o = { ak = AK, sk = SK, clock = function() return t.now end, epoch = EPOCH, queue_seconds = 2,
              project_id = PROJECT }
  for k, v in pairs(opts or {}) do o[k] = v end
  return emulator.new(o), t
end

local function signed(method, path, query, body, clock, extra)
  local headers = { ["Client-Request-Id"] = core.uuid4(), ["Content-Type"] = "application/json",
                    ["X-Sdk-Date"] = os.date("!%Y%m%dT%H%M%SZ", EPOCH + clock.now) }
  for k, v in pairs(extra or {}) do headers[k] = v end
  local url = "http://127.0.0.1:9/" .. path:sub(2) .. ((query or "") ~= "" and ("?" .. query) or "")
  local auth = core.sign{ method = method, url = url, headers = headers, body = body or "", ak = AK, sk = SK }
  local lower = {}
  for k, v in pairs(headers) do lower[k:lower()] = v end
  lower.host, lower.authorization = auth.Host, auth.Authorization
  return { method = method, path = path, query = query or "", headers = lower, body = body or "", peer = "127.0.0.1" }
end

-- status, decoded body (nil when empty), the response
local function call(emu, clock, method, path, query, body, extra)
  if type(body) == "table" then body = cjson.encode(body) end
  local resp = emu:handle(signed(method, path, query, body, clock, extra))
  return resp.status, resp.body ~= "" and cjson.decode(resp.body) or nil, resp
end

local function control(emu, path, body)
  local resp = emu:handle{ method = "POST", path = path, query = "", body = cjson.encode(body),
                           headers = { ["content-type"] = "application/json" },
                           peer = "127.0.0.1" }
  return resp.status, cjson.decode(resp.body)
end

local function meta(emu, clock, name)
  local status, body = call(emu, clock, "GET", P .. "/" .. name .. "/metadata")
  return status == 200 and body or nil, status, body
end

local function names_listed(emu, clock)
  local _, body = call(emu, clock, "GET", P)
  local names = {}
  for _, s in ipairs(body.stacks) do names[#names + 1] = s.stack_name end
  return names
end

local function expect_error(status, body, want_status, want_code)
  assert.equal(want_status, status, cjson.encode(body))
  assert.equal(want_code, body.error_code)
  assert.is_string(body.error_msg)
end

local function resources_by_address(emu, clock, name)
  local status, body = call(emu, clock, "GET", P .. "/" .. name .. "/resources")
  assert.equal(200, status)
  local by = {}
  for _, r in ipairs(body.stack_resources) do
    local a = r.logical_resource_type .. "." .. r.logical_resource_name .. (r.index_key and ("[" .. r.index_key .. "]") or "")
    by[a] = r
  end
  return by, body.stack_resources
end

local function attributes_of(r)
  local t = {}
  for _, kv in ipairs(r.resource_attributes or {}) do t[kv.key] = kv.value end
  return t
end

describe("emulator stack lifecycle", function()
  local emu, clock
  before_each(function() emu, clock = new_emulator() end)

  it("creates an empty stack in CREATION_COMPLETE with every field it was given", function()
    local status, body = call(emu, clock, "POST", P, "", {
      stack_name = "web", description = "front", enable_deletion_protection = true, enable_auto_rollback = true,
      agencies = { { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } } })
    assert.equal(201, status)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", body.stack_id)
    assert.is_nil(body.deployment_id)
    local m = meta(emu, clock, "web")
    assert.equal("CREATION_COMPLETE", m.status)
    assert.equal(body.stack_id, m.stack_id)
    assert.equal("front", m.description)
    assert.is_true(m.enable_deletion_protection)
    assert.is_true(m.enable_auto_rollback)
    assert.same({ { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } }, m.agencies)
    assert.equal("2026-11-24T00:00:00Z", m.create_time)
    assert.equal("2026-11-24T00:00:00Z", m.update_time)
    status, body = call(emu, clock, "POST", P, "", { stack_name = "web" })
    expect_error(status, body, 409, "RF.10013502")
  end)

  it("refuses a bad CreateStack body with the documented code and creates nothing", function()
    local long = ("x"):rep(1025)
    local cases = {
      { nil, 400, "RF.10011032" },
      { "[1,2]", 400, "RF.10011033" },
      { {}, 400, "RF.10011001" },
      { { stack_name = "s", colour = "red" }, 400, "RF.10011002" },
      { { stack_name = "1bad" }, 400, "RF.10011010" },
      { { stack_name = ("a"):rep(129) }, 400, "RF.10011005" },
      { { stack_name = "s", description = long }, 400, "RF.10011005" },
      { { stack_name = "s", enable_auto_rollback = "yes" }, 400, "RF.10011033" },
      { { stack_name = "s", template_body = "x", template_uri = "https://obs/x.tf" }, 400, "RF.10011003" },
      { { stack_name = "s", template_uri = "https://obs/x.txt" }, 400, "RF.10011022" },
      { { stack_name = "s", template_body = ("#"):rep(51201) }, 400, "RF.10011005" },
      { { stack_name = "s", agencies = { { provider_name = "a", agency_name = "x" },
                                         { provider_name = "a", agency_name = "y" } } }, 400, "RF.10011065" },
      { { stack_name = "s", vars_structure = { { var_key = "1x", var_value = "v" } } }, 400, "RF.10011039" },
      { { stack_name = "s", vars_structure = { { var_key = "env", var_value = "a" } }, vars_body = 'env = "b"' },
        400, "RF.10011039" },
      { { stack_name = "s", template_body = 'resource "a" {' }, 400, "RF.10011073" },
    }
    for _, c in ipairs(cases) do
      local status, body = call(emu, clock, "POST", P, "", c[1])
      expect_error(status, body, c[2], c[3])
    end
    local status, body = call(emu, clock, "POST", P, "", { stack_name = "s" }, { ["Client-Request-Id"] = "short" })
    expect_error(status, body, 400, "RF.10011006")
    assert.same({}, names_listed(emu, clock))
  end)

  it("lists stacks newest first, a page at a time with page_info.next_marker", function()
    for i = 1, 25 do
      clock.now = i
      assert.equal(201, (call(emu, clock, "POST", P, "", { stack_name = ("s%02d"):format(i) })))
    end
    local seen, marker, pages = {}, nil, 0
    repeat
      local status, body = call(emu, clock, "GET", P, "limit=10" .. (marker and ("&marker=" .. marker) or ""))
      assert.equal(200, status)
      pages = pages + 1
      assert.equal(#body.stacks, body.page_info.current_count)
      for _, s in ipairs(body.stacks) do
        seen[#seen + 1] = s.stack_name
        assert.equal("CREATION_COMPLETE", s.status)
        assert.is_string(s.stack_id)
        assert.is_string(s.create_time)
      end
      marker = body.page_info.next_marker
    until not marker
    assert.equal(3, pages)
    assert.equal(25, #seen)
    assert.equal("s25", seen[1])
    assert.equal("s01", seen[25])
    local status, body = call(emu, clock, "GET", P, "limit=5")
    expect_error(status, body, 400, "RF.10011027")
    status, body = call(emu, clock, "GET", P)
    assert.equal(200, status)
    assert.equal(25, #body.stacks) -- default limit 1000
    assert.is_nil(body.page_info.next_marker)
  end)

  it("updates only the fields sent (204, no body) and refuses an update with nothing in it", function()
    local _, created = call(emu, clock, "POST", P, "", { stack_name = "web", description = "a" })
    clock.now = 10
    local status, body, resp = call(emu, clock, "PATCH", P .. "/web", "",
                                    { stack_id = created.stack_id, enable_deletion_protection = true })
    assert.equal(204, status)
    assert.equal("", resp.body)
    assert.is_nil(body)
    local m = meta(emu, clock, "web")
    assert.is_true(m.enable_deletion_protection)
    assert.equal("a", m.description)
    assert.equal("2026-11-24T00:00:10Z", m.update_time)
    status, body = call(emu, clock, "PATCH", P .. "/web", "", { stack_id = created.stack_id })
    expect_error(status, body, 400, "RF.10011084")
    status, body = call(emu, clock, "PATCH", P .. "/web", "", { description = "b",
                                                                 stack_id = "00000000-0000-4000-8000-000000000000" })
    expect_error(status, body, 400, "RF.10011015")
    status, body = call(emu, clock, "PATCH", P .. "/nobody", "", { description = "b" })
    expect_error(status, body, 404, "RF.10013001")
    assert.equal("a", meta(emu, clock, "web").description)
  end)

  it("refuses to turn auto-rollback on in a *_FAILED state", function()
    control(emu, "/_emulator/stacks", { stack_name = "old", status = "DEPLOYMENT_FAILED" })
    local status, body = call(emu, clock, "PATCH", P .. "/old", "", { enable_auto_rollback = true })
    expect_error(status, body, 403, "RF.10012546")
    assert.equal(204, (call(emu, clock, "PATCH", P .. "/old", "", { description = "still fine" })))
  end)

  it("deletes through DELETION_IN_PROGRESS; then metadata is 404 and the list forgets it", function()
    call(emu, clock, "POST", P, "", { stack_name = "web" })
    call(emu, clock, "POST", P, "", { stack_name = "keep" })
    local status, body, resp = call(emu, clock, "DELETE", P .. "/web")
    assert.equal(202, status)
    assert.equal("", resp.body)
    assert.is_nil(body)
    clock.now = 1 -- queued: the old state still shows, a second delete is a conflict
    assert.equal("CREATION_COMPLETE", meta(emu, clock, "web").status)
    status, body = call(emu, clock, "DELETE", P .. "/web")
    expect_error(status, body, 409, "RF.10013503")
    clock.now = 3
    assert.equal("DELETION_IN_PROGRESS", meta(emu, clock, "web").status)
    status, body = call(emu, clock, "POST", P .. "/web/deletion", "", {})
    expect_error(status, body, 403, "RF.10012544")
    clock.now = 30
    local _, st = meta(emu, clock, "web")
    assert.equal(404, st)
    assert.same({ "keep" }, names_listed(emu, clock))
    -- the name is free again
    assert.equal(201, (call(emu, clock, "POST", P, "", { stack_name = "web" })))
  end)

  it("refuses to delete a protected stack until protection is turned off", function()
    call(emu, clock, "POST", P, "", { stack_name = "web", enable_deletion_protection = true })
    local status, body = call(emu, clock, "DELETE", P .. "/web")
    expect_error(status, body, 403, "RF.10012544")
    status, body = call(emu, clock, "POST", P .. "/web/deletion", "", { retain_all_resources = true })
    expect_error(status, body, 403, "RF.10012544")
    clock.now = 100
    assert.equal("CREATION_COMPLETE", meta(emu, clock, "web").status)
    call(emu, clock, "PATCH", P .. "/web", "", { enable_deletion_protection = false })
    assert.equal(202, (call(emu, clock, "POST", P .. "/web/deletion", "", { retain_all_resources = true })))
    clock.now = 200
    assert.is_nil(meta(emu, clock, "web"))
  end)

  it("answers update, deploy and delete of a busy stack with 403", function()
    control(emu, "/_emulator/stacks", { stack_name = "busy", status = "DEPLOYMENT_IN_PROGRESS" })
    local status, body = call(emu, clock, "PATCH", P .. "/busy", "", { description = "x" })
    expect_error(status, body, 403, "RF.10012519")
    status, body = call(emu, clock, "POST", P .. "/busy/deployments", "", { template_body = TEMPLATE })
    expect_error(status, body, 403, "RF.10012519")
    status, body = call(emu, clock, "DELETE", P .. "/busy")
    expect_error(status, body, 403, "RF.10012544")
    assert.equal("DEPLOYMENT_IN_PROGRESS", meta(emu, clock, "busy").status)
  end)

  it("answers 409 to a deploy or update while another request is queued", function()
    call(emu, clock, "POST", P, "", { stack_name = "web" })
    assert.equal(202, (call(emu, clock, "POST", P .. "/web/deployments", "", { template_body = TEMPLATE })))
    local status, body = call(emu, clock, "POST", P .. "/web/deployments", "", { template_body = TEMPLATE })
    expect_error(status, body, 409, "RF.10013503")
    status, body = call(emu, clock, "PATCH", P .. "/web", "", { description = "x" })
    expect_error(status, body, 409, "RF.10013503")
  end)

  it("holds a project to its stack quota", function()
    emu, clock = new_emulator{ stack_quota = 1 }
    assert.equal(201, (call(emu, clock, "POST", P, "", { stack_name = "a" })))
    local status, body = call(emu, clock, "POST", P, "", { stack_name = "b" })
    expect_error(status, body, 403, "RF.10012538")
  end)

  it("ends a deletion in DELETION_FAILED when one is injected, and a second delete finishes", function()
    call(emu, clock, "POST", P, "", { stack_name = "web" })
    local status = control(emu, "/_emulator/stacks/web/fail", { action = "delete", message = "vpc has ports" })
    assert.equal(201, status)
    call(emu, clock, "DELETE", P .. "/web")
    clock.now = 30
    local m = meta(emu, clock, "web")
    assert.equal("DELETION_FAILED", m.status)
    assert.matches("vpc has ports", m.status_message)
    assert.equal(202, (call(emu, clock, "DELETE", P .. "/web")))
    clock.now = 60
    assert.is_nil(meta(emu, clock, "web"))
  end)

  it("has no template for a stack never deployed, and a deploy needs one", function()
    call(emu, clock, "POST", P, "", { stack_name = "web" })
    local status, body = call(emu, clock, "GET", P .. "/web/templates")
    expect_error(status, body, 404, "RF.10013023")
    status, body = call(emu, clock, "POST", P .. "/web/deployments", "", {})
    expect_error(status, body, 400, "RF.10011056")
    status, body = call(emu, clock, "POST", P .. "/web/deployments", "", nil)
    expect_error(status, body, 400, "RF.10011032")
    status, body = call(emu, clock, "GET", P .. "/web/resources")
    assert.equal(200, status)
    assert.same({}, body.stack_resources)
    status, body = call(emu, clock, "GET", P .. "/web/outputs")
    assert.equal(200, status)
    assert.same({}, body.outputs)
  end)
end)

describe("emulator stacks from templates", function()
  local emu, clock
  before_each(function() emu, clock = new_emulator() end)

  it("creates and deploys at once: DEPLOYMENT_IN_PROGRESS, then resources, events and outputs", function()
    local status, created = call(emu, clock, "POST", P, "", { stack_name = "net", template_body = TEMPLATE })
    assert.equal(201, status)
    assert.matches("^%x+%-", created.deployment_id)
    assert.equal("DEPLOYMENT_IN_PROGRESS", meta(emu, clock, "net").status)
    clock.now = 10 -- while in progress: no outputs, resources without attributes
    local _, outs = call(emu, clock, "GET", P .. "/net/outputs")
    assert.same({}, outs.outputs)
    local _, list = resources_by_address(emu, clock, "net")
    assert.is_true(#list > 0)
    for _, r in ipairs(list) do assert.is_nil(r.resource_attributes) end
    clock.now = 40
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock, "net").status)
    local by
    by, list = resources_by_address(emu, clock, "net")
    assert.equal(5, #list) -- vpc, 2 subnets, 2 buckets; the data block is not a resource
    for _, a in ipairs({ "huaweicloud_vpc.main", "huaweicloud_vpc_subnet.sub[0]", "huaweicloud_vpc_subnet.sub[1]",
                         "huaweicloud_obs_bucket.b[data]", "huaweicloud_obs_bucket.b[logs]" }) do
      assert.is_table(by[a], a)
      assert.equal("CREATION_COMPLETE", by[a].resource_status)
      assert.matches("^%x+%-", by[a].physical_resource_id)
    end
    local vpc = by["huaweicloud_vpc.main"]
    assert.equal("vpc-main", vpc.physical_resource_name)
    assert.is_nil(vpc.index_key)
    assert.same({ name = "vpc-main", cidr = "10.0.0.0/16", id = vpc.physical_resource_id }, attributes_of(vpc))
    assert.equal("0", by["huaweicloud_vpc_subnet.sub[0]"].index_key)
    -- events of the deployment: per resource, and Terraform's summary
    local _, ev = call(emu, clock, "GET", P .. "/net/events", "deployment_id=" .. created.deployment_id)
    local kinds = {}
    for _, e in ipairs(ev.stack_events) do
      kinds[e.event_type] = (kinds[e.event_type] or 0) + 1
      if e.event_type == "CREATION_COMPLETE" and e.resource_name == "main" then
        assert.equal(vpc.physical_resource_id, e.resource_id_value)
      end
    end
    assert.equal(5, kinds.CREATION_IN_PROGRESS)
    assert.equal(5, kinds.CREATION_COMPLETE)
    assert.matches("5 added, 0 changed, 0 destroyed", ev.stack_events[2].event_message)
    -- outputs: references resolve to the emulated resource, literals as given, JSON-encoded
    local outputs = {}
    status, outs = call(emu, clock, "GET", P .. "/net/outputs")
    assert.equal(200, status)
    for _, o in ipairs(outs.outputs) do outputs[o.name] = o end
    assert.equal(cjson.encode(vpc.physical_resource_id), outputs.vpc_id.value)
    assert.equal(vpc.physical_resource_id, cjson.decode(outputs.vpc_id.value))
    assert.equal("string", outputs.vpc_id.type)
    assert.equal("10.0.0.0/16", cjson.decode(outputs.cidr.value))
    assert.equal("the VPC's range", outputs.cidr.description)
    assert.equal("42", outputs.answer.value)
    assert.equal("number", outputs.answer.type)
    assert.is_true(outputs.secret.sensitive)
    assert.equal("<sensitive>", outputs.secret.value)
    assert.equal("<sensitive>", outputs.secret.type)
    assert.is_false(outputs.vpc_id.sensitive)
  end)

  it("replaces the resource set on deploy: dropped blocks deleted, changed ones updated, new ones created", function()
    call(emu, clock, "POST", P, "", { stack_name = "net", template_body = TEMPLATE })
    clock.now = 40
    local before = resources_by_address(emu, clock, "net")
    local changed = TEMPLATE:gsub('cidr = "10.0.0.0/16"', 'cidr = "10.1.0.0/16"')
                            :gsub("count  = 2", "count  = 1")
                            :gsub('data "huaweicloud', 'resource "huaweicloud_eip" "ip" {}\ndata "huaweicloud')
    local status, dep = call(emu, clock, "POST", P .. "/net/deployments", "", { template_body = changed })
    assert.equal(202, status)
    clock.now = 41
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock, "net").status) -- queued
    clock.now = 80
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock, "net").status)
    local after, list = resources_by_address(emu, clock, "net")
    assert.equal(5, #list)
    assert.is_nil(after["huaweicloud_vpc_subnet.sub[1]"])
    assert.is_table(after["huaweicloud_eip.ip"])
    assert.equal("UPDATE_COMPLETE", after["huaweicloud_vpc.main"].resource_status)
    assert.equal(before["huaweicloud_vpc.main"].physical_resource_id, after["huaweicloud_vpc.main"].physical_resource_id)
    assert.equal("10.1.0.0/16", attributes_of(after["huaweicloud_vpc.main"]).cidr)
    assert.equal(before["huaweicloud_vpc_subnet.sub[0]"].physical_resource_id,
                 after["huaweicloud_vpc_subnet.sub[0]"].physical_resource_id)
    local _, ev = call(emu, clock, "GET", P .. "/net/events", "deployment_id=" .. dep.deployment_id)
    local seen = {}
    for _, e in ipairs(ev.stack_events) do
      if e.resource_name then seen[e.event_type .. " " .. e.resource_name .. (e.resource_key or "")] = true end
    end
    assert.is_true(seen["DELETION_COMPLETE sub1"])
    assert.is_true(seen["UPDATE_COMPLETE main"])
    assert.is_true(seen["CREATION_COMPLETE ip"])
    assert.is_true(seen["UPDATE_COMPLETE sub0"]) -- its block's text changed (count)
    assert.is_nil(seen["UPDATE_COMPLETE blogs"]) -- unchanged
    assert.matches("1 added, 2 changed, 1 destroyed", ev.stack_events[2].event_message)
    local _, outs = call(emu, clock, "GET", P .. "/net/outputs")
    for _, o in ipairs(outs.outputs) do
      if o.name == "cidr" then assert.equal('"10.1.0.0\\/16"', o.value) end
    end
  end)

  it("fails a deployment on an injected resource failure; continue_deploy then completes it", function()
    control(emu, "/_emulator/stacks", { stack_name = "net", status = "CREATION_COMPLETE" })
    local status = control(emu, "/_emulator/stacks/net/fail", { resource = "huaweicloud_vpc_subnet.sub[1]",
                                                                 message = "subnet quota exceeded" })
    assert.equal(201, status)
    local _, dep = call(emu, clock, "POST", P .. "/net/deployments", "", { template_body = TEMPLATE })
    clock.now = 40
    local m = meta(emu, clock, "net")
    assert.equal("DEPLOYMENT_FAILED", m.status)
    assert.matches("subnet quota exceeded", m.status_message)
    local by = resources_by_address(emu, clock, "net")
    assert.equal("CREATION_FAILED", by["huaweicloud_vpc_subnet.sub[1]"].resource_status)
    assert.equal("subnet quota exceeded", by["huaweicloud_vpc_subnet.sub[1]"].status_message)
    local _, ev = call(emu, clock, "GET", P .. "/net/events", "deployment_id=" .. dep.deployment_id
                       .. "&filter=event_type%3D%3DERROR")
    assert.equal(1, #ev.stack_events)
    assert.equal("sub", ev.stack_events[1].resource_name)
    assert.equal("1", ev.stack_events[1].resource_key)
    -- the continue runs the failed deployment again; the failure was injected once
    assert.equal(202, (call(emu, clock, "POST", P .. "/net/continuations")))
    clock.now = 80
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock, "net").status)
    by = resources_by_address(emu, clock, "net")
    assert.equal("CREATION_COMPLETE", by["huaweicloud_vpc_subnet.sub[1]"].resource_status)
  end)

  it("rolls back to the resources it had when enable_auto_rollback is on", function()
    call(emu, clock, "POST", P, "", { stack_name = "net", template_body = 'resource "huaweicloud_vpc" "main" {}',
                                     enable_auto_rollback = true })
    clock.now = 40
    local before = resources_by_address(emu, clock, "net")
    control(emu, "/_emulator/stacks/net/fail", { resource = "huaweicloud_obs_bucket.b", action = "create" })
    call(emu, clock, "POST", P .. "/net/deployments", "", { template_body = TEMPLATE })
    clock.now = 75
    assert.equal("ROLLBACK_IN_PROGRESS", meta(emu, clock, "net").status)
    clock.now = 120
    assert.equal("ROLLBACK_COMPLETE", meta(emu, clock, "net").status)
    local after, list = resources_by_address(emu, clock, "net")
    assert.equal(1, #list)
    assert.equal(before["huaweicloud_vpc.main"].physical_resource_id, after["huaweicloud_vpc.main"].physical_resource_id)
  end)

  it("refuses an unreadable template with RF.10011073 and changes nothing", function()
    local status, body = call(emu, clock, "POST", P, "", { stack_name = "bad", template_body = 'resource "x" "y" {\n  a = ' })
    expect_error(status, body, 400, "RF.10011073")
    assert.matches("line %d+", body.error_msg)
    assert.same({}, names_listed(emu, clock))
    call(emu, clock, "POST", P, "", { stack_name = "net", template_body = TEMPLATE })
    clock.now = 40
    status, body = call(emu, clock, "POST", P .. "/net/deployments", "", { template_body = "{ not json" })
    expect_error(status, body, 400, "RF.10011073")
    clock.now = 100
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock, "net").status)
    local _, list = resources_by_address(emu, clock, "net")
    assert.equal(5, #list)
  end)

  it("answers GetStackTemplate with a 307 to a location served without signature, for 5 minutes", function()
    call(emu, clock, "POST", P, "", { stack_name = "net", template_body = TEMPLATE })
    clock.now = 40
    local status, body, resp = call(emu, clock, "GET", P .. "/net/templates")
    assert.equal(307, status)
    assert.is_nil(body)
    local location = resp.headers.Location
    assert.matches("^http://127%.0%.0%.1:9/", location)
    local path, query = location:match("^http://[^/]+([^?]*)%?(.*)$")
    local get = { method = "GET", path = path, query = query, headers = {}, body = "", peer = "127.0.0.1" }
    local got = emu:handle(get)
    assert.equal(200, got.status)
    assert.equal(TEMPLATE, got.body)
    -- a deploy stores its own template; the location handed out before keeps the old one
    local v2 = TEMPLATE .. '\nresource "huaweicloud_eip" "ip" {}\n'
    call(emu, clock, "POST", P .. "/net/deployments", "", { template_body = v2 })
    clock.now = 100
    local _, _, resp2 = call(emu, clock, "GET", P .. "/net/templates")
    local path2, query2 = resp2.headers.Location:match("^http://[^/]+([^?]*)%?(.*)$")
    assert.equal(v2, emu:handle{ method = "GET", path = path2, query = query2, headers = {}, body = "" }.body)
    clock.now = 40 + 301
    assert.equal(403, emu:handle(get).status)
    get.query = query:gsub("Signature=%x+", "Signature=0000")
    assert.equal(404, emu:handle(get).status)
  end)

  it("parses template variables: type, description, default with its JSON type, nullable, validations", function()
    local text = [[
variable "name" {
  type        = string
  description = "the VPC name"
  default     = "vpc"
  validation {
    condition     = length(var.name) > 0
    error_message = "name must not be empty"
  }
}
variable "size" {
  type    = number
  default = 3
}
variable "password" {
  sensitive = true
  nullable  = false
}
]]
    local status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/template-analyses/variables", "",
                              { template_body = text })
    assert.equal(200, status)
    local v = body.variables
    assert.equal(3, #v)
    assert.equal("name", v[1].name)
    assert.equal("string", v[1].type)
    assert.equal("the VPC name", v[1].description)
    assert.equal("vpc", v[1].default)
    assert.is_false(v[1].sensitive)
    assert.is_true(v[1].nullable)
    assert.same({ { condition = "${length(var.name) > 0}", error_message = "name must not be empty" } }, v[1].validations)
    assert.equal(3, v[2].default)
    assert.equal("number", type(v[2].default))
    assert.is_nil(v[3].default)
    assert.is_true(v[3].sensitive)
    assert.is_false(v[3].nullable)
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/template-analyses/variables", "",
                        { template_body = 'resource "huaweicloud_vpc" "v" {}' })
    assert.equal(200, status)
    assert.same({}, body)
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/template-analyses/variables", "",
                        { template_body = 'variable "x" {' })
    expect_error(status, body, 400, "RF.10011073")
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/template-analyses/variables", "", {})
    expect_error(status, body, 400, "RF.10011056")
  end)

  it("seeds a stack from a template: its resources exist and its template is served", function()
    local status = control(emu, "/_emulator/stacks", { stack_name = "seeded", status = "DEPLOYMENT_COMPLETE",
                                                       template_body = TEMPLATE })
    assert.equal(201, status)
    local _, list = resources_by_address(emu, clock, "seeded")
    assert.equal(5, #list)
    assert.equal(307, (call(emu, clock, "GET", P .. "/seeded/templates")))
    status = control(emu, "/_emulator/stacks", { stack_name = "broken", template_body = "resource {" })
    assert.equal(400, status)
    assert.is_nil(meta(emu, clock, "broken"))
  end)
end)

describe("emulator stack lifecycle through the server", function()
  local em

  setup(function() em = E.start{ ak = AK, sk = SK, time_scale = 100 } end)
  teardown(function() if em then em:stop() end end)

  -- A signed request over a fresh connection: status, headers (lower-case), body.
  local function send(method, path, body, headers)
    local host, port = em.url:match("^http://([^:/]+):(%d+)")
    headers = headers or {}
    local h = { ["Client-Request-Id"] = core.uuid4(), ["Content-Type"] = "application/json",
                ["X-Sdk-Date"] = os.date("!%Y%m%dT%H%M%SZ") }
    for k, v in pairs(headers) do h[k] = v end
    body = body and cjson.encode(body) or ""
    if not headers.unsigned then
      local auth = core.sign{ method = method, url = em.url .. path, headers = h, body = body, ak = AK, sk = SK }
      h.Authorization, h.Host = auth.Authorization, auth.Host
    else
      h = { Host = host .. ":" .. port }
    end
    local lines = { method .. " " .. path .. " HTTP/1.1" }
    for k, v in pairs(h) do lines[#lines + 1] = k .. ": " .. v end
    lines[#lines + 1] = "Content-Length: " .. #body
    lines[#lines + 1] = "Connection: close"
    local c = assert(socket.connect(host, tonumber(port)))
    c:settimeout(5)
    assert(c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. body))
    local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.1 (%d+)"))
    local rh = {}
    while true do
      local line = assert(c:receive("*l"))
      if line == "" then break end
      local k, v = line:match("^([^:]+):%s*(.*)$")
      rh[k:lower()] = v
    end
    local n = tonumber(rh["content-length"] or 0)
    local data = n > 0 and assert(c:receive(n)) or ""
    c:close()
    return status, rh, data
  end

  it("creates, deploys, serves the template without signature, updates with a bare 204, deletes", function()
    local p = "/v1/" .. PROJECT .. "/stacks"
    local status, _, data = send("POST", p, { stack_name = "srv", template_body = TEMPLATE })
    assert.equal(201, status, data)
    local deadline = socket.gettime() + 5
    local m
    repeat
      socket.sleep(0.02)
      _, _, data = send("GET", p .. "/srv/metadata")
      m = cjson.decode(data)
    until m.status ~= "DEPLOYMENT_IN_PROGRESS" or socket.gettime() > deadline
    assert.equal("DEPLOYMENT_COMPLETE", m.status)
    local headers
    status, headers, data = send("GET", p .. "/srv/templates")
    assert.equal(307, status)
    assert.equal("", data)
    local location = headers.location
    assert.equal(em.url, location:match("^(http://[^/]+)"))
    status, _, data = send("GET", location:match("^http://[^/]+(.*)$"), nil, { unsigned = true })
    assert.equal(200, status)
    assert.equal(TEMPLATE, data)
    status, headers, data = send("PATCH", p .. "/srv", { description = "served" })
    assert.equal(204, status)
    assert.equal("", data)
    assert.is_nil(headers["content-length"])
    status, _, data = send("GET", p .. "/srv/outputs")
    assert.equal(200, status)
    assert.equal(4, #cjson.decode(data).outputs)
    status = send("DELETE", p .. "/srv")
    assert.equal(202, status)
    deadline = socket.gettime() + 5
    repeat
      socket.sleep(0.02)
      status = send("GET", p .. "/srv/metadata")
    until status == 404 or socket.gettime() > deadline
    assert.equal(404, status)
  end)
end)
