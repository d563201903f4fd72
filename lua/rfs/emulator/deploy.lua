-- rfs.emulator.deploy: the emulated resources of a stack and the jobs that change them.
-- A deployment diffs the template's resource instances against the stack's live set
-- (new blocks are created, dropped ones deleted, blocks whose text changed updated), one
-- action after the other in emulated time, with events per resource; a failure injected
-- for a resource address stops it (DEPLOYMENT_FAILED, or a rollback to the resources the
-- stack had before when enable_auto_rollback is on). A deletion destroys the live set
-- (unless the resources are retained) and then forgets the stack.

local cjson = require "cjson.safe"

local deploy = {}

local shared -- helpers of rfs.emulator (rfc3339, key), set by deploy.use

function deploy.use(helpers)
  shared = helpers
end

-- Meta-arguments are not attributes of the emulated resource.
local META = { count = true, for_each = true, depends_on = true, provider = true, lifecycle = true }

--- TYPE.NAME, TYPE.NAME[0] or TYPE.NAME["key"].
local function address_of(rtype, name, index_key)
  local a = rtype .. "." .. name
  if type(index_key) == "number" then
    return ("%s[%d]"):format(a, index_key)
  elseif index_key ~= nil then
    return ("%s[%q]"):format(a, index_key)
  end
  return a
end
deploy.address_of = address_of

local function literal_string(v)
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  elseif type(v) == "boolean" then
    return tostring(v)
  end
  return v
end

