-- rfs.emulator.template_json: Terraform's JSON syntax (.tf.json) read into the same
-- document as the HCL reader gives. cjson cannot keep the order of object keys or say
-- on which line a key is, and both matter here (resources in file order, line numbers in
-- every entry and error), so this reads JSON itself: one forward pass, nesting capped.

local cjson = require "cjson.safe"
local syntax = require "rfs.emulator.template_syntax"

local json = {}

local MAX_DEPTH = 100
local NOT_LITERAL = syntax.NOT_LITERAL
local fail, line_of, show = syntax.fail, syntax.line_of, syntax.show

-- The JSON reader -----------------------------------------------------------------
-- Nodes: { kind = "object", keys = {...}, vals = {...}, keypos = {...} },
-- { kind = "array", items = {...} }, { kind = "string"|"number"|"boolean"|"null", value = },
-- each with pos and epos (first and last byte of its source text).

local JSON_ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function ws(P, p)
  return P.s:find("[^ \t\r\n]", p) or P.n + 1
end

local function snippet(P, p)
  return show(P.s:match("^[^\n]*", p))
end

local function read_string(P, p)
  local s = P.s
  local parts, n, from = {}, 0, p + 1
  while true do
    local q = s:find('["\\%c]', from)
    if not q then fail(P, p, "unterminated JSON string") end
    n = n + 1
    parts[n] = s:sub(from, q - 1)
    local c = s:sub(q, q)
    if c == '"' then return table.concat(parts), q end
    if c ~= "\\" then fail(P, q, "a JSON string cannot hold a raw control character (%s)", show(c)) end
    local e = s:sub(q + 1, q + 1)
    if JSON_ESCAPES[e] then
      n = n + 1
      parts[n], from = JSON_ESCAPES[e], q + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", q + 2)
      if not hex then fail(P, q, "invalid JSON escape: \\u needs 4 hexadecimal digits") end
      local cp = tonumber(hex, 16)
      from = q + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local low = s:match("^\\u(%x%x%x%x)", from)
        low = low and tonumber(low, 16)
        if low and low >= 0xDC00 and low <= 0xDFFF then
          cp, from = 0x10000 + (cp - 0xD800) * 0x400 + (low - 0xDC00), from + 6
        end
      end
      n = n + 1
      parts[n] = syntax.utf8_char(cp)
    else
      fail(P, q, "invalid JSON escape %s", show("\\" .. e))
    end
  end
end

local read_value

local function read_object(P, p, depth)
  local s = P.s
  local node = { kind = "object", pos = p, keys = {}, vals = {}, keypos = {} }
  local n = 0
  p = ws(P, p + 1)
  if s:sub(p, p) == "}" then
    node.epos = p
    return node, p + 1
  end
  while true do
    if s:sub(p, p) ~= '"' then fail(P, p, "expected a JSON object key (a string), found %s", snippet(P, p)) end
    local key, kend = read_string(P, p)
    local kpos = p
    p = ws(P, kend + 1)
    if s:sub(p, p) ~= ":" then fail(P, p, "expected ':' after the JSON key %s, found %s", show(key), snippet(P, p)) end
    local v
    v, p = read_value(P, p + 1, depth + 1)
    n = n + 1
    node.keys[n], node.vals[n], node.keypos[n] = key, v, kpos
    p = ws(P, p)
    local c = s:sub(p, p)
    if c == "}" then
      node.epos = p
      return node, p + 1
    end
    if c ~= "," then fail(P, p, "expected ',' or '}' in a JSON object, found %s", snippet(P, p)) end
    p = ws(P, p + 1)
  end
end

local function read_array(P, p, depth)
  local s = P.s
  local node = { kind = "array", pos = p, items = {} }
  local n = 0
  p = ws(P, p + 1)
  if s:sub(p, p) == "]" then
    node.epos = p
    return node, p + 1
  end
  while true do
    local v
    v, p = read_value(P, p, depth + 1)
    n = n + 1
    node.items[n] = v
    p = ws(P, p)
    local c = s:sub(p, p)
    if c == "]" then
      node.epos = p
      return node, p + 1
    end
    if c ~= "," then fail(P, p, "expected ',' or ']' in a JSON array, found %s", snippet(P, p)) end
    p = p + 1
  end
