-- The emulator's stack set routes read on their own (no client): the address forms of
-- ShowStackInstance, a filter sent without URL-encoding, sort and body rules, the control API.
local cjson = require "cjson"
local emulator = require "rfs.emulator"

local TEMPLATE = 'resource "huaweicloud_vpc" "main" {\n  name = "v"\n}\n'

describe("the emulator's stack sets", function()
  local t, emu
  local function call(method, path, body, query)
    local resp = emu:handle{ method = method, path = path, query = query or "", peer = "127.0.0.1",
                             headers = { ["client-request-id"] = "4a7d8f0e-1c2b-4d3e-9f8a-7b6c5d4e3f2a",
                                         ["content-type"] = "application/json", host = "127.0.0.1:1" },
                             body = body and cjson.encode(body) or "" }
    return resp.status, resp.body ~= "" and cjson.decode(resp.body) or nil, resp
  end

  before_each(function()
    t = 0
    emu = emulator.new{ ak = "AK", sk = "SK", clock = function() return t end, epoch = 1795478400,
                        verify = function() return nil end, queue_seconds = 1, instance_seconds = 5 }
    assert.equal(201, (call("POST", "/v1/stack-sets", { stack_set_name = "s", template_body = TEMPLATE,
      administration_agency_name = "admin", managed_agency_name = "m" })))
    assert.equal(202, (call("POST", "/v1/stack-sets/s/stack-instances",
      { deployment_targets = { regions = { "cn-north-4" }, domain_ids = { "d1" } } })))
    t = 100
  end)

  it("accepts the instance address as %2F, %2f, %252F and as two path segments", function()
    for _, addr in ipairs({ "cn-north-4%2Fd1", "cn-north-4%2fd1", "cn-north-4%252Fd1", "cn-north-4/d1" }) do
      local status, body = call("GET", "/v1/stack-sets/s/stack-instances/" .. addr)
      assert.equal(200, status, addr)
      assert.equal("d1", body.stack_domain_id)
    end
    assert.equal(404, (call("GET", "/v1/stack-sets/s/stack-instances/cn-north-4%2Fd2")))
  end)

  it("reads a filter sent without URL-encoding, and refuses sort_key and sort_dir of different counts", function()
    local status, body = call("GET", "/v1/stack-sets/s/stack-instances", nil, "filter=region==cn_x|status==OPERATION_COMPLETE")
    assert.equal(200, status)
    assert.equal(1, #body.stack_instances)
    status = call("GET", "/v1/stack-sets/s/operations", nil, "sort_key=create_time&sort_key=create_time&sort_dir=asc")
    assert.equal(400, status)
    status = call("GET", "/v1/stack-sets", nil, "filter=nonsense")
    assert.equal(400, status)
  end)

  it("refuses agencies on SERVICE_MANAGED, a SELF_MANAGED set without agencies, unknown fields and a bad template", function()
    assert.equal(400, (call("POST", "/v1/stack-sets", { stack_set_name = "x", permission_model = "SERVICE_MANAGED",
                                                         managed_agency_name = "m" })))
    assert.equal(400, (call("POST", "/v1/stack-sets", { stack_set_name = "x" })))
    assert.equal(400, (call("POST", "/v1/stack-sets", { stack_set_name = "x", colour = "red" })))
    local status, body = call("POST", "/v1/stack-sets", { stack_set_name = "x", template_body = "resource {",
      administration_agency_name = "a", managed_agency_name = "m" })
    assert.equal(400, status)
    assert.equal("RF.10011073", body.error_code)
  end)

  it("refuses a concurrency more than tolerance + 1, region_order that does not list the regions, and unknown pairs", function()
    local dt = { regions = { "r1", "r2" }, domain_ids = { "a" } }
    assert.equal(400, (call("POST", "/v1/stack-sets/s/stack-instances", { deployment_targets = dt,
      operation_preferences = { max_concurrent_count = 3, failure_tolerance_count = 1 } })))
    assert.equal(400, (call("POST", "/v1/stack-sets/s/stack-instances", { deployment_targets = dt,
      operation_preferences = { region_order = { "r1" } } })))
    assert.equal(400, (call("PATCH", "/v1/stack-sets/s/stack-instances", { deployment_targets = dt })))
    assert.equal(400, (call("POST", "/v1/stack-sets/s/stack-instances", { deployment_targets = dt,
      var_overrides = { vars_body = 'unknown = "x"' } })))
  end)

  it("answers 404 for an unknown set or operation and forgets everything on reset", function()
    assert.equal(404, (call("GET", "/v1/stack-sets/nope/metadata")))
    assert.equal(404, (call("GET", "/v1/stack-sets/s/operations/4a7d8f0e-1c2b-4d3e-9f8a-7b6c5d4e3f2a/metadata")))
    assert.equal(200, (call("POST", "/_emulator/reset", {})))
    assert.equal(404, (call("GET", "/v1/stack-sets/s/metadata")))
  end)

  it("checks an injected failure field by field and keeps none of a bad one", function()
    local bad = {
      { '{"region": "cn-north-4", "domain_id": "d1", "count": NaN}', "count" },
      { '{"region": "cn-north-4", "domain_id": "d1", "count": 0}', "count" },
      { '{"region": "cn-north-4", "domain_id": "d1", "count": 1.5}', "count" },
      { '{"region": "cn-north-4", "domain_id": "d1", "count": Infinity}', "count" },
      { '{"region": {}, "domain_id": "d1"}', "region" },
      { '{"region": "cn north", "domain_id": "d1"}', "region" },
      { '{"region": "cn-north-4", "domain_id": "d1", "stack_set_name": "1x"}', "stack_set_name" },
      { '{"region": "cn-north-4", "domain_id": "d1", "colour": "red"}', "colour" },
      { '["cn-north-4", "d1"]', "JSON object" },
      { '{"region": "cn-north-4"}', "domain_id" },
    }
    for _, case in ipairs(bad) do
      local resp = emu:handle{ method = "POST", path = "/_emulator/stack-sets/failures", query = "",
                               peer = "127.0.0.1", headers = { ["content-type"] = "application/json" }, body = case[1] }
      assert.equal(400, resp.status, case[1])
      assert.matches(case[2], cjson.decode(resp.body).error_msg, 1, true)
    end
    local ok = emu:handle{ method = "POST", path = "/_emulator/stack-sets/failures", query = "", peer = "127.0.0.1",
                           headers = { ["content-type"] = "application/json" },
                           body = '{"region": "cn-north-4", "domain_id": "d1", "count": 2}' }
    assert.equal(201, ok.status)
    assert.equal(1, cjson.decode(ok.body).failures) -- the bad ones were not kept
    local form = emu:handle{ method = "POST", path = "/_emulator/stack-sets/failures", query = "", peer = "127.0.0.1",
                             headers = { ["content-type"] = "text/plain" },
                             body = '{"region": "cn-north-4", "domain_id": "d1"}' }
    assert.equal(415, form.status)
  end)

  it("needs Client-Request-Id", function()
    local resp = emu:handle{ method = "GET", path = "/v1/stack-sets", query = "", headers = {}, body = "",
                             peer = "127.0.0.1" }
    assert.equal(400, resp.status)
  end)
end)
