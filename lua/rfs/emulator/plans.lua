-- rfs.emulator.plans: the emulator's execution plan routes, its own reading of the RFS API
-- reference (it never uses the client's operation model):
--   POST   /v1/{project_id}/stacks/{stack_name}/execution-plans                      CreateExecutionPlan        202
--   GET    /v1/{project_id}/stacks/{stack_name}/execution-plans                      ListExecutionPlans         200
--   GET    /v1/{project_id}/stacks/{stack_name}/execution-plans/{name}               GetExecutionPlan           200
--   POST   /v1/{project_id}/stacks/{stack_name}/execution-plans/{name}               ApplyExecutionPlan         202
--   DELETE /v1/{project_id}/stacks/{stack_name}/execution-plans/{name}               DeleteExecutionPlan        204
--   GET    /v1/{project_id}/stacks/{stack_name}/execution-plans/{name}/metadata      GetExecutionPlanMetadata   200
--   GET    /v1/{project_id}/stacks/{stack_name}/execution-plans/{name}/prices        EstimateExecutionPlanPrice 200
--
-- A plan is computed from the template reader: its items are the difference between the
-- stack's resources and the plan's template (ADD, DELETE, UPDATE when a block's text changed,
-- NO_OPERATION for the rest; data sources are NO_OPERATION items of mode DATA), with the
-- attributes of the blocks (literal values; "(known after apply)" for expressions;
-- "<sensitive>" for sensitive ones). It is CREATION_IN_PROGRESS for plan_seconds of emulated
-- time, then AVAILABLE, or CREATION_FAILED when the template cannot be read. Applying it runs
-- a deployment of its template (events, auto-rollback, as a deploy); the plan is
-- APPLY_IN_PROGRESS until that deployment ends, then APPLIED. Any deployment of the stack
-- (an apply, a deploy, a continue) expires every plan made before it.
--
-- Error codes:
--   RF.10011001 400 execution_plan_name missing    RF.10011010 400 a bad plan name
--   RF.10011015 400 stack_id does not match        RF.10011018 400 execution_plan_id does not match
--   RF.10011056 400 no template                    RF.10012519 403 create while the stack is busy
--   RF.10012542 403 apply while the stack is busy  RF.10012543 403 apply of a plan that is not AVAILABLE
--   RF.10012545 403 apply of an expired plan       RF.10012549 403 delete while creating or applying
--   RF.10013001 404 no such stack                  RF.10013002 404 no such plan
--   RF.10013501 409 a plan of that name exists     RF.10013503 409 another request for the stack is queued

local input = require "rfs.emulator.input"
local replies = require "rfs.emulator.replies"
local deploy = require "rfs.emulator.deploy"
local stacks = require "rfs.emulator.stacks"

local plans = {}

local shared -- helpers of rfs.emulator (json_response, error_response, parse_query, rfc3339), set by plans.use

function plans.use(helpers)
  shared = helpers
end

local PLAN_SECONDS = 4 -- emulated time a plan takes to compute
local UNKNOWN = "(known after apply)"
local SENSITIVE = "<sensitive>"
local PROVIDER = "huaweicloud/provider/huaweicloud"
local META = { count = true, for_each = true, depends_on = true, provider = true, lifecycle = true }
-- Attributes the provider's schema marks sensitive: never shown in a plan.
local SENSITIVE_ATTRIBUTES = { admin_pass = true, password = true, db_password = true, secret_key = true,
                               private_key = true, access_key = true }

local TEMPLATE_FIELDS = { template_body = { "string", 0, 51200 }, template_uri = { "string", 0, 2048 },
                          vars_body = { "string", 0, 51200 }, vars_uri = { "string", 0, 2048 },
                          vars_structure = { "array", 0, 100 } }
input.FIELDS.create_plan = { execution_plan_name = { "string", 1, 128 }, stack_id = { "string", 36, 36 },
                             description = { "string", 0, 1024 } }
for k, v in pairs(TEMPLATE_FIELDS) do input.FIELDS.create_plan[k] = v end
input.FIELDS.apply_plan = { execution_plan_id = { "string", 36, 36 }, stack_id = { "string", 36, 36 } }

local function fail(self, status, code, message)
  return shared.error_response(self, status, code, message)
end

local array = replies.array

-- The price catalogue: per resource type, what one instance costs (per hour, pay-per-use).
local CATALOGUE = {
  huaweicloud_compute_instance = 0.45, huaweicloud_evs_volume = 0.07, huaweicloud_vpc_eip = 0.08,
  huaweicloud_vpc_bandwidth = 0.06, huaweicloud_rds_instance = 0.98, huaweicloud_cce_cluster = 1.2,
  huaweicloud_cce_node = 0.52, huaweicloud_dcs_instance = 0.33, huaweicloud_elb_loadbalancer = 0.21,
}
local FREE = { huaweicloud_vpc = true, huaweicloud_vpc_subnet = true, huaweicloud_networking_secgroup = true,
               huaweicloud_networking_secgroup_rule = true, huaweicloud_obs_bucket = true,
               huaweicloud_smn_topic = true }

-- Values -----------------------------------------------------------------------------------

local function literal_string(v)
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  return tostring(v)
end

-- The variables of the template that are sensitive.
local function sensitive_vars(doc)
  local out = {}
  for _, v in ipairs(doc.variables or {}) do
    if v.sensitive then out[v.name] = true end
  end
  return out
end

-- name -> the value a plan shows for each attribute of a resource block.
local function block_values(r, secret_vars)
  local out = {}
  for name, a in pairs(r.attributes or {}) do
    if not META[name] then
      local var = type(a.expr) == "string" and (a.expr:match("^var%.([%w_-]+)$") or a.expr:match('^"%${var%.([%w_-]+)}"$'))
      if SENSITIVE_ATTRIBUTES[name] or (var and secret_vars[var]) then
        out[name] = SENSITIVE
      elseif a.value ~= nil then
        out[name] = literal_string(a.value)
      else
        out[name] = UNKNOWN
      end
    end
  end
  return out
end

local function sorted_keys(...)
  local seen, list = {}, {}
  for _, t in ipairs({ ... }) do
    for k in pairs(t) do
      if not seen[k] then
        seen[k] = true
        list[#list + 1] = k
      end
    end
  end
  table.sort(list)
  return list
end

-- The values a live resource shows as "previous".
local function live_values(rec)
  local out = {}
  for _, k in ipairs(rec.attribute_names or {}) do
    out[k] = SENSITIVE_ATTRIBUTES[k] and SENSITIVE or literal_string(rec.values[k])
  end
  if rec.physical_id then out.id = rec.physical_id end
  return out
end

-- Items -----------------------------------------------------------------------------------

local function item(rtype, name, index_key, action, reason, mode)
  local it = { resource_type = rtype, resource_name = name, action = action, action_reason = reason,
               provider_name = PROVIDER, mode = mode, drifted = false, imported = false, attributes = array() }
  if index_key ~= nil then it.index = tostring(index_key) end
  return it
end

local function add_attribute(it, name, previous, target)
  it.attributes[#it.attributes + 1] = { name = name, previous_value = previous, target_value = target }
end

--- The plan items that turn the stack's live resources into the template's, and the summary.
local function compute(st, doc)
  local live, by_address = st.live or {}, {}
  for _, rec in ipairs(live) do by_address[rec.address] = rec end
  local secret_vars = sensitive_vars(doc)
  local items, wanted = array(), {}
  local summary = { resource_add = 0, resource_update = 0, resource_delete = 0, resource_import = 0 }
  local template = require "rfs.emulator.template"
  for _, r in ipairs(doc.resources or {}) do
    local keys = template.instances(r)
    for i = 1, keys.n do
      local k = keys[i]
      local address = deploy.address_of(r.type, r.name, k)
      if r.mode == "data" then
        items[#items + 1] = item(r.type, r.name, k, "NO_OPERATION", "data sources are read at apply time", "DATA")
      else
        wanted[address] = true
        local have = by_address[address]
        local target = block_values(r, secret_vars)
        local it
        if not have or (have.resource_status ~= "CREATION_COMPLETE" and have.resource_status:match("^CREATION_")) then
          it = item(r.type, r.name, k, "ADD", "the resource is new in the template", "RESOURCE")
          for _, name in ipairs(sorted_keys(target)) do add_attribute(it, name, nil, target[name]) end
          if target.id == nil then add_attribute(it, "id", nil, UNKNOWN) end
          summary.resource_add = summary.resource_add + 1
        elseif have.text ~= r.text then
          it = item(r.type, r.name, k, "UPDATE", "the resource's block in the template changed", "RESOURCE")
          local previous = live_values(have)
          for _, name in ipairs(sorted_keys(previous, target)) do
            local p, t = previous[name], target[name]
            if name ~= "id" and (p ~= t or p == SENSITIVE) then add_attribute(it, name, p, t) end
          end
          summary.resource_update = summary.resource_update + 1
        else
          it = item(r.type, r.name, k, "NO_OPERATION", nil, "RESOURCE")
        end
        if have then it.resource_id = have.physical_id end
        items[#items + 1] = it
      end
    end
  end
  for i = #live, 1, -1 do
    local rec = live[i]
    if not wanted[rec.address] then
      local it = item(rec.type, rec.name, rec.index_key, "DELETE", "the resource is no longer in the template",
                      "RESOURCE")
      it.resource_id = rec.physical_id
      local previous = live_values(rec)
      for _, name in ipairs(sorted_keys(previous)) do add_attribute(it, name, previous[name], nil) end
      items[#items + 1] = it
      summary.resource_delete = summary.resource_delete + 1
    end
  end
  return items, summary
end

-- State ----------------------------------------------------------------------------------

-- How many deployments (and deletions) the stack has run: a plan made at another count is expired.
-- An expired plan keeps showing AVAILABLE in ListExecutionPlans and GetExecutionPlanMetadata:
-- the API reference's plan statuses are CREATION_IN_PROGRESS, CREATION_FAILED, AVAILABLE,
-- APPLY_IN_PROGRESS and APPLIED, with no status (or status_message) for an expired plan; it
-- says only that applying one is refused, 403 RF.10012545, which is where the emulator tells.
local function generation(st)
  local n = 0
  for _ in pairs(st.deployments or {}) do n = n + 1 end
  return n
end

--- Brings a plan up to time t: its creation ends, its apply's deployment ends.
local function refresh(st, plan, t)
  if plan.status == "CREATION_IN_PROGRESS" and t >= plan.ready_at then
    if plan.failure then
      plan.status, plan.status_message = "CREATION_FAILED", plan.failure
    else
      plan.status = "AVAILABLE"
    end
  end
  if plan.status == "APPLY_IN_PROGRESS" and st.job ~= plan.job then plan.status = "APPLIED" end
end

-- A plan is named as a stack is: a letter or a Chinese character, then letters, Chinese
-- characters, digits, _ and -, at most 128 characters.
local function bad_plan_name(self, name)
  if not input.valid_name(name) then
    return fail(self, 400, "RF.10011010", "execution_plan_name must start with a letter or a Chinese character and "
                .. "hold only letters, Chinese characters, digits, _ and -, at most 128 characters")
  end
end

local function find_plan(self, st, name, plan_id, t)
  local bad = bad_plan_name(self, name)
  if bad then return nil, bad end
  if plan_id then
    local ok, code, message = input.length("execution_plan_id", plan_id, 36, 36)
    if not ok then return nil, fail(self, 400, code, message) end
  end
  local plan = st.plans and st.plans[name]
  if not plan then
    return nil, fail(self, 404, "RF.10013002", "execution plan " .. name .. " of stack " .. st.stack_name
                     .. " does not exist")
  end
  if plan_id and plan_id ~= plan.id then
    return nil, fail(self, 400, "RF.10011018", "the execution_plan_id does not match the current plan " .. name)
  end
  refresh(st, plan, t)
  return plan
end

local function metadata_of(st, plan)
  local m = { stack_id = st.stack_id, stack_name = st.stack_name, execution_plan_id = plan.id,
              execution_plan_name = plan.name, description = plan.description,
              vars_structure = plan.vars_structure or array(), vars_body = plan.vars_body, status = plan.status,
              create_time = shared.rfc3339(plan.create_time),
              apply_time = plan.apply_time and shared.rfc3339(plan.apply_time) or nil }
  if plan.status == "CREATION_FAILED" then m.status_message = plan.status_message end
  if plan.summary and plan.status ~= "CREATION_IN_PROGRESS" and plan.status ~= "CREATION_FAILED" then
    m.summary = plan.summary
  end
  return m
end

-- Routes ----------------------------------------------------------------------------------

local function create_plan(self, st, body, t)
  if not body.execution_plan_name then return fail(self, 400, "RF.10011001", "execution_plan_name is required") end
  local bad = bad_plan_name(self, body.execution_plan_name) or stacks.busy(self, st, "RF.10012519")
  if bad then return bad end
  st.plans = st.plans or {}
  if st.plans[body.execution_plan_name] then
    return fail(self, 409, "RF.10013501", "stack " .. st.stack_name .. " already has an execution plan named "
                .. body.execution_plan_name)
  end
  local text, terr = stacks.template_text(self, body, t, true)
  if not text then return terr end
  self.plan_seq = (self.plan_seq or 0) + 1
  local plan = { name = body.execution_plan_name, id = self.uuid(), description = body.description or "",
                 vars_structure = body.vars_structure, vars_body = body.vars_body, vars_uri = body.vars_uri,
                 status = "CREATION_IN_PROGRESS", create_time = t, seq = self.plan_seq,
                 ready_at = t + (self.plan_seconds or PLAN_SECONDS), generation = generation(st) }
  local ok, doc, perr = pcall(function() return require("rfs.emulator.template").parse(text) end)
  if ok and doc then
    plan.target = { doc = doc, text = text, instances = deploy.instances(doc) }
    plan.items, plan.summary = compute(st, doc)
  else
    plan.failure = "the template is invalid: " .. tostring(ok and perr or doc)
  end
  st.plans[plan.name] = plan
  return shared.json_response(self, 202, { execution_plan_id = plan.id })
end

local function list_plans(self, st, q, t)
  local list = {}
  for _, plan in pairs(st.plans or {}) do
    refresh(st, plan, t)
    list[#list + 1] = plan
  end
  table.sort(list, function(a, b) return a.seq > b.seq end) -- newest created first
  local rows = {}
  for i, plan in ipairs(list) do
    local m = metadata_of(st, plan)
    rows[i] = { stack_name = m.stack_name, stack_id = m.stack_id, execution_plan_id = m.execution_plan_id,
                execution_plan_name = m.execution_plan_name, description = m.description, status = m.status,
                status_message = m.status_message, create_time = m.create_time, apply_time = m.apply_time }
  end
  local page, info = stacks.page_of(self, rows, q)
  if not page then return info end
  return shared.json_response(self, 200, { execution_plans = page, page_info = info })
end

local function ready(plan)
  return plan.status ~= "CREATION_IN_PROGRESS" and plan.status ~= "CREATION_FAILED"
end

local function get_items(self, plan)
  -- the items are not returned while the plan is being created or failed to be
  if not ready(plan) then return shared.json_response(self, 200, {}) end
  return shared.json_response(self, 200, { execution_plan_items = plan.items })
end

local function get_prices(self, plan)
  if not ready(plan) then return shared.json_response(self, 200, { currency = "CNY" }) end
  local items = array()
  for _, it in ipairs(plan.items) do
    if it.action == "ADD" then
      local out = { resource_type = it.resource_type, resource_name = it.resource_name, index = it.index,
                    supported = true }
      local price = CATALOGUE[it.resource_type]
      if price then
        out.resource_price = array{ { charge_mode = "POST_PAID", sale_price = price, original_price = price,
                                      discount = 0, period_type = "HOUR", period_count = 1 } }
      elseif FREE[it.resource_type] then
        out.resource_price = array{ { charge_mode = "FREE", sale_price = 0, original_price = 0, discount = 0 } }
      else
        out.supported = false
        out.unsupported_message = "resource type " .. it.resource_type .. " cannot be priced"
      end
      items[#items + 1] = out
    end
  end
  return shared.json_response(self, 200, { currency = "CNY", items = items })
end

local function apply_plan(self, st, plan, t)
  if plan.status ~= "AVAILABLE" then
    return fail(self, 403, "RF.10012543", ("execution plan %s is %s; only an AVAILABLE plan can be applied")
                :format(plan.name, plan.status))
  end
  local bad = stacks.busy(self, st, "RF.10012542")
  if bad then return bad end
  if plan.generation ~= generation(st) then
    return fail(self, 403, "RF.10012545", ("execution plan %s is outdated: stack %s was deployed after it was "
                .. "created"):format(plan.name, st.stack_name))
  end
  st.vars_structure, st.vars_body, st.vars_uri = plan.vars_structure, plan.vars_body, plan.vars_uri
  local job = deploy.start(self, st, plan.target, t, t + self.queue_seconds)
  plan.status, plan.job, plan.apply_time = "APPLY_IN_PROGRESS", job, t
  return shared.json_response(self, 202, { deployment_id = job.deployment_id })
end

local function delete_plan(self, st, plan)
  if plan.status == "CREATION_IN_PROGRESS" or plan.status == "APPLY_IN_PROGRESS" then
    return fail(self, 403, "RF.10012549", ("execution plan %s is %s and cannot be deleted now")
                :format(plan.name, plan.status))
  end
  st.plans[plan.name] = nil
  return { status = 204, headers = { ["X-Request-Id"] = self.uuid() }, body = "" }
end

local PLAN_ACTIONS = { ["GET "] = "items", ["POST "] = "apply", ["DELETE "] = "delete",
                       ["GET /metadata"] = "metadata", ["GET /prices"] = "prices" }

--- The response to a signed request on an execution plan route, or nil for other routes.
function plans.route(self, req, t)
  local project_id, stack_name, rest = req.path:match("^/v1/([^/]+)/stacks/([^/]+)/execution%-plans(.*)$")
  if not project_id then return nil end
  stack_name = input.path_segment(stack_name) -- a Chinese name comes percent-encoded
  local op, plan_name
  if rest == "" then
    op = (req.method == "GET" and "list") or (req.method == "POST" and "create") or nil
  else
    local suffix
    plan_name, suffix = rest:match("^/([^/]+)(.*)$")
    plan_name = plan_name and input.path_segment(plan_name)
    op = plan_name and PLAN_ACTIONS[req.method .. " " .. suffix]
  end
  if not op then
    return fail(self, 405, "AOS.00.0400", "method " .. req.method .. " is not allowed on " .. req.path)
  end
  local bad = stacks.check_request(self, project_id, req)
  if bad then return bad end
  local q = shared.parse_query(req.query)
  local body = {}
  if req.method == "POST" then
    local code, message
    body, code, message = input.body(op == "create" and "create_plan" or "apply_plan", req.body, op == "apply")
    if not body then return fail(self, 400, code, message) end
  end
  local st, err = stacks.find(self, project_id, stack_name, body.stack_id or q.stack_id, t)
  if not st then return err end
  if op == "create" then return create_plan(self, st, body, t) end
  if op == "list" then return list_plans(self, st, q, t) end
  local plan, perr = find_plan(self, st, plan_name, body.execution_plan_id or q.execution_plan_id, t)
  if not plan then return perr end
  if op == "metadata" then return shared.json_response(self, 200, metadata_of(st, plan)) end
  if op == "items" then return get_items(self, plan) end
  if op == "prices" then return get_prices(self, plan) end
  if op == "apply" then return apply_plan(self, st, plan, t) end
  return delete_plan(self, st, plan)
end

return plans
