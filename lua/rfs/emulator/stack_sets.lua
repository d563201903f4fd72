-- rfs.emulator.stack_sets: the emulator's stack sets, its own reading of the RFS API
-- reference (part 2, section 3; it never uses the client's operation model). Stack sets
-- belong to the domain (no project_id in the path); one emulator is one domain.
--
--   POST   /v1/stack-sets                                           CreateStackSet          201
--   GET    /v1/stack-sets                                           ListStackSets           200
--   GET    /v1/stack-sets/{name}/metadata                           ShowStackSetMetadata    200
--   PATCH  /v1/stack-sets/{name}                                    UpdateStackSet          204
--   DELETE /v1/stack-sets/{name}                                    DeleteStackSet          204
--   GET    /v1/stack-sets/{name}/templates                          ShowStackSetTemplate    307
--   POST   /v1/stack-sets/{name}/deployments                        DeployStackSet          202
--   POST   /v1/stack-sets/{name}/stack-instances                    CreateStackInstance     202
--   PATCH  /v1/stack-sets/{name}/stack-instances                    UpdateStackInstances    202
--   POST   /v1/stack-sets/{name}/stack-instances/deletion           DeleteStackInstance     202
--   DELETE /v1/stack-sets/{name}/stack-instances                    DeleteStackInstanceDeprecated 202
--   GET    /v1/stack-sets/{name}/stack-instances                    ListStackInstances      200
--   GET    /v1/stack-sets/{name}/stack-instances/{region}%2F{domain} ShowStackInstance      200
--          (also %252F, and the address as two path segments)
--   GET    /v1/stack-sets/{name}/operations                         ListStackSetOperations  200
--   GET    /v1/stack-sets/{name}/operations/{id}/metadata           ShowStackSetOperationMetadata 200
-- and the control endpoint POST /_emulator/stack-sets/failures {region, domain_id, message,
-- count, stack_set_name}: the next `count` (default 1) instance operations in that pair fail.
--
-- Operations run in emulated time. Each instance takes instance_seconds (emulator option,
-- default 10). Per region, instances run in batches of the maximum concurrency (STRICT mode:
-- lowered as failures accumulate so they never pass tolerance + 1; SOFT: kept); regions run
-- one after the other in region_order (SEQUENTIAL) or all at once (PARALLEL). A region past
-- its failure tolerance cancels the waiting instances (CANCEL_COMPLETE) of every region
-- (SEQUENTIAL) or of itself (PARALLEL), and the operation ends OPERATION_FAILED. An instance
-- deploys the set's template through the template reader: a variable with no default and no
-- value fails it, as does an injected failure.
--
-- Error codes: the reference found none for stack sets; these are the emulator's own, in
-- RFS's format: RF.10011001 a required field is missing, RF.10011002 unknown field,
-- RF.10011005 too long, RF.10011033 wrong type or not JSON, RF.10011015 stack_set_id does
-- not match, RF.10011073 the template cannot be read, RF.10011200 bad targets, preferences,
-- overrides, filter or sort (all 400); RF.10012600 403 a parallel operation is not allowed,
-- RF.10012601 403 the set's state forbids the call; RF.10013600/601/602 404 no such stack
-- set / instance / operation; RF.10013700 409 a stack set of that name exists.

local cjson = require "cjson.safe"
local input = require "rfs.emulator.input"
local replies = require "rfs.emulator.replies"

local stack_sets = {}

local shared -- helpers of rfs.emulator (json_response, error_response, checks), set by stack_sets.use

function stack_sets.use(helpers)
  shared = helpers
end

local NAME = "^[A-Za-z][A-Za-z0-9_-]*$"
local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local TEMPLATE_URL_SECONDS = 300
local MAX_PARALLEL = 10
local ACTIVE = { QUEUE_IN_PROGRESS = true, OPERATION_IN_PROGRESS = true }

local array, empty = replies.array, replies.empty

local function fail(self, status, code, message)
  return shared.error_response(self, status, code, message)
end


--- YYYY-MM-DDTHH:mm:ss.SSSZ: stack set timestamps carry milliseconds.
local function millis(t)
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor((t - s) * 1000))
end

local function sets_of(self)
  self.stack_sets = self.stack_sets or { by_name = {}, order = {}, failures = {} }
  return self.stack_sets
end

-- Requests -------------------------------------------------------------------------------------

local unescape = input.path_segment

