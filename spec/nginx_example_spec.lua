-- examples/nginx/nginx.conf started exactly as its header says (the command is read from the
-- header itself), against the emulator: its three endpoints answer, and nothing is left in
-- the checkout. Needs nginx with lua-nginx-module and `make LUA=luajit`.
local cjson = require "cjson"
local socket = require "socket"
local E = require "emulator_process"
local nginx = require "nginx"

local AK, SK, PROJECT = "AKNGINXEXAMPLE001", "nginx-example-secret-0001", "0123456789abcdef0123456789abcdef"
local CONF = "examples/nginx/nginx.conf"
local PORT = 8080 -- the shipped config's

local function header_command()
  for line in io.lines(CONF) do
    local cmd = line:match("^#%s+(nginx .*)$")
    if cmd then return cmd end
  end
end

local function port_free()
  local c = socket.tcp()
  c:settimeout(0.2)
  local connected = c:connect("127.0.0.1", PORT)
  c:close()
  return not connected
end

local function http(method, path)
  local c = assert(socket.tcp())
  c:settimeout(5)
  assert(c:connect("127.0.0.1", PORT))
  c:send(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"):format(method, path))
  local response = c:receive("*a")
  c:close()
  local status = tonumber(response:match("^HTTP/1%.%d (%d+)"))
  local body = response:match("\r\n\r\n(.*)$")
  -- lua-nginx-module answers ngx.say with a chunked body
  if response:lower():find("transfer%-encoding: chunked") then
    local out, rest = {}, body
    while true do
      local size, after = rest:match("^(%x+)\r\n(.*)$")
      if not size or tonumber(size, 16) == 0 then break end
      out[#out + 1] = after:sub(1, tonumber(size, 16))
      rest = after:sub(tonumber(size, 16) + 3)
    end
    body = table.concat(out)
  end
  return status, body
end

local function checkout_clean()
  -- every file there that git does not track, ignored ones included
  local p = io.popen("git ls-files --others examples/nginx 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

describe("examples/nginx/nginx.conf, started as its header says", function()
  local em, pid, log

  setup(function()
    local ok, why = nginx.available()
    assert(ok, tostring(why) .. " (apt-get install nginx libnginx-mod-http-lua)")
    assert(io.open("build/luajit/rfs/core.so"), "build the module for nginx's LuaJIT first: make LUA=luajit")
    for _ = 1, 100 do -- another run of this spec may hold the port for a moment
      if port_free() then break end
      socket.sleep(0.2)
    end
    assert(port_free(), "127.0.0.1:8080, the example's port, is taken")
    em = E.start{ ak = AK, sk = SK, time_scale = 50 }
    local cmd = assert(header_command(), "no nginx command in the header of " .. CONF)
    log = os.tmpname()
    -- as a user types it in the checkout, with the variables the header names exported
    local p = io.popen(("export HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s "
                        .. "RFS_ENDPOINT=%s; sh -c 'echo $$; exec %s' > %s 2>&1 & echo $!")
                       :format(AK, SK, PROJECT, em.url, cmd:gsub("'", "'\\''"), log))
    pid = tonumber(p:read("*l"))
    p:close()
    for _ = 1, 100 do
      if not port_free() then break end
      socket.sleep(0.05)
    end
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    for _ = 1, 100 do
      if port_free() then break end
      socket.sleep(0.05)
    end
    if em then em:stop() end
    if log then os.remove(log) end
  end)

  local function nginx_log()
    local f = io.open(log)
    local s = f and f:read("*a") or ""
    if f then f:close() end
    return s
  end

  it("serves the metadata, runs a continue in a timer job and reports it", function()
    assert.is_false(port_free(), "nginx did not start: " .. nginx_log())
    em:seed{ project_id = PROJECT, stack_name = "ngx-example", status = "DEPLOYMENT_FAILED", deploy_seconds = 30 }
    local status, body = http("GET", "/stacks/ngx-example/metadata")
    assert.equal(200, status, body)
    assert.equal("DEPLOYMENT_FAILED", cjson.decode(body).status)
    status, body = http("POST", "/stacks/ngx-example/continue-deploy")
    assert.equal(202, status, body)
    local dep = cjson.decode(body)
    local job
    for _ = 1, 100 do
      local _, jbody = http("GET", "/stacks/ngx-example/job")
      job = cjson.decode(jbody)
      if job.state == "done" then break end
      socket.sleep(0.1)
    end
    assert.equal("done", job.state)
    assert.is_true(job.ok)
    assert.equal(dep.deployment_id, job.deployment_id)
  end)

  it("leaves no pid file or temp directory in the checkout", function()
    assert.equal("", checkout_clean())
  end)
end)
