-- rfs.help: what you can do next, for people at a prompt (lua5.4 -i -l rfs, bin/rfs repl).
-- The calls of clients and stacks come from the operation model (rfs.api), so every
-- operation lua-rfs knows is listed, with its RFS name, method, path and parameters.

local api = require "rfs.api"

local help = {}

-- The model, as text --------------------------------------------------------------------------

local SELF = { client = "client", stack = "stack", plan = "plan", template = "template", stack_set = "ss" }
local RESULTS = { stack = "stack", deployment = "{ deployment_id }", ["true"] = "true", list = "list",
                  location = "{ location [, body] }", table = "table", template = "template",
                  version = "{ version_id }", content = "the template text", stack_set = "StackSet",
                  operation = "{ stack_set_operation_id }", plan = "ExecutionPlan",
                  items = "items (tostring: the plan diff)", prices = "{ currency, items }" }

local function call_of(op)
  local has_opts = false
  for _, p in ipairs(op.params) do has_opts = has_opts or not p.from end
  local opts = op.when and ("{ " .. op.when .. " = }") or (has_opts and "{...}" or nil)
  local call = SELF[op.on] .. ":" .. op.lua
  -- positional arguments (op.args): client:create_stack(name, {...}), ss:instance(region, domain_id [, {...}])
  if op.args then
    local tail = not has_opts and "" or (op.args[1] == "name" and ", {...}" or " [, {...}]")
    return call .. "(" .. table.concat(op.args, ", ") .. tail .. ")"
  end
  return call .. (opts or "()")
end
help.call_of = call_of

