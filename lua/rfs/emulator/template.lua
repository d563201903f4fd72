-- rfs.emulator.template: reads a Terraform template, as RFS receives it in template_body,
-- into the plain tables the emulator's stack lifecycle works from: resources and data
-- sources (not expanded), outputs and the resources they reference, variables, providers.
--
--   local doc, err = template.parse(text)   -- HCL native syntax, or .tf.json when the
--                                           -- first non-blank byte is "{"
--   -- err: "line N: what is wrong" (one line); the emulator answers 400 RF.10011073
--
-- It never raises, whatever the bytes, and its time is linear in the input: every scan
-- moves forward through the text with anchored string.find, nesting is capped, and no
-- string is built by repeated concatenation. Expressions are kept as their source text;
-- only literals (strings, numbers, bools, null, lists and objects of them) are decoded.

local cjson = require "cjson.safe"
local syntax = require "rfs.emulator.template_syntax"
local json = require "rfs.emulator.template_json"

local template = {}

local fail, line_of, show = syntax.fail, syntax.line_of, syntax.show
local literal, NOT_LITERAL = syntax.literal, syntax.NOT_LITERAL

local NAME = "^[%a_][%w_%-]*$"
-- first words of a traversal that never name a resource
local NOT_RESOURCE = {
  var = true, ["local"] = true, module = true, path = true, terraform = true,
  count = true, each = true, self = true,
}

-- Top-level block types and how many labels each takes (the ones Terraform knows).
local LABELS = {
  resource = 2, data = 2, output = 1, variable = 1, provider = 1, module = 1,
  terraform = 0, locals = 0, moved = 0, import = 0, removed = 0, check = 1,
}
local LABEL_NAMES = {
  resource = "a type and a name", data = "a type and a name", output = "a name",
  variable = "a name", provider = "a name", module = "a name", check = "a name",
}

-- References ---------------------------------------------------------------------

local IDENT = "[%a_][%w_%-]*"