end

local WORDS = { ["true"] = true, ["false"] = false, null = cjson.null }

read_value = function(P, p, depth)
  if depth > MAX_DEPTH then fail(P, p, "JSON nested more than %d deep", MAX_DEPTH) end
  local s = P.s
  p = ws(P, p)
  local c = s:sub(p, p)
  if c == "{" then return read_object(P, p, depth) end
  if c == "[" then return read_array(P, p, depth) end
  if c == '"' then
    local v, e = read_string(P, p)
    return { kind = "string", value = v, pos = p, epos = e }, e + 1
  end
  local _, e = s:find("^%-?%d+", p)
  if e then
    local _, fe = s:find("^%.%d+", e + 1)
    e = fe or e
    local _, ee = s:find("^[eE][%+%-]?%d+", e + 1)
    e = ee or e
    return { kind = "number", value = tonumber(s:sub(p, e)), pos = p, epos = e }, e + 1
  end
  local word
  _, e, word = s:find("^(%a+)", p)
  if word and WORDS[word] ~= nil then
    local v = WORDS[word]
    return { kind = v == cjson.null and "null" or "boolean", value = v, pos = p, epos = e }, e + 1
  end
  fail(P, p, "expected a JSON value, found %s", snippet(P, p))
end

-- Values --------------------------------------------------------------------------

--- The Lua value of a node (cjson.null for null); NOT_LITERAL when a string in it holds
--- a ${ } or %{ } template sequence, or a number is not finite.
local function to_lua(node)
  local k = node.kind
  if k == "string" then
    if node.value:find("[%$%%]{") then return NOT_LITERAL end
    return node.value
  elseif k == "number" then
    local v = node.value
    if v ~= v or v == math.huge or v == -math.huge then return NOT_LITERAL end
    return v
  elseif k == "boolean" or k == "null" then
    return node.value
  elseif k == "array" then
    local out = {}
    for i, item in ipairs(node.items) do
      local v = to_lua(item)
      if v == NOT_LITERAL then return NOT_LITERAL end
      out[i] = v
    end
    return out
  end
  local out = {}
  for i, key in ipairs(node.keys) do
    local v = to_lua(node.vals[i])
    if v == NOT_LITERAL then return NOT_LITERAL end
    out[key] = v
  end
  return out
end

--- The expression a node stands for: the inside of a string that is one "${...}", else
--- the node's JSON source text.
local function expr_of(P, node)
  if node.kind == "string" then
    local inner = node.value:match("^%${(.*)}$")
    if inner and not inner:find("[%$%%]{") then return (inner:match("^%s*(.-)%s*$")) end
  end
  return P.s:sub(node.pos, node.epos)
end

local function lookup(node, key)
  if node.kind ~= "object" then return nil end
  for i, k in ipairs(node.keys) do
    if k == key then return node.vals[i] end
  end
  return nil
end

local function string_of(node)
  local v = node and to_lua(node)
  return type(v) == "string" and v or nil
end

local function bool_of(node, default)
  local v = node and to_lua(node)
  if type(v) == "boolean" then return v end
  return default
end

--- The objects a block body is given as: an object, or an array of objects.
local function bodies(P, node, what)
  if node.kind == "object" then return { node } end
  if node.kind == "array" then
    for _, item in ipairs(node.items) do
      if item.kind ~= "object" then fail(P, item.pos, "%s must be a JSON object", what) end
    end
    return node.items
  end
  fail(P, node.pos, "%s must be a JSON object", what)
end

-- Blocks --------------------------------------------------------------------------

-- Properties of a block body that are nested blocks, and how many labels they take.
local NESTED = {
  lifecycle = 0, connection = 0, timeouts = 0, validation = 0, precondition = 0, postcondition = 0,
  provisioner = 1, dynamic = 1,
}

