-- rfs.client: rfs.new{} and the request pipeline every operation goes through.
--
-- The C core holds the credentials, signs and (by default) speaks HTTP through
-- libcurl; this module owns the policy: options, URLs, request ids, JSON,
-- error mapping and retries.

local core = require "rfs.core"
local cjson = require "cjson.safe"
local errors = require "rfs.errors"
local credentials = require "rfs.credentials"
local regions = require "rfs.regions"

local client = {}

local OPTIONS = {
  region = "string", endpoint = "string", project_id = "string",
  ak = "string", sk = "string", security_token = "string",
  timeout = "number", connect_timeout = "number",
  verify_tls = "boolean", ca_file = "string", proxy = "string",
  retry = "table|boolean", transport = "string|function|table",
  sleep = "function", clock = "function",
}
client.OPTIONS = OPTIONS

local MAX_BODY = 1024 * 1024 -- the API gateway refuses larger requests anyway

-- Per-client Lua-side state (transport, retry policy), keyed weakly by the userdata.
local state = setmetatable({}, { __mode = "k" })

local function check_options(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error("rfs.new: expected a table of options, got " .. type(opts), 3)
  end
  for key, value in pairs(opts) do
    local want = OPTIONS[key]
    if not want then
      error("rfs.new: unknown option " .. errors.display(key), 3)
    end
    if not ("|" .. want .. "|"):find("|" .. type(value) .. "|", 1, true) then
      error("rfs.new: option '" .. key .. "' must be a " .. want:gsub("|", " or ") .. " (got " .. type(value) .. ")", 3)
    end
  end
  return opts
end

local function check_endpoint(url)
  if not url:match("^https?://[%w%.%-%[%]:]+/?$") then
    -- user:password@ in a URL is a secret: never repeat it
    local shown = errors.display((url:gsub("^([%a][%w+.-]*://)[^/@]*@", "%1***@")))
    error("rfs.new: endpoint must look like https://host[:port] with no path (got " .. shown .. ")", 3)
  end
  return (url:gsub("/$", ""))
end

local function check_project(project_id)
  if #project_id < 3 or #project_id > 64 or not project_id:match("^[%w_%-]+$") then
    error("rfs.new: invalid project_id " .. errors.display(project_id)
          .. ": 3-64 letters, digits, '_' or '-' (as in the console's project list)", 3)
  end
  return project_id
end

local function in_openresty()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil
end

local function pick_transport(opts)
  local t = opts.transport
  if t == nil then
    t = in_openresty() and "ngx" or "curl"
  end
  if t == "curl" then return nil end
  if t == "ngx" then return require("rfs.transport.ngx").new(opts) end
  if type(t) == "table" then
    if type(t.request) ~= "function" then
      error("rfs.new: a transport table must have a request(req) function", 3)
    end
    return function(req) return t:request(req) end
  end
  if type(t) == "function" then return t end
  error("rfs.new: transport must be 'curl', 'ngx', a function or a table with request()", 3)
end

local function retry_module()
  local ok, m = pcall(require, "rfs.retry")
  return ok and m or nil
end

--- rfs.new{...} -> Client. Raises on misuse (unknown option, missing credentials).
function client.new(opts)
  opts = check_options(opts)
  local cred = credentials.resolve(opts)
  local endpoint = opts.endpoint
  local region = cred.region
  if not endpoint then
    if not region then
      error("rfs.new: no endpoint: pass region (e.g. 'cn-north-4') or endpoint, or set HUAWEICLOUD_SDK_REGION", 2)
    end
    local err
    endpoint, err = regions.endpoint(region)
    if not endpoint then error("rfs.new: " .. err, 2) end
  end
  endpoint = check_endpoint(endpoint)
  local c = core.new_client{
    endpoint = endpoint, project_id = check_project(cred.project_id), region = region,
    ak = cred.ak, sk = cred.sk, security_token = cred.security_token,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    verify_tls = opts.verify_tls, ca_file = opts.ca_file, proxy = opts.proxy,
  }
  local retry = retry_module()
  local policy = nil
  if opts.retry ~= false and retry then
    local p = {}
    if type(opts.retry) == "table" then for k, v in pairs(opts.retry) do p[k] = v end end
    p.sleep = p.sleep or opts.sleep
    p.clock = p.clock or opts.clock
    policy = retry.policy(p)
  end
  state[c] = {
    transport = pick_transport(opts),
    policy = policy,
    timeout = opts.timeout or 30,
    connect_timeout = opts.connect_timeout or 10,
    verify_tls = opts.verify_tls ~= false,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    -- every operation's URL starts with this (computed once: it is on every call's path)
    stacks_url = endpoint .. "/v1/" .. core.uri_encode(c.project_id) .. "/stacks/",
  }
  return c
end

--- The Lua-side state of a client (policy, transport): for rfs.stack and rfs.wait.
function client.state(c)
  return state[c]
end

-- JSON ------------------------------------------------------------------------

local function strip_nulls(v)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == cjson.null then v[k] = nil else strip_nulls(x) end
  end
  return v
end

function client.decode(body)
  if body == nil or body == "" then return {} end
  local v, err = cjson.decode(body)
  if v == nil then return nil, err end
  if not body:find("null", 1, true) then return v end -- nothing to strip: the usual case
  return strip_nulls(v)
end

-- Errors from responses ----------------------------------------------------------

local PAIRS = { { "error_code", "error_msg" }, { "errorCode", "errorMsg" }, { "code", "message" } }