--- { mode, type, name, index, attr } when expr is exactly one resource attribute reference
--- TYPE.NAME[.INDEX|[N]|["key"]].ATTR (or data.TYPE.NAME...), bare or as "${...}".
local function parse_ref(expr)
  if type(expr) ~= "string" then return nil end
  local inner = expr:match('^"%${%s*(.-)%s*}"$') or expr:match("^%${%s*(.-)%s*}$")
  if inner then expr = inner end
  local mode = "managed"
  local t, n, rest = expr:match("^(" .. IDENT .. ")%.(" .. IDENT .. ")(.*)$")
  if not t then return nil end
  if t == "data" then
    mode = "data"
    t, n, rest = rest:match("^%.(" .. IDENT .. ")%.(" .. IDENT .. ")(.*)$")
    if not t then return nil end
  elseif NOT_RESOURCE[t] then
    return nil
  end
  local index
  local digits = rest:match("^%[(%d+)%]")
  if digits then
    index, rest = tonumber(digits), rest:sub(#digits + 3)
  else
    digits = rest:match("^%.(%d+)%.") -- the older TYPE.NAME.0.ATTR form
    if digits then
      index, rest = tonumber(digits), rest:sub(#digits + 2)
    else
      local key = rest:match('^%["([^"\\$%%]*)"%]')
      if key then index, rest = key, rest:sub(#key + 5) end
    end
  end
  local attr = rest:match("^%.(" .. IDENT .. ")$")
  if not attr then return nil end
  return { mode = mode, type = t, name = n, index = index, attr = attr }
end
template.parse_ref = parse_ref

--- A literal list of references (depends_on), as their source text; nil otherwise.
local function ref_list(expr)
  local inner = expr:match("^%[(.*)%]$")
  if not inner then return nil end
  local refs = {}
  for item in inner:gmatch("[^,%s]+") do
    if not item:match("^" .. IDENT .. "%." .. IDENT) or not item:match("^[%w_%-%.]+$") or item:find("..", 1, true)
      or item:sub(-1) == "." then
      return nil
    end
    refs[#refs + 1] = item
  end
  return refs
end

local function sorted_unique(list)
  local seen, out = {}, {}
  for _, v in ipairs(list) do
    if type(v) ~= "string" then return nil end
    if not seen[v] then
      seen[v] = true
      out[#out + 1] = v
    end
  end
  table.sort(out)
  return out
end

local function count_of(v)
  if type(v) == "string" and v:match("^%d+$") then v = tonumber(v) end
  if type(v) == "number" and v >= 0 and v < 2 ^ 31 and v == math.floor(v) then
    return math.floor(v)
  end
  return nil
end

local function scalar(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  return nil
end

-- HCL -----------------------------------------------------------------------------

--- The decoded literal of an attribute, or NOT_LITERAL.
local function attr_literal(P, attr)
  if not attr then return NOT_LITERAL end
  return literal(P, attr.pos, attr.stop)
end

local function attr_string(P, attr)
  local v = attr_literal(P, attr)
  if type(v) == "string" then return v end
  return nil
end

local function attr_bool(P, attr, default)
  local v = attr_literal(P, attr)
  if type(v) == "boolean" then return v end
  return default
end

local function for_each_keys(P, attr)
  if not attr then return nil end
  local pos, stop = attr.pos, attr.stop
  local s = P.s
  local _, call_end = s:find("^toset%s*%(", pos)
  if call_end then
    local close = syntax.skip_space(P, syntax.scan_expr(P, call_end + 1, true), true)
    if s:sub(close, close) ~= ")" or syntax.skip_space(P, close + 1, false) < stop then return nil end
    local v = literal(P, call_end + 1, close)
    if type(v) ~= "table" or v == cjson.null then return nil end
    return sorted_unique(v)
  end
  if s:sub(pos, pos) == "{" then
    local keys = syntax.object_keys(P, pos, stop)
    return keys and sorted_unique(keys)
  end
  local v = literal(P, pos, stop)
  if type(v) == "table" and v ~= cjson.null and #v > 0 or (type(v) == "table" and next(v) == nil) then
    return sorted_unique(v)
  end
  return nil
end

local function public_attributes(P, attrs)
  local out = {}
  for name, a in pairs(attrs) do
    out[name] = { expr = a.expr, value = scalar(attr_literal(P, a)), line = a.line }
  end
  return out
end

local function public_blocks(P, blocks)
  local out = {}
  for i, b in ipairs(blocks) do
    out[i] = { type = b.type, labels = b.labels, line = b.line, attributes = public_attributes(P, b.attrs),
               blocks = public_blocks(P, b.blocks) }
  end
  return out
end

local function hcl_resource(P, b)
  local mode = b.type == "resource" and "managed" or "data"
  local attrs = b.attrs
  local r = {
    mode = mode, type = b.labels[1], name = b.labels[2], line = b.line,
    text = P.s:sub(b.pos, b.epos),
    attributes = public_attributes(P, attrs),
    blocks = public_blocks(P, b.blocks),
  }
  if attrs.count then r.count = count_of(attr_literal(P, attrs.count)) end
  r.for_each = for_each_keys(P, attrs.for_each)
  if attrs.depends_on then r.depends_on = ref_list(attrs.depends_on.expr) end
  return r
end

local function hcl_output(P, b)
  local attrs = b.attrs
  if not attrs.value then fail(P, b.pos, 'output "%s" has no value', b.labels[1]) end
  local v = attr_literal(P, attrs.value)
  return {
    name = b.labels[1], line = b.line, expr = attrs.value.expr,
    description = attr_string(P, attrs.description),
    sensitive = attr_bool(P, attrs.sensitive, false),
    ref = parse_ref(attrs.value.expr),
    value = v ~= NOT_LITERAL and v or nil,
  }
end

local function hcl_variable(P, b)
  local attrs = b.attrs
  local v = {
    name = b.labels[1], line = b.line,
    type = attrs.type and attrs.type.expr or nil,
    description = attr_string(P, attrs.description),
    has_default = attrs.default ~= nil,
    sensitive = attr_bool(P, attrs.sensitive, false),
    nullable = attr_bool(P, attrs.nullable, true),
    validations = {},
  }
  if attrs.default then
    local d = attr_literal(P, attrs.default)
    if d == NOT_LITERAL then
      v.default_expr = attrs.default.expr
    else
      v.default = d
    end
  end
  for _, nb in ipairs(b.blocks) do
    if nb.type == "validation" then
      local cond, msg = nb.attrs.condition, nb.attrs.error_message
      v.validations[#v.validations + 1] = {
        condition = cond and cond.expr or nil,
        error_message = attr_string(P, msg) or (msg and msg.expr) or nil,
      }
    end
  end
  return v
end

local function check_labels(P, b)
  local want = LABELS[b.type]
  if not want then fail(P, b.pos, "unsupported block type '%s'", b.type) end
  if #b.labels ~= want then
    if want == 0 then fail(P, b.pos, "a %s block takes no labels, found %d", b.type, #b.labels) end
    fail(P, b.pos, "a %s block needs %d label%s (%s), found %d", b.type, want, want == 1 and "" or "s",
      LABEL_NAMES[b.type], #b.labels)
  end
  if b.type == "resource" or b.type == "data" or b.type == "variable" or b.type == "output" then
    for _, label in ipairs(b.labels) do
      if not label:match(NAME) then
        fail(P, b.pos, "invalid %s name %s: a name starts with a letter or '_' and holds only letters, digits, '_' and '-'",
          b.type, show(label))
      end
    end
  end
end

--- Collects entries, refusing a second one with the same key.
local function add_unique(P, seen, key, what, b, list, entry)
  local first = seen[key]
  if first then fail(P, b.pos, "duplicate %s (first declared on line %d)", what, first) end
  seen[key] = b.line
  list[#list + 1] = entry
end

local function read_hcl(s)
  local P = syntax.new(s)
  local blocks = syntax.parse_file(P)
  local doc = { resources = {}, outputs = {}, variables = {}, providers = {} }
  local seen_res, seen_out, seen_var = {}, {}, {}
  for _, b in ipairs(blocks) do
    check_labels(P, b)
    if b.type == "resource" or b.type == "data" then
      local key = b.type .. " " .. b.labels[1] .. "." .. b.labels[2]
      local what = (b.type == "data" and "data source data." or "resource ") .. b.labels[1] .. "." .. b.labels[2]
      add_unique(P, seen_res, key, what, b, doc.resources, hcl_resource(P, b))
    elseif b.type == "output" then
      add_unique(P, seen_out, b.labels[1], 'output "' .. b.labels[1] .. '"', b, doc.outputs, hcl_output(P, b))
    elseif b.type == "variable" then
      add_unique(P, seen_var, b.labels[1], 'variable "' .. b.labels[1] .. '"', b, doc.variables, hcl_variable(P, b))
    elseif b.type == "provider" then
      doc.providers[#doc.providers + 1] = { name = b.labels[1], line = b.line, alias = attr_string(P, b.attrs.alias) }
    end
  end
  return doc
end

-- Public --------------------------------------------------------------------------

--- Reads a template. Returns the document, or nil and "line N: what is wrong".
function template.parse(text)
  if type(text) ~= "string" then
    return nil, "line 1: the template must be a string, got " .. type(text)
  end
  local reader = text:find("^[ \t\r\n]*{") and json.read or read_hcl
  local ok, doc = pcall(reader, text, template._helpers)
  if ok then return doc end
  if type(doc) == "table" and doc.line then
    return nil, "line " .. doc.line .. ": " .. doc.message
  end
  -- a bug in this reader, never an answer about the template; kept on one line
  return nil, ("line 1: internal error while reading the template: " .. tostring(doc)):gsub("[\r\n]+", " ")
end

--- The instance keys of a resource: {} (with n = 1) for a plain block, {0, 1, 2} for
--- count = 3, the for_each keys for for_each, {} (with n = 0) for count = 0.
--- n is always the number of instances; a count or for_each that is not a literal
--- counts as one instance, with unknown = "count" or "for_each".
function template.instances(resource)
  if resource.count then
    local keys = { n = resource.count }
    for i = 1, resource.count do keys[i] = i - 1 end
    return keys
  end
  if resource.for_each then
    local keys = { n = #resource.for_each }
    for i, k in ipairs(resource.for_each) do keys[i] = k end
    return keys
  end
  local attrs = resource.attributes or {}
  return { n = 1, unknown = attrs.count and "count" or attrs.for_each and "for_each" or nil }
end

template._helpers = { parse_ref = parse_ref, line_of = line_of, count_of = count_of, sorted_unique = sorted_unique, ref_list = ref_list,
                      scalar = scalar, add_unique = add_unique, LABELS = LABELS }

return template
