-- rfs.emulator: a local RFS that behaves like the documented service, for tests, the
-- demo and benchmarks. A transport-free state machine: emu:handle(request) -> response,
-- with time taken only from an injected clock, so specs drive hours in milliseconds.
--
-- Error codes it answers with (11 characters, as RFS's are; the gateway's are APIG.*):
--   AOS.00.0400  400 malformed request, header or body
--   AOS.01.0400  400 stack_id does not match the stack
--   AOS.00.0403  403 no permission (only through injected faults)
--   AOS.01.0403  403 the stack's status does not allow the operation
--   AOS.00.0404  404 stack not found
--   AOS.01.0404  404 deployment not found
--   AOS.01.0409  409 another request for this stack is being processed
--   AOS.00.0500  500 internal error
--   APIG.0301    401 authentication failed (bad, stale or missing signature)
--   APIG.0307    401 the temporary keys (security token) expired
--   APIG.0308    429 throttled
--   APIG.0201    413 request body too large
--   APIG.0203    504 backend timeout

local cjson = require "cjson.safe"
local identity = require "rfs.emulator.identity"
local input = require "rfs.emulator.input"

local emulator = {}
local lifecycle -- rfs.emulator.stacks: the stack lifecycle routes, loaded at the end (it uses the helpers here)
local plans -- rfs.emulator.plans: the execution plan routes, loaded at the end too
local stack_sets -- rfs.emulator.stack_sets: the stack set routes, loaded at the end too
local template_lib -- rfs.emulator.template_lib: the private template library's routes, loaded at the end

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local MAX_SKEW = 15 * 60

local FINAL = {
  CREATION_COMPLETE = true, DEPLOYMENT_FAILED = true, DEPLOYMENT_COMPLETE = true,
  ROLLBACK_FAILED = true, ROLLBACK_COMPLETE = true, DELETION_FAILED = true,
}
local ALL_STATES = {
  DEPLOYMENT_IN_PROGRESS = true, ROLLBACK_IN_PROGRESS = true, DELETION_IN_PROGRESS = true,
}
for k in pairs(FINAL) do ALL_STATES[k] = true end
emulator.FINAL = FINAL

local OPERATIONS = {
  continuations = { needs = "DEPLOYMENT_FAILED", kind = "deploy" },
  rollbacks = { needs = "ROLLBACK_FAILED", kind = "rollback" },
}

-- Time -------------------------------------------------------------------------

-- Timestamps are shown on the real clock: emulated time runs time_scale times faster from
-- the emulator's epoch (its start), and an instant t of it is shown at
-- epoch + (t - epoch) / time_scale, so that under --time-scale no time lies in the future.
-- (Set by the emulator that handles the request: one handles at a time.)
local display_clock = { epoch = 0, scale = 1 }
local function show_time_of(self)
  display_clock.epoch, display_clock.scale = self.epoch, self.time_scale > 0 and self.time_scale or 1
end

local function rfc3339(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(display_clock.epoch + (t - display_clock.epoch) / display_clock.scale))
end

local function sdk_date_seconds(s)
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)(%d%d)(%d%d)T(%d%d)(%d%d)(%d%d)Z$")
  if not y then return nil end
  -- days from civil (proleptic Gregorian), independent of the local time zone
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)
end
emulator.sdk_date_seconds = sdk_date_seconds

--- The emulated wall clock: epoch seconds, running time_scale times faster than clock().
local function now(self)
  return self.epoch + (self.clock() - self.clock0) * self.time_scale
end

--- The real wall clock (unscaled), against which signature dates are checked.
local function real_now(self)
  if self.wall_clock then return self.wall_clock() end
  return self.epoch + (self.clock() - self.clock0)
end

-- Responses --------------------------------------------------------------------

local function json_response(self, status, body, extra)
  local headers = { ["Content-Type"] = "application/json", ["X-Request-Id"] = self.uuid() }
  for k, v in pairs(extra or {}) do headers[k] = v end
  return { status = status, headers = headers, body = cjson.encode(body) }
end

local function error_response(self, status, code, message, extra)
  local body = { error_code = code, error_msg = message, details = setmetatable({}, cjson.array_mt) }
  if code == "AOS.00.0403" then body.encoded_authorization_message = "emulated-denial" end
  return json_response(self, status, body, extra)
