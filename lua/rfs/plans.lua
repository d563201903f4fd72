-- rfs.plans: execution plans, the careful way to change a stack, as methods built from rfs.api.
--
--   stack:create_plan(name, opts)   stack:plan(name, { execution_plan_id = })   stack:plans(opts)
--   plan:metadata()   plan:items()   plan:prices()   plan:apply()   plan:delete()   plan:wait(opts)
--
-- An ExecutionPlan is the shared C object (metatable rfs.ExecutionPlan) with its stack as
-- owner: plan.name, plan.id, plan.status, plan.stack. Every call sends the stack's id and the
-- plan's id when they are known, so a plan recreated under the same name (or on a recreated
-- stack) is never read, applied or deleted by mistake: RFS answers 400 instead.

local core = require "rfs.core"
local api = require "rfs.api"
local operations = require "rfs.operations"
local errors = require "rfs.errors"
local lifecycle = require "rfs.lifecycle"
local plan_diff = require "rfs.plan_diff"

local plans = {}
local Stack, Plan = core.Stack, core.ExecutionPlan
local OP = api.by_name
local printable = errors.printable

local UUID = operations.UUID
local STATUS_MAX = 32

-- Plan states (and what each means to a caller).
local NOT_READY = { CREATION_IN_PROGRESS = true, CREATION_FAILED = true }
-- 403 codes that say the plan's or the stack's state refuses the call, with what to do.
local STATE_REFUSALS = {
  ["RF.10012519"] = "wait until the stack's deployment ends (stack:wait{}), then create the plan",
  ["RF.10012542"] = "wait until the stack's deployment ends (stack:wait{}), then apply",
  ["RF.10012543"] = "read the plan's status (plan:metadata()); to change the stack again, create a new plan",
  ["RF.10012545"] = "the stack changed after this plan was made: create a new plan",
  ["RF.10012549"] = "wait until the plan is created or applied (plan:wait{} / stack:wait{}), then delete it",
}

local function is_status(v) return operations.is_token(v, STATUS_MAX) end

