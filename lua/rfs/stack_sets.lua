-- rfs.stack_sets: stack sets, one template deployed as stack instances across accounts
-- and regions, as methods built from rfs.api (the same generic path as rfs.lifecycle).
--
--   client:create_stack_set(name, opts)  client:stack_sets(opts)  client:stack_set(name, opts)
--   ss:metadata()  ss:update(opts)  ss:delete()  ss:template{ download = }
--   ss:deploy(opts)  ss:create_instances(opts)  ss:update_instances(opts)  ss:delete_instances(opts)
--   ss:instances(opts)  ss:instance(region, domain_id [, opts])  ss:operations(opts)
--   ss:operation_metadata(operation_id [, opts])
--   ss:wait(opts)  (rfs.stack_set_wait)
--
-- A StackSet is the shared C object (metatable rfs.StackSet): ss.name, ss.id, ss.status and
-- ss.operation_id, the stack_set_operation_id of the last operation this object started.

local core = require "rfs.core"
local api = require "rfs.api"
local operations = require "rfs.operations"
local errors = require "rfs.errors"
local lifecycle = require "rfs.lifecycle"
local set_wait = require "rfs.stack_set_wait"

local stack_sets = {}
local Client, StackSet = core.Client, core.StackSet
local OP = api.by_name
local printable = errors.printable

local UUID = operations.UUID
local function is_uuid(v) return type(v) == "string" and v:match(UUID) ~= nil end
local STATUS_MAX = 32
local function is_status(v) return operations.is_token(v, STATUS_MAX) end

local function strip_position(msg)
  return (tostring(msg):gsub("^[^:]+:%d+: ", ""))
end

-- Checks, builds and sends op; returns checked opts, then value, err, request_id.
-- positional: the method's positional arguments by name (op.args), checked by the model.
local function run(obj, c, op, fname, opts, name, positional, level)
  local args = operations.check_args(op, fname, positional, level or 3)
  opts = operations.check(op, fname, opts, level or 3)
  local method, url, body = operations.request(op, c, obj, opts, name, args)
  return opts, operations.send(c, op, method, url, body)
end

-- The way out of each refusal, said of the stack set (the command line says them as commands).
local BUSY_HINT = "read ss:metadata() and ss:operations{}, wait for the active operation (ss:wait), then retry"
local INSTANCES_LEFT_HINT = "delete the instances (ss:instances{}, ss:delete_instances{}) and wait for that operation (ss:wait), "
  .. "then delete the set"
local NAME_TAKEN_HINT = "a stack set of that name exists: pick another name, or deploy to that set (ss:deploy)"

-- A 403 is "no permission" or "the set's state forbids it" (an operation is active, or a
-- delete while instances remain): tell them apart by reading the set, as stack continues do.
local function refine_forbidden(self, err, action)
  if not err or err.status ~= 403 then return err end
  local meta = self:metadata()
  if not meta then return err end
  local why, hint
  if meta.status ~= "IDLE" then
    why = ("%s needs an IDLE stack set (or managed_operation.enable_parallel_operation); stack set %s is %s")
      :format(action, self.name, meta.status)
    hint = BUSY_HINT
  elseif action == "delete" then
    local list = self:instances{ limit = 1, all = false }
    if list and #list > 0 then
      why = ("delete needs a stack set with no instances; stack set %s still has some: delete_instances first")
        :format(self.name)
      hint = INSTANCES_LEFT_HINT
    end
  end
  if why then
    err.kind, err.retryable, err.stack_set_status, err.message = "invalid_state", false, meta.status, why
    err.hint = hint
  end
  return err
end

-- A name already taken is not "another request for this stack": say it of the stack set.
local function refine_conflict(err)
  if err and err.kind == "conflict" and err.status == 409 then err.hint = NAME_TAKEN_HINT end
  return err
end

-- Answers ------------------------------------------------------------------------------------

local Operation = {}
Operation.__index = Operation
Operation.__name = "rfs.StackSetOperation"
function Operation.__tostring(o)
  return ("%s accepted: stack_set_operation_id %s"):format(printable(o.operation), printable(o.stack_set_operation_id))
end

local Metadata = {}
Metadata.__index = Metadata
Metadata.__name = "rfs.StackSetMetadata"
function Metadata.__tostring(m)
  local s = ("%s %s (id %s, %s, updated %s)"):format(printable(m.stack_set_name), printable(m.status),
                                                   printable(m.stack_set_id), printable(m.permission_model or "?"),
                                                   printable(m.update_time))
  if m.stack_set_description and m.stack_set_description ~= "" then
    s = s .. ": " .. printable(m.stack_set_description)
  end
  return s
end

-- client:stack_set / create_stack_set / stack_sets ------------------------------------------------

local function new_set(c, name, id, level)
  local ok, ss = pcall(c._object, c, "StackSet", name, id)
  if not ok then error("rfs: " .. strip_position(ss):gsub("^rfs: ", ""), level + 1) end
  return ss
