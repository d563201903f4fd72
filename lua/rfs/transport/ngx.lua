-- rfs.transport.ngx: HTTP/1.1 over nginx cosockets, for lua-rfs inside OpenResty /
-- lua-nginx-module. Never blocks the worker: connect, TLS, send and receive all yield.
-- The C core still signs; this module only moves bytes.
--
-- Keep-alive: connections go back to a pool per endpoint (scheme, host, port) through
-- setkeepalive(). TLS: verified by default against nginx's lua_ssl_trusted_certificate.

local ngx = ngx
local core = require "rfs.core"

local transport = {}

local MAX_BODY = 16 * 1024 * 1024
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true, ssl_cert = true,
                          ssl_session_fetch = true }

local function parse_url(url)
  local scheme, authority, path = url:match("^(https?)://([^/?#]+)(.*)$")
  if not scheme then return nil end
  local host, port = authority:match("^%[(.+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
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

-- The status line and header fields, read as one block (one cosocket call, not one per line).
local function read_headers(sock)
  local reader = sock:receiveuntil("\r\n\r\n")
  local parts, total = {}, 0
  while true do -- with a size, the reader hands out chunks, then nil, nil at the blank line
    local data, err = reader(8192)
    if not data then
      if err then return nil, err end
      break
    end
    total = total + #data
    if total > MAX_HEADER then return nil, "response headers larger than 64 KiB" end
    parts[#parts + 1] = data
  end
  local block = table.concat(parts)
  local status = tonumber(block:match("^HTTP/1%.[01] (%d%d%d)"))
  if not status then return nil, "bad status line" end
  return status, core.parse_headers(block)
end

local function read_chunked(sock)
  local parts, total = {}, 0
  while true do
    local size_line, err = sock:receive("*l")
    if not size_line then return nil, err end
    local size = tonumber(size_line:match("^%x+"), 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then
      repeat -- trailers, up to the empty line
        local t, terr = sock:receive("*l")
        if not t then return nil, terr end
      until t == ""
      return table.concat(parts)
    end
    total = total + size
    if total > MAX_BODY then return nil, "too large" end
    local chunk, cerr = sock:receive(size)
    if not chunk then return nil, cerr end
    parts[#parts + 1] = chunk
    local crlf, lerr = sock:receive(2)
    if not crlf then return nil, lerr end
  end
end

local function read_body(sock, headers, method)
  if method == "HEAD" then return "" end
  if (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then return read_chunked(sock) end
  local length = tonumber(headers["content-length"])
  if length then
    if length > MAX_BODY then return nil, "too large" end
    if length == 0 then return "" end
    return sock:receive(length)
  end
  return sock:receive("*a") -- read to close (and the connection is not reused)
end

local function kind_of(err)
  if err == "timeout" then return "timeout" end
  return "network"
end

local function request_bytes(req, path)
  local lines = { req.method .. " " .. path .. " HTTP/1.1" }
  for k, v in pairs(req.headers) do lines[#lines + 1] = k .. ": " .. v end
  lines[#lines + 1] = "Content-Length: " .. #(req.body or "")
  lines[#lines + 1] = "Connection: keep-alive"
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (req.body or "")
end

-- One attempt on one (possibly reused) connection.
local function exchange(req, opts, scheme, host, port, path)
  local sock = ngx.socket.tcp()
  local timeout_ms = math.floor((req.timeout or 30) * 1000)
  sock:settimeouts(math.floor((req.connect_timeout or 10) * 1000), timeout_ms, timeout_ms)
  local pool = scheme .. "://" .. host .. ":" .. port .. (req.verify_tls == false and "#noverify" or "")
  local ok, err = sock:connect(host, port, { pool = pool, pool_size = opts.pool_size })
  if not ok then return nil, kind_of(err), "connect to " .. host .. ":" .. port .. " failed: " .. err, false end
  local reused = sock:getreusedtimes()
  if scheme == "https" and reused == 0 then
    local session, serr = sock:sslhandshake(nil, host, req.verify_tls ~= false)
    if not session then
      sock:close()
      return nil, serr == "timeout" and "timeout" or "tls", "TLS handshake with " .. host .. " failed: " .. serr, false
    end
  end
  local bytes, serr = sock:send(request_bytes(req, path))
  if not bytes then
    sock:close()
    return nil, kind_of(serr), "sending the request failed: " .. serr, false, reused > 0
  end
  local status, headers = read_headers(sock)
  if not status then
    sock:close()
    return nil, kind_of(headers), "reading the response failed: " .. tostring(headers), true, reused > 0
  end
  local body, berr = read_body(sock, headers, req.method)
  if not body then
    sock:close()
    if berr == "too large" then
      return nil, "decode", "the response is larger than lua-rfs accepts (16 MiB)", true
    end
    return nil, kind_of(berr), "reading the response body failed: " .. tostring(berr), true
  end
  if (headers.connection or ""):lower() == "close" or not headers["content-length"]
    and not (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    sock:close()
  else
    sock:setkeepalive(opts.keepalive_timeout, opts.pool_size)
  end
  return { status = status, headers = headers, body = body }
end

--- transport.new(opts) -> function(req) -> { status, headers, body } | nil, kind, message, sent
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
  local settings = { keepalive_timeout = opts.keepalive_timeout or 60000, pool_size = opts.pool_size or 32 }
  return function(req)
    check_phase()
    local scheme, host, port, path = parse_url(req.url)
    if not scheme then return nil, "network", "cannot parse url " .. tostring(req.url), false end
    local res, kind, message, sent, was_reused = exchange(req, settings, scheme, host, port, path)
    if not res and was_reused and not sent then
      -- a pooled connection the server had closed: try once on a fresh one
      res, kind, message, sent = exchange(req, settings, scheme, host, port, path)
    end
    return res, kind, message, sent
  end
end

return transport
