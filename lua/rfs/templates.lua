-- rfs.templates: the private template library as methods built from rfs.api.
--
--   client:create_template(name, opts)   client:templates(opts)   client:template(name, { template_id = })
--   template:metadata()   template:update{ description = }   template:delete()
--   template:create_version(opts)   template:versions(opts)   template:version_metadata(v)
--   template:version_content(v [, opts])   template:delete_version(v)
--
-- A Template is the shared C object (metatable rfs.Template): template.name, template.id,
-- and, from a listing or a create, template.description, create_time, update_time,
-- latest_version_id, latest_version_description. Once the id is known (given, created,
-- listed or read by metadata()) every call sends it as the template_id guard, so a script
-- never changes a same-named template somebody recreated meanwhile (RFS answers 400).

local core = require "rfs.core"
local api = require "rfs.api"
local operations = require "rfs.operations"
local errors = require "rfs.errors"
local lifecycle = require "rfs.lifecycle" -- the List shape the stack listings use

local templates = {}
local Client, Template = core.Client, core.Template
local OP = api.by_name
local as_list = lifecycle.as_list

local VERSION_ID = "^V%d+$"

local function strip_where(msg)
  return (tostring(msg):gsub("^[^:]+:%d+: ", ""))
end

-- What to do next, said of templates rather than stacks.
local HINTS = {
  not_found = "check the template name and version (the library's listings show them), project_id and region",
  conflict = "a template of that name exists: pick another name, or add a version to that template",
}

local function with_hint(err)
  if HINTS[err.kind] and err.status then err.hint = HINTS[err.kind] end
  return err
end

local function send(c, op, method, url, body)
  local value, err, request_id = operations.send(c, op, method, url, body)
  if not value then return nil, with_hint(err) end
  return value, err, request_id
end

-- Checks the positional arguments ({ version_id = }) and the options, then sends the entry.
local function call(self, op, fname, opts, positional)
  local args = operations.check_args(op, fname, positional, 3)
  opts = operations.check(op, fname, opts, 3)
  local method, url, body = operations.request(op, self.client, self, opts, nil, args)
  return opts, send(self.client, op, method, url, body)
end

local function new_template(c, fname, name, id, level)
  if type(name) ~= "string" then
    error("rfs: " .. fname .. ": template name must be a string (got " .. type(name) .. ")", level + 1)
  end
  local ok, t = pcall(c._object, c, "Template", name, id)
  if not ok then error(strip_where(t), level + 1) end
  return t
end

-- The extra fields a create or a listing tells about a template.
local EXTRAS = { description = "template_description", create_time = "create_time", update_time = "update_time",
                 latest_version_id = "latest_version_id", latest_version_description = "latest_version_description" }

local function extras_of(item)
  local out = {}
  for field, key in pairs(EXTRAS) do
    if type(item[key]) == "string" then out[field] = item[key] end
  end
  return out
end

-- client:create_template / templates / template ---------------------------------------------

--- CreateTemplate (200): a Template with template.id set and latest_version_id = "V1".
function Client:create_template(name, opts)
  local t = new_template(self, "client:create_template", name, nil, 2)
  opts = operations.check(OP.CreateTemplate, "client:create_template", opts, 2)
  local method, url, body = operations.request(OP.CreateTemplate, self, t, opts, name)
  local value, err, request_id = send(self, OP.CreateTemplate, method, url, body)
  if not value then return nil, err end
  if type(value.template_id) ~= "string" or not pcall(t._set, t, "id", value.template_id) then
    return nil, operations.bad_field("create_template", "template_id", "36-character UUID", request_id)
  end
  if type(value.version_id) ~= "string" or not value.version_id:match(VERSION_ID) then
    return nil, operations.bad_field("create_template", "version_id", "V and a number", request_id)
  end
  t:_fields{ latest_version_id = value.version_id, description = opts.description,
             latest_version_description = opts.version_description }
  return t
end

local function template_line(t)
  return string.format("%-30s %-6s %s", t.name, tostring(t.latest_version_id or ""), tostring(t.id))
end