local function limits_of(p)
  local parts = { p.type }
  if p.required then parts[#parts + 1] = "required" end
  if p.min_len and p.max_len then parts[#parts + 1] = p.min_len .. "-" .. p.max_len .. " chars"
  elseif p.max_len then parts[#parts + 1] = "<= " .. p.max_len .. " chars" end
  if p.min and p.max then parts[#parts + 1] = p.min .. "-" .. p.max end
  if p.max_items then parts[#parts + 1] = "<= " .. p.max_items .. " items" end
  if p.format then parts[#parts + 1] = p.format end
  return table.concat(parts, ", ")
end

--- Everything about one operation: Lua call, RFS name, method + path, parameters, summary.
function help.operation(op)
  local lines = {
    string.format("%s -> %s", call_of(op), RESULTS[op.result] or op.result),
    string.format("  %s: %s %s -> %d", op.name, op.method, op.path, op.status),
    "  " .. op.summary,
  }
  for _, p in ipairs(op.params) do
    if not p.from then
      lines[#lines + 1] = string.format("    %-30s %-28s %s", p.name, limits_of(p), p.doc or "")
    end
  end
  for _, g in ipairs(op.one_of or {}) do lines[#lines + 1] = "    at most one of: " .. table.concat(g, ", ") end
  for _, g in ipairs(op.required_one_of or {}) do
    lines[#lines + 1] = "    exactly one of: " .. table.concat(g, ", ")
  end
  if op.paging then lines[#lines + 1] = "    every page unless all = false (then also the next marker)" end
  if op.when then lines[#lines + 1] = "    (chosen when " .. op.when .. " is given)" end
  return table.concat(lines, "\n")
end

-- One line per operation on `on`: the call, the RFS name and the summary.
local function summary_of(on)
  local lines = {}
  for _, op in ipairs(api.operations) do
    if op.on == on then
      lines[#lines + 1] = string.format("%-40s %-22s %s", call_of(op), op.name, op.summary)
    end
  end
  return table.concat(lines, "\n")
end

--- Every operation of the model, one line each.
function help.operations()
  local out = {}
  for _, on in ipairs({ "client", "stack", "plan", "template", "stack_set" }) do
    local s = summary_of(on)
    if s ~= "" then out[#out + 1] = s end
  end
  return table.concat(out, "\n")
end

local TEXT = {
  module = [[
rfs.new{ region =, endpoint =, project_id =, ... }  -> client   (AK/SK from HUAWEICLOUD_SDK_AK/SK)
rfs.sign{ method, url, headers, body, ak, sk, date } -> the signing headers
rfs.wait_all(stacks, opts)                          -> a result per stack
rfs.progress.human() / rfs.progress.json()          -> on_progress renderers
rfs.help(obj)                                       -> what you can do with obj
rfs.help("deploy") / rfs.help("DeployStack")        -> one operation: parameters and limits
every operation:
]] .. help.operations(),
  client = [[
client:stack(name [, { stack_id = uuid }])  -> stack (no request yet)
client:template(name [, { template_id = uuid }])  -> template (no request yet)
client:stack_set(name [, { stack_set_id = uuid }])  -> ss (no request yet)
]] .. summary_of("client") .. [[

client:close()                               release the connection (also on collection)
client.endpoint, client.project_id, client.region]],
  stack = summary_of("stack") .. [[

stack:wait{ on_progress = rfs.progress.human() }  -> { ok, status, elapsed, polls, failures }
                                  (follows the last create, deploy, continue or delete)
stack.name, stack.id, stack.status, stack.deployment_id, stack.operation
rfs.help("deploy") says every option of one call]],
  plan = summary_of("plan") .. [[

plan:wait{ on_progress = rfs.progress.human() }  -> { ok, status, status_message }  (AVAILABLE or CREATION_FAILED)
print(plan:items())                   the plan as a diff: + add, - delete, ~ update, -/+ replace
plan.name, plan.id, plan.status, plan.stack; after plan:apply(), plan.stack:wait{} follows the deployment]],
  template = summary_of("template") .. [[

template.name, template.id, template.description, template.latest_version_id (from a listing or a create)
rfs.help("version_content") says every option of one call]],
  stack_set = summary_of("stack_set") .. [[

ss:wait{ on_progress = rfs.progress.human() }  -> { ok, status, regions, failures }: one line per region
                                  (follows the last deploy or *_instances call, or operation_id =)
ss.name, ss.id, ss.status, ss.operation_id
rfs.help("create_instances") says every option of one call]],
  error = [[
err.kind     auth forbidden invalid_state not_found conflict throttled server bad_request
             network timeout tls decode
err.status, err.code, err.message, err.details
err.request_id (sent Client-Request-Id), err.server_request_id (X-Request-Id)
err.retryable, err.retry_after; tostring(err) says what to do]],
  metadata = [[
meta.status, meta.status_message, meta.stack_id, meta.update_time, meta.enable_auto_rollback, ...
if meta.status == "DEPLOYMENT_FAILED" then stack:continue_deploy() end
if meta.status == "ROLLBACK_FAILED"   then stack:continue_rollback() end]],
  result = [[
res.ok, res.status, res.rolled_back, res.elapsed, res.polls
res.failures: { resource_name, event_type, event_message, time } for each failure event]],
}

local function kind_of(obj)
  if obj == nil then return "module" end
  local ok, name = pcall(function()
    local mt = getmetatable(obj)
    if type(mt) == "string" then
      local s = tostring(obj)
      return s:match("^rfs%.Client") and "client" or (s:match("^rfs%.StackSet%(") and "stack_set")
        or (s:match("^rfs%.Stack") and "stack") or (s:match("^rfs%.Template%(") and "template")
        or (s:match("^rfs%.ExecutionPlan%(") and "plan")
    end
    return mt and mt.__name
  end)
  name = ok and name or nil
  if name == "client" or name == "stack" or name == "plan" or name == "template" or name == "stack_set" then
    return name
  end
  if name == "rfs.error" then return "error" end
  if name == "rfs.Metadata" then return "metadata" end
  if name == "rfs.WaitResult" then return "result" end
  return nil
end

-- An operation named by its Lua method or RFS name ("deploy", "stack:deploy", "DeployStack").
local function find_operation(name)
  if api.by_name[name] then return api.by_name[name] end
  local on, method = name:match("^(%w+)[:.]([%w_]+)$")
  if on then
    for key, self in pairs(SELF) do
      if self == on and api.by_method[key] then return api.by_method[key][method] end
    end
    return nil
  end
  for _, op in ipairs(api.operations) do
    if op.lua == name then return op end
  end
end

--- The help text for obj (or the module); nil for things rfs does not know.
function help.text(obj)
  if type(obj) == "string" then
    local op = find_operation(obj)
    if not op then return nil end
    local text = help.operation(op)
    -- two entries behind one method (stack:delete): show both
    for _, other in ipairs(api.operations) do
      if other ~= op and other.on == op.on and other.lua == op.lua then text = text .. "\n" .. help.operation(other) end
    end
    return text
  end
  local k = kind_of(obj)
  return k and TEXT[k]
end

--- rfs.help([obj]) prints what you can do next.
function help.print(obj, out)
  local t = help.text(obj)
  if not t and type(obj) == "string" then
    t = "rfs.help: no operation named " .. string.format("%q", obj) .. "\n" .. TEXT.module
  end
  t = t or ("rfs.help: nothing to say about a " .. type(obj) .. "\n" .. TEXT.module)
  ;(out or io.stdout):write(t, "\n")
end

return help
