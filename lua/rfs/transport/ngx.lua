-- rfs.transport.ngx: HTTP/1.1 over nginx cosockets, for lua-rfs inside OpenResty /
-- lua-nginx-module. Never blocks the worker: connect, TLS, send and receive all yield.
-- The C core still signs; this module only moves bytes.
--
-- Keep-alive: connections go back to a pool per endpoint (scheme, host, port) through
-- setkeepalive(). TLS: verified by default against nginx's lua_ssl_trusted_certificate.

local ngx = ngx
local core = require "rfs.core"
local errors = require "rfs.errors"

local transport = {}

local MAX_BODY = 16 * 1024 * 1024
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true, ssl_cert = true,
                          ssl_session_fetch = true }

local function parse_url(url)
  local scheme, authority, path = url:match("^(https?)://([^/?#]+)(.*)$")
  if not scheme then return nil end
  local host, port = authority:match("^%[(.+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  if port < 1 or port > 65535 then return nil end
  return scheme, host, port, (path ~= "" and path or "/")
end
transport.parse_url = parse_url

local function check_phase()
  local phase = ngx.get_phase()
  if not COSOCKET_PHASES[phase] then
    error("rfs: lua-rfs cannot make requests in nginx's " .. phase .. " phase (cosockets are disabled there); "
          .. "call it from content_by_lua, access_by_lua, rewrite_by_lua or an ngx.timer.at callback", 3)
  end
end

local MAX_HEADER = 64 * 1024
local MAX_LINE = 4096           -- a chunk-size or trailer line
local MAX_WIRE = MAX_BODY + 1024 * 1024 -- every byte of one response, framing included
local READ_SIZE = 65536
local STATUS_LINE = "^HTTP/1%.[01] (%d%d%d)[ \r\n]"

local find, sub, byte, match, lower = string.find, string.sub, string.byte, string.match, string.lower
local concat, floor, tonumber = table.concat, math.floor, tonumber

local TOO_LARGE = "the response is larger than lua-rfs accepts (16 MiB)"

local function ms(seconds)
  local v = floor(seconds * 1000)
  return v < 1 and 1 or v
end

local function kind_of(err)
  if err == "timeout" then return "timeout" end
  return "network"
end

-- One response being read: r = { sock, deadline, timeout_at, buf, pos, got }. r.buf holds bytes
-- received but not yet used, from r.pos on; r.got counts every byte received; timeout_at is the
-- ngx.now() from which the socket's timeout, deadline - timeout_at, was set.
-- Every read waits at most until the deadline of the whole call, and returns as soon as any
-- byte arrives: cosocket timeouts are per read, so a server trickling a byte at a time is
-- only bounded this way.
local function more(r, max)
  local now = ngx.now()
  local left = r.deadline - now
  if left <= 0 then return nil, "timeout" end
  if r.got > MAX_WIRE then return nil, "too large" end
  local sock = r.sock
  if now ~= r.timeout_at then -- the socket's timeout was counted from another moment: count it again
    sock:settimeout(ms(left))
    r.timeout_at = now
  end
  local data, err = sock:receiveany(max)
  if not data then return nil, err end
  r.got = r.got + #data
  return data
end

local function read_failed(err)
  if err == "too large" then return nil, "decode", TOO_LARGE end
  return nil, kind_of(err), "reading the response failed: " .. tostring(err)
end

-- Where the first blank line (LF LF or LF CR LF) after `from` is: s, e | nil. A plain
-- search from line end to line end: the pattern "\n\r?\n" is tried at every byte and
-- costs more than the rest of reading a response.
local function blank_line(buf, from)
  local i = find(buf, "\n", from, true)
  while i do
    local c = byte(buf, i + 1)
    if c == 10 then return i, i + 1 end
    if c == 13 and byte(buf, i + 2) == 10 then return i, i + 2 end
    i = find(buf, "\n", i + 1, true)
  end
end

-- The next header block: status line and fields up to the blank line, lines ended by CRLF
-- or a bare LF (as curl accepts). Returns the block without the blank line.
local function read_head(r)
  local buf, pos = r.buf, r.pos
  local from = pos
  while true do
    local s, e = blank_line(buf, from)
    if s then
      r.buf, r.pos = buf, e + 1
      return sub(buf, pos, s)
    end
    if #buf - pos >= MAX_HEADER then return nil, "network", "response headers larger than 64 KiB" end
    local data, err = more(r, READ_SIZE)
    if not data then return read_failed(err) end
    from = #buf - pos -- the blank line may begin in what was already there
    if from < 1 then from = 1 end
    buf, pos = sub(buf, pos) .. data, 1
  end
end

-- One line (chunk size or trailer), CR LF or LF stripped.
local function read_line(r)
  local buf, pos = r.buf, r.pos
  local from = pos
  while true do
    local e = find(buf, "\n", from, true)
    if e then
      r.buf, r.pos = buf, e + 1
      if e > pos and byte(buf, e - 1) == 13 then e = e - 1 end
      return sub(buf, pos, e - 1)
    end
    if #buf - pos >= MAX_LINE then return nil, "decode", "a chunk-size or trailer line longer than 4 KiB" end
    local data, err = more(r, READ_SIZE)
    if not data then return read_failed(err) end
    from = #buf - pos + 2
    buf, pos = sub(buf, pos) .. data, 1
  end
end

-- Appends the next n bytes to parts: what is buffered first, then from the socket.
local function take(r, n, parts)
  local buf, pos = r.buf, r.pos
  local have = #buf - pos + 1
  if have >= n then
    parts[#parts + 1] = sub(buf, pos, pos + n - 1)
    r.pos = pos + n
    return true
  end
  if have > 0 then parts[#parts + 1] = sub(buf, pos) end
  r.buf, r.pos = "", 1
  n = n - have
  while n > 0 do
    local data, err = more(r, n < READ_SIZE and n or READ_SIZE)
    if not data then return read_failed(err) end
    parts[#parts + 1] = data
    n = n - #data
  end
  return true
end

local function read_sized(r, n)
  local buf, pos = r.buf, r.pos
  if #buf - pos + 1 >= n then -- the usual case: the whole body came with the headers
    r.pos = pos + n
    return sub(buf, pos, pos + n - 1)
  end
  local parts = {}
  local ok, kind, msg = take(r, n, parts)
  if not ok then return nil, kind, msg end
  return concat(parts)
end

local function read_chunked(r)
  local parts, total = {}, 0
  while true do
    local line, kind, msg = read_line(r)
    if not line then return nil, kind, msg end
    local digits = match(line, "^%x+")
    local rest = digits and sub(line, #digits + 1)
    if not digits or #digits > 16 or not (rest == "" or find(rest, "^[ \t]*;") or find(rest, "^[ \t]*$")) then
      return nil, "decode", "bad chunk size " .. errors.display(line)
    end
    local size = tonumber(digits, 16)
    if size == 0 then
      local trailers = 0
      repeat -- trailers, up to the empty line
        local t, tkind, tmsg = read_line(r)
        if not t then return nil, tkind, tmsg end
        trailers = trailers + #t
        if trailers > MAX_HEADER then return nil, "network", "response trailers larger than 64 KiB" end
      until t == ""
      return concat(parts)
    end
    total = total + size
    if total > MAX_BODY then return nil, "decode", TOO_LARGE .. " (chunk size " .. digits .. ")" end
    local ok, tkind, tmsg = take(r, size, parts)
    if not ok then return nil, tkind, tmsg end
    local crlf, ckind, cmsg = read_line(r)
    if not crlf then return nil, ckind, cmsg end
    if crlf ~= "" then return nil, "decode", "chunk data longer than its chunk size" end
  end
end

local function read_to_close(r)
  local parts, total = {}, 0
  local buf, pos = r.buf, r.pos
  if pos <= #buf then
    parts[1] = sub(buf, pos)
    total = #buf - pos + 1
  end
  r.buf, r.pos = "", 1
  while true do
    if total > MAX_BODY then return nil, "decode", TOO_LARGE end
    local data, err = more(r, READ_SIZE)
    if not data then
      if err == "closed" then return concat(parts) end
      return read_failed(err)
    end
    parts[#parts + 1] = data
    total = total + #data
  end
end

-- The body length a Content-Length field gives (equal repeated values allowed, as curl does),
-- or nil, "decode", message.
local function content_length(value)
  if find(value, "^%d+$") then
    if #value > 9 or tonumber(value) > MAX_BODY then
      return nil, "decode", TOO_LARGE .. " (Content-Length " .. errors.display(value) .. ")"
    end
    return tonumber(value)
  end
  local first
  for v in value:gmatch("[^,]+") do
    v = match(v, "^[ \t]*(.-)[ \t]*$")
    if first == nil then first = v end
    if v ~= first then return nil, "decode", "conflicting Content-Length values " .. errors.display(value) end
  end
  if first and first ~= value and find(first, "^%d+$") then return content_length(first) end
  return nil, "decode", "invalid Content-Length " .. errors.display(value)
end

-- The body after the headers, framed as RFC 9112 says. Returns body, reusable (the
-- connection is left at the end of a well-framed response) | nil, kind, message.
local function read_body(r, status, headers, method)
  if method == "HEAD" or status == 204 or status == 304 then return "", true end
  local te, cl = headers["transfer-encoding"], headers["content-length"]
  local body, kind, msg, reusable
  if te and find(lower(te), "chunked[ \t]*$") then
    body, kind, msg = read_chunked(r)
    reusable = cl == nil -- with a Content-Length too, the framing is in doubt
  elseif cl and not te then
    local n
    n, kind, msg = content_length(cl)
    if not n then return nil, kind, msg end
    if n == 0 then return "", true end
    body, kind, msg = read_sized(r, n)
    reusable = true
  else -- no length, or an encoding other than chunked: the body ends when the server closes
    body, kind, msg = read_to_close(r)
    reusable = false
  end
  if not body then return nil, kind, msg end
  return body, reusable
end

local function keep_alive(block, headers)
  local conn = headers.connection
  if sub(block, 6, 8) == "1.0" then return conn ~= nil and find(lower(conn), "keep-alive", 1, true) ~= nil end
  return conn == nil or not find(lower(conn), "close", 1, true)
end

-- The status and fields of the final response, 1xx interim responses skipped.
local function read_response_head(r)
  local seen = 0
  while true do
    local block, kind, msg = read_head(r)
    if not block then return nil, kind, msg end
    local status = tonumber(match(block, STATUS_LINE))
    if not status then
      return nil, "decode", "the response does not start with an HTTP/1.x status line: "
        .. errors.display(match(block, "^[^\r\n]*"))
    end
    if status >= 200 then return status, block end
    if status < 100 then
      return nil, "decode", "the response has status " .. status .. ", which HTTP does not define"
    end
    if status == 101 then return nil, "decode", "the server switched protocols (101) though lua-rfs did not ask" end
    seen = seen + #block
    if seen > MAX_HEADER then return nil, "network", "response headers larger than 64 KiB" end
  end
end

-- The request as one string: cosocket send() walks a table of pieces through the C API
-- twice (to measure, then to copy), which costs more than one concatenation here.
-- The pieces go into one scratch table, emptied again before anything can yield.
local pieces = {}

local function request_bytes(req, u, path)
  local t = pieces
  t[1], t[2], t[3], t[4] = req.method, " ", path, " HTTP/1.1\r\n"
  local n = 4
  local headers = req.headers
  for k, v in pairs(headers) do
    t[n + 1], t[n + 2], t[n + 3], t[n + 4] = k, ": ", v, "\r\n"
    n = n + 4
  end
  if headers.Host == nil and headers.host == nil then
    t[n + 1], t[n + 2], t[n + 3] = "Host: ", u.authority, "\r\n"
    n = n + 3
  end
  local body = req.body or ""
  t[n + 1], t[n + 2], t[n + 3], t[n + 4] = "Content-Length: ", #body, "\r\nConnection: keep-alive\r\n\r\n", body
  n = n + 4
  local bytes = concat(t, "", 1, n)
  for i = 1, n do t[i] = nil end
  return bytes
end

-- One attempt on one (possibly reused) connection. Returns res | nil, kind, message,
-- maybe_applied, stale: stale when a reused connection failed before a byte of answer.
local function exchange(req, settings, u, path, deadline, fresh)
  local started = ngx.now()
  local left = deadline - started
  if left <= 0 then return nil, "timeout", "the call ran out of time before connecting", false end
  local sock = ngx.socket.tcp()
  local connect_timeout = req.connect_timeout or 10
  local left_ms = ms(left)
  sock:settimeouts(ms(connect_timeout < left and connect_timeout or left), left_ms, left_ms)
  local pool = req.verify_tls == false and u.pool_noverify or u.pool
  local ok, err = sock:connect(u.connect_host, u.port, pool)
  local reused = ok and sock:getreusedtimes() or 0
  if fresh then -- connections pooled beside one found dropped are likely dropped too
    local tries = settings.pool_size
    while ok and reused > 0 and tries > 0 do
      sock:close()
      ok, err = sock:connect(u.connect_host, u.port, pool)
      reused, tries = ok and sock:getreusedtimes() or 0, tries - 1
    end
  end
  if not ok then
    return nil, kind_of(err), "connect to " .. u.authority .. " failed: " .. tostring(err), false
  end
  if u.scheme == "https" and reused == 0 then
    local session, serr = sock:sslhandshake(nil, u.host, req.verify_tls ~= false)
    if not session then
      sock:close()
      return nil, serr == "timeout" and "timeout" or "tls",
             "TLS handshake with " .. u.authority .. " failed: " .. tostring(serr), false
    end
  end
  -- a pooled connection is handed over without waiting: the clock nginx caches has not
  -- moved, and the send and read timeouts set above still end at the deadline
  local now = ngx.now()
  if now ~= started then
    left = deadline - now
    if left <= 0 then
      sock:close()
      return nil, "timeout", "the call ran out of time before sending the request", false
    end
    sock:settimeout(ms(left))
  end
  local bytes, serr = sock:send(request_bytes(req, u, path))
  if not bytes then
    sock:close()
    return nil, kind_of(serr), "sending the request failed: " .. tostring(serr), true,
           reused > 0 and serr ~= "timeout"
  end
  local r = { sock = sock, deadline = deadline, timeout_at = now, buf = "", pos = 1, got = 0 }
  local status, block, msg = read_response_head(r)
  if not status then
    sock:close()
    return nil, block, msg, true, reused > 0 and r.got == 0 and block == "network"
  end
  local headers = core.parse_headers(block)
  local body, reusable, bmsg = read_body(r, status, headers, req.method)
  if not body then
    sock:close()
    return nil, reusable, bmsg, true
  end
  if reusable and r.pos > #r.buf and keep_alive(block, headers) then
    local kept = sock:setkeepalive(settings.keepalive_timeout, settings.pool_size)
    if not kept then sock:close() end
  else
    sock:close()
  end
  return { status = status, headers = headers, body = body }
end

-- What one endpoint (scheme://authority) needs on every call, parsed once per transport.
local function endpoint(settings, origin)
  local endpoints = settings.endpoints
  local u = endpoints[origin]
  if u then return u end
  local scheme, host, port = parse_url(origin)
  if not scheme then return nil end
  local name = scheme .. "://" .. host .. ":" .. port
  u = { scheme = scheme, host = host, port = port, authority = match(origin, "^https?://(.*)$"),
        -- nginx parses an IPv6 literal only in brackets
        connect_host = find(host, ":", 1, true) and "[" .. host .. "]" or host,
        pool = { pool = name, pool_size = settings.pool_size },
        pool_noverify = { pool = name .. "#noverify", pool_size = settings.pool_size } }
  if settings.n_endpoints >= 16 then -- a client talks to one endpoint; never grow without bound
    endpoints = {}
    settings.endpoints, settings.n_endpoints = endpoints, 0
  end
  endpoints[origin] = u
  settings.n_endpoints = settings.n_endpoints + 1
  return u
end

--- transport.new(opts) -> function(req) -> { status, headers, body } | nil, kind, message, maybe_applied
--  opts (from rfs.new): proxy and ca_file are not supported here (nginx decides: use
--  lua_ssl_trusted_certificate); keepalive_timeout (ms, default 60000), pool_size (default 32).
function transport.new(opts)
  opts = opts or {}
  if opts.proxy then
    error("rfs.new: the ngx transport does not support proxy; let nginx reach the endpoint directly", 3)
  end
  if opts.ca_file then
    error("rfs.new: inside nginx, trusted CAs come from the lua_ssl_trusted_certificate directive, not ca_file", 3)
  end
  local settings = { keepalive_timeout = opts.keepalive_timeout or 60000, pool_size = opts.pool_size or 32,
                     endpoints = {}, n_endpoints = 0 }
  -- the last URL and what it parsed to: a gateway polling one stack asks for the same URL
  -- again and again
  local last_url, last_u, last_path
  return function(req)
    check_phase()
    local url = req.url
    local u, path
    if url == last_url then
      u, path = last_u, last_path
    else
      local origin
      origin, path = match(url, "^(https?://[^/?#]+)(.*)$")
      u = origin and endpoint(settings, origin)
      if not u then return nil, "network", "cannot parse url " .. errors.display(url), false end
      if path == "" then path = "/" elseif byte(path) ~= 47 then path = "/" .. path end
      last_url, last_u, last_path = url, u, path
    end
    local deadline = ngx.now() + (req.timeout or 30)
    local res, kind, message, maybe_applied, stale = exchange(req, settings, u, path, deadline, false)
    if stale and (req.method == "GET" or req.method == "HEAD") then
      -- a kept-alive connection the server had dropped: a read is safe to send again, once,
      -- on a fresh connection; anything else may have been applied and is not re-sent
      local first_maybe_applied = maybe_applied
      res, kind, message, maybe_applied = exchange(req, settings, u, path, deadline, true)
      maybe_applied = maybe_applied or first_maybe_applied
    end
    return res, kind, message, maybe_applied
  end
end

return transport