local function public(attrs)
  local out = {}
  for name, a in pairs(attrs) do out[name] = { expr = a.expr, value = a.value, line = a.line } end
  return out
end

-- the attributes of a nested block with their JSON nodes, kept out of the document
local nested_attrs = setmetatable({}, { __mode = "k" })

local function attributes_and_blocks(P, body)
  local attrs, blocks = {}, {}
  for i, key in ipairs(body.keys) do
    local v, kpos = body.vals[i], body.keypos[i]
    if key == "//" then -- a comment property
      local _ = v
    elseif NESTED[key] == 0 then
      for _, b in ipairs(bodies(P, v, "a " .. key .. " block")) do
        local battrs, bblocks = attributes_and_blocks(P, b)
        local block = { type = key, labels = {}, line = line_of(P, kpos), attributes = public(battrs), blocks = bblocks }
        nested_attrs[block] = battrs
        blocks[#blocks + 1] = block
      end
    elseif NESTED[key] == 1 then
      for _, labelled in ipairs(bodies(P, v, "a " .. key .. " block")) do
        for j, label in ipairs(labelled.keys) do
          for _, b in ipairs(bodies(P, labelled.vals[j], "a " .. key .. " block")) do
            local battrs, bblocks = attributes_and_blocks(P, b)
            blocks[#blocks + 1] = { type = key, labels = { label }, line = line_of(P, labelled.keypos[j]),
                                    attributes = public(battrs), blocks = bblocks }
          end
        end
      end
    else
      local lit = to_lua(v)
      attrs[key] = { expr = expr_of(P, v), line = line_of(P, kpos), node = v,
                     value = (v.kind ~= "object" and v.kind ~= "array" and lit ~= NOT_LITERAL and lit ~= cjson.null)
                             and lit or nil }
    end
  end
  return attrs, blocks
end

local function for_each_keys(H, attr)
  if not attr then return nil end
  local node = attr.node
  if node.kind == "object" then return H.sorted_unique(node.keys) end
  if node.kind == "array" then
    local v = to_lua(node)
    if v == NOT_LITERAL then return nil end
    return H.sorted_unique(v)
  end
  return nil
end

local function depends_on(H, attr)
  if not attr then return nil end
  local v = to_lua(attr.node)
  if type(v) ~= "table" or v == cjson.null or (next(v) ~= nil and #v == 0) then return nil end
  return H.ref_list("[" .. table.concat(v, ",") .. "]")
end

local function resource(P, H, mode, rtype, name, body, kpos)
  local attrs, blocks = attributes_and_blocks(P, body)
  local r = {
    mode = mode, type = rtype, name = name, line = line_of(P, kpos),
    text = P.s:sub(body.pos, body.epos), attributes = public(attrs), blocks = blocks,
  }
  if attrs.count then
    local v = to_lua(attrs.count.node)
    r.count = v ~= NOT_LITERAL and H.count_of(v) or nil
  end
  r.for_each = for_each_keys(H, attrs.for_each)
  r.depends_on = depends_on(H, attrs.depends_on)
  return r
end

local function variable(P, name, body, kpos)
  local attrs, blocks = attributes_and_blocks(P, body)
  local v = {
    name = name, line = line_of(P, kpos),
    type = attrs.type and attrs.type.expr or nil,
    description = string_of(attrs.description and attrs.description.node),
    has_default = attrs.default ~= nil,
    sensitive = bool_of(attrs.sensitive and attrs.sensitive.node, false),
    nullable = bool_of(attrs.nullable and attrs.nullable.node, true),
    validations = {},
  }
  if attrs.type and attrs.type.node.kind == "string" then -- "list(string)", as Terraform writes it
    local t = attrs.type.node.value
    v.type = t:match("^%${%s*(.-)%s*}$") or t
  end
  if attrs.default then
    local d = to_lua(attrs.default.node)
    if d == NOT_LITERAL then v.default_expr = attrs.default.expr else v.default = d end
  end
  for _, b in ipairs(blocks) do
    if b.type == "validation" then
      local battrs = nested_attrs[b]
      local cond, msg = battrs.condition, battrs.error_message
      v.validations[#v.validations + 1] = {
        condition = cond and cond.expr or nil,
        error_message = msg and (string_of(msg.node) or msg.expr) or nil,
      }
    end
  end
  return v
end

local function output(P, H, name, body, kpos)
  local attrs = attributes_and_blocks(P, body)
  if not attrs.value then fail(P, kpos, 'output "%s" has no value', name) end
  local lit = to_lua(attrs.value.node)
  return {
    name = name, line = line_of(P, kpos), expr = attrs.value.expr,
    description = string_of(attrs.description and attrs.description.node),
    sensitive = bool_of(attrs.sensitive and attrs.sensitive.node, false),
    ref = H.parse_ref(attrs.value.expr),
    value = lit ~= NOT_LITERAL and lit or nil,
  }
end

local function check_name(P, what, name, kpos)
  if not name:match("^[%a_][%w_%-]*$") then
    fail(P, kpos, "invalid %s name %s: a name starts with a letter or '_' and holds only letters, digits, '_' and '-'",
      what, show(name))
  end
end

--- Calls fn(key, value, keypos) for each property of node (an object, or an array of
--- objects), skipping "//" comments.
local function each_property(P, node, what, fn)
  for _, obj in ipairs(bodies(P, node, what)) do
    for i, key in ipairs(obj.keys) do
      if key ~= "//" then fn(key, obj.vals[i], obj.keypos[i]) end
    end
  end
end

--- Reads a .tf.json template into the same document rfs.emulator.template gives for HCL.
function json.read(text, H)
  local P = syntax.new(text)
  local root, after = read_value(P, 1, 0)
  after = ws(P, after)
  if after <= P.n then fail(P, after, "unexpected %s after the JSON document", snippet(P, after)) end
  if root.kind ~= "object" then fail(P, root.pos, "a .tf.json template must be a JSON object") end
  local doc = { resources = {}, outputs = {}, variables = {}, providers = {} }
  local seen_res, seen_out, seen_var = {}, {}, {}
  for i, top in ipairs(root.keys) do
    local node, tpos = root.vals[i], root.keypos[i]
    if top == "resource" or top == "data" then
      local mode = top == "resource" and "managed" or "data"
      each_property(P, node, "a " .. top .. " block", function(rtype, by_name)
        each_property(P, by_name, "a " .. top .. " block", function(name, body, kpos)
          check_name(P, top, rtype, kpos)
          check_name(P, top, name, kpos)
          for _, b in ipairs(bodies(P, body, top .. " " .. rtype .. "." .. name)) do
            local what = (mode == "data" and "data source data." or "resource ") .. rtype .. "." .. name
            H.add_unique(P, seen_res, top .. " " .. rtype .. "." .. name, what, { pos = kpos, line = line_of(P, kpos) },
              doc.resources, resource(P, H, mode, rtype, name, b, kpos))
          end
        end)
      end)
    elseif top == "variable" or top == "output" then
      each_property(P, node, "a " .. top .. " block", function(name, body, kpos)
        check_name(P, top, name, kpos)
        for _, b in ipairs(bodies(P, body, top .. ' "' .. name .. '"')) do
          local where = { pos = kpos, line = line_of(P, kpos) }
          if top == "variable" then
            H.add_unique(P, seen_var, name, 'variable "' .. name .. '"', where, doc.variables, variable(P, name, b, kpos))
          else
            H.add_unique(P, seen_out, name, 'output "' .. name .. '"', where, doc.outputs, output(P, H, name, b, kpos))
          end
        end
      end)
    elseif top == "provider" then
      each_property(P, node, "a provider block", function(name, body, kpos)
        for _, b in ipairs(bodies(P, body, 'provider "' .. name .. '"')) do
          doc.providers[#doc.providers + 1] = { name = name, line = line_of(P, kpos), alias = string_of(lookup(b, "alias")) }
        end
      end)
    elseif top ~= "//" and H.LABELS[top] == nil then
      fail(P, tpos, "unsupported block type '%s'", top)
    end
  end
  return doc
end

return json
