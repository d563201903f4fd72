-- rfs.render: how the command line prints results, as text, JSON or aligned table columns.
--
--   render.json(value)              one JSON document; a list is always an array ([] when empty)
--   render.list(rows, columns, fmt) a list: text = aligned columns, table = the same with a header
--                                   row, json = an array of objects
--   render.object(obj, keys, fmt)   one object: text and table = aligned key/value rows, json = an object
--
-- Values that came from the server are printed as one line each: control characters are
-- shown escaped, so a crafted name cannot move the cursor or forge another row.

local cjson = require "cjson"

local render = {}

local OBJECT_FIELDS = { "name", "id", "status", "description", "create_time", "update_time", "status_message",
                        "deployment_id" }

-- Fields RFS documents as lists: printed as [] also when empty (Debian's lua-cjson 2.1.0 has no
-- array_mt, and an empty Lua table is {} to cjson).
local ARRAY_KEYS = { failures = true, vars_structure = true, agencies = true, validations = true,
                     resource_attributes = true, details = true, stacks = true, stack_resources = true,
                     outputs = true, variables = true, stack_events = true, items = true }

local ARRAYS = setmetatable({}, { __mode = "k" })

--- Marks a table as a JSON array (also when empty) and returns it.
function render.array(t)
  ARRAYS[t] = true
  return t
end

local function is_array(t)
  return ARRAYS[t] or (cjson.array_mt ~= nil and getmetatable(t) == cjson.array_mt) or #t > 0
end

--- A plain Lua value for JSON: lua-rfs objects (userdata) become tables of their fields;
--  functions are left out.
local function plain(v, key)
  local t = type(v)
  if t == "userdata" and v ~= cjson.null then
    local out = {}
    for _, k in ipairs(OBJECT_FIELDS) do
      local ok, x = pcall(function() return v[k] end)
      if ok and x ~= nil and type(x) ~= "function" then out[k] = x end
    end
    return out
  end
  if t ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if type(x) ~= "function" then out[k] = plain(x, k) end
  end
  if is_array(v) or ARRAY_KEYS[key] then ARRAYS[out] = true end
  return out
end
render.plain = plain

-- NaN and infinities (a response may carry 1e999) are written as null, never a raise.
local json = cjson.new()
json.encode_invalid_numbers("null")
json.encode_sparse_array(true)

-- cjson escapes control characters below U+0020; C1 controls and the bidirectional
-- overrides a terminal would obey are written as \uXXXX too.
local function terminal_safe(text)
  return (text
    :gsub("\194([\128-\159])", function(c) return ("\\u00%02x"):format(c:byte()) end)
    :gsub("\226\128([\168-\174])", function(c) return ("\\u20%02x"):format(c:byte() - 0x80) end)
    :gsub("\226\129([\166-\169])", function(c) return ("\\u20%02x"):format(c:byte() - 0x80 + 0x40) end))
end

local function encode(v)
  if type(v) ~= "table" then return json.encode(v) end
  local parts = {}
  if ARRAYS[v] then
    for i = 1, #v do parts[i] = encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    parts[i] = json.encode(k) .. ":" .. encode(x)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- One JSON document; lists are arrays, also when empty; object keys are sorted.
function render.json(value)
  return terminal_safe(encode(plain(value)))
end

--- An array, also when empty.
function render.json_list(rows)
  local out = {}
  for i, row in ipairs(rows) do out[i] = plain(row) end
  return terminal_safe(encode(render.array(out)))
end

-- One cell: a single line, control characters escaped; tables as compact JSON.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\27"] = "\\e" }
function render.cell(v)
  if v == nil or v == cjson.null then return "" end
  if type(v) == "table" then
    local ok, s = pcall(cjson.encode, plain(v))
    v = ok and s or tostring(v)
  end
  return (tostring(v):gsub("[%z\1-\31\127]", function(c)
    return ESCAPES[c] or ("\\x%02x"):format(c:byte())
  end))
end

local function aligned(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, s in ipairs(row) do widths[i] = math.max(widths[i] or 0, #s) end
  end
  local lines = {}
  for n, row in ipairs(rows) do
    local parts = {}
    for i, s in ipairs(row) do
      parts[i] = i < #row and s .. (" "):rep(widths[i] - #s) or s
    end
    lines[n] = (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  return table.concat(lines, "\n")
end

--- rows: a list of tables (or lua-rfs objects); columns: the keys to show, in order.
--  fmt "json" -> an array; "table" -> a header row and aligned columns; "text" -> aligned
--  columns without a header. Returns nil for an empty list in text form (nothing to print).
function render.list(rows, columns, fmt)
  if fmt == "json" then return render.json_list(rows) end
  local out = {}
  if fmt == "table" then
    local header = {}
    for i, c in ipairs(columns) do header[i] = c:upper() end
    out[1] = header
  end
  for _, row in ipairs(rows) do
    local r = plain(row)
    local line = {}
    for i, c in ipairs(columns) do line[i] = render.cell(r[c]) end
    out[#out + 1] = line
  end
  if #out == 0 then return nil end
  return aligned(out)
end

--- obj: a table (or lua-rfs object); keys: the keys to show first, in order (the others follow,
--  sorted). fmt "json" -> an object; "text" and "table" -> aligned "key  value" rows.
function render.object(obj, keys, fmt)
  if fmt == "json" then return render.json(obj) end
  local r = plain(obj)
  local rows, seen = {}, {}
  for _, k in ipairs(keys or {}) do
    seen[k] = true
    if r[k] ~= nil then rows[#rows + 1] = { k, render.cell(r[k]) } end
  end
  local rest = {}
  for k in pairs(r) do
    if not seen[k] and type(k) == "string" then rest[#rest + 1] = k end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do rows[#rows + 1] = { k, render.cell(r[k]) } end
  return aligned(rows)
end

return render
