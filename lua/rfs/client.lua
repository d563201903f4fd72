-- rfs.client: rfs.new{} and the request pipeline every operation goes through.
--
-- The C core holds the credentials and signs; this module owns the policy: options
-- and their defaults, URLs, request ids, JSON, error mapping and retries.
--
-- One transport contract, for libcurl (the default), the ngx transport and any
-- function a user passes as `transport`:
--
--   transport(req) -> res | nil, kind, message, maybe_applied
--   req = { method, url, headers, body, timeout, connect_timeout, verify_tls, ca_file, proxy }
--         headers are already signed (Host included: the Host sent must be the Host signed)
--   res = { status, headers (lower-case names), body }
--   kind: "network", "timeout", "tls", "decode" or "interrupted"
--
-- maybe_applied means one thing everywhere: true when the request may have reached
-- the server and been applied (bytes went out and no complete answer came back);
-- false when it surely was not (nothing was sent: connection refused, DNS, TLS
-- handshake). The retry policy re-sends a continue only after false; after true it
-- reads the stack first. It is err.sent on the error a call returns.

local core = require "rfs.core"
local cjson = require "cjson.safe"
local errors = require "rfs.errors"
local credentials = require "rfs.credentials"
local regions = require "rfs.regions"

local client = {}
local json_decode = core.json_decode

local OPTIONS = {
  region = "string", endpoint = "string", project_id = "string",
  ak = "string", sk = "string", security_token = "string",
  timeout = "number", connect_timeout = "number",
  verify_tls = "boolean", ca_file = "string", proxy = "string",
  retry = "table|boolean", transport = "string|function|table",
  sleep = "function", clock = "function", on_exchange = "function",
  metadata_endpoint = "string", iam_endpoint = "string",
}
client.OPTIONS = OPTIONS

local MAX_BODY = 1024 * 1024 -- the API gateway refuses larger requests anyway

-- The one place the request defaults live; rfs.core and every transport get them from here.
local DEFAULTS = { timeout = 30, connect_timeout = 10, verify_tls = true }
client.DEFAULTS = DEFAULTS
-- seconds: at least a millisecond (curl counts in ms; 0 would mean "no timeout"), at most a day
local SECONDS = { min = 0.001, max = 86400 }

-- Per-client Lua-side state (transport, retry policy), keyed weakly by the userdata.
local state = setmetatable({}, { __mode = "k" })

-- Levenshtein distance, for "did you mean" on a misspelt option.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The known name closest to a misspelt one (at most two edits away), or nil.
function client.suggest(name, known)
  if type(name) ~= "string" then return nil end
  local best, best_d
  for k in pairs(known) do
    local d = distance(name:lower(), k)
    if d <= 2 and (not best_d or d < best_d or (d == best_d and k < best)) then best, best_d = k, d end
  end
  return best
end