end
emulator.error_response = error_response

-- Stacks ---------------------------------------------------------------------------

local function key(project_id, name) return project_id .. "/" .. name end

local function metadata_of(st)
  local m = {
    stack_id = st.stack_id, stack_name = st.stack_name, description = st.description,
    vars_structure = st.vars_structure or setmetatable({}, cjson.array_mt), vars_body = st.vars_body,
    enable_deletion_protection = st.enable_deletion_protection, enable_auto_rollback = st.enable_auto_rollback,
    status = st.status, agencies = st.agencies or setmetatable({}, cjson.array_mt),
    vars_uri_content = st.vars_uri_content,
    create_time = rfc3339(st.create_time), update_time = rfc3339(st.update_time),
  }
  if st.status:match("FAILED$") then m.status_message = st.status_message end
  return m
end

local function add_event(st, t, event_type, message, resource, deployment_id)
  local e = { time = rfc3339(t), at = t, event_type = event_type, event_message = message,
              deployment_id = deployment_id, elapsed_seconds = 0 }
  if resource then
    e.resource_type = resource.type
    e.resource_name = resource.name
    if resource.id then
      e.resource_id_key = "id"
      e.resource_id_value = resource.id
    end
  end
  st.events[#st.events + 1] = e
end

-- A job's timeline: steps {at, run = function(st)} applied in time order by advance().
local function schedule(job, at, run)
  job.steps[#job.steps + 1] = { at = at, run = run }
end

local function set_status(st, status, t, message)
  st.status = status
  st.update_time = t
  if message then st.status_message = message end
end

local function plan_resources(self, st, job, start, duration, fail)
  local resources = st.resources
  local step = duration / (#resources + 1)
  for i, name in ipairs(resources) do
    local r = { type = "huaweicloud_" .. name:gsub("%-", "_"), name = name }
    local t_begin, t_end = start + step * (i - 0.5), start + step * i
    local is_failing = fail and i == #resources
    schedule(job, t_begin, function(s)
      add_event(s, t_begin, job.kind == "rollback" and "DELETION_IN_PROGRESS" or "CREATION_IN_PROGRESS",
                "applying " .. name, r, job.deployment_id)
    end)
    schedule(job, t_end, function(s)
      if is_failing then
        add_event(s, t_end, job.kind == "rollback" and "DELETION_FAILED" or "CREATION_FAILED",
                  st.failure_message, r, job.deployment_id)
        add_event(s, t_end, "ERROR", name .. ": " .. st.failure_message, r, job.deployment_id)
      else
        r.id = self.uuid()
        add_event(s, t_end, job.kind == "rollback" and "DELETION_COMPLETE" or "CREATION_COMPLETE",
                  "done", r, job.deployment_id)
      end
    end)
  end
end

local function plan_rollback(self, st, job, start, outcome, summary)
  local fail = outcome == "fail"
  schedule(job, start, function(s)
    set_status(s, "ROLLBACK_IN_PROGRESS", start)
    add_event(s, start, "LOG", "rollback started", nil, job.deployment_id)
  end)
  local rjob = { kind = "rollback", deployment_id = job.deployment_id, steps = job.steps }
  plan_resources(self, st, rjob, start, st.rollback_seconds, fail)
  local t_end = start + st.rollback_seconds
  schedule(job, t_end, function(s)
    if fail then
      set_status(s, "ROLLBACK_FAILED", t_end, "rollback failed: " .. st.failure_message)
    else
      set_status(s, "ROLLBACK_COMPLETE", t_end)
    end
    add_event(s, t_end, "SUMMARY", summary .. (fail and "; rollback failed" or "; rolled back"), nil,
              job.deployment_id)
    s.job = nil
  end)
end

local function plan_deploy(self, st, job, start)
  local outcome = st.outcome
  local fail = outcome ~= "success"
  schedule(job, start, function(s)
    set_status(s, "DEPLOYMENT_IN_PROGRESS", start)
    add_event(s, start, "LOG", "deployment started", nil, job.deployment_id)
  end)
  plan_resources(self, st, job, start, st.deploy_seconds, fail)
  local t_end = start + st.deploy_seconds
  local auto = fail and (st.enable_auto_rollback or outcome == "fail_then_rollback_fail")
  if not fail then
    schedule(job, t_end, function(s)
      set_status(s, "DEPLOYMENT_COMPLETE", t_end)
      add_event(s, t_end, "SUMMARY", "deployment complete", nil, job.deployment_id)
      s.job = nil
    end)
  elseif not auto then
    schedule(job, t_end, function(s)
      set_status(s, "DEPLOYMENT_FAILED", t_end, "deployment failed: " .. st.failure_message)
      add_event(s, t_end, "SUMMARY", "deployment failed", nil, job.deployment_id)
      s.job = nil
    end)
  else
    plan_rollback(self, st, job, t_end, outcome == "fail_then_rollback_fail" and "fail" or "success",
                  "deployment failed")
  end
end

--- Applies every step of the stack's job that is due.
local function advance(st, t)
  local job = st.job
  while job and job.steps[1] and job.steps[1].at <= t do
    local step = table.remove(job.steps, 1)
    step.run(st)
    job = st.job
  end
end

local function start_job(self, st, op, t)
  if st.doc then return lifecycle.continue(self, st, op.kind, t) end -- a stack deployed from a template
  local job = { kind = op.kind, deployment_id = self.uuid(), accepted_at = t, steps = {} }
  local start = t + self.queue_seconds
  if op.kind == "deploy" then
    plan_deploy(self, st, job, start)
  else
    plan_rollback(self, st, job, start, st.rollback_outcome, "rollback continued")
  end
  table.sort(job.steps, function(a, b) return a.at < b.at end)
  st.job = job
  st.deployments[job.deployment_id] = true
  return job
end

-- Authentication -------------------------------------------------------------------

local function default_verifier(self, req)
  local t = real_now(self)
  local auth = req.headers.authorization
  if not auth then return "missing Authorization header" end
  local ak, signed = auth:match("^SDK%-HMAC%-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=%x+$")
  if not ak then return "malformed Authorization header" end
  local sk = self.sk
  if ak ~= self.ak then -- temporary keys from the metadata service or federation
    local why, code
    sk, why, code = identity.secret_for(self, req, ak, now(self))
    if not sk then return why, code end
  end
  local date = req.headers["x-sdk-date"]
  local when = date and sdk_date_seconds(date)
  if not when then return "missing or malformed X-Sdk-Date" end
  if math.abs(when - t) > MAX_SKEW then return "X-Sdk-Date is more than 15 minutes away from the server clock" end
  local headers, names = {}, {}
  for name in signed:gmatch("[^;]+") do
    names[name] = true
    local v = req.headers[name]
    if v == nil then return "signed header " .. name .. " is missing" end
    headers[name] = v
  end
  if not names.host or not names["x-sdk-date"] then return "host and x-sdk-date must be signed" end
  local url = "http://" .. req.headers.host .. req.path .. (req.query ~= "" and ("?" .. req.query) or "")
  local ok, expected = pcall(self.sign, { method = req.method, url = url, headers = headers, body = req.body,
                                          ak = ak, sk = sk })
  if not ok then return "cannot verify: " .. tostring(expected) end
  if expected.Authorization ~= auth then return "signature mismatch" end
  return nil
end

-- Request log and faults -----------------------------------------------------------

local function log_request(self, req, status, t, applied)
  local log = self.log
  log[#log + 1] = { method = req.method, path = req.path, query = req.query, status = status,
                    client_request_id = req.headers["client-request-id"], time = t, connection = req.connection,
                    applied = applied or nil }
  if #log > 100000 then table.remove(log, 1) end
end

local function matching_fault(self, req)
  for i, f in ipairs(self.faults) do
    local m = f.match or {}
    if (not m.method or m.method == req.method) and (not m.path or req.path:find(m.path, 1, true))
      and (not f.rate or self.random() < f.rate) then
      f.count = f.count - 1
      if f.count <= 0 then table.remove(self.faults, i) end
      return f
    end
  end
end

local function fault_response(self, f)
  local extra = f.retry_after and { ["Retry-After"] = tostring(math.floor(f.retry_after)) } or nil
  local resp
  if f.body_bytes then -- a huge body, made here rather than sent through the control API
    f = setmetatable({ body = '{"pad":"' .. ("x"):rep(math.max(0, f.body_bytes - 10)) .. '"}' }, { __index = f })
  end
  if f.body then
    resp = { status = f.status or 200, headers = { ["Content-Type"] = "application/json",
                                                  ["X-Request-Id"] = self.uuid() }, body = f.body }
  else
    local status = math.floor(f.status or 500) -- a JSON number: 502.0 on Lua 5.4
    local code = f.error_code or (status == 429 and "APIG.0308") or (status == 401 and "APIG.0301")
      or (status == 504 and "APIG.0203") or (status == 403 and "AOS.00.0403") or "AOS.00.0500"
    local message = status == 429
      and "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute"
      or ("injected fault: HTTP %d"):format(status)
    resp = error_response(self, status, code, message, extra)
  end
  if extra then resp.headers["Retry-After"] = extra["Retry-After"] end
  resp.delay, resp.drop, resp.truncate = f.delay, f.drop, f.truncate
  return resp
end

-- The API ---------------------------------------------------------------------------

local function parse_query(q)
  local t = {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    local function dec(s) return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)) end
    t[dec(k)] = dec(v)
  end
  return t
end

local function find_stack(self, project_id, name, stack_id)
  if not input.valid_name(name) then
    return nil, error_response(self, 400, "AOS.00.0400", "invalid stack_name: " .. name:sub(1, 64))
  end
  if stack_id and not stack_id:match(UUID) then
    return nil, error_response(self, 400, "AOS.00.0400", "invalid stack_id: it must be a 36-character UUID")
  end
  local st = self.stacks[key(project_id, name)]
  if st then -- a deletion that has finished forgets the stack
    advance(st, now(self))
    st = self.stacks[key(project_id, name)]
  end
  if not st then return nil, error_response(self, 404, "AOS.00.0404", "stack " .. name .. " does not exist") end
  if stack_id and stack_id ~= st.stack_id then
    return nil, error_response(self, 400, "AOS.01.0400", "the stack_id does not match the current stack " .. name)
  end
  return st
end

local function get_metadata(self, st)
  return json_response(self, 200, metadata_of(st))
end

-- An events filter as RFS reads it: ',' is AND between groups, '|' is OR inside a group
-- (OR binds tighter), each term name==value over event_type, resource_type, resource_name.
-- -> a list of groups, each a list of { field, value } | nil, why
local FILTER_FIELDS = { event_type = true, resource_type = true, resource_name = true }
local function parse_filter(filter)
  local groups = {}
  for group in (filter .. ","):gmatch("([^,]*),") do
    local terms = {}
    for term in (group .. "|"):gmatch("([^|]*)|") do
      local field, value = term:match("^([%w_]+)==([%w_]+)$")
      if not field or not FILTER_FIELDS[field] then return nil, "invalid filter term '" .. term .. "'" end
      if terms[1] and terms[1][1] ~= field then return nil, "an AND group of the filter names two parameters" end
      terms[#terms + 1] = { field, value }
    end
    groups[#groups + 1] = terms
  end
  return groups
end

local function matches_filter(e, groups)
  if not groups then return true end
  for _, terms in ipairs(groups) do
    local any = false
    for _, t in ipairs(terms) do
      if tostring(e[t[1]]) == t[2] then any = true break end
    end
    if not any then return false end
  end
  return true
end

local function list_events(self, st, q)
  if q.deployment_id and not st.deployments[q.deployment_id] then
    return error_response(self, 404, "AOS.01.0404", "deployment " .. q.deployment_id .. " does not exist")
  end
  local groups = nil
  if q.filter and q.filter ~= "" and not q.filter:find(";", 1, true) then -- RFS ignores a filter with a ';'
    local why
    groups, why = parse_filter(q.filter)
    if not groups then return error_response(self, 400, "AOS.00.0400", why) end
  end
  local limit = tonumber(q.limit) or 100
  if limit < 1 or limit > 100 then return error_response(self, 400, "AOS.00.0400", "limit must be 1-100") end
  local fields
  if q.field and q.field ~= "" then
    fields = { event_type = true }
    for f in q.field:gmatch("[^,]+") do fields[f] = true end
  end
  local selected = {}
  for i = #st.events, 1, -1 do -- newest first
    local e = st.events[i]
    if (not q.deployment_id or e.deployment_id == q.deployment_id) and matches_filter(e, groups) then
      selected[#selected + 1] = e
    end
  end
  local first = tonumber(q.marker or "") or 1
  local page = setmetatable({}, cjson.array_mt)
  for i = first, math.min(#selected, first + limit - 1) do
    local e, out = selected[i], {}
    for k, v in pairs(e) do
      if k ~= "at" and k ~= "deployment_id" and (not fields or fields[k]) then out[k] = v end
    end
    page[#page + 1] = out
  end
  local info = { current_count = #page }
  if first + limit <= #selected then info.next_marker = tostring(first + limit) end
  if first > 1 then info.previous_marker = tostring(math.max(1, first - limit)) end
  return json_response(self, 200, { stack_events = page, page_info = info })
end

local function continue_op(self, st, op, t)
  if st.job then
    if st.status == op.needs then
      return error_response(self, 409, "AOS.01.0409", "another request for stack " .. st.stack_name
                            .. " is being processed")
    end
  end
  if st.status ~= op.needs then
    return error_response(self, 403, "AOS.01.0403", ("the stack is in status %s, which does not allow this "
                          .. "operation"):format(st.status))
  end
  local job = start_job(self, st, op, t)
  return json_response(self, 202, { deployment_id = job.deployment_id })
end

local function decode_body(self, req)
  if req.body == "" then return {} end
  local body = cjson.decode(req.body)
  if type(body) ~= "table" then
    return nil, error_response(self, 400, "AOS.00.0400", "the request body is not a JSON object")
  end
  for k, v in pairs(body) do
    if k ~= "stack_id" then
      return nil, error_response(self, 400, "AOS.00.0400", "unknown field in request body: " .. tostring(k))
    end
    if type(v) ~= "string" then return nil, error_response(self, 400, "AOS.00.0400", "stack_id must be a string") end
  end
  return body
end

local function handle_api(self, req, t)
  local routed = stack_sets.route(self, req, t) or lifecycle.route(self, req, t) or plans.route(self, req, t)
    or template_lib.route(self, req, t)
  if routed then return routed end
  local project_id, name, action = req.path:match("^/v1/([^/]+)/stacks/([^/]+)/([%w_]+)$")
  if not project_id then return error_response(self, 404, "AOS.00.0404", "no such API: " .. req.path) end
  name = input.path_segment(name) -- a Chinese name comes percent-encoded
  if #project_id < 3 or #project_id > 64 then
    return error_response(self, 400, "AOS.00.0400", "invalid project_id")
  end
  local crid = req.headers["client-request-id"]
  if not crid or #crid < 36 or #crid > 128 then
    return error_response(self, 400, "AOS.00.0400", "header Client-Request-Id is required (36-128 characters)")
  end
  local q = parse_query(req.query)
  if req.method == "GET" and (action == "metadata" or action == "events") then
    local st, err = find_stack(self, project_id, name, q.stack_id)
    if not st then return err end
    advance(st, t)
    if action == "metadata" then return get_metadata(self, st) end
    return list_events(self, st, q)
  elseif req.method == "POST" and OPERATIONS[action] then
    local body, berr = decode_body(self, req)
    if not body then return berr end
    local st, err = find_stack(self, project_id, name, body.stack_id)
    if not st then return err end
    advance(st, t)
    return continue_op(self, st, OPERATIONS[action], t)
  end
  return error_response(self, 405, "AOS.00.0400", "method " .. req.method .. " is not allowed on " .. req.path)
end

-- Control endpoints ---------------------------------------------------------------

-- Control bodies are checked against a schema before anything is kept: a value that
-- passed would be used on every later request, so a wrong one would break them all.
-- A checker is function(value, name) -> nil | "name must be ...".

local function shown(k)
  return (tostring(k):sub(1, 40):gsub("[^%w_%-%.]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

local function finite(v)
  return type(v) == "number" and v == v and v > -math.huge and v < math.huge
end

local function number_in(lo, hi, whole)
  return function(v, name)
    if not finite(v) or v < lo or v > hi or (whole and v % 1 ~= 0) then
      return ("%s must be a %s from %s to %s"):format(name, whole and "whole number" or "number", lo, hi)
    end
  end
end

local function text(max, pattern, what)
  return function(v, name)
    if type(v) ~= "string" or #v > max or (pattern and not v:match(pattern)) then
      return name .. " must be " .. (what or ("a string of at most " .. max .. " bytes"))
    end
  end
end

local function one_of(set, what)
  return function(v, name)
    if type(v) ~= "string" or not set[v] then return name .. " must be " .. what end
  end
end

local function boolean(v, name)
  if type(v) ~= "boolean" then return name .. " must be true or false" end
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function array_of(max, item)
  return function(v, name)
    if type(v) ~= "table" or not is_array(v) or #v > max then
      return ("%s must be an array of at most %d items"):format(name, max)
    end
    for i, x in ipairs(v) do
      local why = item(x, ("%s[%d]"):format(name, i))
      if why then return why end
    end
  end
end

local function field_name(prefix, k)
  return prefix == "" and shown(k) or (prefix .. "." .. shown(k))
end

local function object(fields)
  return function(v, name)
    if type(v) ~= "table" or (next(v) ~= nil and is_array(v)) then return name .. " must be a JSON object" end
    for k in pairs(v) do
      if type(k) ~= "string" or not fields[k] then return "unknown field " .. field_name(name, k) end
    end
    for k, check in pairs(fields) do
      if v[k] ~= nil then
        local why = check(v[k], field_name(name, k))
        if why then return why end
      end
    end
  end
end

-- Any JSON value the emulator only hands back (strings, finite numbers, booleans, nesting).
local function json_data(v, name)
  local t = type(v)
  if t == "string" or t == "boolean" or finite(v) then return nil end
  if t ~= "table" then return name .. " must hold only strings, finite numbers, booleans, arrays and objects" end
  for k, x in pairs(v) do
    local why = json_data(x, name .. "." .. shown(k))
    if why then return why end
  end
end

local function any_object(v, name)
  if type(v) ~= "table" or (next(v) ~= nil and is_array(v)) then return name .. " must be a JSON object" end
  return json_data(v, name)
end

local TEXT = text(64 * 1024)
local OUTCOMES = { success = true, fail = true, fail_then_rollback_fail = true }
local OUTCOME = one_of(OUTCOMES, "success, fail or fail_then_rollback_fail")

local check_seed = object{
  project_id = text(64, "^[%w_-][%w_-][%w_-]+$", "3-64 letters, digits, _ or -"),
  stack_name = function(v, name)
    if not input.valid_name(v) then
      return name .. " must be a stack name: a letter or a Chinese character, then letters, Chinese characters, "
        .. "digits, _ or -, at most 128 characters"
    end
  end,
  stack_id = text(36, UUID, "a 36-character UUID"),
  status = one_of(ALL_STATES, "a stack status such as DEPLOYMENT_FAILED"),
  description = TEXT, status_message = TEXT, failure_message = TEXT, vars_body = TEXT, vars_uri_content = TEXT,
  enable_auto_rollback = boolean, enable_deletion_protection = boolean,
  deploy_seconds = number_in(0, 7 * 86400), rollback_seconds = number_in(0, 7 * 86400),
  delete_seconds = number_in(0, 7 * 86400), template_body = text(51200),
  outcome = OUTCOME, rollback_outcome = OUTCOME,
  resources = array_of(1000, text(64, "^[%w_-]+$", "a resource name (letters, digits, _ or -)")),
  vars_structure = array_of(100, any_object),
  agencies = array_of(10, object{ provider_name = text(64), agency_name = text(64), agency_urn = text(256) }),
}

local function seed(self, body, t)
  local why = check_seed(body, "")
  if why then return error_response(self, 400, "AOS.00.0400", "seed: " .. why) end
  if not body.stack_name then
    return error_response(self, 400, "AOS.00.0400", "seed: a valid stack_name is required")
  end
  body.project_id = body.project_id or self.project_id
  if not body.project_id then
    return error_response(self, 400, "AOS.00.0400", "seed: project_id is required (or start with --project-id)")
  end
  local target, bad = lifecycle.seed_template(self, body)
  if target == nil then return bad end
  local k = key(body.project_id, body.stack_name)
  local st = self.stacks[k]
  if not st then
    st = { stack_id = self.uuid(), create_time = t, update_time = t, events = {}, deployments = {},
           status = "DEPLOYMENT_FAILED", description = "", enable_auto_rollback = false,
           enable_deletion_protection = false, deploy_seconds = 30, rollback_seconds = 20, outcome = "success",
           rollback_outcome = "success", resources = { "vpc", "subnet", "ecs" },
           failure_message = "quota exceeded for resource type ecs",
           agencies = { { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } } }
    self.stacks[k] = st
  end
  for f, v in pairs(body) do st[f] = v end
  if target then lifecycle.seeded(self, st, target) end
  if st.status:match("FAILED$") and not body.status_message then
    st.status_message = st.status_message or ("seeded in " .. st.status .. ": " .. st.failure_message)
  end
  return json_response(self, 201, metadata_of(st))
end

local METHODS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true, HEAD = true, OPTIONS = true }

local check_fault = object{
  match = object{ method = one_of(METHODS, "an HTTP method such as GET or POST"), path = text(1024) },
  status = number_in(200, 599, true),
  count = number_in(1, 1e9, true),
  retry_after = number_in(0, 1e9), -- a server may ask for days: the client must not sleep them
  delay = number_in(0, 3600),
  drop = one_of({ before = true, after = true }, "'before' or 'after'"),
  body = text(1024 * 1024, nil, "a string of at most 1 MiB"),
  body_bytes = number_in(0, 256 * 1024 * 1024, true),
  error_code = text(64, "^[%w._-]+$", "an error code such as AOS.00.0500"),
  truncate = boolean,
  rate = function(v, name)
    if not finite(v) or not (v > 0 and v <= 1) then return name .. " is a share of requests, in (0, 1]" end
  end,
}

local function add_fault(self, body)
  local why = check_fault(body, "")
  if why then return error_response(self, 400, "AOS.00.0400", "fault: " .. why) end
  -- with a rate (0..1) a fault hits that share of matching requests, by default for ever
  body.count = body.count or (body.rate and math.huge or 1)
  self.faults[#self.faults + 1] = body
  return json_response(self, 201, { faults = #self.faults })
end

local function json_media_type(value)
  if type(value) ~= "string" then return false end
  return value:match("^[ \t]*([^; \t]*)"):lower() == "application/json"
end

local function handle_control(self, req, t)
  if req.peer and not (req.peer:match("^127%.") or req.peer == "::1") then
    return error_response(self, 403, "AOS.00.0403", "control endpoints answer loopback peers only")
  end
  -- a web page may POST a form to loopback, never JSON without asking (CORS): only JSON is taken
  if req.method == "POST" and not json_media_type(req.headers["content-type"]) then
    return error_response(self, 415, "AOS.00.0400", "control calls take a JSON body: send Content-Type: application/json")
  end
  if identity.owns(req.path) then return identity.handle(self, req, t) end
  local routed = lifecycle.control(self, req) or stack_sets.control(self, req)
  if routed then return routed end
  local action = req.path:match("^/_emulator/(%w+)$")
  if req.method == "GET" and action == "health" then return json_response(self, 200, { ok = true }) end
  if req.method == "GET" and action == "requests" then
    local list = setmetatable({}, cjson.array_mt)
    for i, r in ipairs(self.log) do list[i] = r end
    return json_response(self, 200, { requests = list })
  end
  if req.method == "POST" and action == "reset" then
    self.stacks, self.faults, self.log, self.downloads, self.identity = {}, {}, {}, {}, nil
    self.templates = {}
    stack_sets.reset(self)
    return json_response(self, 200, { ok = true })
  end
  if req.method == "POST" and (action == "stacks" or action == "faults") then
    local body = cjson.decode(req.body)
    if type(body) ~= "table" then return error_response(self, 400, "AOS.00.0400", "the body is not a JSON object") end
    if action == "stacks" then return seed(self, body, t) end
    return add_fault(self, body)
  end
  return error_response(self, 404, "AOS.00.0404", "no such control endpoint: " .. req.path)
end

--- emu:handle(req) -> resp. req = { method, path, query, headers (lower-case names), body, peer }.
--  resp = { status, headers, body, delay = seconds to hold it, drop = "before" | "after",
--           truncate = true: send half the body under the full Content-Length, then close }.
function emulator.handle(self, req)
  show_time_of(self)
  local t = now(self)
  if req.path:sub(1, 6) == "/_obs/" then return lifecycle.download(self, req, t) end -- unsigned, as OBS URLs are
  if req.path:sub(1, 11) == "/_emulator/" then
    local ok, resp = pcall(handle_control, self, req, t)
    return ok and resp or error_response(self, 500, "AOS.00.0500", "internal error")
  end
  local fault = matching_fault(self, req)
  if fault and fault.drop ~= "after" then
    local resp = fault_response(self, fault)
    log_request(self, req, fault.drop and 0 or resp.status, t)
    return resp
  end
  local resp
  if identity.owns(req.path) then -- the metadata service and IAM, for the credentials chain
    resp = identity.handle(self, req, t)
    log_request(self, req, resp.status, t)
    return resp
  end
  local why, code = self.verify(self, req)
  if why then
    resp = error_response(self, 401, code or "APIG.0301", "Incorrect IAM authentication information: " .. why)
  else
    local ok, r = pcall(handle_api, self, req, t)
    resp = ok and r or error_response(self, 500, "AOS.00.0500", "internal error")
  end
  -- applied: a continue that started a deployment (whatever happens to its answer)
  log_request(self, req, resp.status, t, req.method == "POST" and resp.status == 202)
  if fault then resp.drop = "after" end
  return resp
end

--- The response for a request the front-end could not parse.
function emulator.reject(self, status, message)
  local code = status == 413 and "APIG.0201" or status >= 500 and "AOS.00.0500" or "AOS.00.0400"
  return error_response(self, status, code, message)
end

--- Brings every stack up to the emulated present (the server calls this between requests).
--  Every request brings the stacks it reads up to date itself, so this sweep is only
--  housekeeping: it runs at most ten times a (real) second, or an emulator holding
--  10,000 stacks spends its time sweeping between every two requests.
function emulator.tick(self)
  show_time_of(self)
  local c = self.clock()
  if self.swept_at and c >= self.swept_at and c - self.swept_at < 0.1 then return end
  self.swept_at = c
  local t = now(self)
  for _, st in pairs(self.stacks) do advance(st, t) end
end

--- emulator.new{ ak, sk, clock, time_scale, queue_seconds, epoch, project_id, verify, uuid, sign, wall_clock,
--                stack_quota, deploy_seconds, rollback_seconds, delete_seconds }
--  wall_clock: what signature dates are checked against (default: epoch + unscaled clock time).
--  stack_quota: stacks a project may hold (CreateStack answers 403 past it; default no limit);
--  *_seconds: emulated duration of a deployment, rollback and deletion of a created stack.
function emulator.new(opts)
  opts = opts or {}
  local self = {
    ak = opts.ak, sk = opts.sk, project_id = opts.project_id,
    clock = opts.clock or os.time, time_scale = opts.time_scale or 1,
    queue_seconds = opts.queue_seconds or 2,
    stacks = {}, faults = {}, log = {},
    verify = opts.verify or default_verifier,
    sign = opts.sign, uuid = opts.uuid, wall_clock = opts.wall_clock, random = opts.random or math.random,
    stack_quota = opts.stack_quota, deploy_seconds = opts.deploy_seconds, rollback_seconds = opts.rollback_seconds,
    delete_seconds = opts.delete_seconds, instance_seconds = opts.instance_seconds,
  }
  if not self.sign or not self.uuid then
    local core = require "rfs.core"
    self.sign = self.sign or core.sign
    self.uuid = self.uuid or core.uuid4
  end
  self.clock0 = self.clock()
  self.epoch = opts.epoch or os.time()
  return setmetatable(self, { __index = emulator })
end

lifecycle = require "rfs.emulator.stacks"
lifecycle.use{ json_response = json_response, error_response = error_response, parse_query = parse_query,
               advance = advance, metadata_of = metadata_of, key = key, rfc3339 = rfc3339 }
plans = require "rfs.emulator.plans"
plans.use{ json_response = json_response, error_response = error_response, parse_query = parse_query,
           rfc3339 = rfc3339 }
stack_sets = require "rfs.emulator.stack_sets"
stack_sets.use{ json_response = json_response, error_response = error_response,
                checks = { object = object, text = text, number_in = number_in } }
template_lib = require "rfs.emulator.template_lib"
template_lib.use{ json_response = json_response, error_response = error_response, parse_query = parse_query,
                  rfc3339 = rfc3339 }

return emulator
