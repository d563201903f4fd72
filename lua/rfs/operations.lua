-- rfs.operations: the one request path every operation of rfs.api goes through.
--
-- check the caller's options against the model (types, lengths, patterns, one_of,
-- unknown keys: misuse, raised naming the option) -> build path, query and body ->
-- client.call -> shape the answer the way the entry's `result` says -> page lists.

local cjson = require "cjson.safe"
local core = require "rfs.core"
local client = require "rfs.client"
local errors = require "rfs.errors"

local operations = {}

local MAX_PAGES = 1000 -- a server that never stops paging cannot keep a caller forever
local VAR_VALUE_MAX = 2048
local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
operations.UUID = UUID -- an id RFS gives (stack, plan, stack set, operation): for every module

--- What the C object accepts in its status and id fields (src/stack.c): 1..max printable
--  characters without spaces. Answers are checked against it first, so an odd answer is a
--  decode error, never a raise from the C side.
function operations.is_token(v, max)
  return type(v) == "string" and #v >= 1 and #v <= max and not v:find("[^\33-\126]")
end
local VAR_NAME = "^[A-Za-z][A-Za-z0-9_-]*$"

-- Checking options -----------------------------------------------------------------------

local function misuse(fname, message, level)
  error("rfs: " .. fname .. ": " .. message, level + 1)
end

local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function is_array(t)
  local n = #t
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end

local TYPE_CHECKS = {
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  integer = function(v) return type(v) == "number" and v % 1 == 0 end,
  boolean = function(v) return type(v) == "boolean" end,
  array = function(v) return type(v) == "table" and is_array(v) end,
  object = function(v) return type(v) == "table" end,
}

local function check_vars(fname, vars, level)
  for k, v in pairs(vars) do
    if type(k) ~= "string" or #k > 32 or not k:match(VAR_NAME) then
      misuse(fname, "vars: invalid variable name " .. errors.display(k)
             .. ": 1-32 characters, a letter first, then letters, digits, '_' or '-'", level + 1)
    end
    local t = type(v)
    if t ~= "string" and t ~= "number" and t ~= "boolean" and t ~= "table" then
      misuse(fname, "vars." .. k .. " must be a string, number, boolean or table (got " .. t .. ")", level + 1)
    end
  end
end

local function check_vars_structure(fname, list, level)
  for i, item in ipairs(list) do
    if type(item) ~= "table" or type(item.var_key) ~= "string" or not item.var_key:match(VAR_NAME)
       or #item.var_key > 32 then
      misuse(fname, "vars_structure[" .. i .. "].var_key must be a variable name: 1-32 characters, "
             .. "a letter first, then letters, digits, '_' or '-'", level + 1)
    end
    if type(item.var_value) ~= "string" or #item.var_value > VAR_VALUE_MAX then
      misuse(fname, "vars_structure[" .. i .. "].var_value must be a string of at most "
             .. VAR_VALUE_MAX .. " characters", level + 1)
    end
  end
end

--- Names of stacks, plans, templates and stack sets as RFS takes them: a letter or a Chinese
--  character (U+4E00..U+9FA5, UTF-8) first, then letters, Chinese characters, digits, '_'
--  and '-'; 1 to 128 characters. -> true | false[, "too_long"]
function operations.valid_name(name)
  if type(name) ~= "string" or name == "" then return false end
  local chars, i, n = 0, 1, #name
  while i <= n do
    local b = name:byte(i)
    if b >= 0xe4 and b <= 0xe9 then
      local b2, b3 = name:byte(i + 1, i + 2)
      if not (b2 and b3 and b2 >= 0x80 and b2 < 0xc0 and b3 >= 0x80 and b3 < 0xc0) then return false end
      local cp = (b - 0xe0) * 0x1000 + (b2 - 0x80) * 0x40 + (b3 - 0x80)
      if cp < 0x4e00 or cp > 0x9fa5 then return false end
      i = i + 3
    elseif (b >= 65 and b <= 90) or (b >= 97 and b <= 122)
        or (i > 1 and ((b >= 48 and b <= 57) or b == 95 or b == 45)) then
      i = i + 1
    else
      return false
    end
    chars = chars + 1
  end
  if chars > 128 then return false, "too_long" end
  return true
