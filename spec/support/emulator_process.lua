-- Starts bin/rfs-emulator as a subprocess on a free loopback port, for integration specs.
--   local em = require("emulator_process").start{ ak =, sk =, time_scale =, queue_seconds =, args = "--idle-timeout 1" }
--   em.url; em:seed{...}; em:fault{...}; em:requests(); em:reset(); em:stop()
local socket = require "socket"
local cjson = require "cjson"

local M = {}
local Emulator = {}
Emulator.__index = Emulator

local function lua_binary()
  return rawget(_G, "jit") and "luajit" or "lua5.4"
end

local function request(url, method, body)
  local host, port, path = url:match("^http://([^:/]+):(%d+)(.*)$")
  local c = assert(socket.connect(host, tonumber(port)))
  c:settimeout(5)
  body = body or ""
  assert(c:send(("%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 .. "Connection: close\r\n\r\n%s"):format(method, path, host, port, #body, body)))
  local status_line = assert(c:receive("*l"))
  local status = tonumber(status_line:match("^HTTP/1%.%d (%d+)"))
  local length = 0
  while true do
    local line = assert(c:receive("*l"))
    if line == "" then break end
    local n = line:lower():match("^content%-length:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  local data = length > 0 and assert(c:receive(length)) or ""
  c:close()
  return status, data
end
M.request = request

--- A loopback port nothing listens on (bound, read, released).
function M.closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return port
end

function M.start(opts)
  opts = opts or {}
  local root = "."
  local pidfile = os.tmpname()
  local outfile = os.tmpname()
  local args = { "--host 127.0.0.1 --port 0", "--ak " .. (opts.ak or "AKTEST"), "--sk " .. (opts.sk or "SKTEST"),
                 "--time-scale " .. (opts.time_scale or 1), "--queue-seconds " .. (opts.queue_seconds or 2),
                 opts.args or "" }
  -- the subshell waits for the emulator so that its exit status lands in outfile.code
  local cmd = ("(%s %s/bin/rfs-emulator %s > %s 2>&1 & echo $! > %s; wait $!; echo $? > %s.code) &"):format(
    opts.lua or lua_binary(), root, table.concat(args, " "), outfile, pidfile, outfile)
  assert(os.execute(cmd))
  local url
  for _ = 1, 200 do
    local f = io.open(outfile)
    local line = f and f:read("*l")
    if f then f:close() end
    url = line and line:match("^listening on (http://%S+)")
    if url then break end
    socket.sleep(0.025)
  end
  local f = io.open(pidfile)
  local pid = f and f:read("*n")
  if f then f:close() end
  os.remove(pidfile)
  assert(url, "the emulator did not start; its output is in " .. outfile)
  return setmetatable({ url = url, pid = pid, outfile = outfile, opts = opts }, Emulator)
end

local function post(self, path, body)
  local status, data = request(self.url .. path, "POST", cjson.encode(body))
  local decoded = cjson.decode(data)
  assert(status < 300, "emulator " .. path .. " answered " .. status .. ": " .. data)
  return decoded
end

function Emulator:seed(t) return post(self, "/_emulator/stacks", t) end
function Emulator:fault(t) return post(self, "/_emulator/faults", t) end
function Emulator:reset() return post(self, "/_emulator/reset", {}) end

function Emulator:requests()
  local status, data = request(self.url .. "/_emulator/requests", "GET")
  assert(status == 200, data)
  return cjson.decode(data).requests
end

local function shell_ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end
M.shell_ok = shell_ok

function Emulator:alive()
  return self.pid ~= nil and shell_ok("kill -0 " .. self.pid .. " 2>/dev/null")
end

--- Sends SIGTERM (or sig) and waits up to 5 s; returns the emulator's exit status.
function Emulator:stop(sig)
  local code
  if self.pid then
    shell_ok("kill -" .. (sig or "TERM") .. " " .. self.pid .. " 2>/dev/null")
    for _ = 1, 250 do
      local f = io.open(self.outfile .. ".code")
      code = f and f:read("*n")
      if f then f:close() end
      if code then break end
      socket.sleep(0.02)
    end
  end
  self.pid = nil
  os.remove(self.outfile)
  os.remove(self.outfile .. ".code")
  return code
end

return M
