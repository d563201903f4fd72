-- Execution plans through the Lua API against the emulator's state machine (in process,
-- real signing, a fake clock): every operation, the documented refusals, plan expiry, the
-- id guards, and stack:wait{} following an apply.
local inproc = require "inproc"

local V1 = [[
resource "huaweicloud_vpc" "vpc" {
  name = "vpc-one"
  cidr = "192.168.0.0/16"
}

resource "huaweicloud_obs_bucket" "logs" {
  bucket = "logs"
}
]]

-- V1 with the VPC renamed, the bucket gone and two servers added.
local V2 = [[
variable "admin_password" {
  type      = string
  sensitive = true
}

resource "huaweicloud_vpc" "vpc" {
  name = "vpc-two"
  cidr = "192.168.0.0/16"
}

resource "huaweicloud_compute_instance" "web" {
  count      = 2
  name       = "web"
  flavor_id  = "s6.small.1"
  admin_pass = var.admin_password
  vpc_id     = huaweicloud_vpc.vpc.id
}

resource "huaweicloud_kafka_topic" "events" {
  name = "events"
}
]]

local OTHER_ID = "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"

describe("execution plans", function()
  local w, client, stack, fast

  local function ready_plan(name, template)
    local plan = assert(stack:create_plan(name, { template_body = template or V2 }))
    local res = assert(plan:wait(fast))
    assert.is_true(res.ok, tostring(res))
    return plan
  end

  before_each(function()
    w = inproc.new{}
    client = w:client()
    fast = { sleep = w.sleep, clock = w.clock, interval = 1, max_interval = 2 }
    stack = assert(client:create_stack("web", { template_body = V1 }))
    assert.is_true(assert(stack:wait(fast)).ok)
  end)
  after_each(function() client:close() end)

  it("creates a plan that is computed over time, then reads as a diff", function()
    local plan = assert(stack:create_plan("add-web", { template_body = V2, description = "two servers",
                                                       vars = { admin_password = "hunter2" } }))
    assert.matches("^rfs%.ExecutionPlan%(add%-web, id=%x+%-", tostring(plan))
    assert.equal("CREATION_IN_PROGRESS", plan.status)
    assert.equal(stack, plan.stack)

    local _, early = plan:items()
    assert.equal("invalid_state", early.kind)
    assert.matches("CREATION_IN_PROGRESS", tostring(early))
    assert.matches("plan:wait{}", tostring(early), 1, true)

    local progress = {}
    local res = assert(plan:wait{ sleep = w.sleep, clock = w.clock, interval = 1,
                                  on_progress = function(p) progress[#progress + 1] = p.type .. ":" .. tostring(p.status) end })
    assert.is_true(res.ok)
    assert.equal("AVAILABLE", res.status)
    assert.matches("^web plan add%-web AVAILABLE after %d+s", tostring(res))
    assert.equal("status:AVAILABLE", progress[#progress - 1])
    assert.equal("AVAILABLE", plan.status)

    local meta = assert(plan:metadata())
    assert.equal("two servers", meta.description)
    assert.equal(plan.id, meta.execution_plan_id)
    assert.same({ resource_add = 3, resource_update = 1, resource_delete = 1, resource_import = 0 }, meta.summary)
    assert.matches("3 to add, 1 to change, 1 to delete", tostring(meta))

    local items = assert(plan:items())
    assert.same({ add = 3, change = 1, delete = 1, import = 0 }, items.summary)
    local text = tostring(items)
    assert.matches('~ huaweicloud_vpc.vpc\n    ~ name = "vpc-one" → "vpc-two"\n', text, 1, true)
    assert.matches("+ huaweicloud_compute_instance.web[1]\n", text, 1, true)
    assert.matches("    + vpc_id     = (known after apply)\n", text, 1, true)
    assert.matches("    + admin_pass = (sensitive value)\n", text, 1, true)
    assert.matches("- huaweicloud_obs_bucket.logs\n", text, 1, true)
    assert.matches("\n3 to add, 1 to change, 1 to delete.$", text)
    assert.not_matches("hunter2", text, 1, true)
  end)

  it("lists the stack's plans, newest first, as ExecutionPlan objects with their status", function()
    local first = ready_plan("first")
    assert(stack:create_plan("second", { template_body = V1 }))
    local list = assert(stack:plans())
    assert.equal(2, #list)
    assert.equal("second", list[1].name)
    assert.equal("CREATION_IN_PROGRESS", list[1].status)
    assert.equal("first", list[2].name)
    assert.equal("AVAILABLE", list[2].status)
    assert.is_true(list[2] == first)
    assert.is_string(list[2].create_time)
    assert.equal("", list[2].description)
    assert.matches("^2 execution plans\n", tostring(list))
    local none = assert(assert(client:create_stack("empty")):plans())
    assert.equal(0, #none)
  end)

  it("prices what the plan adds from the catalogue, and says what it cannot price", function()
    local plan = ready_plan("p")
    local prices = assert(plan:prices())
    assert.equal("CNY", prices.currency)
    assert.equal(3, #prices.items)
    local web = prices.items[1]
    assert.equal("huaweicloud_compute_instance", web.resource_type)
    assert.equal("0", web.index)
    assert.equal("POST_PAID", web.resource_price[1].charge_mode)
    assert.is_number(web.resource_price[1].sale_price)
    local kafka = prices.items[3]
    assert.is_false(kafka.supported)
    assert.matches("huaweicloud_kafka_topic", kafka.unsupported_message)
    local text = tostring(prices)
    assert.matches("huaweicloud_compute_instance.web[0]", text, 1, true)
    assert.matches("not priced:", text, 1, true)
  end)

  it("applies a plan: the stack deploys it and stack:wait{} follows that deployment", function()
    local plan = ready_plan("p")
    local dep = assert(plan:apply())
    assert.matches("^apply accepted: deployment_id ", tostring(dep))
    assert.equal(dep.deployment_id, stack.deployment_id)
    assert.equal("apply", stack.operation)
    assert.equal("APPLY_IN_PROGRESS", plan.status)
    local res = assert(stack:wait(fast))
    assert.is_true(res.ok, tostring(res))
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.equal(dep.deployment_id, res.deployment_id)
    assert.equal("APPLIED", assert(plan:metadata()).status)
    assert.is_string(plan:metadata().apply_time)
    local names = {}
    for _, r in ipairs(assert(stack:resources())) do names[#names + 1] = r.logical_resource_name end
    table.sort(names)
    assert.same({ "events", "vpc", "web", "web" }, names)
    -- the plan can no longer be applied
    local _, err = plan:apply()
    assert.equal("invalid_state", err.kind)
    assert.equal(403, err.status)
    assert.equal("RF.10012543", err.code)
  end)

  it("expires every other plan when one is applied, or when the stack is deployed", function()
    local a, b = ready_plan("a"), ready_plan("b", V1)
    assert(a:apply())
    assert(stack:wait(fast))
    local _, err = b:apply()
    assert.equal("invalid_state", err.kind)
    assert.equal("RF.10012545", err.code)
    assert.matches("create a new plan", tostring(err))

    local c = ready_plan("c", V1)
    assert(stack:deploy{ template_body = V2 })
    assert(stack:wait(fast))
    _, err = c:apply()
    assert.equal("RF.10012545", err.code)
    -- an expired plan can still be read and deleted
    assert(c:items())
    assert.is_true(c:delete())
  end)

  it("refuses to apply while the stack is busy, and to delete a plan being created", function()
    local plan = ready_plan("p")
    local creating = assert(stack:create_plan("q", { template_body = V1 }))
    local _, err = creating:delete()
    assert.equal("invalid_state", err.kind)
    assert.equal("RF.10012549", err.code)
    local _, early = creating:apply()
    assert.equal("RF.10012543", early.code)

    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_IN_PROGRESS" }
    _, err = plan:apply()
    assert.equal("invalid_state", err.kind)
    assert.equal("RF.10012542", err.code)
    _, err = stack:create_plan("r", { template_body = V1 })
    assert.equal(403, err.status)
    assert.equal("invalid_state", err.kind) -- the stack is busy, not a missing permission
    assert.matches("wait until the stack's deployment ends", err.hint, 1, true)
  end)

  it("ends CREATION_FAILED with the reason for a template it cannot read", function()
    local plan = assert(stack:create_plan("bad", { template_body = 'resource "huaweicloud_vpc" {' }))
    local res = assert(plan:wait(fast))
    assert.is_false(res.ok)
    assert.equal("CREATION_FAILED", res.status)
    assert.matches("the template is invalid", res.status_message)
    assert.matches("CREATION_FAILED after %d+s %(%d+ polls%): the template is invalid", tostring(res))
    local _, err = plan:items()
    assert.equal("invalid_state", err.kind)
    assert.matches("fix the template", tostring(err))
    local _, perr = plan:prices()
    assert.equal("invalid_state", perr.kind)
    assert.is_true(plan:delete())
  end)

  it("answers a plan name taken (409), an unknown plan or stack (404) and a missing template (misuse)", function()
    ready_plan("p")
    local _, err = stack:create_plan("p", { template_body = V1 })
    assert.equal("conflict", err.kind)
    assert.equal("RF.10013501", err.code)
    _, err = stack:plan("nope"):metadata()
    assert.equal("not_found", err.kind)
    assert.equal("RF.10013002", err.code)
    _, err = client:stack("gone"):create_plan("p", { template_body = V1 })
    assert.equal("RF.10013001", err.code)
    assert.error_matches(function() stack:create_plan("p", {}) end, "pass exactly one of template_body or template_uri")
  end)

  it("sends both ids as guards, so a plan recreated under the same name is never applied", function()
    local old = ready_plan("p")
    local old_id = old.id
    assert.is_true(old:delete())
    ready_plan("p") -- the same name, another plan
    local _, err = old:apply()
    assert.equal("bad_request", err.kind)
    assert.equal("RF.10011018", err.code)
    _, err = stack:plan("p", { execution_plan_id = OTHER_ID }):items()
    assert.equal("RF.10011018", err.code)
    _, err = client:stack("web", { stack_id = OTHER_ID }):plan("p"):metadata()
    assert.equal("RF.10011015", err.code)
    local sent = 0
    for _, r in ipairs(w:requests()) do
      if r.path:find("/execution-plans/p", 1, true) and r.method ~= "POST" and r.query:find(old_id, 1, true)
        and r.query:find("stack_id=" .. stack.id, 1, true) then
        sent = sent + 1
      end
    end
    assert.is_true(sent >= 2) -- the old plan's metadata reads and its delete
  end)

  it("plans a change of a stack with a Chinese name, under a Chinese plan name, as RFS allows", function()
    local cn = assert(client:create_stack("网站", { template_body = V1 }))
    assert.is_true(assert(cn:wait(fast)).ok)
    local plan = assert(cn:create_plan("扩容", { template_body = V2 }))
    assert.is_true(assert(plan:wait(fast)).ok)
    assert.equal("扩容", assert(cn:plans())[1].name)
    assert.is_true(assert(plan:items()).summary.add > 0)
    assert(plan:apply())
    assert.is_true(assert(cn:wait(fast)).ok)
    assert.equal("APPLIED", assert(plan:metadata()).status)
  end)

  it("rfs.help(plan) lists what a plan can do, and rfs.help names every plan operation", function()
    local rfs = require "rfs"
    local text = require("rfs.help").text(stack:plan("p"))
    for _, call in ipairs({ "plan:metadata()", "plan:items()", "plan:prices()", "plan:apply()", "plan:delete()",
                            "plan:wait{" }) do
      assert.matches(call, text, 1, true)
    end
    local all = require("rfs.help").text(nil)
    assert.matches("stack:create_plan(name, {...})", all, 1, true)
    assert.matches("stack:plans{...}", all, 1, true)
    assert.is_function(rfs.help)
  end)

  it("raises on misuse, naming the argument", function()
    local before = #w:requests()
    assert.error_matches(function() stack:plan("1bad") end, "invalid plan name '1bad'")
    assert.error_matches(function() stack:plan("p", { execution_plan_id = "x" }) end, "invalid execution_plan_id 'x'")
    assert.error_matches(function() stack:plan("p", { id = "x" }) end, "unknown option 'id'; known options: execution_plan_id")
    assert.error_matches(function() stack:create_plan(nil, {}) end, "plan name must be a string")
    assert.error_matches(function() stack:create_plan("p", { template_body = V1, colour = 1 }) end,
                         "unknown option 'colour'")
    assert.error_matches(function() stack:plan("p"):apply{ force = true } end, "it takes no options")
    assert.error_matches(function() stack:plan("p"):wait{ timeout = -1 } end, "plan:wait: option 'timeout'")
    assert.equal(before, #w:requests()) -- nothing is sent for misuse
  end)
end)