--- The resource instances a parsed template declares, in file order (data blocks are not resources).
function deploy.instances(doc)
  local list = {}
  for _, r in ipairs(doc.resources or {}) do
    if r.mode == "managed" then
      local names, values = {}, {}
      for k, a in pairs(r.attributes or {}) do
        local v = a.value
        if not META[k] and v ~= nil and (type(v) == "string" or type(v) == "number" or type(v) == "boolean") then
          names[#names + 1] = k
          values[k] = v
        end
      end
      table.sort(names)
      local keys = require("rfs.emulator.template").instances(r) -- n: how many instances
      for i = 1, keys.n do
        local k = keys[i]
        list[#list + 1] = { address = address_of(r.type, r.name, k), type = r.type, name = r.name, index_key = k,
                            text = r.text, attribute_names = names, values = values }
      end
    end
  end
  return list
end

local function find(live, address)
  for i, rec in ipairs(live) do
    if rec.address == address then return rec, i end
  end
end

local function copy_record(rec)
  local c = {}
  for k, v in pairs(rec) do c[k] = v end
  return c
end

--- The actions that turn the live set into the desired one: creates and updates in the desired
--  order, then deletes, last created first.
local function diff(live, desired)
  local actions, wanted = {}, {}
  for _, want in ipairs(desired) do
    wanted[want.address] = true
    local have = find(live, want.address)
    if not have or have.resource_status:match("^CREATION_") and have.resource_status ~= "CREATION_COMPLETE" then
      actions[#actions + 1] = { op = "create", want = want } -- new, or its creation failed: create it (again)
    elseif have.text ~= want.text or not have.resource_status:match("_COMPLETE$") then
      actions[#actions + 1] = { op = "update", want = want }
    end
  end
  for i = #live, 1, -1 do
    if not wanted[live[i].address] then actions[#actions + 1] = { op = "delete", want = live[i] } end
  end
  return actions
end

-- Events ------------------------------------------------------------------------------

local function add_event(st, t, event_type, message, rec, deployment_id, elapsed)
  local e = { time = shared.rfc3339(t), at = t, event_type = event_type, event_message = message,
              deployment_id = deployment_id, elapsed_seconds = math.floor(elapsed or 0) }
  if rec then
    e.resource_type, e.resource_name = rec.type, rec.name
    if rec.index_key ~= nil then e.resource_key = tostring(rec.index_key) end
    if rec.physical_id then e.resource_id_key, e.resource_id_value = "id", rec.physical_id end
  end
  st.events[#st.events + 1] = e
end

local function set_status(st, status, t, message)
  st.status, st.update_time = status, t
  if message then st.status_message = message end
end

-- Injected failures ----------------------------------------------------------------------

--- Takes (and counts down) the failure injected for this action, if any: a failure names a
--  resource address (TYPE.NAME matches every instance) or none (any resource), and an action
--  ("create", "update", "delete") or none (any).
local function take_failure(st, op, rec)
  for i, f in ipairs(st.failures or {}) do
    local block = rec and (rec.type .. "." .. rec.name)
    local hits_resource = (f.resource == nil and rec ~= nil) or (rec and (f.resource == rec.address or f.resource == block))
    if f.stack_deletion then hits_resource = rec == nil end
    if hits_resource and (f.action == nil or f.action == op) then
      f.count = f.count - 1
      if f.count <= 0 then table.remove(st.failures, i) end
      return f.message
    end
  end
end

-- Jobs -------------------------------------------------------------------------------------

local VERB = {
  create = { "CREATION", "Creating...", "Creation complete after %ds [id=%s]" },
  update = { "UPDATE", "Modifying...", "Modifications complete after %ds [id=%s]" },
  delete = { "DELETION", "Destroying...", "Destruction complete after %ds [id=%s]" },
}

local function new_job(self, kind, t)
  return { kind = kind, deployment_id = self.uuid(), accepted_at = t, steps = {}, counts = { create = 0, update = 0,
           delete = 0 } }
end

local function schedule(job, at, run)
  job.steps[#job.steps + 1] = { at = at, run = run }
end

-- Schedules the actions between start and start + duration; each checks job.failed first.
local function schedule_actions(self, job, actions, start, duration)
  local step = duration / (#actions + 1)
  for i, a in ipairs(actions) do
    local verb = VERB[a.op]
    local t_begin, t_end = start + step * (i - 0.5), start + step * i
    schedule(job, t_begin, function(s)
      if job.failed then return end
      local rec = find(s.live, a.want.address)
      if a.op == "create" and not rec then
        rec = copy_record(a.want)
        rec.physical_id, rec.physical_name = nil, nil
        s.live[#s.live + 1] = rec
      end
      rec.resource_status, rec.status_message = verb[1] .. "_IN_PROGRESS", nil
      add_event(s, t_begin, rec.resource_status, rec.address .. ": " .. verb[2], rec, job.deployment_id)
    end)
    schedule(job, t_end, function(s)
      if job.failed then return end
      local rec = find(s.live, a.want.address)
      local message = take_failure(s, a.op, rec)
      if message then
        job.failed = rec.address .. ": " .. message
        rec.resource_status, rec.status_message = verb[1] .. "_FAILED", message
        add_event(s, t_end, rec.resource_status, message, rec, job.deployment_id, t_end - t_begin)
        add_event(s, t_end, "ERROR", job.failed, rec, job.deployment_id)
        return
      end
      if a.op == "delete" then
        table.remove(s.live, select(2, find(s.live, rec.address)))
      else
        if a.op == "update" then rec.text, rec.attribute_names, rec.values = a.want.text, a.want.attribute_names,
          a.want.values end
        rec.physical_id = rec.physical_id or self.uuid()
        local name = rec.values.name
        rec.physical_name = type(name) == "string" and name or rec.address
      end
      rec.resource_status = verb[1] .. "_COMPLETE"
      job.counts[a.op] = job.counts[a.op] + 1
      add_event(s, t_end, rec.resource_status, rec.address .. ": " .. verb[3]:format(math.floor(t_end - t_begin),
                rec.physical_id), rec, job.deployment_id, t_end - t_begin)
    end)
  end
end

local function snapshot(live)
  local list = {}
  for i, rec in ipairs(live) do list[i] = copy_record(rec) end
  return list
end

local schedule_rollback

-- The steps of a deployment of target = { doc, text, instances } from start on.
local function schedule_deployment(self, st, job, target, start)
  local before = { live = snapshot(st.live), doc = st.doc, text = st.template_text }
  schedule(job, start, function(s)
    set_status(s, "DEPLOYMENT_IN_PROGRESS", start)
    add_event(s, start, "LOG", "Creating required resource now", nil, job.deployment_id)
  end)
  local actions = diff(st.live, target.instances)
  schedule_actions(self, job, actions, start, st.deploy_seconds)
  local t_end = start + st.deploy_seconds
  schedule(job, t_end, function(s)
    s.doc, s.template_text = target.doc, target.text
    if not job.failed then
      s.pending, s.rollback_target = nil, nil
      set_status(s, "DEPLOYMENT_COMPLETE", t_end)
      add_event(s, t_end, "SUMMARY", ("Apply complete! Resources: %d added, %d changed, %d destroyed."):format(
        job.counts.create, job.counts.update, job.counts.delete), nil, job.deployment_id)
      add_event(s, t_end, "LOG", "Apply required resource success.", nil, job.deployment_id)
      s.job = nil
    elseif not s.enable_auto_rollback then
      s.pending = target
      set_status(s, "DEPLOYMENT_FAILED", t_end, "deployment failed: " .. job.failed)
      add_event(s, t_end, "SUMMARY", "Apply failed: " .. job.failed, nil, job.deployment_id)
      s.job = nil
    else
      s.pending, s.rollback_target = target, before
      schedule_rollback(self, s, job, before, t_end)
    end
  end)
end

-- The steps of a rollback to before = { live, doc, text } from start on (steps are appended:
-- a rollback starts when the failed deployment ends).
schedule_rollback = function(self, st, job, before, start)
  job.failed = nil
  set_status(st, "ROLLBACK_IN_PROGRESS", start)
  add_event(st, start, "LOG", "Rolling back to the resources before the deployment", nil, job.deployment_id)
  local actions = diff(st.live, before.live)
  local duration = st.rollback_seconds
  schedule_actions(self, job, actions, start, duration)
  local t_end = start + duration
  schedule(job, t_end, function(s)
    if job.failed then
      set_status(s, "ROLLBACK_FAILED", t_end, "rollback failed: " .. job.failed)
      add_event(s, t_end, "SUMMARY", "Rollback failed: " .. job.failed, nil, job.deployment_id)
    else
      s.doc, s.template_text, s.rollback_target = before.doc, before.text, nil
      set_status(s, "ROLLBACK_COMPLETE", t_end)
      add_event(s, t_end, "SUMMARY", "Rollback complete", nil, job.deployment_id)
    end
    s.job = nil
  end)
end

local function start(st, job)
  st.job = job
  st.deployments[job.deployment_id] = true
  return job
end

--- Starts a deployment of target = { doc, text, instances } at time `at` (accepted at t).
function deploy.start(self, st, target, t, at)
  local job = new_job(self, "deploy", t)
  st.templates = st.templates or {}
  st.templates[job.deployment_id] = target.text
  schedule_deployment(self, st, job, target, at)
  start(st, job)
  if at <= t then shared.advance(st, t) end -- a create shows DEPLOYMENT_IN_PROGRESS at once
  return job
end

--- A continue on a stack that has a template: "deploy" runs the failed deployment again,
--  "rollback" the failed rollback. Returns the job.
function deploy.continue(self, st, kind, t)
  local job = new_job(self, kind, t)
  local at = t + self.queue_seconds
  if kind == "deploy" then
    local target = st.pending or { doc = st.doc, text = st.template_text, instances = deploy.instances(st.doc) }
    schedule_deployment(self, st, job, target, at)
  else
    local before = st.rollback_target or { live = snapshot(st.live), doc = st.doc, text = st.template_text }
    schedule(job, at, function(s) schedule_rollback(self, s, job, before, at) end)
  end
  return start(st, job)
end

--- Starts deleting the stack at `at`; when done it is gone from stacks (project/name key k).
function deploy.delete(self, st, k, retain, t, at)
  local job = new_job(self, "delete", t)
  schedule(job, at, function(s)
    set_status(s, "DELETION_IN_PROGRESS", at)
    add_event(s, at, "LOG", retain and "Deleting the stack, retaining its resources" or "Deleting the stack", nil,
              job.deployment_id)
  end)
  local actions = {}
  if not retain then actions = diff(st.live, {}) end
  schedule_actions(self, job, actions, at, st.delete_seconds)
  local t_end = at + st.delete_seconds
  schedule(job, t_end, function(s)
    local message = job.failed or take_failure(s, "delete", nil)
    if message then
      set_status(s, "DELETION_FAILED", t_end, "deletion failed: " .. message)
      add_event(s, t_end, "SUMMARY", "Destroy failed: " .. message, nil, job.deployment_id)
      s.job = nil
    elseif self.stacks[k] == s then
      self.stacks[k] = nil
      s.job = nil
    end
  end)
  return start(st, job)
end

-- Reads ----------------------------------------------------------------------------------

--- A live resource as ListStackResources shows it (attributes only when the stack is at rest).
function deploy.resource_view(rec, with_attributes)
  local out = { logical_resource_name = rec.name, logical_resource_type = rec.type,
                physical_resource_id = rec.physical_id, physical_resource_name = rec.physical_name,
                resource_status = rec.resource_status, status_message = rec.status_message }
  if rec.index_key ~= nil then out.index_key = tostring(rec.index_key) end
  if with_attributes then
    local attrs = setmetatable({}, cjson.array_mt)
    for _, k in ipairs(rec.attribute_names) do
      if k ~= "id" then attrs[#attrs + 1] = { key = k, value = literal_string(rec.values[k]) } end
    end
    if rec.physical_id then attrs[#attrs + 1] = { key = "id", value = rec.physical_id } end
    out.resource_attributes = attrs
  end
  return out
end

local function output_type(v)
  local tv = type(v)
  if tv == "string" or tv == "number" then return tv end
  if tv == "boolean" then return "bool" end
  if tv == "table" then return (#v > 0 or next(v) == nil) and "tuple" or "object" end
  return "dynamic"
end

-- The value an output's reference points at, or nil when the emulator cannot know it.
local function resolve(st, ref)
  if ref.mode == "data" then return nil end
  local rec = find(st.live, address_of(ref.type, ref.name, ref.index))
  if not rec then return nil end
  if ref.attr == "id" then return rec.physical_id end
  if rec.values[ref.attr] ~= nil then return rec.values[ref.attr] end
  if ref.attr == "name" then return rec.physical_name end
end

--- The stack's outputs as ListStackOutputs shows them: values JSON-encoded; a reference to
--  TYPE.NAME[.INDEX].ATTR reads the emulated resource (id: its physical id); an expression
--  the emulator cannot evaluate comes back as its source text, as a string.
function deploy.outputs(st)
  local list = setmetatable({}, cjson.array_mt)
  for _, o in ipairs(st.doc and st.doc.outputs or {}) do
    local out = { name = o.name, description = o.description, sensitive = o.sensitive == true }
    if out.sensitive then
      out.type, out.value = "<sensitive>", "<sensitive>"
    else
      local v = o.value
      if v == nil and o.ref then v = resolve(st, o.ref) end
      if v == nil then v = o.expr end
      out.type, out.value = output_type(v), cjson.encode(v)
    end
    list[#list + 1] = out
  end
  return list
end

return deploy
