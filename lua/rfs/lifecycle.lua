-- rfs.lifecycle: the whole stack lifecycle as methods built from rfs.api.
--
--   client:create_stack(name, opts)   client:stacks(opts)   client:parse_variables(opts)
--   stack:deploy(opts)   stack:update(opts)   stack:delete([opts])   stack:resources(opts)
--   stack:outputs(opts)  stack:template([{ download = true }])
--
-- Each method checks its options against its rfs.api entry, sends it through
-- rfs.operations and shapes the answer; GetStackMetadata, the continues and events
-- stay in rfs.stack (they carry the at-most-once retry logic and the stricter checks).

local core = require "rfs.core"
local cjson = require "cjson.safe"
local api = require "rfs.api"
local operations = require "rfs.operations"
local errors = require "rfs.errors"
require "rfs.stack" -- client:stack() and the Stack methods this module extends

local lifecycle = {}
local Client, Stack = core.Client, core.Stack
local OP = api.by_name

-- Answers ------------------------------------------------------------------------------------

local Deployment = {}
Deployment.__index = Deployment
Deployment.__name = "rfs.Deployment"
function Deployment.__tostring(d)
  return string.format("%s accepted: deployment_id %s", tostring(d.operation), tostring(d.deployment_id))
end

local List = {}
List.__name = "rfs.List"
function List.__tostring(list)
  local mt = getmetatable(list)
  local lines = { string.format("%d %s", #list, mt.noun) }
  -- server text is shown, never obeyed: no line breaks or terminal controls get through
  for i, item in ipairs(list) do lines[i + 1] = "  " .. errors.printable(mt.line(item)) end
  return table.concat(lines, "\n")
end

local function as_list(list, noun, line, extra)
  local mt = { __name = "rfs.List", __tostring = List.__tostring, noun = noun, line = line }
  if extra then mt.__index = extra end
  return setmetatable(list, mt)
end
-- for the other object kinds (rfs.templates, rfs.stack_sets, rfs.plans)
lifecycle.as_list, lifecycle.Deployment = as_list, Deployment

--- Keeps the string fields `names` of a listed item on obj, readable as obj.<name>.
local function keep_fields(obj, item, names)
  local fields = {}
  for _, k in ipairs(names) do
    if type(item[k]) == "string" then fields[k] = item[k] end
  end
  obj:_fields(fields)
end
lifecycle.keep_fields = keep_fields

-- The options a method takes: the entry's caller parameters (for stack:delete, both entries').
local function run(obj, c, op, fname, opts, name)
  opts = operations.check(op, fname, opts, 3)
  local method, url, body = operations.request(op, c, obj, opts, name)
  return opts, operations.send(c, op, method, url, body)
end

local function remember(stack, operation, deployment_id)
  stack:_set("operation", operation)
  stack:_set("deployment_id", deployment_id)
end

local function check_deployment(value, operation, request_id)
  if type(value.deployment_id) ~= "string" or value.deployment_id == "" or #value.deployment_id > 128
     or value.deployment_id:find("[%c%s]") then
    return nil, operations.bad_field(operation, "deployment_id", "string", request_id)
  end
  return true
end
lifecycle.check_deployment = check_deployment

-- client:create_stack(name, opts) -----------------------------------------------------------------

--- CreateStack (201): a Stack with id set, and deployment_id when a template was given.
function Client:create_stack(name, opts)
  if type(name) ~= "string" then
    error("rfs: client:create_stack: stack name must be a string (got " .. type(name) .. ")", 2)
  end
  local ok, stack = pcall(self.stack, self, name)
  if not ok then error((tostring(stack):gsub("^[^:]+:%d+: ", "")), 2) end
  local _, value, err, request_id = run(stack, self, OP.CreateStack, "client:create_stack", opts, name)
  if not value then return nil, err end
  if type(value.stack_id) ~= "string" or not pcall(stack._set, stack, "id", value.stack_id) then
    return nil, operations.bad_field("create_stack", "stack_id", "36-character UUID", request_id)
  end
  if value.deployment_id ~= nil then
    local good, bad = check_deployment(value, "create_stack", request_id)
    if not good then return nil, bad end
    remember(stack, "create", value.deployment_id)
  end
  return stack
end

-- client:stacks(opts) --------------------------------------------------------------------------------

local STACK_EXTRAS = { "description", "create_time", "update_time", "status_message" }

local function stack_line(s)
  return string.format("%-30s %-24s %s", s.name, tostring(s.status), tostring(s.id))
end

--- ListStacks, every page: Stack objects with name, id, status and the listing's
--  description, create_time, update_time, status_message readable as fields.
function Client:stacks(opts)
  opts = operations.check(OP.ListStacks, "client:stacks", opts, 2)
  local list, err_or_marker = operations.list(self, OP.ListStacks, nil, opts)
  if not list then return nil, err_or_marker end
  local out = {}
  for i, item in ipairs(list) do
    local ok, s = pcall(self.stack, self, item.stack_name, { stack_id = item.stack_id })
    if not ok or not pcall(s._set, s, "status", item.status) then
      return nil, operations.bad_field("stacks", "stacks[" .. i .. "]", "stack_name, stack_id and status")
    end
    keep_fields(s, item, STACK_EXTRAS)
    out[i] = s
  end
  return as_list(out, #out == 1 and "stack" or "stacks", stack_line), err_or_marker
end

-- client:parse_variables(opts) ---------------------------------------------------------------------

local function variable_line(v)
  local s = string.format("%-24s %s", tostring(v.name), tostring(v.type or "any"))
  if v.description then s = s .. "  " .. v.description end
  return s
end

--- ParseTemplateVariables: the variables a template declares.
function Client:parse_variables(opts)
  local _, value, err, request_id = run(nil, self, OP.ParseTemplateVariables, "client:parse_variables", opts)
  if not value then return nil, err end
  local list = value.variables or {}
  if type(list) ~= "table" then return nil, operations.bad_field("parse_variables", "variables", "array", request_id) end
  for _, v in ipairs(list) do
    if type(v) ~= "table" or type(v.name) ~= "string" then
      return nil, operations.bad_field("parse_variables", "variables[].name", "string", request_id)
    end
  end
  return as_list(list, #list == 1 and "variable" or "variables", variable_line)
end

-- stack:deploy / update / delete ------------------------------------------------------------------

-- 403 codes that say the stack's state refuses the call, not IAM: RF.10012519 a deploy or an
-- update of a busy stack (*_IN_PROGRESS; an update is re-sent by the retry policy first),
-- RF.10012544 a delete of a busy stack or of one with deletion protection on.
local STATE_REFUSALS = { ["RF.10012519"] = true, ["RF.10012544"] = true, ["RF.10012546"] = true }

-- The refusal as invalid_state, with the stack's status (read once) and the way out.
local function refine_refusal(self, operation, err)
  if not (err.status == 403 and STATE_REFUSALS[err.code]) then return err end
  local meta = self:metadata()
  local status = meta and meta.status
  err.kind, err.retryable, err.stack_status = "invalid_state", false, status
  if err.code == "RF.10012546" then -- auto-rollback cannot be switched on in a *_FAILED state
    err.message = ("update cannot turn enable_auto_rollback on while stack %s is %s")
      :format(self.name, status or "in a failed state")
    err.hint = "recover the failed operation first (stack:continue_deploy() or stack:continue_rollback(), "
      .. "then stack:wait{}), or leave enable_auto_rollback off"
    return err
  end
  if err.code == "RF.10012544" and meta and meta.enable_deletion_protection == true
     and not status:match("_IN_PROGRESS$") then
    err.message = ("delete needs deletion protection off; stack %s has it on"):format(self.name)
    err.hint = "turn it off (stack:update{ enable_deletion_protection = false }), then delete the stack"
    return err
  end
  if not status then
    err.message = ("%s needs a stack with no operation in progress; stack %s is busy"):format(operation, self.name)
  elseif status:match("_IN_PROGRESS$") then
    err.message = ("%s needs a stack with no operation in progress; stack %s is busy: %s")
      :format(operation, self.name, status)
  else
    err.message = ("%s was refused while stack %s was busy; it is %s now"):format(operation, self.name, status)
  end
  err.hint = ("wait until the stack's operation ends (stack:wait{}), then %s again"):format(operation)
  return err
end

--- DeployStack (202) -> { deployment_id }; stack:wait{} then follows this deployment.
function Stack:deploy(opts)
  local _, value, err, request_id = run(self, self.client, OP.DeployStack, "stack:deploy", opts)
  if not value then return nil, refine_refusal(self, "deploy", err) end
  local ok, bad = check_deployment(value, "deploy", request_id)
  if not ok then return nil, bad end
  remember(self, "deploy", value.deployment_id)
  return setmetatable({ deployment_id = value.deployment_id, operation = "deploy" }, Deployment)
end

--- UpdateStack (204) -> true. A refusal because the stack is busy is sent again by the retry policy;
--  once its attempts are spent it is invalid_state, as deploy's and delete's are at once.
function Stack:update(opts)
  local _, value, err = run(self, self.client, OP.UpdateStack, "stack:update", opts)
  if not value then return nil, refine_refusal(self, "update", err) end
  return true
end

--- DeleteStack (202) -> true; with { retain_all_resources = }, DeleteStackEnhanced (202) -> true.
--  stack:wait{} then waits until the stack is gone.
function Stack:delete(opts)
  local op = OP.DeleteStack
  -- any option means the enhanced call, whose check names retain_all_resources as the one known
  if type(opts) == "table" and next(opts) ~= nil then op = OP.DeleteStackEnhanced end
  local _, value, err = run(self, self.client, op, "stack:delete", opts)
  if not value then return nil, refine_refusal(self, "delete", err) end
  remember(self, "delete", nil)
  return true
end

-- stack:resources / outputs -------------------------------------------------------------------

local function resource_line(r)
  local name = tostring(r.logical_resource_type) .. "." .. tostring(r.logical_resource_name)
  if r.index_key then name = name .. "[" .. tostring(r.index_key) .. "]" end
  return string.format("%-40s %-20s %s", name, tostring(r.resource_status), tostring(r.physical_resource_id or ""))
end

--- ListStackResources, every page (all = false: one page and the next marker).
function Stack:resources(opts)
  opts = operations.check(OP.ListStackResources, "stack:resources", opts, 2)
  local list, marker = operations.list(self.client, OP.ListStackResources, self, opts)
  if not list then return nil, marker end
  return as_list(list, #list == 1 and "resource" or "resources", resource_line), marker
end

local function output_line(o)
  return string.format("%-24s = %s", tostring(o.name), o.sensitive and "<sensitive>" or tostring(o.value))
end

--- ListStackOutputs: outs.by_name[name] is an output; out.decoded is its JSON-decoded value.
function Stack:outputs(opts)
  opts = operations.check(OP.ListStackOutputs, "stack:outputs", opts, 2)
  local list, marker = operations.list(self.client, OP.ListStackOutputs, self, opts)
  if not list then return nil, marker end
  local by_name = {}
  for _, o in ipairs(list) do
    if type(o.name) == "string" then by_name[o.name] = o end
    if not o.sensitive and type(o.value) == "string" then
      local v = cjson.decode(o.value)
      if v ~= cjson.null then o.decoded = v end
    end
  end
  return as_list(list, #list == 1 and "output" or "outputs", output_line, { by_name = by_name }), marker
end

-- stack:template{ download = } --------------------------------------------------------------------

local Template = {}
Template.__index = Template
Template.__name = "rfs.StackTemplate"
function Template.__tostring(t)
  if t.body then return string.format("template (%d characters)", #t.body) end
  return "template at a pre-signed location (valid for 5 minutes; stack:template{ download = true } fetches it)"
end

--- A template's 307 answer (a stack's, a stack set's) as an object of metatable mt:
--  { location = url }, and with download also t.body, fetched from the location with no
--  signature, token or project header.
local function located_template(c, value, request_id, download, mt)
  if type(value.location) ~= "string" then
    return nil, operations.bad_field("template", "Location header", "URL", request_id)
  end
  local t = setmetatable({ location = value.location }, mt)
  if download then
    local body, derr = operations.download(c, value.location, "template")
    if not body then return nil, derr end
    t.body = body
  end
  return t
end
lifecycle.located_template = located_template

--- GetStackTemplate (307) -> { location = url }; with download = true also t.body.
function Stack:template(opts)
  local checked, value, err, request_id = run(self, self.client, OP.GetStackTemplate, "stack:template", opts)
  if not value then return nil, err end
  return located_template(self.client, value, request_id, checked.download, Template)
end

return lifecycle
