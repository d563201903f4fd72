-- Runs inside nginx (lua-nginx-module) for spec/ngx_transport_spec.lua: a hostile HTTP/1.1
-- server and a client endpoint driving rfs.transport.ngx against it.
--   location /raw/  { content_by_lua_block { require("hostile_http").serve() } }
--   location = /call { content_by_lua_block { require("hostile_http").call() } }
-- /raw/<scenario> takes the raw downstream socket and writes exactly the bytes a scenario
-- says, bad framing and all; ngx.shared.hostile counts the requests each scenario saw.
-- /call?scenario=&method=&timeout=&n=&base= makes n transport calls (scenario=a,b: to a and b
-- in turn; odd calls send the field X-Odd too) and prints their
-- outcomes as JSON: { status, headers, body } or { kind, message, maybe_applied } or { raised }.
local ngx = ngx
local cjson = require "cjson"

local M = {}

local function ok_response(body, extra)
  return "HTTP/1.1 200 OK\r\nContent-Length: " .. #body .. "\r\n" .. (extra or "") .. "\r\n" .. body
end

-- Reads one more request on a kept-alive connection, head and body; returns its path.
local function read_next_request(sock)
  local length = 0
  local line = sock:receive("*l")
  local path = line and line:match("^%u+ (%S+)")
  if not path then return nil end
  repeat
    line = sock:receive("*l")
    if not line then return nil end
    local n = line:lower():match("^content%-length:%s*(%d+)")
    if n then length = tonumber(n) end
  until line == ""
  if length > 0 and not sock:receive(length) then return nil end
  return path
end

local function count(name)
  ngx.shared.hostile:incr(name, 1, 0)
end

local function trickle(sock, bytes, every)
  for i = 1, #bytes do
    if not sock:send(bytes:sub(i, i)) then return end
    ngx.sleep(every)
  end
end

-- Each scenario: a string to send (then the connection closes), or a function(sock, name)
-- that returns true to keep the connection and serve the next request on it.
local SCENARIOS = {
  ["cl-negative"] = "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
  ["cl-abc"] = "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello",
  ["cl-two"] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello12",
  ["cl-same-twice"] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
  ["cl-huge"] = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\nhello",
  ["chunk-zz"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n",
  ["chunk-negative"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
  ["chunk-huge"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
  ["chunk-ok"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n",
  ["interim"] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    .. ok_response("final", "X-Final: yes\r\n"),
  ["bare-lf"] = "HTTP/1.1 200 OK\nContent-Length: 5\nX-Bare: lf\n\nhello",
  -- fields ended by a bare LF, the blank line by CR LF; the body holds a CRLF CRLF of its own
  ["mixed-lf"] = "HTTP/1.1 200 OK\nContent-Length: 8\nX-Mixed: yes\n\r\nab\r\n\r\ncd",
  ["to-close"] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until the server closes",
  ["garbage"] = "this is not HTTP at all\r\n\r\n",
  ["bad-status"] = "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
  ["empty"] = "",
  ["cut-head"] = "HTTP/1.1 200 OK\r\nContent-Len",
  ["cut-body"] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel",
  ["cut-chunk"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
  ["switching"] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: nonsense\r\n\r\n\0\1\2",
  -- answers with no body and keeps the connection open: waiting for a body would time out
  ["no-content"] = function(sock)
    sock:send("HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n")
    return true
  end,
  ["not-modified"] = function(sock)
    sock:send("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
    return true
  end,
  ["head-no-length"] = function(sock)
    sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    return true
  end,
  -- 40 body bytes, one each 50 ms: every read gets a byte long before a per-read timeout
  ["trickle-body"] = function(sock)
    sock:send("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
    trickle(sock, ("b"):rep(40), 0.05)
  end,
  ["trickle-bare-lf"] = function(sock)
    trickle(sock, "HTTP/1.1 200 OK\nX-Slow: lf\nContent-Length: 2\n\nok", 0.02)
  end,
  ["trickle-head"] = function(sock)
    trickle(sock, "HTTP/1.1 200 OK\r\nX-Slow: " .. ("h"):rep(20) .. "\r\nContent-Length: 2\r\n\r\nok", 0.05)
  end,
  -- 17 MiB with no length, then the close that ends it
  ["to-close-huge"] = function(sock)
    sock:send("HTTP/1.1 200 OK\r\n\r\n")
    local piece = ("x"):rep(1024 * 1024)
    for _ = 1, 17 do
      if not sock:send(piece) then return end
    end
  end,
  -- keep-alive promised, then the next request on the connection is read and dropped
  ["stale"] = function(sock, name)
    sock:send(ok_response("fresh"))
    if read_next_request(sock) then count(name) end
  end,
  -- reads the request and closes without a byte of answer
  ["drop"] = function() end,
  ["echo-host"] = function(sock)
    sock:send(ok_response((ngx.var.http_host or "-") .. " " .. ngx.var.server_addr))
  end,
  -- the request line and the X- header fields of the first request, sorted, one a line
  ["echo-request"] = function(sock)
    local lines = {}
    for k, v in pairs(ngx.req.get_headers()) do
      if k:find("^x%-") then lines[#lines + 1] = k .. ": " .. tostring(v) end
    end
    table.sort(lines)
    sock:send(ok_response(ngx.req.get_method() .. " " .. ngx.var.request_uri .. " HTTP/" .. ngx.req.http_version()
                          .. "\n" .. table.concat(lines, "\n")))
  end,
}

function M.serve()
  local name = ngx.var.uri:match("^/raw/(.+)$")
  local scenario = SCENARIOS[name]
  local length = tonumber(ngx.var.http_content_length or 0) or 0
  local sock = assert(ngx.req.socket(true))
  sock:settimeout(3000)
  if length > 0 then sock:receive(length) end
  while true do
    count(name)
    if type(scenario) == "string" then
      sock:send(scenario)
      return
    elseif not scenario then
      sock:send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
      return
    elseif not scenario(sock, name) then
      return
    end
    local path = read_next_request(sock)
    name = path and path:match("^/raw/(.+)$")
    if not name then return end
    scenario = SCENARIOS[name]
  end
end

function M.call()
  local transport = require("rfs.transport.ngx").new{}
  local args = ngx.req.get_uri_args()
  local base = (args.base or ("http://127.0.0.1:" .. ngx.var.server_port)) .. "/raw/"
  local scenarios = {} -- scenario=a,b: the calls take turns
  for name in args.scenario:gmatch("[^,]+") do scenarios[#scenarios + 1] = name end
  local method = args.method or "GET"
  local out = {}
  for i = 1, tonumber(args.n or 1) do
    local url = base .. scenarios[(i - 1) % #scenarios + 1]
    -- odd calls carry one field more than even ones
    local headers = { ["X-Call"] = tostring(i), ["X-Odd"] = i % 2 == 1 and "yes" or nil }
    local ok, res, kind, message, maybe_applied = pcall(transport, {
      method = method, url = url, headers = headers,
      body = method == "POST" and '{"call":' .. i .. "}" or "",
      timeout = tonumber(args.timeout or 2), connect_timeout = 1,
    })
    if not ok then
      out[i] = { raised = tostring(res) }
    elseif res then
      out[i] = { status = res.status, headers = res.headers, body = res.body }
    else
      out[i] = { kind = kind, message = message, maybe_applied = maybe_applied }
    end
  end
  ngx.say(cjson.encode(out))
end

function M.seen(name)
  return ngx.shared.hostile:get(name) or 0
end

return M
