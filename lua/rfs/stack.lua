-- rfs.stack: the operations of a Stack (GetStackMetadata, ContinueDeployStack,
-- ContinueRollbackStack, ListStackEvents, wait). Installed into the method
-- table of the C Stack userdata; a Stack is made by client:stack(name, opts).

local core = require "rfs.core"
local client = require "rfs.client"
local errors = require "rfs.errors"
local operations = require "rfs.operations"

local stack = {}
local Stack = core.Stack

-- What each continue needs the stack to be in, and where it posts.
local CONTINUES = {
  continue_deploy = { path = "/continuations", needs = "DEPLOYMENT_FAILED" },
  continue_rollback = { path = "/rollbacks", needs = "ROLLBACK_FAILED" },
}
stack.CONTINUES = CONTINUES

local NO_OPTIONS = setmetatable({}, { __newindex = function() error("rfs: internal: options are read-only", 2) end })

local function check_opts(fname, opts, known)
  return errors.check_options(fname, opts, known, 3) or NO_OPTIONS
end

local function bad_field(op, field, want, request_id, value)
  local got = value == nil and "" or (": got " .. (type(value) == "string" and errors.display(value) or type(value)))
  return errors.new{ kind = "decode", operation = op, request_id = request_id,
                     message = op .. ": the response has no valid '" .. field .. "' (" .. want .. " expected)" .. got }
end

local is_token = operations.is_token

local DEPLOYMENT_ID_MAX = 128

-- client:stack(name, { stack_id = }) --------------------------------------------------

local Client = core.Client

function Client:stack(name, opts)
  opts = check_opts("client:stack", opts, { stack_id = "string" })
  local ok, s = pcall(self._stack, self, name, opts.stack_id)
  if not ok then error((tostring(s):gsub("^[^:]+:%d+: ", "")), 2) end
  return s
end

-- metadata ------------------------------------------------------------------------

local Metadata = {}
Metadata.__index = Metadata
Metadata.__name = "rfs.Metadata"

local printable = errors.printable

function Metadata.__tostring(m)
  local s = string.format("%s %s (id %s, updated %s)", printable(m.stack_name), printable(m.status),
                          printable(m.stack_id), printable(m.update_time))
  if m.status_message and m.status_message ~= "" then s = s .. ": " .. printable(m.status_message) end
  return s
end

--- GetStackMetadata: every documented field; refreshes stack.id and stack.status.
-- call_opts: { no_retry = true } from rfs.wait, which retries within its own deadline.
-- The answer's status and stack_id are checked by the C object as it keeps them
-- (self:_update, the rules of _set), so an odd answer is a decode error, never a raise.
local function read_metadata(self, call_opts)
  local c, name, id = self:_request_parts()
  local url = client.stack_url(c, name, "/metadata")
  if id then url = url .. "?stack_id=" .. id end -- a stack id is a UUID: nothing to encode
  local meta, err, request_id = client.call(c, "GET", url, nil, "metadata", call_opts)
  if not meta then return nil, err end
  if type(meta.stack_name) ~= "string" then return nil, bad_field("metadata", "stack_name", "string", request_id) end
  local ok, bad = self:_update(meta.stack_id, meta.status)
  if not ok then
    if bad == "status" then
      return nil, bad_field("metadata", "status", "1-32 printable characters, no spaces", request_id, meta.status)
    end
    return nil, bad_field("metadata", "stack_id", "a UUID", request_id, meta.stack_id)
  end
  return setmetatable(meta, Metadata)
end
stack.read_metadata = read_metadata

function Stack:metadata(opts)
  check_opts("stack:metadata", opts, NO_OPTIONS)
  return read_metadata(self)
end

-- continue_deploy / continue_rollback -------------------------------------------------

local Deployment = {}
Deployment.__index = Deployment
Deployment.__name = "rfs.Deployment"

function Deployment.__tostring(d)
  if d.deployment_id then
    return string.format("%s accepted: deployment_id %s", printable(d.operation), printable(d.deployment_id))
  end
  if d.recovered then
    return string.format("%s accepted (recovered after a lost answer; stack is %s)", printable(d.operation),
                         printable(d.status))
  end
  return string.format("%s accepted, but the deployment_id in the answer was not readable (%s); "
                       .. "stack:wait{} follows the stack's state", printable(d.operation), printable(d.note))
end

-- A 403 is either "no permission" or "wrong state": tell them apart by reading the state.
local function refine_forbidden(self, operation, err)
  local needs = CONTINUES[operation].needs
  local meta = self:metadata()
  if meta and meta.status ~= needs then
    err.kind = "invalid_state"
    err.retryable = false
    err.stack_status = meta.status
    err.message = string.format("%s needs %s; stack %s is %s", operation, needs, self.name, meta.status)
    err.hint = nil
  end
  return err
