-- Stack sets: every operation of the client against the emulator's state machine in-process
-- (real signing and verification, a fake clock), tolerance and concurrency included.
local cjson = require "cjson"
local inproc = require "inproc"

local TEMPLATE = [[
variable "env" {
  type    = string
  default = "dev"
}

variable "size" {
  type    = string
  default = "s1"
}

resource "huaweicloud_vpc" "main" {
  name = "vpc-${var.env}"
  cidr = "10.0.0.0/16"
}
]]

local NEEDS_VAR = [[
variable "owner" {
  type = string
}

resource "huaweicloud_vpc" "main" {
  name = "vpc-${var.owner}"
}
]]

local AGENCIES = { administration_agency_urn = "iam::0123:agency:rf_admin_trust", managed_agency_name = "rf_managed" }

local function opts(t)
  local o = { template_body = TEMPLATE }
  for k, v in pairs(AGENCIES) do o[k] = v end
  for k, v in pairs(t or {}) do o[k] = v end
  return o
end

local function targets(regions, domains) return { regions = regions, domain_ids = domains } end

-- Control requests carry the JSON content type, as the emulator asks of them.
local function control(w, path, body)
  local resp = w.emu:handle{ method = "POST", path = path, query = "", body = cjson.encode(body), peer = "127.0.0.1",
                             headers = { ["content-type"] = "application/json" } }
  assert(resp.status < 300, resp.body)
end

local function fail_instance(w, region, domain, message, count)
  control(w, "/_emulator/stack-sets/failures", { region = region, domain_id = domain, message = message,
                                                 count = count })
end

local function by_pair(list)
  local out = {}
  for _, i in ipairs(list) do out[i.region .. "/" .. i.stack_domain_id] = i end
  return out
end