end

-- The list filter grammar of the stack set lists: clauses joined by ',' (AND), each of
-- alternatives joined by '|' (OR, binding tighter), each key==value over [A-Za-z0-9_],
-- every alternative of a clause naming the same key, a key the list knows.
local function filter_problem(filter, keys)
  if filter == "" then return nil end
  local known = {}
  for _, k in ipairs(keys) do known[k] = true end
  for clause in (filter .. ","):gmatch("([^,]*),") do
    local clause_key
    for alt in (clause .. "|"):gmatch("([^|]*)|") do
      local k = alt:match("^([A-Za-z0-9_]+)==([A-Za-z0-9_]+)$")
      if not k then
        return "term " .. errors.display(alt) .. " is not key==value (',' AND, '|' OR, only ==, [A-Za-z0-9_])"
      end
      if not known[k] then return "unknown key " .. errors.display(k) .. "; known: " .. table.concat(keys, ", ") end
      if clause_key and clause_key ~= k then
        return "clause " .. errors.display(clause) .. " mixes keys; each ','-separated clause names one key"
      end
      clause_key = k
    end
  end
end
operations.filter_problem = filter_problem

local function in_enum(enum, v)
  for _, x in ipairs(enum) do if x == v then return true end end
  return false
end

local check_param

-- The members of an object option (deployment_targets, operation_preferences, ...).
local function check_fields(fname, p, v, level)
  for k, x in pairs(v) do
    local f = p.fields[k]
    if type(k) ~= "string" or not f then
      local names = {}
      for n in pairs(p.fields) do names[#names + 1] = n end
      table.sort(names)
      misuse(fname, "option '" .. p.name .. "' has an unknown member " .. errors.display(k) .. "; known: "
             .. table.concat(names, ", "), level + 1)
    end
    local sub = setmetatable({ name = p.name .. "." .. k }, { __index = f })
    check_param(fname, sub, x, level + 1)
  end
  for k, f in pairs(p.fields) do
    if f.required and v[k] == nil then misuse(fname, "option '" .. p.name .. "." .. k .. "' is required", level + 1) end
  end
  for _, group in ipairs(p.fields_one_of or {}) do
    if v[group[1]] ~= nil and v[group[2]] ~= nil then
      misuse(fname, "option '" .. p.name .. "': pass at most one of " .. table.concat(group, " and "), level + 1)
    end
  end
end

function check_param(fname, p, v, level)
  local key = "option '" .. p.name .. "'"
  if not TYPE_CHECKS[p.type](v) then
    local want = p.type == "array" and "array (a table with keys 1..n)" or p.type
    misuse(fname, key .. " must be " .. (want:match("^[aeiou]") and "an " or "a ") .. want
           .. " (got " .. type(v) .. ")", level + 1)
  end
  if p.type == "string" and p.format == "name" then
    local ok, why = operations.valid_name(v)
    if not ok then
      misuse(fname, key .. (why == "too_long" and (" is longer than " .. p.max_len .. " characters")
             or (" must start with a letter or a Chinese character, then hold only letters, Chinese characters, "
                 .. "digits, '_' and '-'")) .. " (got " .. errors.display(v) .. ")", level + 1)
    end
  elseif p.type == "string" then
    if p.max_len and #v > p.max_len then
      misuse(fname, key .. " is " .. #v .. " characters long; at most " .. p.max_len, level + 1)
    end
    if p.min_len and #v < p.min_len then
      misuse(fname, key .. " must be at least " .. p.min_len .. " characters long", level + 1)
    end
    if p.format == "uuid" and not v:match(UUID) then
      misuse(fname, key .. " must be a 36-character UUID (got " .. errors.display(v) .. ")", level + 1)
    end
    if p.pattern and not p.items and not v:match(p.pattern) then
      misuse(fname, key .. " has characters RFS refuses (got " .. errors.display(v) .. ")", level + 1)
    end
  elseif p.type == "integer" or p.type == "number" then
    if (p.min and v < p.min) or (p.max and v > p.max) then
      misuse(fname, key .. " must be between " .. p.min .. " and " .. p.max .. " (got " .. v .. ")", level + 1)
    end
  elseif p.max_items or p.min_items then
    local n = p.type == "array" and #v or count_keys(v)
    if p.max_items and n > p.max_items then
      misuse(fname, key .. " has " .. n .. " items; at most " .. p.max_items, level + 1)
    end
    if p.min_items and n < p.min_items then
      misuse(fname, key .. " must have at least " .. p.min_items .. " item" .. (p.min_items == 1 and "" or "s"),
             level + 1)
    end
  end
  if p.enum then
    for _, x in ipairs(p.type == "array" and v or { v }) do
      if not in_enum(p.enum, x) then
        misuse(fname, key .. " must be one of " .. table.concat(p.enum, ", ") .. " (got " .. errors.display(x) .. ")",
               level + 1)
      end
    end
  end
  if p.items then
    for i, x in ipairs(v) do
      if type(x) ~= p.items or (p.pattern and not x:match(p.pattern)) or x == "" then
        misuse(fname, key .. "[" .. i .. "] must be a non-empty " .. p.items .. (p.pattern and " of letters, digits, "
               .. "'_' or '-'" or "") .. " (got " .. errors.display(x) .. ")", level + 1)
      end
    end
  end
  if p.grammar == "filter" then
    local problem = filter_problem(v, p.keys)
    if problem then misuse(fname, key .. ": " .. problem, level + 1) end
  end
  if p.fields then check_fields(fname, p, v, level + 1) end
  if p.name == "vars" then check_vars(fname, v, level + 1) end
  if p.name == "vars_structure" then check_vars_structure(fname, v, level + 1) end
end

-- The parameters a caller may pass: every parameter that does not come from the object.
local function caller_params(op)
  local out = {}
  for _, p in ipairs(op.params) do
    if not p.from then out[p.name] = p end
  end
  return out
end

local function names_of(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

--- Checks opts against the entry; raises (level: the caller of the method) naming the option.
function operations.check(op, fname, opts, level)
  level = (level or 1) + 1
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then misuse(fname, "expected a table of options, got " .. type(opts), level) end
  local known = caller_params(op)
  for k, v in pairs(opts) do
    local p = known[k]
    if not p then
      local hint = next(known) and ("; known options: " .. names_of(known)) or "; it takes no options"
      misuse(fname, "unknown option " .. errors.display(k) .. hint, level)
    end
    check_param(fname, p, v, level)
  end
  for _, group in ipairs(op.one_of or {}) do
    local given = {}
    for _, name in ipairs(group) do given[#given + 1] = opts[name] ~= nil and name or nil end
    if #given > 1 then
      misuse(fname, "pass at most one of " .. table.concat(group, " and ") .. " (got both)", level)
    end
  end
  for _, group in ipairs(op.required_one_of or {}) do
    local n = 0
    for _, name in ipairs(group) do n = n + (opts[name] ~= nil and 1 or 0) end
    if n ~= 1 then
      misuse(fname, "pass exactly one of " .. table.concat(group, " or ") .. (n > 1 and " (got both)" or ""), level)
    end
  end
  if op.requires_any then
    local any = false
    for _, name in ipairs(op.requires_any) do any = any or opts[name] ~= nil end
    if not any then
      misuse(fname, "nothing to change: pass at least one of " .. table.concat(op.requires_any, ", "), level)
    end
  end
  for name, p in pairs(known) do
    if p.required and opts[name] == nil then misuse(fname, "option '" .. name .. "' is required", level) end
  end
  return opts
end

--- Checks the positional arguments of a method (op.args: a template's version_id, a stack
--  instance's region and domain_id, an operation's id) against the parameters that carry
--  them (from = "args") and returns those parameters' values by name, for operations.request.
--  values: the arguments by their name in op.args. A parameter built from several arguments
--  (p.args) joins them with '/'; raises naming the argument.
function operations.check_args(op, fname, values, level)
  level = (level or 1) + 1
  local out = {}
  for _, p in ipairs(op.params) do
    if p.from == "args" then
      local parts = {}
      for i, arg in ipairs(p.args or { p.name }) do
        local v = values and values[arg]
        if type(v) ~= "string" or #v < (p.min_len or 1) or #v > (p.max_len or math.huge)
           or (p.pattern and not v:match(p.pattern)) or (p.format == "uuid" and not v:match(UUID)) then
          local got = type(v) == "string" and errors.display(v) or type(v)
          misuse(fname, arg .. " must be " .. p.doc .. " (got " .. got .. ")", level)
        end
        parts[i] = v
      end
      out[p.name] = table.concat(parts, "/")
    end
  end
  return out
end

-- Building the request ---------------------------------------------------------------------

--- vars = { name = value } as RFS's vars_structure: values as strings (tables as JSON),
--  sorted by name so the same vars always make the same body.
function operations.vars_structure(vars)
  local names = {}
  for k in pairs(vars) do names[#names + 1] = k end
  table.sort(names)
  local out = {}
  for i, k in ipairs(names) do
    local v = vars[k]
    if type(v) == "table" then
      v = assert(cjson.encode(v))
    else
      v = tostring(v)
    end
    out[i] = { var_key = k, var_value = v }
  end
  return out
end

local function encode_query(query)
  local keys = {}
  for k in pairs(query) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = query[k]
    -- arrays go as repeated keys, as the official SDKs send them
    local values = type(v) == "table" and v or { v }
    for _, x in ipairs(values) do
      parts[#parts + 1] = core.uri_encode(k) .. "=" .. core.uri_encode(tostring(x))
    end
  end
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
end

-- The value of a parameter that comes from the object (or the positional `name` of a new
-- object: client:create_stack(name, ...)). A plan (the one kind whose obj.stack is set)
-- names itself and, through plan.stack, its stack.
local function from_object(p, c, obj, name)
  if p.name == "project_id" then return c.project_id end
  local owner = obj and obj.stack
  if owner then
    if p.name == "execution_plan_name" then return obj.name end
    if p.name == "execution_plan_id" then return obj.id end
    obj = owner
  end
  if p.name == "stack_name" or p.name == "stack_set_name" or p.name == "template_name" then
    return name or (obj and obj.name)
  end
  if p.name == "stack_id" or p.name == "stack_set_id" or p.name == "template_id" then return obj and obj.id end
end

--- method, url, body table (or nil) for op with opts, on obj (a Stack, ExecutionPlan, StackSet,
--  Template) or the client c; args: the values of the parameters that come from positional
--  arguments (from = "args"), by name, as operations.check_args returns them.
function operations.request(op, c, obj, opts, name, args)
  local query, body, has_body = {}, {}, false
  local path = op.path
  for _, p in ipairs(op.params) do
    local v
    if p.from == "args" then v = args and args[p.name]
    elseif p.from then v = from_object(p, c, obj, name)
    else v = opts[p.name] end
    if p.becomes and v ~= nil then
      if next(v) ~= nil then body[p.becomes] = operations.vars_structure(v) end
      has_body = true
    elseif p["in"] == "path" then
      -- a project still to be looked up stays a placeholder that client.call fills in
      local seg = (v == nil and p.name == "project_id") and client.PROJECT_PLACEHOLDER or core.uri_encode(v)
      path = path:gsub("{" .. p.name .. "}", function() return seg end)
    elseif p["in"] == "query" and v ~= nil then
      query[p.wire or p.name] = v
    elseif p["in"] == "body" then
      has_body = true
      body[p.wire or p.name] = v
    end
  end
  if not has_body and op.method ~= "GET" and op.method ~= "DELETE" then has_body = true end
  return op.method, c.endpoint .. path .. encode_query(query), has_body and body or nil
end

-- Calling -------------------------------------------------------------------------------------

local function bad_field(operation, field, want, request_id)
  return errors.new{ kind = "decode", operation = operation, request_id = request_id,
                     message = operation .. ": the response has no valid '" .. field .. "' (" .. want .. " expected)" }
end
operations.bad_field = bad_field

-- Refused answers of update and delete: RFS applied nothing, so sending again is safe.
local function refused(err)
  return err.kind == "conflict" or err.kind == "throttled" or (err.kind == "network" and err.sent == false)
      or (err.status == 403 and err.code == "RF.10012519")
end

--- Sends op and returns the decoded answer | nil, err. Reads are retried by client.call;
--  update and delete are re-sent only after an answer that says nothing was applied.
function operations.send(c, op, method, url, body)
  local st = client.state(c)
  local function attempt()
    local value, err, request_id, headers = client.call(c, method, url, body, op.lua)
    if not value then
      -- a redirect is this operation's answer, not a failure
      if op.status == 307 and err.status == 307 and err.location then
        return { location = err.location }, nil, err.request_id
      end
      if not op.idempotent and op.retry_refused then err.retryable = refused(err) end
      return nil, err
    end
    return value, nil, request_id, headers
  end
  local retry = st.policy and op.retry_refused and package.loaded["rfs.retry"]
  if retry then return retry.call(attempt, st.policy) end
  return attempt()
end

-- Paging: page_info.next_marker until it is absent; no page_info is one page; all = false
-- returns the first page and the next marker; a marker seen twice ends the list.
function operations.list(c, op, obj, opts, name)
  local out, seen = {}, {}
  local page_opts = {}
  for k, v in pairs(opts) do page_opts[k] = v end
  if page_opts.marker then seen[page_opts.marker] = true end
  for _ = 1, MAX_PAGES do
    local method, url, body = operations.request(op, c, obj, page_opts, name)
    local page, err, request_id = operations.send(c, op, method, url, body)
    if not page then return nil, err end
    local list = page[op.list_key]
    if list == nil then list = {} end
    if type(list) ~= "table" then return nil, bad_field(op.lua, op.list_key, "array", request_id) end
    for _, item in ipairs(list) do
      if type(item) ~= "table" then return nil, bad_field(op.lua, op.list_key .. "[]", "object", request_id) end
      out[#out + 1] = item
    end
    local info = type(page.page_info) == "table" and page.page_info or {}
    local next_marker = type(info.next_marker) == "string" and info.next_marker ~= "" and info.next_marker or nil
    if opts.all == false or not op.paging then return out, next_marker end
    if not next_marker or seen[next_marker] or #list == 0 then break end
    seen[next_marker] = true
    page_opts.marker = next_marker
  end
  return out
end

--- A plain GET of a pre-signed URL (a template's location): through the client's transport,
--  with no signature, token or project header, and no redirect followed.
function operations.download(c, location, operation)
  if type(location) ~= "string" or not location:match("^https?://[^%s]+$") then
    return nil, bad_field(operation, "location", "an http(s) URL")
  end
  local st = client.state(c)
  local res, kind, msg, sent = st.transport{
    method = "GET", url = location, headers = {}, body = "",
    timeout = st.timeout, connect_timeout = st.connect_timeout,
    verify_tls = st.verify_tls, ca_file = st.ca_file, proxy = st.proxy,
  }
  if not res then
    return nil, errors.new{ kind = errors.kinds[kind] and kind or "network",
                            message = "downloading the template: " .. tostring(msg), operation = operation, sent = sent }
  end
  local status, headers, body = res.status, res.headers or {}, res.body or ""
  if status ~= 200 then
    -- the location is pre-signed: it is never repeated in an error
    return nil, errors.new{ kind = errors.kind_for_status(status), status = status, operation = operation,
                            server_request_id = headers["x-request-id"],
                            message = "downloading the template from its location answered HTTP " .. status }
  end
  return body
end

return operations