end

local function send_continue(self, operation)
  local spec = CONTINUES[operation]
  local url = client.stack_url(self.client, self.name, spec.path)
  local res, err = client.call(self.client, "POST", url, { stack_id = self.id }, operation)
  if not res then
    -- a 2xx whose body is not JSON: RFS applied the continue all the same
    if err.kind == "decode" and err.status and err.status >= 200 and err.status < 300 then
      return { accepted = true, operation = operation, note = "HTTP " .. err.status .. " with a body that is not JSON" }
    end
    if err.kind == "forbidden" then err = refine_forbidden(self, operation, err) end
    return nil, err
  end
  res.accepted = true
  if not is_token(res.deployment_id, DEPLOYMENT_ID_MAX) then
    -- applied all the same: never "try again" a continue that was accepted; wait{} goes by state
    res.note = res.deployment_id == nil and "no deployment_id" or
      ("deployment_id " .. (type(res.deployment_id) == "string" and errors.display(res.deployment_id)
                            or ("of type " .. type(res.deployment_id))))
    res.deployment_id = nil
  end
  return res
end

local function continue(self, operation, opts)
  check_opts("stack:" .. operation, opts, NO_OPTIONS)
  local st = client.state(self.client)
  local function send() return send_continue(self, operation) end
  local res, err
  local retry = st.policy and package.loaded["rfs.retry"]
  if retry and retry.continue then
    res, err = retry.continue(self, operation, send, st.policy)
  else
    res, err = send()
  end
  if not res then return nil, err end
  self:_set("deployment_id", res.deployment_id)
  self:_set("operation", operation)
  res.operation = operation
  return setmetatable(res, Deployment)
end

--- ContinueDeployStack: allowed from DEPLOYMENT_FAILED; returns { deployment_id = }.
function Stack:continue_deploy(opts)
  return continue(self, "continue_deploy", opts)
end

--- ContinueRollbackStack: allowed from ROLLBACK_FAILED; returns { deployment_id = }.
function Stack:continue_rollback(opts)
  return continue(self, "continue_rollback", opts)
end

-- events ---------------------------------------------------------------------------

local Events = {}
Events.__index = Events
Events.__name = "rfs.Events"

local function event_line(e)
  local what = e.resource_name and ((e.resource_type and (printable(e.resource_type) .. ".") or "")
                                    .. printable(e.resource_name)) or "stack"
  local line = string.format("%s  %-20s %s", printable(e.time or "?"), printable(e.event_type), what)
  if e.event_message and e.event_message ~= "" then line = line .. ": " .. printable(e.event_message) end
  return line
end
stack.event_line = event_line