local function code_and_message(t)
  for _, p in ipairs(PAIRS) do
    local code, msg = t[p[1]], t[p[2]]
    if code ~= nil and msg ~= nil and type(msg) == "string" then return tostring(code), msg end
  end
end

--- error_code, error_msg, details from any of the error body shapes the gateway and RFS send.
function client.parse_error_body(body)
  local t = cjson.decode(body or "")
  if type(t) ~= "table" then
    local text = (body or ""):gsub("%s+", " "):sub(1, 200)
    return nil, text ~= "" and text or nil, nil
  end
  local code, msg = code_and_message(t)
  if not code then
    for _, v in pairs(t) do
      if type(v) == "table" then
        code, msg = code_and_message(v)
        if code then break end
      end
    end
  end
  local details = type(t.details) == "table" and strip_nulls(t.details) or nil
  return code, msg, details
end

local GATEWAY_KINDS = { ["APIG.0308"] = "throttled", ["APIGW.0308"] = "throttled",
                        ["APIG.0301"] = "auth", ["APIGW.0301"] = "auth" }

local function parse_retry_after(value)
  if value == nil then return nil end
  local retry = retry_module()
  if retry and retry.parse_retry_after then return retry.parse_retry_after(value, core.now()) end
  return tonumber(value)
end

function client.response_error(status, headers, body, request_id, operation)
  local code, msg, details = client.parse_error_body(body)
  local kind = GATEWAY_KINDS[code] or errors.kind_for_status(status)
  local err = errors.new{
    kind = kind, status = status, code = code, details = details,
    message = msg or ("HTTP " .. status .. " with no error message"),
    request_id = request_id, server_request_id = headers and headers["x-request-id"],
    retry_after = parse_retry_after(headers and headers["retry-after"]),
    operation = operation, sent = status >= 500,
  }
  -- a redirect's target, for the operations whose answer is one (GetStackTemplate: 307)
  if status >= 300 and status < 400 and headers then err.location = headers["location"] end
  return err
end

-- The request pipeline -----------------------------------------------------------

local function encode_query(query)
  if not query then return "" end
  local keys = {}
  for k, v in pairs(query) do
    if v ~= nil then keys[#keys + 1] = k end
  end
  if #keys == 0 then return "" end
  if #keys > 1 then table.sort(keys) end
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = core.uri_encode(k) .. "=" .. core.uri_encode(tostring(query[k]))
  end
  return "?" .. table.concat(parts, "&")
end

--- The URL of an operation on a stack.
function client.stack_url(c, stack_name, suffix, query)
  if c.closed then error("rfs: this client is closed; create a new one with rfs.new{}", 3) end
  local st = state[c]
  if not st then error("rfs: this client was not made by rfs.new{}", 3) end
  return st.stacks_url .. core.uri_encode(stack_name) .. suffix .. encode_query(query)
end

local function send_once(c, st, method, url, body, operation)
  local request_id = core.uuid4()
  local headers = {
    ["Client-Request-Id"] = request_id,
    ["Content-Type"] = "application/json",
    ["X-Project-Id"] = c.project_id,
  }
  local status, rheaders, rbody, sent
  if st.transport == nil then
    local kind, msg
    status, rheaders, rbody, sent = c:_http(method, url, headers, body, true)
    if not status then
      kind, msg = rheaders, rbody
      return nil, errors.new{ kind = kind, message = msg, request_id = request_id, operation = operation, sent = sent }
    end
  else
    for k, v in pairs(c:_sign(method, url, headers, body)) do headers[k] = v end
    local res, kind, msg, was_sent = st.transport{
      method = method, url = url, headers = headers, body = body,
      timeout = st.timeout, connect_timeout = st.connect_timeout,
      verify_tls = st.verify_tls, ca_file = st.ca_file, proxy = st.proxy,
    }
    if not res then
      return nil, errors.new{ kind = kind or "network", message = msg or "transport failed",
                              request_id = request_id, operation = operation, sent = was_sent }
    end
    status, rheaders, rbody = res.status, res.headers or {}, res.body or ""
  end
  if status >= 200 and status < 300 then
    local value, derr = client.decode(rbody)
    if value == nil or type(value) ~= "table" then
      return nil, errors.new{ kind = "decode", status = status, request_id = request_id,
                              server_request_id = rheaders["x-request-id"], operation = operation,
                              message = "the response body is not a JSON object (" .. tostring(derr or type(value)) .. ")" }
    end
    return value, nil, request_id, rheaders
  end
  return nil, client.response_error(status, rheaders, rbody, request_id, operation)
end

--- One logical call: method, url, body table or nil; reads are retried by the policy.
--  Returns value, nil, request_id | nil, err
function client.call(c, method, url, body_table, operation, opts)
  local st = state[c]
  if not st then error("rfs: this client was not made by rfs.new{}", 3) end
  if c.closed then error("rfs: this client is closed; create a new one with rfs.new{}", 3) end
  local body = ""
  if body_table ~= nil then
    body = assert(cjson.encode(body_table))
    if #body > MAX_BODY then error("rfs: request body larger than 1 MiB", 3) end
  end
  local idempotent = method == "GET" or method == "HEAD"
  local function attempt()
    local v, err, a, b = send_once(c, st, method, url, body, operation)
    -- a read refused because another request is in progress can simply be read again
    if err and idempotent and err.kind == "conflict" then err.retryable = true end
    return v, err, a, b
  end
  if st.policy and idempotent and not (opts and opts.no_retry) then
    local retry = retry_module()
    return retry.call(attempt, st.policy)
  end
  return attempt()
end

return client