--- ListTemplates, every page (all = false: one page and the next marker): Template objects.
function Client:templates(opts)
  opts = operations.check(OP.ListTemplates, "client:templates", opts, 2)
  local list, err_or_marker = operations.list(self, OP.ListTemplates, nil, opts)
  if not list then return nil, err_or_marker end
  local out = {}
  for i, item in ipairs(list) do
    local ok, t = pcall(self._object, self, "Template", item.template_name, item.template_id)
    if not ok or type(item.template_id) ~= "string" then
      return nil, operations.bad_field("templates", "templates[" .. i .. "]", "template_name and template_id")
    end
    t:_fields(extras_of(item))
    out[i] = t
  end
  return as_list(out, #out == 1 and "template" or "templates", template_line), err_or_marker
end

--- A Template of this client; no request is made. opts: { template_id = uuid }.
function Client:template(name, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("rfs: client:template: expected a table of options, got " .. type(opts), 2)
  end
  for k in pairs(opts or {}) do
    if k ~= "template_id" then
      error("rfs: client:template: unknown option " .. errors.display(k) .. "; known options: template_id", 2)
    end
  end
  return new_template(self, "client:template", name, opts and opts.template_id, 2)
end

-- template:metadata / update / delete --------------------------------------------------------

local Metadata = { __name = "rfs.TemplateMetadata" }
Metadata.__index = Metadata
function Metadata.__tostring(m)
  return errors.printable(string.format("%s (id %s, updated %s)%s", tostring(m.template_name), tostring(m.template_id),
                                        tostring(m.update_time),
                                        m.template_description and (": " .. m.template_description) or ""))
end

--- ShowTemplateMetadata: { template_id, template_name, template_description, create_time,
--  update_time }; refreshes template.id.
function Template:metadata()
  local _, value, err, request_id = call(self, OP.ShowTemplateMetadata, "template:metadata", nil)
  if not value then return nil, err end
  if type(value.template_id) ~= "string" or not pcall(self._set, self, "id", value.template_id) then
    return nil, operations.bad_field("metadata", "template_id", "36-character UUID", request_id)
  end
  return setmetatable(value, Metadata)
end

--- UpdateTemplateMetadata (204) -> true. Only the description can change.
function Template:update(opts)
  local _, value, err = call(self, OP.UpdateTemplateMetadata, "template:update", opts)
  if not value then return nil, err end
  return true
end

--- DeleteTemplate (204) -> true: the template and every version of it.
function Template:delete()
  local _, value, err = call(self, OP.DeleteTemplate, "template:delete", nil)
  if not value then return nil, err end
  return true
end

-- versions ----------------------------------------------------------------------------------

local Version = { __name = "rfs.TemplateVersion" }
Version.__index = Version
function Version.__tostring(v)
  return "version " .. tostring(v.version_id)
end

--- CreateTemplateVersion (200) -> { version_id = "V2" }.
function Template:create_version(opts)
  local _, value, err, request_id = call(self, OP.CreateTemplateVersion, "template:create_version", opts)
  if not value then return nil, err end
  if type(value.version_id) ~= "string" or not value.version_id:match(VERSION_ID) then
    return nil, operations.bad_field("create_version", "version_id", "V and a number", request_id)
  end
  return setmetatable({ version_id = value.version_id }, Version)
end

local function version_line(v)
  return string.format("%-6s %-20s %s", tostring(v.version_id), tostring(v.create_time), tostring(v.version_description or ""))
end

--- ListTemplateVersions, every page (all = false: one page and the next marker), newest first.
function Template:versions(opts)
  opts = operations.check(OP.ListTemplateVersions, "template:versions", opts, 2)
  local list, marker = operations.list(self.client, OP.ListTemplateVersions, self, opts)
  if not list then return nil, with_hint(marker) end
  for i, v in ipairs(list) do
    if type(v.version_id) ~= "string" then
      return nil, operations.bad_field("versions", "versions[" .. i .. "].version_id", "string")
    end
  end
  return as_list(list, #list == 1 and "version" or "versions", version_line), marker
end

--- ShowTemplateVersionMetadata: { template_id, template_name, version_description, create_time }.
function Template:version_metadata(version_id)
  local _, value, err = call(self, OP.ShowTemplateVersionMetadata, "template:version_metadata", nil,
                            { version_id = version_id })
  if not value then return nil, err end
  value.version_id = version_id -- RFS leaves it out of this answer
  return value
end

--- ShowTemplateVersionContent (307): the template text, fetched from the pre-signed location
--  with a plain GET that carries no signature, token or project header.
--  opts: { access_control_source_ips = {...}, access_control_source_vpc_ids = {...} }.
function Template:version_content(version_id, opts)
  local _, value, err, request_id = call(self, OP.ShowTemplateVersionContent, "template:version_content", opts,
                                         { version_id = version_id })
  if not value then return nil, err end
  if type(value.location) ~= "string" then
    return nil, operations.bad_field("version_content", "Location header", "URL", request_id)
  end
  return operations.download(self.client, value.location, "version_content")
end

--- DeleteTemplateVersion (204) -> true. RFS keeps the last version: delete the template instead.
function Template:delete_version(version_id)
  local _, value, err = call(self, OP.DeleteTemplateVersion, "template:delete_version", nil,
                            { version_id = version_id })
  if not value then return nil, err end
  return true
end

return templates
