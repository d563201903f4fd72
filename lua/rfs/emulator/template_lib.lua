-- rfs.emulator.template_lib: the private template library, the emulator's own reading of the
-- RFS API reference (it never uses the client's operation model):
--   POST   /v1/{project_id}/templates                                          CreateTemplate              200
--   GET    /v1/{project_id}/templates                                          ListTemplates               200
--   GET    /v1/{project_id}/templates/{template_name}/metadata                 ShowTemplateMetadata        200
--   PATCH  /v1/{project_id}/templates/{template_name}/metadata                 UpdateTemplateMetadata      204
--   DELETE /v1/{project_id}/templates/{template_name}                          DeleteTemplate              204
--   POST   /v1/{project_id}/templates/{template_name}/versions                 CreateTemplateVersion       200
--   GET    /v1/{project_id}/templates/{template_name}/versions                 ListTemplateVersions        200
--   GET    /v1/{project_id}/templates/{template_name}/versions/{v}/metadata    ShowTemplateVersionMetadata 200
--   GET    /v1/{project_id}/templates/{template_name}/versions/{v}             ShowTemplateVersionContent  307
--   DELETE /v1/{project_id}/templates/{template_name}/versions/{v}             DeleteTemplateVersion       204
--
-- Templates live per project; a name is unique in its project (409 on a second create) and
-- may be reused after a delete (a new template_id). Versions are V1 (made by the create),
-- then the highest number + 1. The last version cannot be deleted. Listings are newest
-- first, paged by marker/limit. Content is a 307 to an unsigned location under /_obs/ that
-- expires after 5 minutes; rfs.emulator.stacks serves it, and a template_uri may name it.
--
-- Error codes (the reference names no template codes; these follow the stack family):
--   RF.10011001 400 a required field is missing     RF.10011002 400 unknown body field
--   RF.10011003 400 template_body and template_uri   RF.10011005 / 006 too long / too short
--   RF.10011010 400 a template name or version id with characters it may not have
--   RF.10011015 400 template_id does not match       RF.10011027 400 a bad marker or limit
--   RF.10011035 400 a template_uri it cannot read    RF.10011056 400 no template given
--   RF.10011073 400 the template cannot be read      RF.10011084 400 nothing to update
--   RF.10011086 400 the last version cannot be deleted
--   RF.10013024 404 no such template                 RF.10013025 404 no such version
--   RF.10013504 409 a template of that name exists

local input = require "rfs.emulator.input"
local replies = require "rfs.emulator.replies"

local template_lib = {}

local shared -- helpers of rfs.emulator, set by template_lib.use

--- Called once by rfs.emulator with its helpers (json_response, error_response, parse_query, rfc3339).
function template_lib.use(helpers)
  shared = helpers
end

local CONTENT_URL_SECONDS = 300 -- a pre-signed download URL is valid for 5 minutes
local NAME_MAX = 128

input.FIELDS.template_create = {
  template_name = { "string", 1, NAME_MAX }, template_description = { "string", 0, 1024 },
  version_description = { "string", 0, 1024 }, template_body = { "string", 0, 51200 },
  template_uri = { "string", 0, 2048 },
}
input.FIELDS.template_update = { template_id = { "string", 36, 36 }, template_description = { "string", 0, 1024 } }
input.FIELDS.template_version = {
  version_description = { "string", 0, 1024 }, template_body = { "string", 0, 51200 },
  template_uri = { "string", 0, 2048 },
}

local function fail(self, status, code, message)
  return shared.error_response(self, status, code, message)
end

local empty = replies.empty
local unescape = input.path_segment

-- Names -------------------------------------------------------------------------------------

-- The character at byte i: "letter", "digit", "cjk" (U+4E00..U+9FFF), "_", "-" or nil; and its length.
local function char_at(s, i)
  local b = s:byte(i)
  if b < 0x80 then
    local c = s:sub(i, i)
    if c:match("%a") then return "letter", 1 end
    if c:match("%d") then return "digit", 1 end
    if c == "_" or c == "-" then return c, 1 end
    return nil, 1
  end
  local b2, b3 = s:byte(i + 1, i + 2)
  if b >= 0xE0 and b <= 0xEF and b2 and b3 and b2 >= 0x80 and b2 <= 0xBF and b3 >= 0x80 and b3 <= 0xBF then
    local cp = (b - 0xE0) * 4096 + (b2 - 0x80) * 64 + (b3 - 0x80)
    if cp >= 0x4E00 and cp <= 0x9FFF then return "cjk", 3 end
  end
  return nil, 1
end

--- nil when name is a valid template name; else the 400 response.
local function check_name(self, name)
  local ok, code, message = input.length("template_name", name, 1, NAME_MAX)
  if not ok then return fail(self, 400, code, message) end
  local i, first = 1, true
  while i <= #name do
    local kind, n = char_at(name, i)
    if not kind or (first and kind ~= "letter" and kind ~= "cjk") then
      return fail(self, 400, "RF.10011010", "template_name must start with a letter or Chinese character and hold "
                  .. "only letters, digits, Chinese characters, _ and -")
    end
    i, first = i + n, false
  end
end

-- State ---------------------------------------------------------------------------------------

local function library(self, project_id)
  self.templates = self.templates or {}
  local lib = self.templates[project_id]
  if not lib then
    lib = { by_name = {}, seq = 0 }
    self.templates[project_id] = lib
  end
  return lib
end

local function version_number(version_id)
  return tonumber(version_id:match("^V(%d+)$"))
end

--- The template named in the path, or nil and the error response (404, 400 on a guard mismatch).
local function find(self, lib, name, template_id)
  local bad = check_name(self, name)
  if bad then return nil, bad end
  if template_id then
    local ok, code, message = input.length("template_id", template_id, 36, 36)
    if not ok then return nil, fail(self, 400, code, message) end
  end
  local tpl = lib.by_name[name]
  if not tpl then return nil, fail(self, 404, "RF.10013024", "template " .. name .. " does not exist") end
  if template_id and template_id ~= tpl.template_id then
    return nil, fail(self, 400, "RF.10011015", "the template_id does not match the current template " .. name)
  end
  return tpl
end

local function find_version(self, tpl, version_id)
  if #version_id < 2 or #version_id > 11 or not version_number(version_id) then
    return nil, fail(self, 400, "RF.10011010", "version_id is V and a number, 2-11 characters")
  end
  for i, v in ipairs(tpl.versions) do
    if v.version_id == version_id then return v, i end
  end
  return nil, fail(self, 404, "RF.10013025", ("template %s has no version %s"):format(tpl.template_name, version_id))
end

-- The template text of a body (template_body, or a template_uri this emulator handed out),
-- checked by the template reader; or nil and the 400 response.
local function template_text(self, body, t)
  local which, code, message = input.template(body, true)
  if which == nil then return nil, fail(self, 400, code, message) end
  local text = body.template_body
  if which == "uri" then
    local why
    text, why = replies.download_text(self, body.template_uri, t)
    if not text then return nil, fail(self, 400, "RF.10011035", why) end
  end
  local doc, why = replies.parse_template(text)
  if not doc then return nil, fail(self, 400, "RF.10011073", why) end
  return text
end

local function add_version(tpl, body, text, t)
  local top = 0
  for _, v in ipairs(tpl.versions) do top = math.max(top, version_number(v.version_id)) end
  local v = { version_id = "V" .. (top + 1), version_description = body.version_description, text = text,
              create_time = t }
  table.insert(tpl.versions, 1, v) -- newest first
  return v
end

-- Views ---------------------------------------------------------------------------------------

local function latest(tpl)
  local best
  for _, v in ipairs(tpl.versions) do
    if not best or version_number(v.version_id) > version_number(best.version_id) then best = v end
  end
  return best
end

local function template_view(tpl)
  local v = latest(tpl)
  return { template_id = tpl.template_id, template_name = tpl.template_name,
           template_description = tpl.template_description, create_time = shared.rfc3339(tpl.create_time),
           update_time = shared.rfc3339(tpl.update_time), latest_version_id = v.version_id,
           latest_version_description = v.version_description or "" }
end

local function version_view(tpl, v)
  return { template_id = tpl.template_id, template_name = tpl.template_name,
           version_description = v.version_description, create_time = shared.rfc3339(v.create_time),
           version_id = v.version_id }
end

--- One page of list for marker/limit (1-1000; the marker is a position it handed out).
local function page_of(self, list, q)
  local page, info = replies.page(list, q, 1)
  if not page then return nil, fail(self, 400, "RF.10011027", info) end
  return page, info
end

-- Routes ---------------------------------------------------------------------------------------

local function create_template(self, project_id, req, t)
  local body, code, message = input.body("template_create", req.body)
  if not body then return fail(self, 400, code, message) end
  if not body.template_name then return fail(self, 400, "RF.10011001", "template_name is required") end
  local bad = check_name(self, body.template_name)
  if bad then return bad end
  local lib = library(self, project_id)
  if lib.by_name[body.template_name] then
    return fail(self, 409, "RF.10013504", "a template named " .. body.template_name .. " already exists")
  end
  local text, terr = template_text(self, body, t)
  if not text then return terr end
  lib.seq = lib.seq + 1
  local tpl = { template_id = self.uuid(), template_name = body.template_name, seq = lib.seq,
                template_description = body.template_description, create_time = t, update_time = t, versions = {} }
  local v = add_version(tpl, body, text, t)
  lib.by_name[tpl.template_name] = tpl
  return shared.json_response(self, 200, { template_id = tpl.template_id, version_id = v.version_id })
end

local function list_templates(self, lib, q)
  local found = {}
  for _, tpl in pairs(lib.by_name) do found[#found + 1] = tpl end
  table.sort(found, function(a, b) return a.seq > b.seq end) -- newest created first
  local views = {}
  for i, tpl in ipairs(found) do views[i] = template_view(tpl) end
  local page, info = page_of(self, views, q)
  if not page then return info end
  return shared.json_response(self, 200, { templates = page, page_info = info })
end

local function update_template(self, tpl, body, t)
  if body.template_description == nil then
    return fail(self, 400, "RF.10011084", "nothing to update: give template_description")
  end
  tpl.template_description = body.template_description
  tpl.update_time = t
  return empty(self, 204)
end

local function create_version(self, tpl, req, t)
  local body, code, message = input.body("template_version", req.body)
  if not body then return fail(self, 400, code, message) end
  local text, terr = template_text(self, body, t)
  if not text then return terr end
  local v = add_version(tpl, body, text, t)
  tpl.update_time = t
  return shared.json_response(self, 200, { version_id = v.version_id })
end

local function list_versions(self, tpl, q)
  local views = {}
  for i, v in ipairs(tpl.versions) do views[i] = version_view(tpl, v) end
  local page, info = page_of(self, views, q)
  if not page then return info end
  return shared.json_response(self, 200, { versions = page, page_info = info })
end

local function version_content(self, tpl, v, req, t)
  local token, expires = replies.issue_download(self, v.text, t, CONTENT_URL_SECONDS)
  local file = v.text:match("^%s*{") and "template.tf.json" or "template.tf"
  local location = ("%s://%s/_obs/rfs-template-library/%s/%s/%s?AccessKeyId=EMULATOR&Expires=%d&Signature=%s")
    :format(req.scheme or "http", req.headers.host or "127.0.0.1", tpl.template_id, v.version_id, file,
            math.floor(expires), token)
  return empty(self, 307, { Location = location })
end

local function delete_version(self, tpl, index)
  if #tpl.versions == 1 then
    return fail(self, 400, "RF.10011086", ("%s is the only version of template %s; delete the template instead")
                :format(tpl.versions[1].version_id, tpl.template_name))
  end
  table.remove(tpl.versions, index)
  return empty(self, 204)
end

-- A signed API request's common checks: the project id and the Client-Request-Id header.
local function check_request(self, project_id, req)
  local ok, code, message = input.length("project_id", project_id, 3, 64)
  if not ok then return fail(self, 400, code, message) end
  local crid = req.headers["client-request-id"]
  if not crid then return fail(self, 400, "RF.10011001", "header Client-Request-Id is required") end
  ok, code, message = input.length("header Client-Request-Id", crid, 36, 128)
  if not ok then return fail(self, 400, code, message) end
end

local ROUTES = {
  ["GET metadata"] = "metadata", ["PATCH metadata"] = "update", ["DELETE "] = "delete",
  ["POST versions"] = "create_version", ["GET versions"] = "versions",
  ["GET versions/metadata"] = "version_metadata", ["GET versions/"] = "version_content",
  ["DELETE versions/"] = "delete_version",
}

-- The operation a method and path ask for, with the template name and version id; nil when
-- the path is not the template library's.
local function route_of(req, rest)
  if rest == "templates" then
    if req.method == "POST" then return "create" elseif req.method == "GET" then return "list" end
    return nil
  end
  local name, tail = rest:match("^templates/([^/]+)/?(.*)$")
  if not name then return nil end
  local version, vtail = tail:match("^versions/([^/]+)/?(.*)$")
  local key
  if version then
    key = req.method .. " versions/" .. vtail
  else
    key = req.method .. " " .. tail
  end
  return ROUTES[key], unescape(name), version and unescape(version)
end

--- The response to a signed API request on a template library route, or nil for other routes.
function template_lib.route(self, req, t)
  local project_id, rest = req.path:match("^/v1/([^/]+)/(.+)$")
  if not project_id or rest:sub(1, 9) ~= "templates" then return nil end
  local op, name, version_id = route_of(req, rest)
  if not op then return nil end
  local bad = check_request(self, project_id, req)
  if bad then return bad end
  local q = shared.parse_query(req.query)
  local lib = library(self, project_id)
  if op == "create" then return create_template(self, project_id, req, t) end
  if op == "list" then return list_templates(self, lib, q) end
  local guard = q.template_id
  local body
  if op == "update" then
    local code, message
    body, code, message = input.body("template_update", req.body)
    if not body then return fail(self, 400, code, message) end
    guard = body.template_id
  end
  local tpl, err = find(self, lib, name, guard)
  if not tpl then return err end
  if op == "metadata" then
    local view = template_view(tpl)
    view.latest_version_id, view.latest_version_description = nil, nil
    return shared.json_response(self, 200, view)
  end
  if op == "update" then return update_template(self, tpl, body, t) end
  if op == "delete" then
    lib.by_name[name] = nil
    return empty(self, 204)
  end
  if op == "create_version" then return create_version(self, tpl, req, t) end
  if op == "versions" then return list_versions(self, tpl, q) end
  local v, index = find_version(self, tpl, version_id)
  if not v then return index end
  if op == "version_metadata" then
    local view = version_view(tpl, v)
    view.version_id = nil -- RFS leaves it out of this answer
    return shared.json_response(self, 200, view)
  end
  if op == "version_content" then return version_content(self, tpl, v, req, t) end
  return delete_version(self, tpl, index)
end

return template_lib