local function check_options(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error("rfs.new: expected a table of options, got " .. type(opts), 3)
  end
  for key, value in pairs(opts) do
    local want = OPTIONS[key]
    if not want then
      local near = client.suggest(key, OPTIONS)
      error("rfs.new: unknown option " .. errors.display(key) .. (near and ("; did you mean '" .. near .. "'?") or ""), 3)
    end
    if not ("|" .. want .. "|"):find("|" .. type(value) .. "|", 1, true) then
      error("rfs.new: option '" .. key .. "' must be a " .. want:gsub("|", " or ") .. " (got " .. type(value) .. ")", 3)
    end
    -- value ~= value: NaN, which every range comparison lets through
    if want == "number" and (value ~= value or value < SECONDS.min or value > SECONDS.max) then
      error(("rfs.new: option '%s' must be between %g and %g seconds (got %s)")
            :format(key, SECONDS.min, SECONDS.max, errors.display(value)), 3)
    end
  end
  return opts
end

local DEFAULT_PORT = { http = "80", https = "443" }

--- The endpoint as it is signed and sent: scheme and host in lower case, no default port,
--  no trailing slash (the signer signs the Host it computes from the URL; curl sends the
--  URL's; both must be the same string).
local function check_endpoint(url)
  local scheme, authority = url:match("^(%a+)://([%w%.%-%[%]:]+)/?$")
  scheme = scheme and scheme:lower()
  if not DEFAULT_PORT[scheme] then
    -- user:password@ in a URL is a secret: never repeat it
    local shown = errors.display((url:gsub("^([%a][%w+.-]*://)[^/@]*@", "%1***@")))
    error("rfs.new: endpoint must look like https://host[:port] with no path (got " .. shown .. ")", 3)
  end
  authority = authority:lower()
  local host, port = authority:match("^(.*):(%d+)$")
  if port == DEFAULT_PORT[scheme] then authority = host end
  return scheme .. "://" .. authority
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

-- libcurl behind the transport contract, made once per client. It holds the client
-- weakly: the transport lives in the client's state, keyed weakly by the client, and a
-- strong reference from there would keep every client alive on Lua 5.1 and LuaJIT.
local function curl_transport(c)
  local ref = setmetatable({ c }, { __mode = "v" })
  local http = c._http
  return function(req)
    local cl = ref[1]
    if cl == nil then return nil, "network", "the client is gone", false end
    local status, headers, body, maybe_applied = http(cl, req.method, req.url, req.headers, req.body)
    if not status then return nil, headers, body, maybe_applied end
    return { status = status, headers = headers, body = body }
  end
end

local function pick_transport(opts, c)
  local t = opts.transport
  if t == nil then
    t = in_openresty() and "ngx" or "curl"
  end
  if t == "curl" then return curl_transport(c) end
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

-- Where a looked-up project id goes in URLs built before the lookup ("{" is never
-- produced by uri_encode, so no stack name can forge it).
local PROJECT_PLACEHOLDER = "{project_id}"
client.PROJECT_PLACEHOLDER = PROJECT_PLACEHOLDER

local function default_clock(opts, policy)
  if policy then return policy.clock end
  if opts.clock then return opts.clock end
  local retry = retry_module()
  return retry and retry.default_clock() or core.monotonic
end

-- What credentials.ensure needs to fetch keys and look the project up: the client's
-- transport, and for the metadata service one with a short timeout and no proxy.
local function credentials_io(st, opts, plan, verify_tls)
  local io = { transport = st.transport }
  function io.metadata_transport()
    if io.metadata then return io.metadata end
    if opts.transport == "curl" or (opts.transport == nil and not in_openresty()) then
      io.bare = core.new_client{ endpoint = plan.metadata_endpoint, keys_later = true, source = "metadata",
                                 timeout = 2, connect_timeout = 2, verify_tls = verify_tls, proxy = "" }
      io.metadata = curl_transport(io.bare)
    else
      io.metadata = st.transport
    end
    return io.metadata
  end
  function io.on_project(id)
    st.stacks_url = st.endpoint .. "/v1/" .. core.uri_encode(id) .. "/stacks/"
  end
  return io
end

--- rfs.new{...} -> Client. Raises on misuse (unknown option, half a key pair, a
--  malformed credentials file). Does no network I/O: keys from federation or the
--  metadata service, and a project looked up at IAM, come with the first request.
function client.new(opts)
  opts = check_options(opts)
  local plan = credentials.resolve(opts)
  local endpoint = opts.endpoint
  local region = plan.region
  if not endpoint then
    if not region then
      error("rfs.new: no endpoint: pass region (e.g. 'cn-north-4') or endpoint, or set HUAWEICLOUD_SDK_REGION", 2)
    end
    local err
    endpoint, err = regions.endpoint(region)
    if not endpoint then error("rfs.new: " .. err, 2) end
  end
  endpoint = check_endpoint(endpoint)
  plan.metadata_endpoint = check_endpoint(plan.metadata_endpoint)
  if opts.iam_endpoint then check_endpoint(opts.iam_endpoint) end
  if not plan.project_id and not region then
    error("rfs.new: no project: pass project_id, set HUAWEICLOUD_SDK_PROJECT_ID, or pass region "
          .. "so that the project can be looked up at IAM", 2)
  end
  local timeout = opts.timeout or DEFAULTS.timeout
  local connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout
  local verify_tls = opts.verify_tls
  if verify_tls == nil then verify_tls = DEFAULTS.verify_tls end
  local c = core.new_client{
    endpoint = endpoint, project_id = plan.project_id and check_project(plan.project_id), region = region,
    ak = plan.ak, sk = plan.sk, security_token = plan.security_token, source = plan.source,
    keys_later = plan.kind ~= "static" or plan.project_id == nil,
    timeout = timeout, connect_timeout = connect_timeout,
    verify_tls = verify_tls, ca_file = opts.ca_file, proxy = opts.proxy,
  }
  plan.sk, plan.security_token = nil, nil -- held in C from here on
  local retry = retry_module()
  local policy = nil
  if opts.retry ~= false and retry then
    local p = {}
    if type(opts.retry) == "table" then for k, v in pairs(opts.retry) do p[k] = v end end
    p.sleep = p.sleep or opts.sleep
    p.clock = p.clock or opts.clock
    if opts.on_exchange and p.on_retry == nil then
      local trace = opts.on_exchange
      p.on_retry = function(r) r.type = "retry" trace(r) end
    end
    -- a misused retry policy is the caller's line, not this one
    local ok, made = pcall(retry.policy, p)
    if not ok then error((tostring(made):gsub("^[^:]+:%d+: ", "")), 2) end
    policy = made
  end
  local st = {
    transport = pick_transport(opts, c),
    policy = policy,
    timeout = timeout,
    connect_timeout = connect_timeout,
    verify_tls = verify_tls,
    ca_file = opts.ca_file,
    proxy = opts.proxy,
    endpoint = endpoint,
    -- every operation's URL starts with this (computed once: it is on every call's path)
    stacks_url = endpoint .. "/v1/" .. (plan.project_id and core.uri_encode(c.project_id) or PROJECT_PLACEHOLDER)
                 .. "/stacks/",
    -- nil for keys and project known now: then a request pays one field read for this
    creds = credentials.state(plan, default_clock(opts, policy)),
    project_lookup = plan.project_id == nil or nil,
    -- nil unless tracing (--debug): then one call per HTTP exchange
    on_exchange = opts.on_exchange,
  }
  if st.creds then st.creds_io = credentials_io(st, opts, plan, verify_tls) end
  state[c] = st
  return c
end

--- Fetches the client's keys and looks its project up now, as the first request would.
--  -> { source, project_id, region, endpoint, temporary, expires_in } | nil, err
function client.credentials_info(c)
  local st = state[c]
  if not st then error("rfs: this client was not made by rfs.new{}", 2) end
  if c.closed then error("rfs: this client is closed; create a new one with rfs.new{}", 2) end
  local cr = st.creds
  if cr then
    local ok, err = credentials.ensure(c, cr, st.creds_io)
    if not ok then return nil, err end
  end
  local info = { source = c.source, project_id = c.project_id, region = c.region, endpoint = c.endpoint,
                 temporary = cr ~= nil and cr.refreshable or false }
  if info.temporary and cr.expires_mono then info.expires_in = math.floor(cr.expires_mono - cr.clock()) end
  return info
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

--- A response body as Lua values: strict JSON, members whose value is null left out,
--  a null array element a hole; "" -> {}; a body that is not JSON -> nil, message.
function client.decode(body)
  if body == nil or body == "" then return {} end
  if type(body) ~= "string" then return nil, "the transport returned a " .. type(body) .. " body, not a string" end
  return json_decode(body)
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

client.HTML_MESSAGE = "the endpoint answered HTML, not RFS JSON"

--- true when a response is an HTML page (a web server or proxy that is not RFS).
function client.is_html(headers, body)
  local ctype = headers and headers["content-type"] or ""
  return ctype:lower():find("text/html", 1, true) ~= nil
    or (body or ""):sub(1, 200):lower():find("^%s*<[!%a]") ~= nil
end

function client.response_error(status, headers, body, request_id, operation)
  local code, msg, details = client.parse_error_body(body)
  if not code and client.is_html(headers, body) then
    -- never quote a page into the message: it says nothing about RFS
    return errors.new{ kind = errors.kind_for_status(status), status = status, message = client.HTML_MESSAGE,
                       hint = "check the endpoint", request_id = request_id, operation = operation,
                       server_request_id = headers and headers["x-request-id"], sent = status >= 500 }
  end
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

-- Transport failures that trying again cannot mend: they fail at once, with a hint that fits.
local TLS_TO_PLAIN = { "wrong version number", "SSL connection timeout", "packet length too long",
                       "unknown protocol", "handshake failed" }

--- The error for a transport failure (kind, message from the transport).
function client.transport_error(kind, msg, request_id, operation, maybe_applied)
  msg = msg or "transport failed"
  local t = { kind = kind, message = msg, request_id = request_id, operation = operation, sent = maybe_applied }
  if kind == "network" and (msg:find("resolve", 1, true) or msg:find("Name or service not known", 1, true)) then
    t.retryable = false -- a host name that does not resolve will not resolve in a second either
    t.hint = "check the host name in the endpoint (or the region) and DNS"
  elseif kind == "tls" or (kind == "timeout" and (msg:find("SSL", 1, true) or msg:find("TLS handshake", 1, true))) then
    for _, s in ipairs(TLS_TO_PLAIN) do
      if msg:find(s, 1, true) or (kind == "timeout" and s == "SSL connection timeout") then
        t.kind, t.retryable = "tls", false
        t.hint = "the endpoint does not speak TLS: if it is a plain-HTTP port (the emulator), use http://"
        break
      end
    end
  end
  return errors.new(t)
end

local sign = core.Client._sign

-- One attempt through the client's transport: signed here, for every transport. With no
-- headers table, _sign makes the ones every RFS request carries (Client-Request-Id,
-- Content-Type, X-Project-Id) and signs them in one call.
local function send_once(c, st, method, url, body, operation)
  local headers, request_id = sign(c, method, url, nil, body)
  local trace = st.on_exchange
  local started = trace and core.monotonic()
  local res, kind, msg, maybe_applied = st.transport{
    method = method, url = url, headers = headers, body = body,
    timeout = st.timeout, connect_timeout = st.connect_timeout,
    verify_tls = st.verify_tls, ca_file = st.ca_file, proxy = st.proxy,
  }
  if trace then
    trace{ type = "exchange", method = method, path = url:match("^%a+://[^/]*(.*)$") or url,
           status = res and res.status, kind = not res and kind or nil, message = not res and msg or nil,
           elapsed = core.monotonic() - started, request_id = request_id,
           server_request_id = res and res.headers and res.headers["x-request-id"] or nil, operation = operation }
  end
  if not res then
    if not errors.kinds[kind] then kind = "network" end
    return nil, client.transport_error(kind, msg, request_id, operation, maybe_applied)
  end
  local status, rheaders, rbody = res.status, res.headers or {}, res.body or ""
  if status >= 200 and status < 300 then
    local value, derr = client.decode(rbody)
    if value == nil and client.is_html(rheaders, rbody) then
      return nil, errors.new{ kind = "decode", status = status, request_id = request_id, operation = operation,
                              server_request_id = rheaders["x-request-id"], message = client.HTML_MESSAGE,
                              hint = "check the endpoint" }
    end
    if value == nil or type(value) ~= "table" then
      return nil, errors.new{ kind = "decode", status = status, request_id = request_id,
                              server_request_id = rheaders["x-request-id"], operation = operation,
                              message = "the response body is not a JSON object (" .. tostring(derr or type(value)) .. ")" }
    end
    return value, nil, request_id, rheaders
  end
  return nil, client.response_error(status, rheaders, rbody, request_id, operation)
end

-- One attempt of a call: credentials first (when they may need fetching), then one send.
local function attempt(c, st, method, url, body, operation, idempotent)
  local cr = st.creds
  if cr then -- keys still to fetch or to refresh, or the project still to look up
    local ok, cerr = credentials.ensure(c, cr, st.creds_io)
    if not ok then
      cerr.operation = operation
      return nil, cerr
    end
    if not cr.refreshable and not cr.project_pending then st.creds = nil end
  end
  local u = url
  if st.project_lookup and u:find(PROJECT_PLACEHOLDER, 1, true) then
    local i = u:find(PROJECT_PLACEHOLDER, 1, true)
    u = u:sub(1, i - 1) .. core.uri_encode(c.project_id) .. u:sub(i + #PROJECT_PLACEHOLDER)
  end
  local v, err, a, b = send_once(c, st, method, u, body, operation)
  if err then
    -- temporary keys that expired under us (a clock jump, keys revoked): fetch new ones, once
    if cr and cr.refreshable and credentials.expired_answer(err) and credentials.ensure(c, cr, st.creds_io, true) then
      v, err, a, b = send_once(c, st, method, u, body, operation)
    end
    -- a read refused because another request is in progress can simply be read again
    if err and idempotent and err.kind == "conflict" then err.retryable = true end
  end
  return v, err, a, b
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
  local policy = st.policy
  if not (policy and idempotent and not (opts and opts.no_retry)) then
    return attempt(c, st, method, url, body, operation, idempotent)
  end
  -- The first attempt costs no closure and no clock read; the retry loop takes over
  -- only after a failure, with a max_elapsed deadline counted from the start.
  local start = policy.max_elapsed and policy.clock()
  local v, err, a, b = attempt(c, st, method, url, body, operation, idempotent)
  if v ~= nil then return v, err, a, b end
  return retry_module().call(function() return attempt(c, st, method, url, body, operation, idempotent) end,
                             policy, start, err)
end

return client