-- Checks, builds and sends op on the plan (the plan and its stack supply the names and ids;
-- no plan operation has positional arguments past the object's name).
local function run(plan, op, fname, opts)
  local args = operations.check_args(op, fname, nil, 3)
  opts = operations.check(op, fname, opts, 3)
  local method, url, body = operations.request(op, plan.client, plan, opts, nil, args)
  return opts, operations.send(plan.client, op, method, url, body)
end

-- A 403 that names a state refusal is invalid_state, with the way out as its hint.
local function refine(err)
  local hint = err.status == 403 and STATE_REFUSALS[err.code]
  if hint then
    err.kind, err.retryable, err.hint = "invalid_state", false, hint
  end
  return err
end

-- stack:plan / stack:create_plan ---------------------------------------------------------------

local function new_plan(stack, name, id, level)
  local ok, plan = pcall(stack.client._object, stack.client, "ExecutionPlan", name, id, stack)
  if not ok then error((tostring(plan):gsub("^[^:]+:%d+: ", "")), level + 1) end
  return plan
end

--- An ExecutionPlan of this stack; no request is made.
function Stack:plan(name, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("rfs: stack:plan: expected a table of options, got " .. type(opts), 2)
  end
  for k, v in pairs(opts or {}) do
    if k ~= "execution_plan_id" then
      error("rfs: stack:plan: unknown option " .. errors.display(k) .. "; known options: execution_plan_id", 2)
    end
    if type(v) ~= "string" then
      error("rfs: stack:plan: option 'execution_plan_id' must be a string (got " .. type(v) .. ")", 2)
    end
  end
  return new_plan(self, name, opts and opts.execution_plan_id, 2)
end

--- CreateExecutionPlan (202): an ExecutionPlan with plan.id; plan:wait{} until it is AVAILABLE.
function Stack:create_plan(name, opts)
  if type(name) ~= "string" then
    error("rfs: stack:create_plan: plan name must be a string (got " .. type(name) .. ")", 2)
  end
  local plan = new_plan(self, name, nil, 2)
  local _, value, err, request_id = run(plan, OP.CreateExecutionPlan, "stack:create_plan", opts)
  if not value then return nil, refine(err) end
  if type(value.execution_plan_id) ~= "string" or not value.execution_plan_id:match(UUID) then
    return nil, operations.bad_field("create_plan", "execution_plan_id", "36-character UUID", request_id)
  end
  plan:_set("id", value.execution_plan_id)
  plan:_set("status", "CREATION_IN_PROGRESS")
  plan:_set("operation", "create_plan")
  return plan
end

-- stack:plans ---------------------------------------------------------------------------------------

local PLAN_EXTRAS = { "description", "create_time", "apply_time", "status_message" }

local function plan_line(p)
  return string.format("%-30s %-22s %s", p.name, tostring(p.status), tostring(p.id))
end

--- ListExecutionPlans, every page: ExecutionPlan objects with name, id and status, and the
--  listing's description, create_time, apply_time and status_message readable as fields.
function Stack:plans(opts)
  opts = operations.check(OP.ListExecutionPlans, "stack:plans", opts, 2)
  local list, err_or_marker = operations.list(self.client, OP.ListExecutionPlans, self, opts)
  if not list then return nil, err_or_marker end
  local out = {}
  for i, item in ipairs(list) do
    local ok, p = pcall(self.client._object, self.client, "ExecutionPlan", item.execution_plan_name,
                        item.execution_plan_id, self)
    if not ok or not is_status(item.status) then
      return nil, operations.bad_field("plans", "execution_plans[" .. i .. "]",
                                       "execution_plan_name, execution_plan_id and status")
    end
    p:_set("status", item.status)
    lifecycle.keep_fields(p, item, PLAN_EXTRAS)
    out[i] = p
  end
  return lifecycle.as_list(out, #out == 1 and "execution plan" or "execution plans", plan_line), err_or_marker
end

-- plan:metadata ------------------------------------------------------------------------------------

local Metadata = {}
Metadata.__index = Metadata
Metadata.__name = "rfs.ExecutionPlanMetadata"

function Metadata.__tostring(m)
  local s = string.format("%s %s (id %s, created %s)", printable(m.execution_plan_name), printable(m.status),
                          printable(m.execution_plan_id), printable(m.create_time))
  local sum = type(m.summary) == "table" and m.summary or nil
  if sum then
    s = s .. string.format(": %d to add, %d to change, %d to delete", tonumber(sum.resource_add) or 0,
                           tonumber(sum.resource_update) or 0, tonumber(sum.resource_delete) or 0)
    if (tonumber(sum.resource_import) or 0) > 0 then s = s .. string.format(", %d to import", sum.resource_import) end
  end
  if m.status_message and m.status_message ~= "" then s = s .. "; " .. printable(m.status_message) end
  return s
end

local function read_metadata(plan, opts, fname)
  local _, meta, err, request_id = run(plan, OP.GetExecutionPlanMetadata, fname or "plan:metadata", opts)
  if not meta then return nil, err end
  if not is_status(meta.status) then
    return nil, operations.bad_field("metadata", "status", "1-32 printable characters", request_id)
  end
  if meta.execution_plan_id ~= nil and (type(meta.execution_plan_id) ~= "string"
                                        or not meta.execution_plan_id:match(UUID)) then
    return nil, operations.bad_field("metadata", "execution_plan_id", "36-character UUID", request_id)
  end
  if meta.execution_plan_id then plan:_set("id", meta.execution_plan_id) end
  plan:_set("status", meta.status)
  -- the stack's id, once known, guards every later call on the stack and its plans
  if not plan.stack.id and type(meta.stack_id) == "string" and meta.stack_id:match(UUID) then
    plan.stack:_set("id", meta.stack_id)
  end
  return setmetatable(meta, Metadata)
end
plans.read_metadata = read_metadata

--- GetExecutionPlanMetadata: status, status_message, summary = { resource_add, resource_update,
--  resource_delete, resource_import }, create_time, apply_time; refreshes plan.id and plan.status.
function Plan:metadata(opts)
  return read_metadata(self, opts)
end

-- A list the plan has not computed: say so, with the state it is in, rather than "empty".
local function not_ready(plan, what)
  local meta = read_metadata(plan, nil)
  if meta and NOT_READY[meta.status] then
    local why = meta.status == "CREATION_FAILED" and ("; " .. printable(meta.status_message or "it failed"))
      or ""
    return errors.new{ kind = "invalid_state", operation = what, retryable = false,
                       message = ("plan %s of stack %s is %s%s: it has no %s yet"):format(plan.name, plan.stack.name,
                                                                                     meta.status, why, what),
                       hint = meta.status == "CREATION_FAILED" and "fix the template and create a new plan"
                         or "plan:wait{} until it is AVAILABLE" }
  end
end

-- plan:items ---------------------------------------------------------------------------------------

--- GetExecutionPlan: the items (resource_type, resource_name, index, action, action_reason, mode,
--  drifted, imported, resource_id, attributes = { name, previous_value, target_value }).
--  tostring(items) is the plan diff; items.summary = { add, change, delete, import }.
function Plan:items(opts)
  local _, value, err, request_id = run(self, OP.GetExecutionPlan, "plan:items", opts)
  if not value then return nil, err end
  local list = value.execution_plan_items
  if list == nil then
    local why = not_ready(self, "items")
    if why then return nil, why end
    list = {}
  end
  if type(list) ~= "table" then
    return nil, operations.bad_field("items", "execution_plan_items", "array", request_id)
  end
  for i, item in ipairs(list) do
    if type(item) ~= "table" or type(item.action) ~= "string" then
      return nil, operations.bad_field("items", "execution_plan_items[" .. i .. "].action", "string", request_id)
    end
  end
  return plan_diff.items(list)
end

-- plan:prices --------------------------------------------------------------------------------------

local Prices = {}
Prices.__index = Prices
Prices.__name = "rfs.ExecutionPlanPrices"

local function price_text(p, currency)
  if p.charge_mode == "FREE" then return "free" end
  local per = p.period_type and ("/" .. (tonumber(p.period_count) and p.period_count ~= 1 and (p.period_count .. " ")
                                         or "") .. printable(p.period_type)) or ""
  return string.format("%s %.2f %s%s", printable(p.charge_mode or "?"), tonumber(p.sale_price) or 0,
                       printable(currency or ""), per)
end

function Prices.__tostring(t)
  local lines = { string.format("%d priced item%s (%s)", #t.items, #t.items == 1 and "" or "s",
                                printable(t.currency or "no currency")) }
  for _, item in ipairs(t.items) do
    local what = plan_diff.address(item)
    if item.supported == false or type(item.resource_price) ~= "table" then
      lines[#lines + 1] = string.format("  %-44s not priced: %s", what, printable(item.unsupported_message or "unknown"))
    else
      local parts = {}
      for _, p in ipairs(item.resource_price) do
        if type(p) == "table" then parts[#parts + 1] = price_text(p, t.currency) end
      end
      lines[#lines + 1] = string.format("  %-44s %s", what, table.concat(parts, "; "))
    end
  end
  return table.concat(lines, "\n")
end

--- EstimateExecutionPlanPrice: { currency, items = { resource_type, resource_name, index, supported,
--  unsupported_message, resource_price = { charge_mode, sale_price, original_price, discount,
--  period_type, period_count } } } for the resources the plan adds.
function Plan:prices(opts)
  local _, value, err, request_id = run(self, OP.EstimateExecutionPlanPrice, "plan:prices", opts)
  if not value then return nil, err end
  if value.items == nil then
    local why = not_ready(self, "prices")
    if why then return nil, why end
    value.items = {}
  end
  if type(value.items) ~= "table" then return nil, operations.bad_field("prices", "items", "array", request_id) end
  for i, item in ipairs(value.items) do
    if type(item) ~= "table" then return nil, operations.bad_field("prices", "items[" .. i .. "]", "object", request_id) end
  end
  return setmetatable({ currency = value.currency, items = value.items }, Prices)
end

-- plan:apply / plan:delete -------------------------------------------------------------------------

--- ApplyExecutionPlan (202) -> { deployment_id }; the stack remembers it, so stack:wait{}
--  follows the apply's deployment. An expired plan, one not AVAILABLE, or a busy stack:
--  nil, err with err.kind == "invalid_state".
function Plan:apply(opts)
  local _, value, err, request_id = run(self, OP.ApplyExecutionPlan, "plan:apply", opts)
  if not value then return nil, refine(err) end
  local ok, bad = lifecycle.check_deployment(value, "apply", request_id)
  if not ok then return nil, bad end
  self:_set("status", "APPLY_IN_PROGRESS")
  self:_set("operation", "apply")
  self:_set("deployment_id", value.deployment_id)
  self.stack:_set("operation", "apply")
  self.stack:_set("deployment_id", value.deployment_id)
  return setmetatable({ deployment_id = value.deployment_id, operation = "apply" }, lifecycle.Deployment)
end

--- DeleteExecutionPlan (204) -> true; refused (invalid_state) while the plan is created or applied.
function Plan:delete(opts)
  local _, value, err = run(self, OP.DeleteExecutionPlan, "plan:delete", opts)
  if not value then return nil, refine(err) end
  return true
end

--- Waits until the plan is AVAILABLE (res.ok) or CREATION_FAILED (not ok, res.status_message
--  says why); the options of stack:wait (timeout, interval, on_progress, ...).
function Plan:wait(opts)
  return require("rfs.wait").wait(self, opts)
end

return plans
