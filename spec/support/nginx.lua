-- Starts a real nginx with lua-nginx-module from a temp prefix, for specs and benchmarks.
--   local nginx = require "nginx"
--   local ok, why = nginx.available()
--   if nginx.missing("the spec's title", "what it tests") then return end   -- a failing spec says why
--   local n = nginx.start{ http = "server { listen 127.0.0.1:$PORT; ... }", main = "env X;", ports = 2,
--                          env = { X = "value" } }
--   n.ports[1], n.dir, n:stop()
-- In `http` and `main`, $PORT, $PORT2 ... and $DIR are replaced.
local socket = require "socket"

local M = {}

M.MODULES = { "/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so" }

local function exists(p)
  local f = io.open(p)
  if f then f:close() end
  return f ~= nil
end

local function shell_ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end
M.shell_ok = shell_ok

--- true, or false and why nginx with the lua module cannot run here.
function M.available()
  if not shell_ok("command -v nginx >/dev/null 2>&1") then return false, "nginx is not installed" end
  for _, m in ipairs(M.MODULES) do
    if not exists(m) then return false, m .. " is missing (apt-get install libnginx-mod-http-lua)" end
  end
  return true
end

--- When nginx with the lua module cannot run here, registers a spec named `title` that fails
--  saying so (what: what the file would have tested) and returns true: the spec file then
--  returns. A machine without nginx is told, never passed in silence.
function M.missing(title, what)
  local ok, why = M.available()
  if ok then return false end
  local busted = require "busted" -- describe and it, as the spec files have them
  busted.describe(title, function()
    busted.it("needs nginx with the lua module: " .. why, function()
      error("NOT RUN: " .. why .. " -- install nginx libnginx-mod-http-lua to test " .. what)
    end)
  end)
  return true
end

function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function wait_listening(port)
  for _ = 1, 200 do
    local c = socket.tcp()
    c:settimeout(0.1)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    if ok then return true end
    socket.sleep(0.025)
  end
  return false
end

local Nginx = {}
Nginx.__index = Nginx

function M.start(opts)
  local dir = os.tmpname()
  os.remove(dir)
  assert(shell_ok("mkdir -p " .. dir .. "/logs " .. dir .. "/tmp && chmod 755 " .. dir))
  local ports = {}
  for i = 1, opts.ports or 1 do ports[i] = M.free_port() end
  local function subst(s)
    s = s:gsub("%$DIR", dir)
    for i = #ports, 1, -1 do s = s:gsub("%$PORT" .. (i == 1 and "" or tostring(i)), tostring(ports[i])) end
    return s
  end
  local is_root = io.popen("id -u"):read("*l") == "0"
  local conf = table.concat({
    "load_module " .. M.MODULES[1] .. ";", "load_module " .. M.MODULES[2] .. ";",
    "worker_processes " .. (opts.workers or 1) .. ";", "daemon on;", "pid " .. dir .. "/nginx.pid;",
    "error_log " .. dir .. "/logs/error.log info;", is_root and "user root;" or "",
    subst(opts.main or ""),
    "events { worker_connections 256; }",
    "http {", "  access_log off;",
    ("  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp; fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; "
     .. "scgi_temp_path %s/tmp;"):format(dir, dir, dir, dir, dir),
    subst(opts.http or ""), "}",
  }, "\n")
  local f = assert(io.open(dir .. "/nginx.conf", "w"))
  f:write(conf)
  f:close()
  local n = setmetatable({ dir = dir, ports = ports, port = ports[1] }, Nginx)
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = ("export %s='%s';"):format(k, v) end
  if not shell_ok(("%s nginx -p %s -c %s/nginx.conf > %s/logs/start.log 2>&1"):format(table.concat(env, " "), dir,
                                                                                      dir, dir)) then
    error("nginx did not start:\n" .. n:log("start.log") .. n:log("error.log"))
  end
  if not wait_listening(ports[1]) then error("nginx is not listening:\n" .. n:log("error.log")) end
  return n
end

function Nginx:log(name)
  local f = io.open(self.dir .. "/logs/" .. (name or "error.log"))
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

function Nginx:stop()
  local f = io.open(self.dir .. "/nginx.pid")
  local pid = f and f:read("*n")
  if f then f:close() end
  if pid then
    shell_ok("kill -QUIT " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not shell_ok("kill -0 " .. pid .. " 2>/dev/null") then break end
      socket.sleep(0.02)
    end
  end
  shell_ok("rm -rf " .. self.dir)
end

return M
