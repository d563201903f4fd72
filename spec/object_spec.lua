-- One C object type: Stack, ExecutionPlan, Template and StackSet share the userdata of
-- src/stack.c, each kind with its own named metatable and method table.
local core = require "rfs.core"
local fake = require "fake_transport"

local ID = fake.STACK_ID

describe("the object userdata", function()
  local c
  before_each(function() c = fake.client(fake.new()) end)

  it("has a method table per kind that the Lua layer extends", function()
    for _, kind in ipairs({ "Stack", "ExecutionPlan", "Template", "StackSet" }) do
      assert.is_table(core[kind], kind)
      assert.is_function(core[kind]._set, kind)
    end
    assert.is_function(core.Stack.metadata)
    assert.is_nil(core.Template.continue_deploy) -- a stack's methods are not a template's
  end)

  it("reads as its kind, name, id and status", function()
    local plan = c:_object("ExecutionPlan", "add-ecs", ID, c:stack("web"))
    assert.equal("rfs.ExecutionPlan(add-ecs, id=" .. ID .. ", status=unknown (call plan:metadata()))", tostring(plan))
    -- a template has no status: its name and id say what it is
    assert.equal("rfs.Template(net)", tostring(c:_object("Template", "net")))
    assert.equal("rfs.Template(net, id=" .. ID .. ")", tostring(c:_object("Template", "net", ID)))
    assert.equal("rfs.StackSet(rollout, status=unknown (call stack_set:metadata()))",
                 tostring(c:_object("StackSet", "rollout")))
    assert.equal("web", plan.stack.name)
    assert.equal(c, plan.client)
  end)

  it("is equal only to the same kind, name, id and client, never raising", function()
    local s = c:stack("same", { stack_id = ID })
    assert.is_true(s == c:stack("same", { stack_id = ID }))
    assert.is_false(s == c:_object("Template", "same", ID))
    assert.is_false(s == c:_object("StackSet", "same", ID))
    assert.is_false(s == fake.client(fake.new()):stack("same", { stack_id = ID }))
    assert.is_false(s == "same")
    assert.is_false(s == c)
    local p1 = c:_object("ExecutionPlan", "p", nil, c:stack("a"))
    assert.is_true(p1 == c:_object("ExecutionPlan", "p", nil, c:stack("a")))
    assert.is_false(p1 == c:_object("ExecutionPlan", "p", nil, c:stack("b")))
  end)

  it("checks names and ids per kind, naming the id option", function()
    assert.error_matches(function() c:_object("Template", "1net") end, "invalid template name '1net'")
    -- RFS lets a template name start with, and hold, Chinese characters; 128 of them at most
    assert.equal("网络-net_1", c:_object("Template", "网络-net_1").name)
    assert.equal(("库"):rep(128), c:_object("Template", ("库"):rep(128)).name)
    assert.error_matches(function() c:_object("Template", ("库"):rep(129)) end, "1 to 128 characters")
    assert.error_matches(function() c:_object("Template", "net\xe4\xb8") end, "invalid template name")
    assert.error_matches(function() c:_object("Template", "net\xe2\x80\x8b") end, "invalid template name")
    assert.equal("网络", c:stack("网络").name) -- every kind shares RFS's name rule
    assert.error_matches(function() c:stack("1网络") end, "invalid stack name")
    assert.error_matches(function() c:_object("StackSet", "ok", "nope") end, "invalid stack_set_id 'nope'")
    assert.error_matches(function() c:_object("ExecutionPlan", "p", "x", c:stack("a")) end,
                         "invalid execution_plan_id 'x'")
    assert.error_matches(function() c:_object("ExecutionPlan", "p") end, "a plan needs the object it belongs to")
    assert.error_matches(function() c:_object("Blueprint", "p") end, "invalid option 'Blueprint'")
  end)

  it("shows extra read-only fields a listing filled, and refuses writes", function()
    local s = c:stack("web")
    assert.is_nil(s.description)
    s:_fields{ description = "the web tier", create_time = "2026-11-24T00:00:00Z" }
    assert.equal("the web tier", s.description)
    assert.equal("2026-11-24T00:00:00Z", s.create_time)
    assert.is_function(s.metadata) -- methods still found
    s:_fields{ events = "a listing field named like a method" }
    assert.is_function(s.events) -- and never hidden by one
    assert.error_matches(function() s.description = "x" end, "stack field 'description' is read%-only")
  end)
end)