describe("stack sets against the emulator", function()
  local w, client, quick

  before_each(function()
    w = inproc.new{ queue_seconds = 2 }
    client = w:client()
    quick = { sleep = w.sleep, clock = w.clock, interval = 1, max_interval = 5 }
  end)

  local function wait(ss, extra)
    local o = {}
    for k, v in pairs(quick) do o[k] = v end
    for k, v in pairs(extra or {}) do o[k] = v end
    return ss:wait(o)
  end

  it("creates a set synchronously, lists it with a filter and reads its metadata", function()
    local ss = assert(client:create_stack_set("rollout", opts{ description = "platform baseline",
      initial_stack_description = "made by the rollout set", managed_operation = { enable_parallel_operation = false } }))
    assert.matches("^rfs%.StackSet%(rollout, id=%x+%-", tostring(ss))
    assert.is_string(ss.id)
    assert.equal("IDLE", ss.status)

    local list = assert(client:stack_sets{ filter = "permission_model==SELF_MANAGED" })
    assert.equal(1, #list)
    assert.is_true(list[1] == ss)
    assert.equal("platform baseline", list[1].stack_set_description)
    assert.equal(0, #assert(client:stack_sets{ filter = "permission_model==SERVICE_MANAGED" }))

    local meta = assert(ss:metadata())
    assert.equal("platform baseline", meta.stack_set_description)
    assert.equal("made by the rollout set", meta.initial_stack_description)
    assert.equal("rf_managed", meta.managed_agency_name)
    assert.is_false(meta.managed_operation.enable_parallel_operation)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", meta.create_time)
    assert.matches("rollout IDLE", tostring(meta))

    local _, err = client:create_stack_set("rollout", opts())
    assert.equal("conflict", err.kind)
    assert.equal(409, err.status)
  end)

  it("rolls out to three regions x two accounts with a tolerance of one failure, and digests the failure", function()
    local ss = assert(client:create_stack_set("rollout", opts()))
    fail_instance(w, "cn-south-1", "0002", "quota exceeded for resource type vpc")
    local reports = {}
    local op = assert(ss:create_instances{
      deployment_targets = targets({ "cn-north-4", "cn-south-1", "ap-southeast-1" }, { "0001", "0002" }),
      operation_preferences = { failure_tolerance_count = 1, max_concurrent_count = 2 } })
    assert.matches("^%x+%-", op.stack_set_operation_id)
    assert.equal(op.stack_set_operation_id, ss.operation_id)
    local res = assert(wait(ss, { on_progress = function(p) reports[#reports + 1] = p end }))
    assert.is_true(res.ok, tostring(res))
    assert.equal("OPERATION_COMPLETE", res.status)
    assert.equal("CREATE_STACK_INSTANCES", res.action)
    assert.equal(1, #res.failures)
    assert.same({ region = "cn-south-1", domain_id = "0002", status = "OPERATION_FAILED",
                  status_message = "quota exceeded for resource type vpc" }, res.failures[1])
    local text = tostring(res)
    assert.matches("^rollout CREATE_STACK_INSTANCES OPERATION_COMPLETE after %d+s %(%d+ polls%)\n", text)
    assert.matches("\n  ap%-southeast%-1 +2 instances: 2 OPERATION_COMPLETE", text)
    assert.matches("\n  cn%-south%-1 +2 instances: 1 OPERATION_COMPLETE, 1 OPERATION_FAILED; 0002 %(quota exceeded",
                   text)
    -- one line per region after the operation's
    assert.equal(4, select(2, text:gsub("\n", "\n")) + 1)
    -- every instance reported its way to the end, oldest state first
    local seen = {}
    for _, p in ipairs(reports) do
      if p.type == "instance" then
        local k = p.region .. "/" .. p.domain_id
        seen[k] = seen[k] or {}
        seen[k][#seen[k] + 1] = p.status
      end
    end
    assert.same({ "WAIT_IN_PROGRESS", "OPERATION_IN_PROGRESS", "OPERATION_FAILED" }, seen["cn-south-1/0002"])
    assert.equal("done", reports[#reports].type)

    local instances = by_pair(assert(ss:instances()))
    assert.equal("OPERATION_COMPLETE", instances["cn-north-4/0001"].status)
    assert.equal(op.stack_set_operation_id, instances["cn-north-4/0001"].latest_stack_set_operation_id)
    local failed = assert(ss:instances{ filter = "status==OPERATION_FAILED" })
    assert.equal(1, #failed)
    assert.equal("cn-south-1", failed[1].region)
  end)

  it("fails the operation and cancels waiting instances in every region once a SEQUENTIAL region exceeds its tolerance",
     function()
    local ss = assert(client:create_stack_set("seq", opts()))
    fail_instance(w, "r1", "a1", "boom")
    assert(ss:create_instances{ deployment_targets = targets({ "r1", "r2" }, { "a1", "a2", "a3" }),
                                operation_preferences = { region_order = { "r1", "r2" } } })
    local res = assert(wait(ss))
    assert.is_false(res.ok)
    assert.equal("OPERATION_FAILED", res.status)
    assert.matches("failure tolerance exceeded: region r1", res.status_message)
    local inst = by_pair(assert(ss:instances()))
    assert.equal("OPERATION_FAILED", inst["r1/a1"].status)
    for _, k in ipairs({ "r1/a2", "r1/a3", "r2/a1", "r2/a2", "r2/a3" }) do
      assert.equal("CANCEL_COMPLETE", inst[k].status, k)
    end
    assert.equal(6, #res.failures)
    assert.matches("r2 +3 instances: 3 CANCEL_COMPLETE", tostring(res))
  end)

  it("with PARALLEL regions cancels only the region that exceeded its tolerance", function()
    local ss = assert(client:create_stack_set("par", opts()))
    fail_instance(w, "r1", "a1", "boom")
    assert(ss:create_instances{ deployment_targets = targets({ "r1", "r2" }, { "a1", "a2" }),
                                operation_preferences = { region_concurrency_type = "PARALLEL" } })
    local res = assert(wait(ss))
    assert.is_false(res.ok)
    local inst = by_pair(assert(ss:instances()))
    assert.equal("CANCEL_COMPLETE", inst["r1/a2"].status)
    assert.equal("OPERATION_COMPLETE", inst["r2/a1"].status)
    assert.equal("OPERATION_COMPLETE", inst["r2/a2"].status)
  end)

  it("STRICT lowers concurrency as failures accumulate; SOFT keeps it and lets failures pass tolerance + 1", function()
    local function run(mode)
      local world = inproc.new{}
      local c = world:client()
      local ss = assert(c:create_stack_set("m", opts()))
      for _, d in ipairs({ "a1", "a3", "a4" }) do
        local resp = world.emu:handle{ method = "POST", path = "/_emulator/stack-sets/failures", query = "",
          peer = "127.0.0.1", headers = { ["content-type"] = "application/json" },
          body = cjson.encode{ region = "r1", domain_id = d, message = "boom" } }
        assert.equal(201, resp.status)
      end
      assert(ss:create_instances{ deployment_targets = targets({ "r1" }, { "a1", "a2", "a3", "a4" }),
        operation_preferences = { failure_tolerance_count = 1, max_concurrent_count = 2, failure_tolerance_mode = mode } })
      local res = assert(ss:wait{ sleep = world.sleep, clock = world.clock, interval = 1 })
      local counts = {}
      for _, i in ipairs(assert(ss:instances())) do counts[i.status] = (counts[i.status] or 0) + 1 end
      return res, counts
    end
    -- a1 fails in the first batch of two; STRICT then runs one at a time: a3 fails, a4 is cancelled
    local strict, sc = run("STRICT_FAILURE_TOLERANCE")
    assert.is_false(strict.ok)
    assert.same({ OPERATION_FAILED = 2, OPERATION_COMPLETE = 1, CANCEL_COMPLETE = 1 }, sc) -- tolerance + 1 at most
    -- SOFT keeps two at once: a3 and a4 run together and both fail, past tolerance + 1
    local soft, fc = run("SOFT_FAILURE_TOLERANCE")
    assert.is_false(soft.ok)
    assert.same({ OPERATION_FAILED = 3, OPERATION_COMPLETE = 1 }, fc)
  end)

  it("refuses a second operation with 403 (invalid_state) unless parallel operations are on", function()
    local ss = assert(client:create_stack_set("one", opts()))
    assert(ss:create_instances{ deployment_targets = targets({ "r1" }, { "a1" }) })
    local _, err = ss:create_instances{ deployment_targets = targets({ "r2" }, { "a1" }) }
    assert.equal(403, err.status)
    assert.equal("invalid_state", err.kind)
    assert.matches("OPERATION_IN_PROGRESS", tostring(err))
    -- update is refused while the operation runs
    local _, uerr = ss:update{ description = "x" }
    assert.equal("invalid_state", uerr.kind)
    assert(wait(ss))
    assert.is_true(ss:update{ description = "x", managed_operation = { enable_parallel_operation = true } })
    local a = assert(ss:create_instances{ deployment_targets = targets({ "r2" }, { "a1" }) })
    local b = assert(ss:create_instances{ deployment_targets = targets({ "r3" }, { "a1" }) })
    assert.is_true(assert(wait(ss, { operation_id = a.stack_set_operation_id })).ok)
    assert.is_true(assert(wait(ss, { operation_id = b.stack_set_operation_id })).ok)
    local ops = assert(ss:operations{ filter = "status==OPERATION_COMPLETE,action==CREATE_STACK_INSTANCES" })
    assert.equal(3, #ops)
    assert.equal("CREATE_STACK_INSTANCES", ops[1].action)
    local meta = assert(ss:operation_metadata(a.stack_set_operation_id))
    assert.equal("OPERATION_COMPLETE", meta.status)
    assert.same({ "r2" }, meta.deployment_targets.regions)
  end)

  it("deploys a new template, updates instances with var overrides and reads one instance", function()
    local ss = assert(client:create_stack_set("vars", opts()))
    assert(ss:create_instances{ deployment_targets = targets({ "r1" }, { "a1", "a2" }),
                                operation_preferences = { max_concurrent_count = 1 } })
    assert(wait(ss))
    local _, err = ss:update_instances{ deployment_targets = targets({ "r1" }, { "a1" }),
                                        var_overrides = { vars_body = 'nope = "x"' } }
    assert.equal(400, err.status)
    assert.matches("nope", err.message)
    assert(ss:update_instances{ deployment_targets = targets({ "r1" }, { "a1" }),
                                var_overrides = { vars_body = 'env = "prod"' } })
    assert.is_true(assert(wait(ss)).ok)
    local one = assert(ss:instance("r1", "a1"))
    assert.equal("r1", one.region)
    assert.equal("a1", one.stack_domain_id)
    assert.equal('"prod"', one.var_overrides.env)
    local _, nerr = ss:instance("r9", "a1")
    assert.equal("not_found", nerr.kind)
    -- the options the model gives the call go as its query
    assert.equal("a1", assert(ss:instance("r1", "a1", { call_identity = "SELF" })).stack_domain_id)
    local last = w:requests()[#w:requests()]
    assert.matches("/stack%-instances/r1%%2Fa1$", last.path)
    assert.matches("^call_identity=SELF&stack_set_id=", last.query)

    local dep = assert(ss:deploy{ deployment_targets = targets({ "r1" }, { "a1", "a2" }), template_body = NEEDS_VAR,
                                  vars_body = 'owner = "team"' })
    local res = assert(wait(ss, { operation_id = dep.stack_set_operation_id }))
    assert.is_true(res.ok, tostring(res))
    assert.equal("DEPLOY_STACK_SET", res.action)
    local t = assert(ss:template{ download = true })
    assert.matches("var.owner", t.body, 1, true)
    -- a deploy without the variable's value fails every instance: the template reader reads it
    assert(ss:deploy{ deployment_targets = targets({ "r1" }, { "a1" }), template_body = NEEDS_VAR,
                      operation_preferences = { failure_tolerance_count = 1 } })
    res = assert(wait(ss))
    assert.equal(1, #res.failures)
    assert.matches("variable owner has no value", res.failures[1].status_message)
  end)

  it("deletes instances (either form), then the set; not before", function()
    local ss = assert(client:create_stack_set("gone", opts()))
    assert(ss:create_instances{ deployment_targets = targets({ "r1" }, { "a1", "a2" }),
                                operation_preferences = { max_concurrent_count = 1 } })
    assert(wait(ss))
    local _, err = ss:delete()
    assert.equal("invalid_state", err.kind)
    assert.matches("no instances", err.message)
    assert(ss:delete_instances{ deployment_targets = targets({ "r1" }, { "a1" }) })
    assert.is_true(assert(wait(ss)).ok)
    assert(ss:delete_instances{ deployment_targets = targets({ "r1" }, { "a2" }), legacy_delete = true })
    assert.is_true(assert(wait(ss)).ok)
    assert.equal(0, #assert(ss:instances()))
    local methods = {}
    for _, r in ipairs(w:requests()) do
      if r.path:match("stack%-instances") then methods[#methods + 1] = r.method .. " " .. r.path end
    end
    assert.is_truthy(table.concat(methods, "\n"):find("DELETE /v1/stack-sets/gone/stack-instances", 1, true))
    assert.is_true(ss:delete())
    local _, merr = ss:metadata()
    assert.equal("not_found", merr.kind)
  end)

  it("sends the instance address as one path segment, its / as %2F, with no project_id in the path", function()
    local ss = assert(client:create_stack_set("addr", opts()))
    assert(ss:create_instances{ deployment_targets = targets({ "cn-north-4" }, { "dom1" }) })
    assert(wait(ss))
    assert(ss:instance("cn-north-4", "dom1"))
    local log = w:requests()
    assert.equal("/v1/stack-sets/addr/stack-instances/cn-north-4%2Fdom1", log[#log].path)
    for _, r in ipairs(log) do assert.matches("^/v1/stack%-sets", r.path) end
  end)

  it("times out with the operation id to resume with, and resumes from another object", function()
    local ss = assert(client:create_stack_set("slow", opts()))
    local op = assert(ss:create_instances{ deployment_targets = targets({ "r1", "r2", "r3" }, { "a1", "a2" }) })
    local _, err = wait(ss, { timeout = 5 })
    assert.equal("timeout", err.kind)
    assert.matches(op.stack_set_operation_id, tostring(err), 1, true)
    local again = client:stack_set("slow")
    assert.is_nil(again.operation_id)
    local res = assert(wait(again, { operation_id = op.stack_set_operation_id }))
    assert.is_true(res.ok)
  end)
end)

describe("stack set misuse raises before anything is sent", function()
  local w, client, ss
  setup(function()
    w = inproc.new{}
    client = w:client()
    ss = client:stack_set("rollout")
  end)

  local function raises(pattern, fn)
    local ok, err = pcall(fn)
    assert.is_false(ok)
    assert.matches(pattern, tostring(err))
  end

  it("checks names, ids, enums, targets, preferences and filters", function()
    raises("invalid stack_set name 'bad name'", function() client:stack_set("bad name") end)
    raises("stack_set_id.*UUID", function() client:stack_set("ok", { stack_set_id = "nope" }) end)
    raises("unknown option 'region'", function() client:stack_set("ok", { region = "x" }) end)
    raises("option 'permission_model' must be one of SELF_MANAGED, SERVICE_MANAGED",
           function() client:create_stack_set("x", { permission_model = "MINE" }) end)
    raises("option 'deployment_targets' is required", function() ss:create_instances{} end)
    raises("option 'deployment_targets.regions' is required",
           function() ss:create_instances{ deployment_targets = { domain_ids = { "a" } } } end)
    raises("option 'deployment_targets.regions' must have at least 1 item",
           function() ss:create_instances{ deployment_targets = { regions = {}, domain_ids = { "a" } } } end)
    raises("unknown member 'region'", function() ss:deploy{ deployment_targets = { region = "r1" } } end)
    raises("option 'operation_preferences.failure_tolerance_percentage' must be between 0 and 100",
           function() ss:deploy{ deployment_targets = targets({ "r" }, { "a" }),
                                 operation_preferences = { failure_tolerance_percentage = 150 } } end)
    raises("pass at most one of failure_tolerance_count and failure_tolerance_percentage",
           function() ss:deploy{ deployment_targets = targets({ "r" }, { "a" }),
                                 operation_preferences = { failure_tolerance_count = 1,
                                                           failure_tolerance_percentage = 10 } } end)
    raises("region_concurrency_type' must be one of SEQUENTIAL, PARALLEL",
           function() ss:deploy{ deployment_targets = targets({ "r" }, { "a" }),
                                 operation_preferences = { region_concurrency_type = "parallel" } } end)
    raises("option 'filter': term 'status=OPERATION_FAILED' is not key==value",
           function() ss:operations{ filter = "status=OPERATION_FAILED" } end)
    raises("option 'filter': unknown key 'region'", function() ss:operations{ filter = "region==x" } end)
    raises("mixes keys", function() ss:operations{ filter = "status==A|action==B" } end)
    raises("term 'status==a%-b'", function() ss:instances{ filter = "status==a-b" } end)
    raises("operation_id must be a 36%-character UUID", function() ss:operation_metadata("x") end)
    raises("region must be a string", function() ss:instance("cn/north", "a") end)
    raises("domain_id must be a string", function() ss:instance("r1", nil) end)
    raises("unknown option 'stack_set_id'", function() ss:instance("r1", "a", { stack_set_id = "x" }) end)
    raises("option 'call_identity' must be one of SELF, DELEGATED_ADMIN",
           function() ss:operation_metadata("4a7d8f0e-1c2b-4d3e-9f8a-7b6c5d4e3f2a", { call_identity = "ME" }) end)
    raises("no operation to wait for", function() ss:wait{} end)
    raises("option 'sort_dir' must be one of asc, desc", function() client:stack_sets{ sort_dir = { "up" } } end)
    assert.equal(0, #w:requests())
  end)

  it("accepts the documented filter grammar: ',' AND, '|' OR binding tighter", function()
    local list, err = ss:operations{ filter = "status==OPERATION_FAILED|status==OPERATION_COMPLETE,action==DEPLOY_STACK_SET" }
    assert.is_nil(list)
    assert.equal("not_found", err.kind) -- sent: the set does not exist
  end)
end)
