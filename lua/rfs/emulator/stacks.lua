-- rfs.emulator.stacks: the emulator's stack lifecycle routes, its own reading of the RFS API
-- reference (it never uses the client's operation model):
--   GET    /v1/{project_id}/stacks                              ListStacks           200
--   POST   /v1/{project_id}/stacks                              CreateStack          201
--   POST   /v1/{project_id}/stacks/{stack_name}/deployments     DeployStack          202
--   PATCH  /v1/{project_id}/stacks/{stack_name}                 UpdateStack          204
--   DELETE /v1/{project_id}/stacks/{stack_name}                 DeleteStack          202
--   POST   /v1/{project_id}/stacks/{stack_name}/deletion        DeleteStackEnhanced  202
--   GET    /v1/{project_id}/stacks/{stack_name}/templates       GetStackTemplate     307
--   GET    /v1/{project_id}/stacks/{stack_name}/resources       ListStackResources   200
--   GET    /v1/{project_id}/stacks/{stack_name}/outputs         ListStackOutputs     200
--   POST   /v1/{project_id}/template-analyses/variables         ParseTemplateVariables 200
-- plus the unsigned download of a GetStackTemplate location (/_obs/...) and the control
-- endpoint POST /_emulator/stacks/{stack_name}/fail.
--
-- Error codes (RF.*, as the reference's table gives them; request body codes: rfs.emulator.input):
--   RF.10011015 400 stack_id does not match       RF.10011073 400 the template cannot be read
--   RF.10011084 400 nothing to update             RF.10011027 400 a bad marker or limit
--   RF.10012519 403 the stack is busy (*_IN_PROGRESS): update, deploy
--   RF.10012538 403 stack quota reached           RF.10012544 403 the stack cannot be deleted now
--   RF.10012546 403 auto-rollback cannot be turned on in a *_FAILED state
--   RF.10013001 404 no such stack                 RF.10013023 404 the stack has no template
--   RF.10013502 409 a stack of that name exists   RF.10013503 409 another request is queued

local cjson = require "cjson.safe"
local input = require "rfs.emulator.input"
local replies = require "rfs.emulator.replies"
local deploy = require "rfs.emulator.deploy"

local stacks = {}

local shared -- helpers of rfs.emulator, set by stacks.use

--- Called once by rfs.emulator with its helpers (json_response, error_response, parse_query,
--  advance, metadata_of, key, rfc3339).
function stacks.use(helpers)
  shared = helpers
  deploy.use(helpers)
end

local TEMPLATE_URL_SECONDS = 300 -- a pre-signed OBS download URL is valid for 5 minutes

local function fail(self, status, code, message)
  return shared.error_response(self, status, code, message)
end

local empty, array = replies.empty, replies.array

-- Looking up ----------------------------------------------------------------------------

local function check_name(self, name)
  local ok, why = input.valid_name(name)
  if why == "too_long" then return fail(self, 400, "RF.10011005", "stack_name is longer than 128 characters") end
  if not ok then
    return fail(self, 400, "RF.10011010", "stack_name must start with a letter or a Chinese character and hold "
                .. "only letters, Chinese characters, digits, _ and -: " .. name:sub(1, 64))
  end
end

--- The stack named in the path, brought up to time t, or nil and the error response.
local function find(self, project_id, name, stack_id, t)
  local bad = check_name(self, name)
  if bad then return nil, bad end
  if stack_id then
    local ok, code, message = input.length("stack_id", stack_id, 36, 36)
    if not ok then return nil, fail(self, 400, code, message) end
  end
  local st = self.stacks[shared.key(project_id, name)]
  if st then
    shared.advance(st, t)
    st = self.stacks[shared.key(project_id, name)] -- a finished deletion forgets it
  end
  if not st then return nil, fail(self, 404, "RF.10013001", "stack " .. name .. " does not exist") end
  st.live, st.failures = st.live or {}, st.failures or {} -- a seeded stack has no resources until deployed
  st.delete_seconds = st.delete_seconds or self.delete_seconds or 20
  if stack_id and stack_id ~= st.stack_id then
    return nil, fail(self, 400, "RF.10011015", "the stack_id does not match the current stack " .. name)
  end
  return st
end

--- nil when the stack may change now; else 403 (a *_IN_PROGRESS state) or 409 (a request queued).
local function busy(self, st, code)
  if st.status:match("_IN_PROGRESS$") then
    return fail(self, 403, code, ("stack %s is in status %s, which does not allow this operation; wait until it "
                .. "ends"):format(st.stack_name, st.status))
  end
  if st.job then
    return fail(self, 409, "RF.10013503", "another request for stack " .. st.stack_name .. " is being processed")
  end
end

-- Templates -----------------------------------------------------------------------------

-- The template text of a request body (template_body, or template_uri when it is a download
-- location this emulator handed out), or nil and the error response.
local function template_text(self, body, t, required)
  local which, code, message = input.template(body, required)
  if which == nil then return nil, fail(self, 400, code, message) end
  if which == "body" then return body.template_body end
  if which == "uri" then
    local text, why = replies.download_text(self, body.template_uri, t)
    if not text then return nil, fail(self, 400, "RF.10011035", why) end
    return text
  end
  return false
end

--- Parses a template; returns the deploy target { doc, text, instances } or nil and a 400.
local function read_template(self, text)
  local doc, why = replies.parse_template(text)
  if not doc then return nil, fail(self, 400, "RF.10011073", why) end
  return { doc = doc, text = text, instances = deploy.instances(doc) }
end

local VARS = { "vars_body", "vars_uri", "vars_structure" }

local function store_vars(st, body)
  for _, f in ipairs(VARS) do st[f] = body[f] end
end

-- Paging --------------------------------------------------------------------------------

--- One page of list (by position) for marker/limit; returns page, page_info or nil, error.
local function page_of(self, list, q)
  local page, info = replies.page(list, q, 10)
  if not page then return nil, fail(self, 400, "RF.10011027", info) end
  return page, info
end

-- Routes ---------------------------------------------------------------------------------

local function list_stacks(self, project_id, q, t)
  local prefix = project_id .. "/"
  local found = {}
  for k, st in pairs(self.stacks) do
    if k:sub(1, #prefix) == prefix then
      shared.advance(st, t)
      if self.stacks[k] then found[#found + 1] = st end
    end
  end
  table.sort(found, function(a, b) -- newest created first
    if a.create_time ~= b.create_time then return a.create_time > b.create_time end
    return (a.seq or 0) > (b.seq or 0)
  end)
  local page, info = page_of(self, found, q)
  if not page then return info end
  for i, st in ipairs(page) do -- the summaries of this page only, not of every stack
    local m = shared.metadata_of(st)
    page[i] = { stack_name = m.stack_name, description = m.description, stack_id = m.stack_id,
                status = m.status, create_time = m.create_time, update_time = m.update_time,
                status_message = m.status_message }
  end
  return shared.json_response(self, 200, { stacks = page, page_info = info })
end

local function new_stack(self, project_id, body, t)
  self.seq = (self.seq or 0) + 1
  local st = {
    stack_id = self.uuid(), stack_name = body.stack_name, project_id = project_id, seq = self.seq,
    create_time = t, update_time = t, events = {}, deployments = {}, status = "CREATION_COMPLETE",
    description = body.description or "", enable_auto_rollback = body.enable_auto_rollback == true,
    enable_deletion_protection = body.enable_deletion_protection == true, agencies = body.agencies or array(),
    deploy_seconds = self.deploy_seconds or 30, rollback_seconds = self.rollback_seconds or 20,
    delete_seconds = self.delete_seconds or 20, outcome = "success", rollback_outcome = "success",
    resources = {}, live = {}, failures = {}, failure_message = "injected failure",
  }
  store_vars(st, body)
  return st
end

local function create_stack(self, project_id, req, t)
  local body, code, message = input.body("create", req.body)
  if not body then return fail(self, 400, code, message) end
  if not body.stack_name then return fail(self, 400, "RF.10011001", "stack_name is required") end
  local bad = check_name(self, body.stack_name)
  if bad then return bad end
  local k = shared.key(project_id, body.stack_name)
  local existing = self.stacks[k]
  if existing then shared.advance(existing, t) end
  if self.stacks[k] then
    return fail(self, 409, "RF.10013502", "a stack named " .. body.stack_name .. " already exists")
  end
  local count = 0
  for key in pairs(self.stacks) do
    if key:sub(1, #project_id + 1) == project_id .. "/" then count = count + 1 end
  end
  if count >= (self.stack_quota or math.huge) then
    return fail(self, 403, "RF.10012538", ("the stack quota of the project (%d) is used up"):format(self.stack_quota))
  end
  local text, terr = template_text(self, body, t, false)
  if text == nil then return terr end
  local target
  if text then
    local perr
    target, perr = read_template(self, text)
    if not target then return perr end
  end
  local st = new_stack(self, project_id, body, t)
  self.stacks[k] = st
  local answer = { stack_id = st.stack_id }
  if target then answer.deployment_id = deploy.start(self, st, target, t, t).deployment_id end
  return shared.json_response(self, 201, answer)
end

local function deploy_stack(self, st, body, t)
  local bad = busy(self, st, "RF.10012519")
  if bad then return bad end
  local text, terr = template_text(self, body, t, true)
  if not text then return terr end
  local target, perr = read_template(self, text)
  if not target then return perr end
  store_vars(st, body)
  local job = deploy.start(self, st, target, t, t + self.queue_seconds)
  return shared.json_response(self, 202, { deployment_id = job.deployment_id })
end

local UPDATABLE = { "description", "enable_deletion_protection", "enable_auto_rollback", "agencies" }

local function update_stack(self, st, body, t)
  local changes = false
  for _, f in ipairs(UPDATABLE) do
    if body[f] ~= nil then changes = true end
  end
  if not changes then
    return fail(self, 400, "RF.10011084", "nothing to update: give description, enable_deletion_protection, "
                .. "enable_auto_rollback or agencies")
  end
  local bad = busy(self, st, "RF.10012519")
  if bad then return bad end
  if body.enable_auto_rollback == true and not st.enable_auto_rollback and st.status:match("_FAILED$") then
    return fail(self, 403, "RF.10012546", ("enable_auto_rollback cannot be turned on while stack %s is %s")
                :format(st.stack_name, st.status))
  end
  for _, f in ipairs(UPDATABLE) do
    if body[f] ~= nil then st[f] = body[f] end
  end
  st.update_time = t
  return empty(self, 204)
end

local function delete_stack(self, project_id, st, retain, t)
  if st.enable_deletion_protection then
    return fail(self, 403, "RF.10012544", "stack " .. st.stack_name .. " has deletion protection on; turn "
                .. "enable_deletion_protection off first")
  end
  local bad = busy(self, st, "RF.10012544")
  if bad then return bad end
  deploy.delete(self, st, shared.key(project_id, st.stack_name), retain, t, t + self.queue_seconds)
  return empty(self, 202)
end

local function get_template(self, st, req, t)
  if not st.template_text then
    return fail(self, 404, "RF.10013023", "stack " .. st.stack_name .. " has no template: it was never deployed")
  end
  local token, expires = replies.issue_download(self, st.template_text, t, TEMPLATE_URL_SECONDS)
  local file = st.template_text:match("^%s*{") and "template.tf.json" or "template.tf"
  local location = ("%s://%s/_obs/rfs-templates/%s/%s?AccessKeyId=EMULATOR&Expires=%d&Signature=%s"):format(
    req.scheme or "http", req.headers.host or "127.0.0.1", st.stack_id, file, math.floor(expires), token)
  return empty(self, 307, { Location = location })
end

local function list_resources(self, st, q)
  local at_rest = not st.status:match("_IN_PROGRESS$")
  local list = {}
  for i, rec in ipairs(st.live or {}) do list[i] = deploy.resource_view(rec, at_rest) end
  local page, info = page_of(self, list, q)
  if not page then return info end
  return shared.json_response(self, 200, { stack_resources = page, page_info = info })
end

local function list_outputs(self, st, q)
  local list = st.status:match("_IN_PROGRESS$") and {} or deploy.outputs(st)
  local page, info = page_of(self, list, q)
  if not page then return info end
  return shared.json_response(self, 200, { outputs = page, page_info = info })
end

local function parse_variables(self, req, t)
  local body, code, message = input.body("variables", req.body)
  if not body then return fail(self, 400, code, message) end
  local text, terr = template_text(self, body, t, true)
  if not text then return terr end
  local target, perr = read_template(self, text)
  if not target then return perr end
  local list = array()
  for _, v in ipairs(target.doc.variables or {}) do
    local out = { name = v.name, type = v.type, description = v.description, sensitive = v.sensitive == true,
                  nullable = v.nullable ~= false }
    if v.has_default then out.default = v.default end
    if v.validations and #v.validations > 0 then
      out.validations = array()
      for i, c in ipairs(v.validations) do
        local cond = c.condition or ""
        if not cond:match("^%${.*}$") then cond = "${" .. cond .. "}" end
        out.validations[i] = { condition = cond, error_message = c.error_message }
      end
    end
    list[#list + 1] = out
  end
  if #list == 0 then return shared.json_response(self, 200, {}) end
  return shared.json_response(self, 200, { variables = list })
end

-- A signed API request's common checks: the project id and the Client-Request-Id header.
local function check_request(self, project_id, req)
  if #project_id < 3 or #project_id > 64 then
    return fail(self, 400, #project_id < 3 and "RF.10011006" or "RF.10011005", "project_id must be 3-64 characters")
  end
  local crid = req.headers["client-request-id"]
  if not crid then return fail(self, 400, "RF.10011001", "header Client-Request-Id is required") end
  local ok, code, message = input.length("header Client-Request-Id", crid, 36, 128)
  if not ok then return fail(self, 400, code, message) end
end

local STACK_ACTIONS = {
  ["PATCH "] = "update", ["DELETE "] = "delete", ["POST deployments"] = "deploy",
  ["POST deletion"] = "deletion", ["GET templates"] = "template", ["GET resources"] = "resources",
  ["GET outputs"] = "outputs",
}

--- The response to a signed API request on one of these routes, or nil when the request is
--  for another route (rfs.emulator's own: metadata, events, continuations, rollbacks).
function stacks.route(self, req, t)
  local project_id, rest = req.path:match("^/v1/([^/]+)/(.+)$")
  if not project_id then return nil end
  local op, name
  if rest == "stacks" and (req.method == "GET" or req.method == "POST") then
    op = req.method == "GET" and "list" or "create"
  elseif rest == "template-analyses/variables" and req.method == "POST" then
    op = "variables"
  else
    local action
    name, action = rest:match("^stacks/([^/]+)/?([%w_-]*)$")
    name = name and input.path_segment(name) -- a Chinese name comes percent-encoded
    op = name and STACK_ACTIONS[req.method .. " " .. action]
    if not op then return nil end
  end
  local bad = check_request(self, project_id, req)
  if bad then return bad end
  local q = shared.parse_query(req.query)
  if op == "list" then return list_stacks(self, project_id, q, t) end
  if op == "create" then return create_stack(self, project_id, req, t) end
  if op == "variables" then return parse_variables(self, req, t) end
  local body = {}
  if req.method == "POST" or req.method == "PATCH" then
    local code, message
    body, code, message = input.body(op, req.body, op == "deletion")
    if not body then return fail(self, 400, code, message) end
  end
  local st, err = find(self, project_id, name, body.stack_id or q.stack_id, t)
  if not st then return err end
  if op == "update" then return update_stack(self, st, body, t) end
  if op == "delete" or op == "deletion" then
    return delete_stack(self, project_id, st, body.retain_all_resources == true, t)
  end
  if op == "deploy" then return deploy_stack(self, st, body, t) end
  if op == "template" then return get_template(self, st, req, t) end
  if op == "resources" then return list_resources(self, st, q) end
  return list_outputs(self, st, q)
end

--- GET of a location GetStackTemplate handed out: no signature needed, as with OBS's
--  pre-signed URLs; 403 once it has expired, 404 for one never handed out.
function stacks.download(self, req, t)
  local token = shared.parse_query(req.query).Signature
  local d = token and (self.downloads or {})[token]
  local function obs_error(status, code, message)
    return { status = status, headers = { ["Content-Type"] = "application/xml", ["X-Request-Id"] = self.uuid() },
             body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>')
               :format(code, message) }
  end
  if req.method ~= "GET" then return obs_error(405, "MethodNotAllowed", "only GET is allowed") end
  if not d then return obs_error(404, "NoSuchKey", "The specified key does not exist.") end
  if t > d.expires then return obs_error(403, "AccessDenied", "Request has expired") end
  return { status = 200, headers = { ["Content-Type"] = "text/plain; charset=utf-8", ["X-Request-Id"] = self.uuid() },
           body = d.text }
end

--- A continue on a stack deployed from a template (rfs.emulator's continuations and rollbacks).
stacks.continue = deploy.continue

-- Control --------------------------------------------------------------------------------

local FAIL_ACTIONS = { create = true, update = true, delete = true }

--- POST /_emulator/stacks/{stack_name}/fail {project_id, resource, action, message, count}:
--  the next `count` (default 1) matching resource actions fail with `message`. resource is an
--  address (TYPE.NAME, TYPE.NAME[0], TYPE.NAME["key"]) or absent (any resource); action is
--  create, update or delete, or absent (any). Without resource, action = "delete" makes the
--  stack's next deletion end in DELETION_FAILED. Returns nil for other control paths.
function stacks.control(self, req)
  local name = req.path:match("^/_emulator/stacks/([^/]+)/fail$")
  if not name then return nil end
  if req.method ~= "POST" then return fail(self, 405, "AOS.00.0400", "use POST") end
  local body = cjson.decode(req.body)
  if type(body) ~= "table" then return fail(self, 400, "AOS.00.0400", "the body is not a JSON object") end
  local TYPES = { project_id = "string", resource = "string", action = "string", message = "string", count = "number" }
  for k, v in pairs(body) do
    if type(v) ~= TYPES[k] then
      return fail(self, 400, "AOS.00.0400", "fail field " .. tostring(k) .. " is unknown or mistyped")
    end
  end
  if body.action and not FAIL_ACTIONS[body.action] then
    return fail(self, 400, "AOS.00.0400", "fail: action is create, update or delete")
  end
  local st = self.stacks[shared.key(body.project_id or self.project_id or "", name)]
  if not st then return fail(self, 404, "AOS.00.0404", "fail: no stack " .. name .. " in that project") end
  st.live = st.live or {}
  st.failures = st.failures or {}
  st.failures[#st.failures + 1] = { resource = body.resource, action = body.action,
                                    message = body.message or "injected failure", count = body.count or 1,
                                    stack_deletion = body.resource == nil and body.action == "delete" }
  return shared.json_response(self, 201, { failures = #st.failures })
end

--- Reads a seed's template_body (and takes it out of the seed): the deploy target, false
--  when the seed has none, or nil and the 400 response.
function stacks.seed_template(self, body)
  local text = body.template_body
  body.template_body = nil
  if text == nil then return false end
  return read_template(self, text)
end

--- Gives a seeded stack the seed's template: its resources exist (CREATION_COMPLETE), its
--  outputs and GetStackTemplate read it.
function stacks.seeded(self, st, target)
  st.live, st.failures = {}, st.failures or {}
  st.delete_seconds = st.delete_seconds or self.delete_seconds or 20
  for _, inst in ipairs(target.instances) do
    local rec = {}
    for k, v in pairs(inst) do rec[k] = v end
    rec.physical_id = self.uuid()
    rec.physical_name = type(rec.values.name) == "string" and rec.values.name or rec.address
    rec.resource_status = "CREATION_COMPLETE"
    st.live[#st.live + 1] = rec
  end
  st.doc, st.template_text, st.pending = target.doc, target.text, nil
end

-- For the other route files (execution plans): the same lookups, checks and paging.
stacks.find, stacks.busy, stacks.check_request, stacks.page_of = find, busy, check_request, page_of
stacks.template_text, stacks.check_name = template_text, check_name

return stacks
