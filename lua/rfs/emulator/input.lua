-- rfs.emulator.input: the emulator's reading of request bodies for the stack operations:
-- field names, types and lengths, agencies, vars and the template rules, as the RFS API
-- reference gives them. A failure is (nil, code, message), always an HTTP 400.
--
--   RF.10011001 a required field is missing      RF.10011002 unknown field
--   RF.10011003 template_body and template_uri   RF.10011005 / 006 too long / too short
--   RF.10011010 a name with characters it may not have
--   RF.10011022 template_uri is not .tf, .tf.json or .zip
--   RF.10011032 no body                          RF.10011033 not JSON, or a field of the wrong type
--   RF.10011039 a bad or twice declared var_key  RF.10011056 no template
--   RF.10011065 a provider_name twice in agencies

local cjson = require "cjson.safe"

local input = {}

input.STACK_NAME = "^[A-Za-z][A-Za-z0-9_-]*$" -- the ASCII names; input.valid_name takes Chinese ones too

--- A path segment as sent (percent-encoded) -> its text.
function input.path_segment(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Names of stacks, plans and templates as RFS takes them: a letter or a Chinese character
--  (U+4E00..U+9FA5, UTF-8) first, then letters, Chinese characters, digits, '_' and '-';
--  1 to 128 characters. -> true | false, "too_long"
function input.valid_name(name)
  if type(name) ~= "string" or name == "" then return false end
  local chars, i = 0, 1
  while i <= #name do
    local c = name:sub(i, i)
    local b1, b2, b3 = name:byte(i, i + 2)
    if b1 >= 0xe4 and b1 <= 0xe9 and b2 and b3 and b2 >= 0x80 and b2 <= 0xbf and b3 >= 0x80 and b3 <= 0xbf then
      local cp = (b1 - 0xe0) * 4096 + (b2 - 0x80) * 64 + (b3 - 0x80)
      if cp < 0x4e00 or cp > 0x9fa5 then return false end
      i = i + 3
    elseif c:match("%a") or (i > 1 and c:match("[%d_%-]")) then
      i = i + 1
    else
      return false
    end
    chars = chars + 1
  end
  if chars > 128 then return false, "too_long" end
  return true
end
local VAR_KEY = "^[A-Za-z][A-Za-z0-9_-]*$"

--- Characters (not bytes) of a UTF-8 string.
local function chars(s)
  return select(2, s:gsub("[^\128-\191]", ""))
end
input.chars = chars

local function length_failure(name, s, min, max)
  local n = chars(s)
  if n > max then return "RF.10011005", ("%s is too long: %d characters, at most %d"):format(name, n, max) end
  if n < min then return "RF.10011006", ("%s is too short: %d characters, at least %d"):format(name, n, min) end
end

--- Checks a length; returns nil, code, message when it is out of range.
function input.length(name, s, min, max)
  local code, message = length_failure(name, s, min, max)
  if code then return nil, code, message end
  return true
end

local TEMPLATE_FIELDS = {
  template_body = { "string", 0, 51200 }, template_uri = { "string", 0, 2048 },
  vars_body = { "string", 0, 51200 }, vars_uri = { "string", 0, 2048 }, vars_structure = { "array", 0, 100 },
}

local function with(base, extra)
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

--- The body fields of each operation: { type, min, max } (lengths in characters or items).
input.FIELDS = {
  create = with(TEMPLATE_FIELDS, { stack_name = { "string", 1, 128 }, description = { "string", 0, 1024 },
                                   agencies = { "array", 0, 100 }, enable_deletion_protection = { "boolean" },
                                   enable_auto_rollback = { "boolean" } }),
  deploy = with(TEMPLATE_FIELDS, { stack_id = { "string", 36, 36 } }),
  update = { description = { "string", 0, 1024 }, stack_id = { "string", 36, 36 },
             enable_deletion_protection = { "boolean" }, enable_auto_rollback = { "boolean" },
             agencies = { "array", 0, 100 } },
  deletion = { stack_id = { "string", 36, 36 }, retain_all_resources = { "boolean" } },
  variables = { template_body = { "string", 0, 51200 }, template_uri = { "string", 0, 2048 } },
}

local function json_type(v)
  if type(v) == "table" then
    if next(v) == nil or #v > 0 then return "array" end
    return "object"
  end
  return type(v)
end

local function check_agencies(list)
  local seen = {}
  for i, a in ipairs(list) do
    local where = ("agencies[%d]"):format(i - 1)
    if json_type(a) ~= "object" then return nil, "RF.10011033", where .. " must be an object" end
    for k, v in pairs(a) do
      if k ~= "provider_name" and k ~= "agency_name" and k ~= "agency_urn" then
        return nil, "RF.10011002", ("unknown field %s.%s"):format(where, tostring(k))
      end
      if type(v) ~= "string" then return nil, "RF.10011033", ("%s.%s must be a string"):format(where, k) end
    end
    if not a.provider_name then return nil, "RF.10011001", where .. ".provider_name is required" end
    local ok, code, message = input.length(where .. ".provider_name", a.provider_name, 1, 128)
    if not ok then return nil, code, message end
    if (a.agency_name == nil) == (a.agency_urn == nil) then
      return nil, "RF.10011001", where .. ": give exactly one of agency_name and agency_urn"
    end
    if a.agency_name then
      ok, code, message = input.length(where .. ".agency_name", a.agency_name, 1, 64)
      if not ok then return nil, code, message end
    end
    if seen[a.provider_name] then
      return nil, "RF.10011065", "provider_name " .. a.provider_name .. " is given twice in agencies"
    end
    seen[a.provider_name] = true
  end
  return true
end

-- The variable names a tfvars text assigns (top-level `name = ...` lines).
local function tfvars_names(text)
  local names = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local name = line:match("^%s*([%a_][%w_-]*)%s*=")
    if name then names[#names + 1] = name end
  end
  return names
end

local function check_vars(body)
  local seen = {}
  for i, v in ipairs(body.vars_structure or {}) do
    local where = ("vars_structure[%d]"):format(i - 1)
    if json_type(v) ~= "object" then return nil, "RF.10011033", where .. " must be an object" end
    for k in pairs(v) do
      if k ~= "var_key" and k ~= "var_value" and k ~= "encryption" then
        return nil, "RF.10011002", ("unknown field %s.%s"):format(where, tostring(k))
      end
    end
    if type(v.var_key) ~= "string" or type(v.var_value) ~= "string" then
      return nil, "RF.10011001", where .. " needs var_key and var_value, both strings"
    end
    if #v.var_key < 1 or #v.var_key > 32 or not v.var_key:match(VAR_KEY) then
      return nil, "RF.10011039", where .. ".var_key must be 1-32 letters, digits, _ or -, starting with a letter"
    end
    local ok, code, message = input.length(where .. ".var_value", v.var_value, 0, 2048)
    if not ok then return nil, code, message end
    if seen[v.var_key] then return nil, "RF.10011039", "variable " .. v.var_key .. " is declared twice" end
    seen[v.var_key] = true
  end
  for _, name in ipairs(body.vars_body and tfvars_names(body.vars_body) or {}) do
    if seen[name] then return nil, "RF.10011039", "variable " .. name .. " is declared twice" end
    seen[name] = true
  end
  return true
end

--- Decodes and checks the body of operation op. Returns the body (a table; JSON nulls are
--  dropped) or nil, code, message. optional: an empty body reads as {}.
function input.body(op, text, optional)
  if text == nil or text:match("^%s*$") then
    if optional then return {} end
    return nil, "RF.10011032", "the request needs a JSON body"
  end
  local body = cjson.decode(text)
  if type(body) ~= "table" or not text:match("^%s*{") then return nil, "RF.10011033", "the request body is not a JSON object" end
  local fields = input.FIELDS[op]
  for k, v in pairs(body) do
    local spec = fields[k]
    if not spec then return nil, "RF.10011002", "unknown field in the request body: " .. tostring(k):sub(1, 64) end
    if v == cjson.null then
      body[k] = nil
    elseif json_type(v) ~= spec[1] then
      return nil, "RF.10011033", ("%s must be %s %s"):format(k, spec[1] == "array" and "an" or "a", spec[1])
    elseif spec[1] == "string" then
      local ok, code, message = input.length(k, v, spec[2], spec[3])
      if not ok then return nil, code, message end
    elseif spec[1] == "array" and #v > spec[3] then
      return nil, "RF.10011005", ("%s has %d items, at most %d"):format(k, #v, spec[3])
    end
  end
  if body.agencies then
    local ok, code, message = check_agencies(body.agencies)
    if not ok then return nil, code, message end
  end
  if fields.vars_structure then
    local ok, code, message = check_vars(body)
    if not ok then return nil, code, message end
  end
  return body
end

--- Checks the template fields: returns "body" or "uri" (which one was given), or false when
--  neither was and required is not set; nil, code, message when the rules are broken.
function input.template(body, required)
  if body.template_body and body.template_uri then
    return nil, "RF.10011003", "give template_body or template_uri, not both"
  end
  if body.template_uri then
    local path = body.template_uri:match("^[^?#]*")
    if not (path:match("%.tf$") or path:match("%.tf%.json$") or path:match("%.zip$")) then
      return nil, "RF.10011022", "template_uri must name a .tf, .tf.json or .zip file"
    end
    return "uri"
  end
  if body.template_body then return "body" end
  if required then return nil, "RF.10011056", "a template is required: give template_body or template_uri" end
  return false
end

return input