end

--- client:stack_set(name, { stack_set_id = }) -> StackSet (no request).
function Client:stack_set(name, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("rfs: client:stack_set: expected a table of options, got " .. type(opts), 2)
  end
  for k in pairs(opts or {}) do
    if k ~= "stack_set_id" then
      error("rfs: client:stack_set: unknown option " .. errors.display(k) .. "; known options: stack_set_id", 2)
    end
  end
  return new_set(self, name, opts and opts.stack_set_id, 2)
end

--- CreateStackSet (201, synchronous): a StackSet with ss.id set, status IDLE.
function Client:create_stack_set(name, opts)
  if type(name) ~= "string" then
    error("rfs: client:create_stack_set: stack set name must be a string (got " .. type(name) .. ")", 2)
  end
  local ss = new_set(self, name, nil, 2)
  local _, value, err, request_id = run(ss, self, OP.CreateStackSet, "client:create_stack_set", opts, name)
  if not value then return nil, refine_conflict(err) end
  if not is_uuid(value.stack_set_id) then
    return nil, operations.bad_field("create_stack_set", "stack_set_id", "36-character UUID", request_id)
  end
  ss:_set("id", value.stack_set_id)
  ss:_set("status", "IDLE")
  return ss
end

local SET_EXTRAS = { "stack_set_description", "permission_model", "create_time", "update_time" }

local function set_line(s)
  return ("%-30s %-22s %-16s %s"):format(s.name, tostring(s.status), tostring(s.permission_model), tostring(s.id))
end

--- ListStackSets, every page: StackSet objects with name, id, status and the listing's
--  stack_set_description, permission_model, create_time, update_time readable as fields.
function Client:stack_sets(opts)
  opts = operations.check(OP.ListStackSets, "client:stack_sets", opts, 2)
  local list, marker = operations.list(self, OP.ListStackSets, nil, opts)
  if not list then return nil, marker end
  local out = {}
  for i, item in ipairs(list) do
    local ok, s = pcall(self._object, self, "StackSet", item.stack_set_name, item.stack_set_id)
    if not ok or not is_status(item.status) then
      return nil, operations.bad_field("stack_sets", "stack_sets[" .. i .. "]",
                                       "stack_set_name, stack_set_id and status")
    end
    s:_set("status", item.status)
    lifecycle.keep_fields(s, item, SET_EXTRAS)
    out[i] = s
  end
  return lifecycle.as_list(out, #out == 1 and "stack set" or "stack sets", set_line), marker
end

-- ss:metadata / update / delete / template ------------------------------------------------------

--- ShowStackSetMetadata: every documented field; refreshes ss.id and ss.status.
function StackSet:metadata(opts)
  local _, meta, err, request_id = run(self, self.client, OP.ShowStackSetMetadata, "ss:metadata", opts)
  if not meta then return nil, err end
  if not is_uuid(meta.stack_set_id) then
    return nil, operations.bad_field("metadata", "stack_set_id", "a UUID", request_id)
  end
  if not is_status(meta.status) then
    return nil, operations.bad_field("metadata", "status", "1-32 printable characters, no spaces", request_id)
  end
  self:_set("id", meta.stack_set_id)
  self:_set("status", meta.status)
  return setmetatable(meta, Metadata)
end

--- UpdateStackSet (204) -> true. RFS refuses it (403) while an operation runs.
function StackSet:update(opts)
  local _, value, err = run(self, self.client, OP.UpdateStackSet, "ss:update", opts)
  if not value then return nil, refine_forbidden(self, err, "update") end
  return true
end

--- DeleteStackSet (204) -> true; only an IDLE set with no instances can go.
function StackSet:delete(opts)
  local _, value, err = run(self, self.client, OP.DeleteStackSet, "ss:delete", opts)
  if not value then return nil, refine_forbidden(self, err, "delete") end
  return true
end

local Template = {}
Template.__index = Template
Template.__name = "rfs.StackSetTemplate"
function Template.__tostring(t)
  if t.body then return ("stack set template (%d characters)"):format(#t.body) end
  return "stack set template at a pre-signed location (valid for 5 minutes; ss:template{ download = true } fetches it)"
end

--- ShowStackSetTemplate (307) -> { location = url }; download = true also fetches t.body
--  from the location with no signature, token or project header.
function StackSet:template(opts)
  local checked, value, err, request_id = run(self, self.client, OP.ShowStackSetTemplate, "ss:template", opts)
  if not value then return nil, err end
  return lifecycle.located_template(self.client, value, request_id, checked.download, Template)
end

-- Operations on instances ---------------------------------------------------------------------

local function started(self, op, fname, opts, action)
  local _, value, err, request_id = run(self, self.client, op, fname, opts, nil, nil, 4)
  if not value then return nil, refine_forbidden(self, err, action) end
  local id = value.stack_set_operation_id
  if not is_uuid(id) then
    return nil, operations.bad_field(action, "stack_set_operation_id", "36-character UUID", request_id)
  end
  self:_set("operation_id", id)
  self:_set("operation", action)
  return setmetatable({ stack_set_operation_id = id, operation = action }, Operation)
end

--- DeployStackSet (202): the set's template and vars replaced, the targets deployed.
function StackSet:deploy(opts)
  return started(self, OP.DeployStackSet, "ss:deploy", opts, "deploy")
end

--- CreateStackInstance (202): one instance per region x account of deployment_targets.
function StackSet:create_instances(opts)
  return started(self, OP.CreateStackInstance, "ss:create_instances", opts, "create_instances")
end

--- UpdateStackInstances (202): existing instances redeployed with their var_overrides.
function StackSet:update_instances(opts)
  return started(self, OP.UpdateStackInstances, "ss:update_instances", opts, "update_instances")
end

--- DeleteStackInstance (202): the instances, their stacks and all their resources go;
--  legacy_delete = true sends the deprecated DELETE .../stack-instances instead.
function StackSet:delete_instances(opts)
  local op = OP.DeleteStackInstance
  if type(opts) == "table" and opts.legacy_delete then op = OP.DeleteStackInstanceDeprecated end
  return started(self, op, "ss:delete_instances", opts, "delete_instances")
end

-- Lists and single reads ----------------------------------------------------------------------

local function instance_line(i)
  local s = ("%-16s %-20s %-22s %s"):format(tostring(i.region), tostring(i.stack_domain_id), tostring(i.status),
                                            tostring(i.stack_name or ""))
  if i.status_message and i.status_message ~= "" then s = s .. "  " .. tostring(i.status_message) end
  return s
end

--- ListStackInstances, every page (all = false: one page and the next marker).
function StackSet:instances(opts)
  opts = operations.check(OP.ListStackInstances, "ss:instances", opts, 2)
  local list, marker = operations.list(self.client, OP.ListStackInstances, self, opts)
  if not list then return nil, marker end
  return lifecycle.as_list(list, #list == 1 and "stack instance" or "stack instances", instance_line), marker
end

--- ShowStackInstance: the instance in (region, domain_id), with its var_overrides. The
--  address {region}/{domain_id} goes as one path segment, its '/' sent as %2F.
function StackSet:instance(region, domain_id, opts)
  local _, value, err = run(self, self.client, OP.ShowStackInstance, "ss:instance", opts, nil,
                            { region = region, domain_id = domain_id })
  if not value then return nil, err end
  return value
end

local function operation_line(o)
  local s = ("%-36s %-24s %-22s %s"):format(tostring(o.operation_id), tostring(o.action), tostring(o.status),
                                            tostring(o.create_time or ""))
  if o.status_message and o.status_message ~= "" then s = s .. "  " .. tostring(o.status_message) end
  return s
end

--- ListStackSetOperations, every page: { operation_id, action, status, status_message, ... }.
function StackSet:operations(opts)
  opts = operations.check(OP.ListStackSetOperations, "ss:operations", opts, 2)
  local list, marker = operations.list(self.client, OP.ListStackSetOperations, self, opts)
  if not list then return nil, marker end
  return lifecycle.as_list(list, #list == 1 and "operation" or "operations", operation_line), marker
end

--- ShowStackSetOperationMetadata: status, status_message, action, targets, preferences.
-- call_opts: { no_retry = true } from the waiter, which retries within its own deadline;
-- opts: the checked options ({ call_identity = }).
local function read_operation(self, id, call_opts, opts)
  local op = OP.ShowStackSetOperationMetadata
  local method, url = operations.request(op, self.client, self, opts or {}, nil, { stack_set_operation_id = id })
  local value, err, request_id
  if call_opts and call_opts.no_retry then
    value, err, request_id = require("rfs.client").call(self.client, method, url, nil, op.lua, call_opts)
  else
    value, err, request_id = operations.send(self.client, op, method, url)
  end
  if not value then return nil, err end
  if not is_status(value.status) then
    return nil, operations.bad_field("operation_metadata", "status", "1-32 printable characters", request_id)
  end
  return value
end
stack_sets.read_operation = read_operation

function StackSet:operation_metadata(operation_id, opts)
  local op = OP.ShowStackSetOperationMetadata
  local args = operations.check_args(op, "ss:operation_metadata", { operation_id = operation_id }, 2)
  opts = operations.check(op, "ss:operation_metadata", opts, 2)
  return read_operation(self, args.stack_set_operation_id, nil, opts)
end

--- ss:wait{ operation_id =, timeout =, interval =, max_interval =, on_progress =, ... }
function StackSet:wait(opts)
  return set_wait.wait(self, opts)
end

return stack_sets
