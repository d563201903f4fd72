-- rfs.api, the operation model, held against the official Go SDK (spec/fixtures/aos_meta.json,
-- generated from services/aos/v1/aos_meta.go by spec/tools/gen_aos_meta.lua).
local api = require "rfs.api"
local cjson = require "cjson"

local function read_fixture()
  local f = assert(io.open("spec/fixtures/aos_meta.json"))
  local t = cjson.decode(f:read("*a"))
  f:close()
  local by_name = {}
  for _, op in ipairs(t.operations) do by_name[op.name] = op end
  return t, by_name
end

-- What differs between a model entry and the SDK's definition, as readable lines.
local function differences(entry, sdk)
  if not sdk then return { entry.name .. ": not an operation of the official SDK" } end
  local out = {}
  if entry.method ~= sdk.method then
    out[#out + 1] = entry.name .. ": method " .. entry.method .. ", the SDK sends " .. sdk.method
  end
  if entry.path ~= sdk.path then
    out[#out + 1] = entry.name .. ": path " .. entry.path .. ", the SDK's is " .. sdk.path
  end
  local mine, theirs = {}, {}
  for _, p in ipairs(entry.params) do
    if p["in"] == "query" then mine[p.name] = true end
  end
  for _, q in ipairs(sdk.query) do theirs[q] = true end
  for q in pairs(theirs) do
    if not mine[q] then out[#out + 1] = entry.name .. ": query parameter " .. q .. " missing from the model" end
  end
  for q in pairs(mine) do
    if not theirs[q] then out[#out + 1] = entry.name .. ": query parameter " .. q .. " is not in the SDK" end
  end
  for _, p in ipairs(entry.params) do
    if p["in"] == "path" and not entry.path:find("{" .. p.name .. "}", 1, true) then
      out[#out + 1] = entry.name .. ": path parameter " .. p.name .. " is not in the path"
    end
  end
  for name in entry.path:gmatch("{([%w_]+)}") do
    local found = false
    for _, p in ipairs(entry.params) do found = found or (p.name == name and p["in"] == "path") end
    if not found then out[#out + 1] = entry.name .. ": {" .. name .. "} has no path parameter" end
  end
  table.sort(out)
  return out
end

describe("rfs.api", function()
  local fixture, sdk = read_fixture()

  it("records the official SDK commit it was generated from", function()
    assert.matches("^%x+$", fixture.commit)
    assert.equal(40, #fixture.commit)
    assert.is_true(#fixture.operations >= 70)
  end)

  it("matches the official SDK's method, path and query names for every operation", function()
    local all = {}
    for _, entry in ipairs(api.operations) do
      for _, d in ipairs(differences(entry, sdk[entry.name])) do all[#all + 1] = d end
    end
    assert.same({}, all)
  end)

  it("names a wrong path, method or query parameter when an entry drifts from the SDK", function()
    local entry = { name = "DeleteStack", method = "POST", path = "/v1/{project_id}/stack/{stack_name}",
                    params = { { name = "project_id", ["in"] = "path" }, { name = "stack_name", ["in"] = "path" },
                               { name = "stackid", ["in"] = "query" } } }
    assert.same({
      "DeleteStack: method POST, the SDK sends DELETE",
      "DeleteStack: path /v1/{project_id}/stack/{stack_name}, the SDK's is /v1/{project_id}/stacks/{stack_name}",
      "DeleteStack: query parameter stack_id missing from the model",
      "DeleteStack: query parameter stackid is not in the SDK",
    }, differences(entry, sdk.DeleteStack))
    assert.same({ "DeleteStacks: not an operation of the official SDK" }, differences({ name = "DeleteStacks" }, nil))
  end)

  it("has every stack operation, each with the fields the CLI and help read", function()
    local want = { "ListStacks", "CreateStack", "DeployStack", "UpdateStack", "DeleteStack", "DeleteStackEnhanced",
                   "GetStackMetadata", "GetStackTemplate", "ListStackResources", "ListStackOutputs",
                   "ListStackEvents", "ContinueDeployStack", "ContinueRollbackStack", "ParseTemplateVariables" }
    for _, name in ipairs(want) do
      local op = api.by_name[name]
      assert.is_table(op, name)
      assert.is_string(op.summary, name)
      assert.is_string(op.lua, name)
      assert.is_truthy(({ client = 1, stack = 1, plan = 1, template = 1, stack_set = 1 })[op.on], name)
      assert.is_truthy(({ [200] = 1, [201] = 1, [202] = 1, [204] = 1, [307] = 1 })[op.status], name)
      assert.equal(op.method == "GET" or op.method == "HEAD", op.idempotent, name)
      for _, p in ipairs(op.params) do
        assert.is_truthy(({ string = 1, integer = 1, number = 1, boolean = 1, array = 1, object = 1 })[p.type],
                         name .. "." .. p.name)
      end
    end
    assert.equal(api.by_name.DeployStack, api.by_method.stack.deploy)
    assert.equal(api.by_name.DeleteStack, api.by_method.stack.delete)
    assert.equal(api.by_name.CreateStack, api.by_method.client.create_stack)
  end)

  it("has the seven execution plan operations, on stacks and plans, with the ids as guards", function()
    local want = { CreateExecutionPlan = "stack:create_plan", ListExecutionPlans = "stack:plans",
                   GetExecutionPlanMetadata = "plan:metadata", GetExecutionPlan = "plan:items",
                   EstimateExecutionPlanPrice = "plan:prices", ApplyExecutionPlan = "plan:apply",
                   DeleteExecutionPlan = "plan:delete" }
    for name, call in pairs(want) do
      local op = api.by_name[name]
      assert.is_table(op, name)
      assert.same({}, differences(op, sdk[name]))
      assert.equal(call, op.on .. ":" .. op.lua, name)
      assert.equal(op, api.by_method[op.on][op.lua], name)
      assert.equal(op.method == "GET", op.idempotent, name)
      local guards = {}
      for _, p in ipairs(op.params) do
        if p.format == "uuid" then guards[#guards + 1] = p.name .. "@" .. p["in"] end
      end
      table.sort(guards)
      local where = (op.method == "POST") and "body" or "query"
      if op.on == "plan" then
        assert.same({ "execution_plan_id@" .. where, "stack_id@" .. where }, guards, name)
      else
        assert.same({ "stack_id@" .. where }, guards, name)
      end
      assert.is_truthy(op.cli.command:match("^plan %l+$"), name)
    end
    assert.equal(202, api.by_name.CreateExecutionPlan.status)
    assert.equal(202, api.by_name.ApplyExecutionPlan.status)
    assert.equal(204, api.by_name.DeleteExecutionPlan.status)
  end)

  it("has the ten template library operations, with the statuses the reference gives", function()
    local want = {
      CreateTemplate = { "client", "create_template", 200 }, ListTemplates = { "client", "templates", 200 },
      ShowTemplateMetadata = { "template", "metadata", 200 }, UpdateTemplateMetadata = { "template", "update", 204 },
      DeleteTemplate = { "template", "delete", 204 }, CreateTemplateVersion = { "template", "create_version", 200 },
      ListTemplateVersions = { "template", "versions", 200 },
      ShowTemplateVersionMetadata = { "template", "version_metadata", 200 },
      ShowTemplateVersionContent = { "template", "version_content", 307 },
      DeleteTemplateVersion = { "template", "delete_version", 204 },
    }
    local n = 0
    for name, w in pairs(want) do
      local op = api.by_name[name]
      assert.is_table(op, name)
      assert.is_table(sdk[name], name)
      assert.same(w, { op.on, op.lua, op.status }, name)
      assert.equal(op, api.by_method[op.on][op.lua], name)
      assert.equal(op.method == "GET", op.idempotent, name)
      assert.is_string(op.cli and op.cli.command, name)
      assert.matches("^template%-lib ", op.cli.command, nil, nil, name)
      n = n + 1
    end
    assert.equal(10, n)
    -- the guard travels where the SDK puts it: in the body of UpdateTemplateMetadata only
    for _, p in ipairs(api.by_name.UpdateTemplateMetadata.params) do
      if p.name == "template_id" then assert.equal("body", p["in"]) end
    end
    assert.same({ "templates", "versions" }, { api.by_name.ListTemplates.list_key, api.by_name.ListTemplateVersions.list_key })
  end)

  it("has the fifteen stack set operations, domain-level (no project_id), on the client or a StackSet", function()
    local want = { "CreateStackSet", "ListStackSets", "ShowStackSetMetadata", "UpdateStackSet", "DeleteStackSet",
                   "ShowStackSetTemplate", "DeployStackSet", "CreateStackInstance", "UpdateStackInstances",
                   "DeleteStackInstance", "DeleteStackInstanceDeprecated", "ListStackInstances", "ShowStackInstance",
                   "ListStackSetOperations", "ShowStackSetOperationMetadata" }
    assert.equal(15, #want)
    for _, name in ipairs(want) do
      local op = api.by_name[name]
      assert.is_table(op, name)
      assert.same({}, differences(op, sdk[name]))
      assert.is_nil(op.path:find("{project_id}", 1, true), name)
      assert.is_truthy(op.on == "stack_set" or op.on == "client", name)
      assert.equal(op.method == "GET", op.idempotent, name)
      assert.is_string(op.summary, name)
    end
    assert.equal(api.by_name.DeleteStackInstance, api.by_method.stack_set.delete_instances)
    assert.equal(api.by_name.CreateStackSet, api.by_method.client.create_stack_set)
  end)

  it("takes positional arguments one way: the entry's args, and parameters from = \"args\" built from them", function()
    local n = 0
    for _, op in ipairs(api.operations) do
      local listed = {}
      for _, a in ipairs(op.args or {}) do listed[a] = true end
      for _, p in ipairs(op.params) do
        local where = op.name .. "." .. p.name
        assert.is_truthy(p.from == nil or p.from == "object" or p.from == "args", where)
        if p.from == "args" then
          n = n + 1
          assert.equal("path", p["in"], where)
          assert.is_string(p.doc, where)
          for _, a in ipairs(p.args or { p.name }) do assert.is_true(listed[a], where .. ": " .. a .. " not in args") end
        end
      end
      -- the command line takes them after the object's name (a client's: all of them; a
      -- plan's name is two: STACK PLAN)
      if op.cli then
        assert.equal((({ client = 0, plan = 2 })[op.on] or 1) + #(op.args or {}), #op.cli.args, op.name)
      end
    end
    assert.equal(5, n) -- version_id (three entries), stack_instance_addr, stack_set_operation_id
  end)

  it("is data only, so the CLI and help can walk it", function()
    local function walk(v, where)
      assert.is_not.equal("function", type(v), where)
      if type(v) == "table" then
        for k, x in pairs(v) do walk(x, where .. "." .. tostring(k)) end
      end
    end
    walk(api.operations, "api.operations")
  end)
end)