function Events.__tostring(list)
  local head = string.format("%d event%s (newest first)", #list, #list == 1 and "" or "s")
  if list.truncated then
    head = head .. string.format("; more not read (%s), continue with marker = %s", printable(list.truncated_by),
                                 errors.display(list.next_marker))
  end
  local lines = { head }
  for i, e in ipairs(list) do lines[i + 1] = "  " .. event_line(e) end
  return table.concat(lines, "\n")
end

local EVENT_OPTS = { deployment_id = "string", filter = "string", field = "string", limit = "number",
                     marker = "string", all = "boolean", deadline = "number", clock = "function" }
-- What one events() call reads at most: a stack with a runaway event log (or a server
-- that pages forever) costs bounded time and memory; the rest is one marker away.
local MAX_PAGES = 100
local MAX_EVENT_BYTES = 8 * 1024 * 1024
stack.EVENTS_MAX_PAGES, stack.EVENTS_MAX_BYTES = MAX_PAGES, MAX_EVENT_BYTES

-- The bytes an event holds in memory, near enough: its keys and values as text.
local function size_of(v, depth)
  local t = type(v)
  if t == "string" then return #v end
  if t ~= "table" then return 8 end
  local n = 16
  if depth > 16 then return n end
  for k, x in pairs(v) do n = n + size_of(k, depth + 1) + size_of(x, depth + 1) end
  return n
end

local function events_page(self, query, call_opts)
  local url = client.stack_url(self.client, self.name, "/events", query)
  local page, err, request_id = client.call(self.client, "GET", url, nil, "events", call_opts)
  if not page then return nil, err end
  local list = page.stack_events or {}
  if type(list) ~= "table" then return nil, bad_field("events", "stack_events", "array", request_id) end
  for _, e in ipairs(list) do
    if type(e) ~= "table" or type(e.event_type) ~= "string" then
      return nil, bad_field("events", "stack_events[].event_type", "string", request_id)
    end
  end
  local info = type(page.page_info) == "table" and page.page_info or {}
  local next_marker = type(info.next_marker) == "string" and info.next_marker ~= "" and info.next_marker or nil
  return list, next_marker
end

--- ListStackEvents: newest first; every page unless all = false (then also returns next_marker).
--  One call reads at most MAX_PAGES pages and about MAX_EVENT_BYTES of events, and no page
--  is asked for once `deadline` (by `clock`) has passed: then the list holds what was read,
--  with list.truncated = true and list.next_marker to go on from.
function stack.check_deployment_id(fname, id, level)
  if id ~= nil and not is_token(id, DEPLOYMENT_ID_MAX) then
    error("rfs: " .. fname .. ": invalid deployment_id " .. errors.display(id)
          .. ": 1-128 characters, no spaces or control characters", level + 1)
  end
end

local FILTERABLE = { event_type = true, resource_type = true, resource_name = true }
stack.FILTERABLE = FILTERABLE

--- Why RFS would refuse an events filter, or nil when it is one RFS takes: name==value
--  terms, ',' AND and '|' OR (OR binds tighter), names event_type, resource_type and
--  resource_name, names and values of letters, digits and '_', one name per AND group.
function stack.filter_problem(filter)
  if filter == "" then return "it is empty" end
  if #filter > 512 then return "it is longer than 512 characters" end
  for group in (filter .. ","):gmatch("([^,]*),") do
    local name_of_group
    for term in (group .. "|"):gmatch("([^|]*)|") do
      local name, value = term:match("^([%w_]+)==([%w_]+)$")
      if not name then
        return ("%s is not name==value (names and values: letters, digits and '_'; ',' is AND, '|' is OR)")
          :format(errors.display(term))
      end
      if not FILTERABLE[name] then
        return ("%s cannot be filtered on: use event_type, resource_type or resource_name"):format(errors.display(name))
      end
      if name_of_group and name_of_group ~= name then
        return ("%s names both %s and %s: '|' joins values of one name; use ',' between names")
          :format(errors.display(group), name_of_group, name)
      end
      name_of_group = name
      if value == "" then return "a value is empty" end
    end
  end
  return nil
end

-- call_opts as for read_metadata; opts already checked. opts.before_page(), when given, is
-- called before each page after the first (a rate that counts requests takes one for each).
local function read_events(self, opts, call_opts)
  local clock = opts.clock
  if opts.deadline and not clock then
    local st = client.state(self.client)
    clock = st and st.policy and st.policy.clock or require("rfs.retry").default_clock()
  end
  local query = { stack_id = self.id, deployment_id = opts.deployment_id, filter = opts.filter,
                  field = opts.field, limit = opts.limit, marker = opts.marker }
  local out, seen, pages, bytes = setmetatable({}, Events), {}, 0, 0
  while true do
    if pages > 0 and opts.before_page then opts.before_page() end
    local list, next_marker = events_page(self, query, call_opts)
    if not list then return nil, next_marker end
    pages = pages + 1
    for _, e in ipairs(list) do
      out[#out + 1] = e
      bytes = bytes + size_of(e, 0)
    end
    if opts.all == false then
      out.next_marker = next_marker
      return out, next_marker
    end
    if not next_marker or #list == 0 or seen[next_marker] then break end
    seen[next_marker] = true
    query.marker = next_marker
    local stop = (pages >= MAX_PAGES and ("%d pages"):format(MAX_PAGES))
      or (bytes >= MAX_EVENT_BYTES and ("%d MiB of events"):format(math.floor(MAX_EVENT_BYTES / 1048576)))
      or (opts.deadline and clock() >= opts.deadline and "the deadline passed")
    if stop then
      out.truncated, out.truncated_by, out.next_marker = true, stop, next_marker
      break
    end
  end
  return out
end
stack.read_events = read_events

function Stack:events(opts)
  opts = check_opts("stack:events", opts, EVENT_OPTS)
  stack.check_deployment_id("stack:events", opts.deployment_id, 2)
  local why = opts.filter and stack.filter_problem(opts.filter)
  if why then error("rfs: stack:events: invalid filter " .. errors.display(opts.filter) .. ": " .. why, 2) end
  if opts.deadline and opts.deadline ~= opts.deadline then
    error("rfs: stack:events: option 'deadline' must be a number, not NaN", 2)
  end
  return read_events(self, opts)
end

-- wait -----------------------------------------------------------------------------

--- Blocks (or yields, inside OpenResty) until the last continue settles; see rfs.wait.
function Stack:wait(opts)
  return require("rfs.wait").wait(self, opts)
end

return stack