-- The query with every value kept (sort_key and sort_dir repeat).
local function query_of(q)
  local t, all = {}, {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = unescape((k:gsub("%+", " "))), unescape(v)
    t[k] = v
    all[k] = all[k] or {}
    all[k][#all[k] + 1] = v
  end
  return t, all
end

local function json_type(v)
  if type(v) == "table" then
    if next(v) == nil then return "empty" end
    return #v > 0 and "array" or "object"
  end
  return type(v)
end

local function is_type(v, want)
  local t = json_type(v)
  return t == want or (t == "empty" and (want == "array" or want == "object"))
end

local OBJECTS = {
  deployment_targets = { regions = "array", domain_ids = "array", domain_ids_uri = "string",
                         organizational_unit_ids = "array", domain_id_filter_type = "string" },
  operation_preferences = { region_concurrency_type = "string", region_order = "array",
                            failure_tolerance_count = "number", failure_tolerance_percentage = "number",
                            max_concurrent_count = "number", max_concurrent_percentage = "number",
                            failure_tolerance_mode = "string" },
  var_overrides = { vars_uri = "string", vars_body = "string", use_stack_set_vars = "array" },
  managed_operation = { enable_parallel_operation = "boolean" },
}

local COMMON = { stack_set_id = { "string", 36, 36 }, call_identity = { "string", 0, 32 } }
local function fields(extra)
  local t = {}
  for k, v in pairs(COMMON) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end
local TEMPLATE = { template_body = { "string", 0, 51200 }, template_uri = { "string", 0, 2048 },
                   vars_body = { "string", 0, 51200 }, vars_uri = { "string", 0, 2048 } }
local function with_template(extra)
  local t = fields(extra)
  for k, v in pairs(TEMPLATE) do t[k] = v end
  return t
end

local BODIES = {
  create = with_template{ stack_set_name = { "string", 1, 128 }, stack_set_description = { "string", 0, 1024 },
                          initial_stack_description = { "string", 0, 1024 }, permission_model = { "string", 0, 32 },
                          administration_agency_name = { "string", 0, 64 },
                          administration_agency_urn = { "string", 0, 128 }, managed_agency_name = { "string", 0, 64 },
                          managed_operation = { "object" } },
  update = fields{ stack_set_description = { "string", 0, 1024 }, initial_stack_description = { "string", 0, 1024 },
                   administration_agency_name = { "string", 0, 64 }, administration_agency_urn = { "string", 0, 128 },
                   managed_agency_name = { "string", 0, 64 }, managed_operation = { "object" } },
  deploy = with_template{ deployment_targets = { "object" }, operation_preferences = { "object" } },
  instances = fields{ deployment_targets = { "object" }, var_overrides = { "object" },
                      operation_preferences = { "object" } },
  deletion = fields{ deployment_targets = { "object" }, operation_preferences = { "object" } },
}

local function check_object(name, v)
  local spec = OBJECTS[name]
  if not spec then return true end
  for k, x in pairs(v) do
    if not spec[k] then return nil, "RF.10011002", ("unknown field %s.%s"):format(name, tostring(k):sub(1, 64)) end
    if not is_type(x, spec[k]) then
      return nil, "RF.10011033", ("%s.%s must be a%s %s"):format(name, k, spec[k] == "array" and "n" or "", spec[k])
    end
  end
  return true
end

--- The JSON body of op, checked; or nil, code, message.
local function body_of(op, text)
  if text == nil or text:match("^%s*$") then return nil, "RF.10011032", "the request needs a JSON body" end
  local body = cjson.decode(text)
  if type(body) ~= "table" or not text:match("^%s*{") then
    return nil, "RF.10011033", "the request body is not a JSON object"
  end
  for k, v in pairs(body) do
    local spec = BODIES[op][k]
    if not spec then return nil, "RF.10011002", "unknown field in the request body: " .. tostring(k):sub(1, 64) end
    if v == cjson.null then
      body[k] = nil
    elseif not is_type(v, spec[1]) then
      return nil, "RF.10011033", ("%s must be a%s %s"):format(k, spec[1] == "object" and "n" or "", spec[1])
    elseif spec[1] == "string" and (#v > spec[3] or #v < spec[2]) then
      return nil, #v > spec[3] and "RF.10011005" or "RF.10011006",
             ("%s must be %d-%d characters"):format(k, spec[2], spec[3])
    elseif spec[1] == "object" then
      local ok, code, message = check_object(k, v)
      if not ok then return nil, code, message end
    end
  end
  if body.call_identity and body.call_identity ~= "SELF" and body.call_identity ~= "DELEGATED_ADMIN" then
    return nil, "RF.10011200", "call_identity must be SELF or DELEGATED_ADMIN"
  end
  return body
end

-- Templates and vars ---------------------------------------------------------------------------

local function read_template(self, text)
  local doc, why = replies.parse_template(text)
  if not doc then return nil, fail(self, 400, "RF.10011073", why) end
  return doc
end

-- The template text of a body: template_body, or a template_uri this emulator handed out.
local function template_text(self, body, t)
  if body.template_body and body.template_uri then
    return nil, fail(self, 400, "RF.10011003", "give template_body or template_uri, not both")
  end
  if body.template_uri then
    local text, why = replies.download_text(self, body.template_uri, t)
    if not text then return nil, fail(self, 400, "RF.10011035", why) end
    return text
  end
  return body.template_body
end

--- name = value lines of a tfvars text: { name = value text }; or nil and the bad line.
local function tfvars(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    local trimmed = line:gsub("^%s+", ""):gsub("%s+$", "")
    if trimmed ~= "" and not trimmed:match("^#") and not trimmed:match("^//") then
      local k, v = trimmed:match("^([A-Za-z][A-Za-z0-9_-]*)%s*=%s*(.-)$")
      if not k then return nil, trimmed end
      out[k] = v
    end
  end
  return out
end

-- The variables a set has: those its template declares and those its vars give.
local function variables_of(set)
  local names = {}
  for _, v in ipairs(set.doc and set.doc.variables or {}) do names[v.name] = true end
  for k in pairs(set.vars or {}) do names[k] = true end
  return names
end

-- Looking up ---------------------------------------------------------------------------------

local function find_set(self, name, id)
  if #name > 128 or not name:match(NAME) then
    return nil, fail(self, 400, "RF.10011010", "stack_set_name must start with a letter and hold only letters, "
                     .. "digits, _ and -: " .. name:sub(1, 64))
  end
  if id and not id:match(UUID) then
    return nil, fail(self, 400, "RF.10011005", "stack_set_id must be a 36-character UUID")
  end
  local set = sets_of(self).by_name[name]
  if not set then return nil, fail(self, 404, "RF.10013600", "stack set " .. name .. " does not exist") end
  if id and id ~= set.id then
    return nil, fail(self, 400, "RF.10011015", "the stack_set_id does not match the current stack set " .. name)
  end
  return set
end

--- Applies every due step of the set's operations (in time order).
local function advance(set, t)
  while set.steps[1] and set.steps[1].at <= t do
    table.remove(set.steps, 1).run()
  end
end

local function active_ops(set)
  local n, list = 0, {}
  for _, op in ipairs(set.operations) do
    if ACTIVE[op.status] then
      n = n + 1
      list[n] = op
    end
  end
  return n, list
end

local function set_status(set)
  if set.deactivated then return "DEACTIVATED" end
  return active_ops(set) > 0 and "OPERATION_IN_PROGRESS" or "IDLE"
end

-- Shapes -------------------------------------------------------------------------------------

local function set_summary(set)
  return { stack_set_id = set.id, stack_set_name = set.name, stack_set_description = set.description,
           permission_model = set.permission_model, status = set_status(set), create_time = millis(set.create_time),
           update_time = millis(set.update_time) }
end

local function set_metadata(set)
  local m = set_summary(set)
  m.initial_stack_description = set.initial_stack_description
  m.administration_agency_name = set.administration_agency_name
  m.administration_agency_urn = set.administration_agency_urn
  m.managed_agency_name = set.managed_agency_name
  m.managed_operation = { enable_parallel_operation = set.parallel }
  m.organizational_unit_ids = array()
  m.vars_body = set.vars_body
  m.vars_uri_content = set.vars_uri and "" or nil
  return m
end

local function instance_view(set, inst, with_overrides)
  local v = { stack_set_id = set.id, stack_set_name = set.name, status = inst.status, stack_id = inst.stack_id,
              stack_name = set.name, stack_domain_id = inst.domain_id, region = inst.region,
              latest_stack_set_operation_id = inst.latest_op, create_time = millis(inst.create_time),
              update_time = millis(inst.update_time) }
  if inst.status == "OPERATION_FAILED" or inst.status == "INOPERABLE" then v.status_message = inst.status_message end
  if with_overrides and next(inst.overrides) then v.var_overrides = inst.overrides end
  return v
end

local function operation_view(op)
  return { operation_id = op.id, stack_set_id = op.set.id, stack_set_name = op.set.name, action = op.action,
           status = op.status, status_message = op.status_message, create_time = millis(op.create_time),
           update_time = millis(op.update_time) }
end

local function operation_metadata(op)
  local set = op.set
  return { stack_set_operation_id = op.id, stack_set_id = set.id, stack_set_name = set.name, status = op.status,
           status_message = op.status_message, action = op.action,
           administration_agency_name = set.administration_agency_name,
           administration_agency_urn = set.administration_agency_urn, managed_agency_name = set.managed_agency_name,
           deployment_targets = op.targets, operation_preferences = op.preferences or {},
           create_time = millis(op.create_time), update_time = millis(op.update_time) }
end

-- Lists: filter, sort, page ------------------------------------------------------------------

-- ',' AND of clauses, '|' OR inside a clause, key==value; a clause with ';' is ignored.
local function filter_of(self, text, keys)
  local clauses = {}
  if not text or text == "" then return clauses end
  if #text > 512 then return nil, fail(self, 400, "RF.10011200", "filter is longer than 512 characters") end
  for clause in (text .. ","):gmatch("([^,]*),") do
    if not clause:find(";", 1, true) then
      local alts = {}
      for alt in (clause .. "|"):gmatch("([^|]*)|") do
        local k, v = alt:match("^([A-Za-z0-9_]+)==([A-Za-z0-9_]+)$")
        if not k or not keys[k] then
          return nil, fail(self, 400, "RF.10011200", "invalid filter term: " .. alt:sub(1, 64))
        end
        alts[#alts + 1] = { k, v }
      end
      clauses[#clauses + 1] = alts
    end
  end
  return clauses
end

local function matches(item, clauses)
  for _, alts in ipairs(clauses) do
    local any = false
    for _, a in ipairs(alts) do any = any or tostring(item[a[1]]) == a[2] end
    if not any then return false end
  end
  return true
end

--- The list of items (each with .create_time) filtered, sorted and paged, as the response.
local function list_response(self, q, all, items, key, view, keys)
  local clauses, bad = filter_of(self, q.filter, keys)
  if not clauses then return bad end
  local sk, sd = all.sort_key or {}, all.sort_dir or {}
  if #sk ~= #sd then return fail(self, 400, "RF.10011200", "sort_key and sort_dir must have as many items") end
  if sk[1] and sk[1] ~= "create_time" then return fail(self, 400, "RF.10011200", "sort_key must be create_time") end
  local dir = sd[1] or "desc"
  if dir ~= "asc" and dir ~= "desc" then return fail(self, 400, "RF.10011200", "sort_dir must be asc or desc") end
  local rows = {}
  for i, it in ipairs(items) do
    local v = view(it)
    if matches(v, clauses) then rows[#rows + 1] = { v = v, t = it.create_time, i = i } end
  end
  table.sort(rows, function(a, b)
    if a.t ~= b.t then if dir == "asc" then return a.t < b.t end return a.t > b.t end
    if dir == "asc" then return a.i < b.i end
    return a.i > b.i
  end)
  local limit = tonumber(q.limit or "1000")
  local first = tonumber(q.marker or "1")
  if not limit or limit < 1 or limit > 1000 or limit % 1 ~= 0 or not first or first < 1 or first % 1 ~= 0 then
    return fail(self, 400, "RF.10011200", "marker or limit is not valid")
  end
  local page = array()
  for i = first, math.min(#rows, first + limit - 1) do page[#page + 1] = rows[i].v end
  local info = { current_count = #page }
  if first + limit <= #rows then info.next_marker = tostring(first + limit) end
  return shared.json_response(self, 200, { [key] = page, page_info = info })
end

-- Targets and preferences --------------------------------------------------------------------

local function bad(self, message) return nil, fail(self, 400, "RF.10011200", message) end

--- The (region, domain) pairs of deployment_targets, in order; or nil and a 400.
local function pairs_of(self, set, targets)
  if not targets then return nil, fail(self, 400, "RF.10011001", "deployment_targets is required") end
  if type(targets.regions) ~= "table" or #targets.regions == 0 then
    return bad(self, "deployment_targets.regions must list at least one region")
  end
  if set.permission_model == "SERVICE_MANAGED" or targets.organizational_unit_ids then
    return bad(self, "organizational_unit_ids and SERVICE_MANAGED targets need Organizations, which the emulator "
               .. "does not model")
  end
  if targets.domain_ids_uri then return bad(self, "domain_ids_uri cannot be read by the emulator: give domain_ids") end
  if type(targets.domain_ids) ~= "table" or #targets.domain_ids == 0 then
    return bad(self, "SELF_MANAGED targets need exactly one of domain_ids and domain_ids_uri")
  end
  local out, seen = {}, {}
  for _, r in ipairs(targets.regions) do
    if type(r) ~= "string" or not r:match("^[%w_%-]+$") then return bad(self, "invalid region in regions") end
    for _, d in ipairs(targets.domain_ids) do
      if type(d) ~= "string" or not d:match("^[%w_%-]+$") then return bad(self, "invalid domain id in domain_ids") end
      local k = r .. "/" .. d
      if not seen[k] then
        seen[k] = true
        out[#out + 1] = { region = r, domain_id = d, key = k }
      end
    end
  end
  return out
end

local MODES = { STRICT_FAILURE_TOLERANCE = true, SOFT_FAILURE_TOLERANCE = true }

local function check_preferences(self, p, regions)
  p = p or {}
  local conc = p.region_concurrency_type or "SEQUENTIAL"
  if conc ~= "SEQUENTIAL" and conc ~= "PARALLEL" then
    return bad(self, "region_concurrency_type must be SEQUENTIAL or PARALLEL")
  end
  if p.failure_tolerance_mode and not MODES[p.failure_tolerance_mode] then
    return bad(self, "failure_tolerance_mode must be STRICT_FAILURE_TOLERANCE or SOFT_FAILURE_TOLERANCE")
  end
  if p.failure_tolerance_count and p.failure_tolerance_percentage then
    return bad(self, "give failure_tolerance_count or failure_tolerance_percentage, not both")
  end
  if p.max_concurrent_count and p.max_concurrent_percentage then
    return bad(self, "give max_concurrent_count or max_concurrent_percentage, not both")
  end
  for _, k in ipairs({ "failure_tolerance_count", "failure_tolerance_percentage", "max_concurrent_count",
                       "max_concurrent_percentage" }) do
    local v = p[k]
    if v and (v % 1 ~= 0 or v < (k:match("^max") and 1 or 0) or (k:match("percentage$") and v > 100)) then
      return bad(self, k .. " is out of range")
    end
  end
  local order = regions
  if p.region_order then
    if conc ~= "SEQUENTIAL" then return bad(self, "region_order is only for SEQUENTIAL") end
    local want, n = {}, 0
    for _, r in ipairs(regions) do want[r] = true end
    for _, r in ipairs(p.region_order) do
      if not want[r] then return bad(self, "region_order must list exactly the regions of deployment_targets") end
      want[r] = nil
      n = n + 1
    end
    if next(want) or n ~= #regions then
      return bad(self, "region_order must list exactly the regions of deployment_targets")
    end
    order = p.region_order
  end
  return { parallel = conc == "PARALLEL", order = order, strict = p.failure_tolerance_mode ~= "SOFT_FAILURE_TOLERANCE",
           tolerance_count = p.failure_tolerance_count, tolerance_pct = p.failure_tolerance_percentage,
           max_count = p.max_concurrent_count, max_pct = p.max_concurrent_percentage }
end

-- per region: tolerance and concurrency for n instances
local function limits(prefs, n)
  local tol = prefs.tolerance_count or (prefs.tolerance_pct and math.floor(prefs.tolerance_pct * n / 100)) or 0
  local maxc = prefs.max_count or (prefs.max_pct and math.max(1, math.floor(prefs.max_pct * n / 100))) or 1
  return tol, maxc
end

-- Running an operation ------------------------------------------------------------------------

local function take_failure(self, set, pair)
  local list = sets_of(self).failures
  for i, f in ipairs(list) do
    if f.region == pair.region and f.domain_id == pair.domain_id
       and (not f.stack_set_name or f.stack_set_name == set.name) then
      f.count = f.count - 1
      if f.count <= 0 then table.remove(list, i) end
      return f.message
    end
  end
end

-- Why this instance's deployment would fail, or nil.
local function deploy_problem(set, overrides)
  for _, v in ipairs(set.doc and set.doc.variables or {}) do
    if not v.has_default and (set.vars or {})[v.name] == nil and overrides[v.name] == nil then
      return "variable " .. v.name .. " has no value: give it in the set's vars or in var_overrides"
    end
  end
end

local function schedule(set, at, run)
  set.steps[#set.steps + 1] = { at = at, run = run, seq = #set.steps + 1 + (set.seq or 0) }
  set.seq = (set.seq or 0) + 1
end

--- Plans op's whole timeline from `start` and queues its steps on the set.
local function plan(self, set, op, start)
  local D = self.instance_seconds or 10
  local prefs = op.prefs
  local by_region, order = {}, {}
  for _, pair in ipairs(op.pairs) do
    if not by_region[pair.region] then
      by_region[pair.region] = {}
    end
    local list = by_region[pair.region]
    list[#list + 1] = pair
  end
  for _, r in ipairs(prefs.order) do order[#order + 1] = r end

  schedule(set, start, function()
    op.status, op.update_time = "OPERATION_IN_PROGRESS", start
    for _, pair in ipairs(op.pairs) do
      local inst = set.instances[pair.key]
      if not inst then
        inst = { region = pair.region, domain_id = pair.domain_id, stack_id = self.uuid(), create_time = start,
                 overrides = {} }
        set.instances[pair.key] = inst
        set.instance_order[#set.instance_order + 1] = pair.key
      end
      if op.overrides then
        for k, v in pairs(op.overrides.set) do inst.overrides[k] = v end
        for _, k in ipairs(op.overrides.reset) do inst.overrides[k] = nil end
      end
      inst.status, inst.status_message, inst.latest_op, inst.update_time = "WAIT_IN_PROGRESS", nil, op.id, start
    end
  end)

  local op_end, exceeded, messages = start, false, {}
  local function cancel_from(list, from, at)
    for j = from, #list do
      local pair = list[j]
      schedule(set, at, function()
        local inst = set.instances[pair.key]
        if inst and inst.latest_op == op.id and inst.status == "WAIT_IN_PROGRESS" then
          inst.status, inst.update_time = "CANCEL_COMPLETE", at
        end
      end)
    end
  end
  -- one region from time s: returns its end, and when it exceeded its tolerance (or nil)
  local function run_region(list, s)
    local tol, maxc = limits(prefs, #list)
    local t, failures, i = s, 0, 1
    while i <= #list do
      local conc = maxc
      if prefs.strict then conc = math.min(maxc, tol - failures + 1) end
      local last = math.min(#list, i + conc - 1)
      for j = i, last do
        local pair = list[j]
        local inst_overrides = (set.instances[pair.key] or {}).overrides or {}
        local why = take_failure(self, set, pair)
        if not why and op.action ~= "DELETE_STACK_INSTANCES" then
          local o = {}
          for k, v in pairs(inst_overrides) do o[k] = v end
          if op.overrides then for k, v in pairs(op.overrides.set) do o[k] = v end end
          why = deploy_problem(set, o)
        end
        if why then failures = failures + 1 end
        local t0, t1 = t, t + D
        schedule(set, t0, function()
          local inst = set.instances[pair.key]
          if inst and inst.latest_op == op.id then inst.status, inst.update_time = "OPERATION_IN_PROGRESS", t0 end
        end)
        schedule(set, t1, function()
          local inst = set.instances[pair.key]
          if not inst or inst.latest_op ~= op.id then return end
          inst.update_time = t1
          if why then
            inst.status, inst.status_message = "OPERATION_FAILED", why
          elseif op.action == "DELETE_STACK_INSTANCES" then
            set.instances[pair.key] = nil
            for k, key in ipairs(set.instance_order) do
              if key == pair.key then table.remove(set.instance_order, k) break end
            end
          else
            inst.status = "OPERATION_COMPLETE"
          end
        end)
      end
      i, t = last + 1, t + D
      if failures > tol then
        messages[#messages + 1] = ("region %s: %d instance%s failed, failure tolerance %d"):format(
          list[1].region, failures, failures == 1 and "" or "s", tol)
        return t, t, i
      end
    end
    return t, nil, i
  end

  if prefs.parallel then
    for _, r in ipairs(order) do
      local list = by_region[r]
      local t_end, over, next_i = run_region(list, start)
      if over then
        exceeded = true
        cancel_from(list, next_i, over)
      end
      op_end = math.max(op_end, t_end)
    end
  else
    local t = start
    for ri, r in ipairs(order) do
      local list = by_region[r]
      local t_end, over, next_i = run_region(list, t)
      t = t_end
      op_end = math.max(op_end, t_end)
      if over then
        exceeded = true
        cancel_from(list, next_i, over)
        for rj = ri + 1, #order do cancel_from(by_region[order[rj]], 1, over) end
        break
      end
    end
  end
  op.ends_at = op_end
  schedule(set, op_end, function()
    op.update_time = op_end
    if exceeded then
      op.status, op.status_message = "OPERATION_FAILED", "failure tolerance exceeded: " .. table.concat(messages, "; ")
    else
      op.status = "OPERATION_COMPLETE"
    end
    set.update_time = op_end
  end)
  -- steps at the same time run in the order they were planned
  table.sort(set.steps, function(a, b)
    if a.at ~= b.at then return a.at < b.at end
    return a.seq < b.seq
  end)
end

--- Accepts an operation: checks concurrency, plans it, answers 202 with its id.
local function start_operation(self, set, action, body, pairs_list, t, overrides)
  local n, active = active_ops(set)
  if n > 0 and not set.parallel then
    return fail(self, 403, "RF.10012600", "stack set status invalid: a parallel operation is not allowed (operation "
                .. active[1].id .. " is " .. active[1].status .. "; managed_operation.enable_parallel_operation is "
                .. "false)")
  end
  if n >= MAX_PARALLEL then
    return fail(self, 403, "RF.10012600", "stack set status invalid: at most 10 operations may be active at once")
  end
  local regions, seen = {}, {}
  for _, p in ipairs(pairs_list) do
    if not seen[p.region] then
      seen[p.region] = true
      regions[#regions + 1] = p.region
    end
  end
  local prefs, perr = check_preferences(self, body.operation_preferences, regions)
  if not prefs then return perr end
  for _, r in ipairs(regions) do
    local count = 0
    for _, p in ipairs(pairs_list) do if p.region == r then count = count + 1 end end
    local tol, maxc = limits(prefs, count)
    if maxc > tol + 1 then
      return fail(self, 400, "RF.10011200", ("region %s: the maximum concurrency (%d) may exceed the failure "
                  .. "tolerance (%d) by at most 1"):format(r, maxc, tol))
    end
  end
  -- operations touching the same instance run in request order
  local start = t + (self.queue_seconds or 2)
  for _, other in ipairs(active) do
    for _, p in ipairs(pairs_list) do
      for _, q in ipairs(other.pairs) do
        if p.key == q.key then start = math.max(start, other.ends_at) end
      end
    end
  end
  local op = { id = self.uuid(), set = set, action = action, status = "QUEUE_IN_PROGRESS", create_time = t,
               update_time = t, targets = body.deployment_targets, preferences = body.operation_preferences,
               pairs = pairs_list, prefs = prefs, overrides = overrides }
  set.operations[#set.operations + 1] = op
  set.ops_by_id[op.id] = op
  plan(self, set, op, start)
  return shared.json_response(self, 202, { stack_set_operation_id = op.id })
end

-- var_overrides: { set = { name = value }, reset = { names } }, or nil and a 400.
local function overrides_of(self, set, vo)
  if not vo then return { set = {}, reset = {} } end
  if vo.vars_uri then return bad(self, "var_overrides.vars_uri cannot be read by the emulator: give vars_body") end
  local values, line = tfvars(vo.vars_body)
  if not values then return bad(self, "var_overrides.vars_body: not name = value: " .. line:sub(1, 64)) end
  local known = variables_of(set)
  for k in pairs(values) do
    if not known[k] then
      return bad(self, "var_overrides: variable " .. k .. " is not a variable of the stack set; only the set's "
                 .. "variables can be overridden (DeployStackSet adds variables)")
    end
  end
  local reset = {}
  for _, k in ipairs(vo.use_stack_set_vars or {}) do
    if type(k) ~= "string" or not known[k] then
      return bad(self, "var_overrides.use_stack_set_vars names a variable the stack set does not have")
    end
    reset[#reset + 1] = k
  end
  return { set = values, reset = reset }
end

-- Routes ---------------------------------------------------------------------------------------

local function apply_template(self, set, body, t)
  local text, terr = template_text(self, body, t)
  if text == nil then
    if terr then return nil, terr end
    return true
  end
  local doc, derr = read_template(self, text)
  if not doc then return nil, derr end
  local vars, line = tfvars(body.vars_body)
  if not vars then return nil, fail(self, 400, "RF.10011200", "vars_body: not name = value: " .. line:sub(1, 64)) end
  set.template_text, set.doc, set.vars, set.vars_body, set.vars_uri = text, doc, vars, body.vars_body, body.vars_uri
  return true
end

local function create_set(self, req, t)
  local body, code, message = body_of("create", req.body)
  if not body then return fail(self, 400, code, message) end
  local name = body.stack_set_name
  if not name then return fail(self, 400, "RF.10011001", "stack_set_name is required") end
  if not name:match(NAME) then
    return fail(self, 400, "RF.10011010", "stack_set_name must start with a letter and hold only letters, digits, _ "
                .. "and -")
  end
  local model = body.permission_model or "SELF_MANAGED"
  if model ~= "SELF_MANAGED" and model ~= "SERVICE_MANAGED" then
    return fail(self, 400, "RF.10011200", "permission_model must be SELF_MANAGED or SERVICE_MANAGED")
  end
  local agencies = body.administration_agency_name or body.administration_agency_urn or body.managed_agency_name
  if model == "SERVICE_MANAGED" and agencies then
    return fail(self, 400, "RF.10011200", "a SERVICE_MANAGED stack set takes no agency")
  end
  if model == "SELF_MANAGED" then
    if body.administration_agency_name and body.administration_agency_urn then
      return fail(self, 400, "RF.10011200", "give administration_agency_name or administration_agency_urn, not both")
    end
    if not body.managed_agency_name or not (body.administration_agency_name or body.administration_agency_urn) then
      return fail(self, 400, "RF.10011001", "a SELF_MANAGED stack set needs managed_agency_name and one of "
                  .. "administration_agency_name and administration_agency_urn")
    end
  end
  local all = sets_of(self)
  if all.by_name[name] then return fail(self, 409, "RF.10013700", "stack set " .. name .. " already exists") end
  local set = { id = self.uuid(), name = name, description = body.stack_set_description or "",
                initial_stack_description = body.initial_stack_description or "", permission_model = model,
                administration_agency_name = body.administration_agency_name,
                administration_agency_urn = body.administration_agency_urn,
                managed_agency_name = body.managed_agency_name,
                parallel = (body.managed_operation or {}).enable_parallel_operation == true,
                create_time = t, update_time = t, instances = {}, instance_order = {}, operations = {},
                ops_by_id = {}, steps = {} }
  local ok, terr = apply_template(self, set, body, t)
  if not ok then return terr end
  all.by_name[name] = set
  all.order[#all.order + 1] = set
  return shared.json_response(self, 201, { stack_set_id = set.id })
end

local function update_set(self, set, body, t)
  if set_status(set) ~= "IDLE" then
    return fail(self, 403, "RF.10012601", "stack set " .. set.name .. " is " .. set_status(set)
                .. ": it cannot be updated until its operations end")
  end
  local changes = 0
  for k in pairs(body) do if k ~= "stack_set_id" and k ~= "call_identity" then changes = changes + 1 end end
  if changes == 0 then return fail(self, 400, "RF.10011001", "nothing to update") end
  local agency = body.administration_agency_name or body.administration_agency_urn or body.managed_agency_name
  if agency and set.permission_model ~= "SELF_MANAGED" then
    return fail(self, 400, "RF.10011200", "the agencies of a SERVICE_MANAGED stack set cannot be set")
  end
  if body.administration_agency_name and body.administration_agency_urn then
    return fail(self, 400, "RF.10011200", "give administration_agency_name or administration_agency_urn, not both")
  end
  if body.stack_set_description then set.description = body.stack_set_description end
  if body.initial_stack_description then set.initial_stack_description = body.initial_stack_description end
  if body.administration_agency_name then
    set.administration_agency_name, set.administration_agency_urn = body.administration_agency_name, nil
  end
  if body.administration_agency_urn then
    set.administration_agency_urn, set.administration_agency_name = body.administration_agency_urn, nil
  end
  if body.managed_agency_name then set.managed_agency_name = body.managed_agency_name end
  if body.managed_operation and body.managed_operation.enable_parallel_operation ~= nil then
    set.parallel = body.managed_operation.enable_parallel_operation
  end
  set.update_time = t
  return empty(self, 204)
end

local function delete_set(self, set)
  local n = 0
  for _ in pairs(set.instances) do n = n + 1 end
  if set_status(set) ~= "IDLE" or n > 0 then
    return fail(self, 403, "RF.10012601", ("stack set %s cannot be deleted: it is %s with %d instance%s; delete its "
                .. "instances and wait until it is IDLE"):format(set.name, set_status(set), n, n == 1 and "" or "s"))
  end
  local all = sets_of(self)
  all.by_name[set.name] = nil
  for i, s in ipairs(all.order) do
    if s == set then table.remove(all.order, i) break end
  end
  return empty(self, 204)
end

local function get_template(self, set, req, t)
  if not set.template_text then
    return fail(self, 404, "RF.10013600", "stack set " .. set.name .. " has no template")
  end
  local token, expires = replies.issue_download(self, set.template_text, t, TEMPLATE_URL_SECONDS)
  local host = req.headers.host or "127.0.0.1"
  local location = ("http://%s/_obs/stack-sets/%s/template.tf?Expires=%d&Signature=%s"):format(
    host, set.name, math.floor(expires), token)
  return empty(self, 307, { Location = location })
end

-- The address of ShowStackInstance: {region}%2F{domain}, %252F, or two path segments.
local function instance_addr(rest)
  local addr = unescape(unescape(rest))
  return addr:match("^([^/]+)/([^/]+)$")
end

local function instance_op(self, set, op, body, t)
  local pairs_list, perr = pairs_of(self, set, body.deployment_targets)
  if not pairs_list then return perr end
  local action = ({ create = "CREATE_STACK_INSTANCES", update = "UPDATE_STACK_INSTANCES",
                    delete = "DELETE_STACK_INSTANCES", deploy = "DEPLOY_STACK_SET" })[op]
  for _, p in ipairs(pairs_list) do
    local exists = set.instances[p.key] ~= nil
    if op == "create" and exists then
      return fail(self, 400, "RF.10011200", "stack instance " .. p.key .. " already exists")
    elseif op ~= "create" and not exists then
      return fail(self, 400, "RF.10011200", "stack instance " .. p.key .. " is not an instance of the stack set")
    end
  end
  if op == "create" and not set.template_text then
    return fail(self, 400, "RF.10011056", "the stack set has no template: DeployStackSet gives it one")
  end
  local overrides
  if op == "create" or op == "update" then
    local oerr
    overrides, oerr = overrides_of(self, set, body.var_overrides)
    if not overrides then return oerr end
  end
  if op == "deploy" then
    local n = active_ops(set)
    if n > 0 and not set.parallel then
      return fail(self, 403, "RF.10012600", "stack set status invalid: a parallel operation is not allowed")
    end
    if not body.template_body and not body.template_uri then
      return fail(self, 400, "RF.10011056", "DeployStackSet is a full replacement: give template_body or "
                  .. "template_uri")
    end
    local ok, terr = apply_template(self, set, body, t)
    if not ok then return terr end
    set.update_time = t
  end
  return start_operation(self, set, action, body, pairs_list, t, overrides)
end

local ROUTES = {
  ["PATCH "] = "update", ["DELETE "] = "delete", ["GET metadata"] = "metadata", ["GET templates"] = "template",
  ["POST deployments"] = "deploy", ["POST stack-instances"] = "create", ["PATCH stack-instances"] = "update_instances",
  ["POST stack-instances/deletion"] = "delete_instances", ["DELETE stack-instances"] = "delete_instances",
  ["GET stack-instances"] = "instances", ["GET operations"] = "operations",
}

local function check_request_id(self, req)
  local crid = req.headers["client-request-id"]
  if not crid or #crid < 36 or #crid > 128 then
    return fail(self, 400, "RF.10011001", "header Client-Request-Id is required (36-128 characters)")
  end
end

--- The response to a signed request under /v1/stack-sets, or nil for any other path.
function stack_sets.route(self, req, t)
  local rest = req.path:match("^/v1/stack%-sets(.*)$")
  if not rest then return nil end
  local bad_id = check_request_id(self, req)
  if bad_id then return bad_id end
  local all = sets_of(self)
  for _, s in ipairs(all.order) do advance(s, t) end
  local q, qall = query_of(req.query)
  if rest == "" or rest == "/" then
    if req.method == "POST" then return create_set(self, req, t) end
    if req.method == "GET" then
      return list_response(self, q, qall, all.order, "stack_sets", set_summary, { permission_model = true })
    end
    return fail(self, 405, "RF.10011001", "method " .. req.method .. " is not allowed on " .. req.path)
  end
  local name, tail = rest:match("^/([^/]+)/?(.*)$")
  local op = ROUTES[req.method .. " " .. tail]
  local addr_rest = tail:match("^stack%-instances/(.+)$")
  local op_id = tail:match("^operations/([^/]+)/metadata$")
  if not op and req.method == "GET" and addr_rest and addr_rest ~= "deletion" then op = "instance" end
  if not op and req.method == "GET" and op_id then op = "operation" end
  if not op then return fail(self, 404, "RF.10013600", "no such API: " .. req.method .. " " .. req.path:sub(1, 128)) end
  local body = {}
  if req.method == "POST" or req.method == "PATCH" or op == "delete_instances" then
    local kind = ({ update = "update", deploy = "deploy", create = "instances", update_instances = "instances",
                    delete_instances = "deletion" })[op]
    local code, message
    body, code, message = body_of(kind, req.body)
    if not body then return fail(self, 400, code, message) end
  end
  local set, err = find_set(self, unescape(name), body.stack_set_id or q.stack_set_id)
  if not set then return err end
  if q.call_identity and q.call_identity ~= "SELF" and q.call_identity ~= "DELEGATED_ADMIN" then
    return fail(self, 400, "RF.10011200", "call_identity must be SELF or DELEGATED_ADMIN")
  end
  if op == "metadata" then return shared.json_response(self, 200, set_metadata(set)) end
  if op == "update" then return update_set(self, set, body, t) end
  if op == "delete" then return delete_set(self, set) end
  if op == "template" then return get_template(self, set, req, t) end
  if op == "deploy" then return instance_op(self, set, "deploy", body, t) end
  if op == "create" then return instance_op(self, set, "create", body, t) end
  if op == "update_instances" then return instance_op(self, set, "update", body, t) end
  if op == "delete_instances" then return instance_op(self, set, "delete", body, t) end
  if op == "instances" then
    local list = {}
    for _, k in ipairs(set.instance_order) do list[#list + 1] = set.instances[k] end
    return list_response(self, q, qall, list, "stack_instances", function(i) return instance_view(set, i) end,
                         { region = true, stack_domain_id = true, status = true })
  end
  if op == "instance" then
    local region, domain = instance_addr(addr_rest)
    local inst = region and set.instances[region .. "/" .. domain]
    if not inst then
      return fail(self, 404, "RF.10013601", "stack instance " .. addr_rest:sub(1, 128) .. " does not exist")
    end
    return shared.json_response(self, 200, instance_view(set, inst, true))
  end
  if op == "operations" then
    return list_response(self, q, qall, set.operations, "stack_set_operations", operation_view,
                         { status = true, action = true })
  end
  local found = set.ops_by_id[op_id]
  if not found then return fail(self, 404, "RF.10013602", "operation " .. op_id:sub(1, 64) .. " does not exist") end
  return shared.json_response(self, 200, operation_metadata(found))
end

--- POST /_emulator/stack-sets/failures {region, domain_id, message, count, stack_set_name};
--  nil for other control paths.
-- The failure body, checked with the emulator's control body checkers before it is kept:
-- a count that is not a whole number from 1 would make the failure fire for ever or never.
local check_failure
local function failure_problem(body)
  if not check_failure then
    local c = shared.checks
    local token = c.text(64, "^[%w_-]+$", "letters, digits, _ or - (at most 64)")
    check_failure = c.object{
      region = token, domain_id = token, message = c.text(1024),
      stack_set_name = c.text(128, NAME, "a stack set name (^[A-Za-z][A-Za-z0-9_-]{0,127}$)"),
      count = c.number_in(1, 1e6, true),
    }
  end
  return check_failure(body, "")
end

function stack_sets.control(self, req)
  if req.path ~= "/_emulator/stack-sets/failures" then return nil end
  if req.method ~= "POST" then return fail(self, 405, "AOS.00.0400", "use POST") end
  local body = cjson.decode(req.body)
  local why = type(body) ~= "table" and "the body is not a JSON object" or failure_problem(body)
  if why then return fail(self, 400, "AOS.00.0400", "failure: " .. why) end
  if not body.region or not body.domain_id then
    return fail(self, 400, "AOS.00.0400", "failure: region and domain_id are required")
  end
  local list = sets_of(self).failures
  list[#list + 1] = { region = body.region, domain_id = body.domain_id, stack_set_name = body.stack_set_name,
                      message = body.message or "injected failure", count = body.count or 1 }
  return shared.json_response(self, 201, { failures = #list })
end

--- Forgets every stack set (POST /_emulator/reset).
function stack_sets.reset(self)
  self.stack_sets = nil
end

return stack_sets
