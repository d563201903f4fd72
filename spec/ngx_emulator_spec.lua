-- The emulator served by nginx (rfs.emulator.ngx) and driven by the real C client:
-- the same behaviour as bin/rfs-emulator, through nginx's HTTP.
local cjson = require "cjson"
local rfs = require "rfs"
local nginx = require "nginx"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKNGXEMULATOR0001", "ngx-emulator-secret", "0123456789abcdef0123456789abcdef"
local ROOT = io.popen("pwd"):read("*l")

if nginx.missing("the emulator inside nginx", "rfs.emulator.ngx") then return end

describe("the emulator inside nginx", function()
  local server, url

  setup(function()
    server = nginx.start{
      http = ([[
        lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";
        lua_package_cpath "%s/build/luajit/?.so;;";
        init_worker_by_lua_block {
          require("rfs.emulator.ngx").init{ ak = "%s", sk = "%s", time_scale = 60, queue_seconds = 2 }
        }
        server {
          listen 127.0.0.1:$PORT;
          client_max_body_size 2m;
          location / { content_by_lua_block { require("rfs.emulator.ngx").serve() } }
          # the API with bodies kept in memory; the control endpoints above spill to a file
          location /v1/ {
            client_body_buffer_size 2m;
            content_by_lua_block { require("rfs.emulator.ngx").serve() }
          }
        }
      ]]):format(ROOT, ROOT, ROOT, AK, SK),
    }
    url = "http://127.0.0.1:" .. server.port
  end)

  teardown(function()
    if server then server:stop() end
  end)

  local function control(path, body)
    local status, data = E.request(url .. path, body and "POST" or "GET", body and cjson.encode(body))
    return status, cjson.decode(data)
  end

  local function client(opts)
    local o = { endpoint = url, project_id = PROJECT, ak = AK, sk = SK, timeout = 5,
                retry = { attempts = 3, base = 0.01, cap = 0.02 } }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  before_each(function()
    assert.equal(200, (control("/_emulator/reset", {})))
  end)

  it("seeds, reads metadata and recovers a stack through the C client", function()
    local status, seeded = control("/_emulator/stacks", { project_id = PROJECT, stack_name = "ngx-em",
                                                          status = "DEPLOYMENT_FAILED", deploy_seconds = 30 })
    assert.equal(201, status)
    local stack = client():stack("ngx-em")
    local meta = assert(stack:metadata())
    assert.equal(seeded.stack_id, meta.stack_id)
    assert.equal("DEPLOYMENT_FAILED", meta.status)
    local dep = assert(stack:continue_deploy())
    local res = assert(stack:wait{ timeout = 20, interval = 0.1, max_interval = 0.2 })
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.equal(dep.deployment_id, res.deployment_id)
    local events = assert(stack:events{ deployment_id = dep.deployment_id })
    assert.is_true(#events > 0)
  end)

  it("checks signatures and states as the luasocket server does", function()
    control("/_emulator/stacks", { project_id = PROJECT, stack_name = "ngx-em", status = "DEPLOYMENT_COMPLETE" })
    local _, err = client{ sk = "not-the-secret" }:stack("ngx-em"):metadata()
    assert.equal("auth", err.kind)
    assert.equal(401, err.status)
    _, err = client():stack("ngx-em"):continue_deploy()
    assert.equal("invalid_state", err.kind)
    _, err = client():stack("nobody"):metadata()
    assert.equal("not_found", err.kind)
  end)

  it("injects faults: throttling, a dropped connection, a truncated body, a slow answer", function()
    control("/_emulator/stacks", { project_id = PROJECT, stack_name = "ngx-em", status = "DEPLOYMENT_COMPLETE" })
    control("/_emulator/faults", { match = { path = "/metadata" }, status = 429, retry_after = 0 })
    assert(client():stack("ngx-em"):metadata()) -- retried once
    local _, log = control("/_emulator/requests")
    assert.same({ 429, 200 }, { log.requests[1].status, log.requests[2].status })

    local no_retry = client{ retry = false, timeout = 0.5 }
    control("/_emulator/faults", { drop = "before" })
    local _, err = no_retry:stack("ngx-em"):metadata()
    assert.equal("network", err.kind)
    control("/_emulator/faults", { status = 200, body = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"}',
                                   truncate = true })
    _, err = no_retry:stack("ngx-em"):metadata()
    assert.equal("network", err.kind)
    control("/_emulator/faults", { delay = 1.5, status = 200, body = "{}" })
    _, err = no_retry:stack("ngx-em"):metadata()
    assert.equal("timeout", err.kind)
    assert(no_retry:stack("ngx-em"):metadata()) -- and it keeps serving
  end)

  it("keeps one connection alive across calls, as its request log shows", function()
    control("/_emulator/stacks", { project_id = PROJECT, stack_name = "ngx-em", status = "DEPLOYMENT_COMPLETE" })
    local stack = client():stack("ngx-em")
    for _ = 1, 5 do assert(stack:metadata()) end
    local _, log = control("/_emulator/requests")
    local conns = {}
    for _, r in ipairs(log.requests) do conns[r.connection] = true end
    local n = 0
    for _ in pairs(conns) do n = n + 1 end
    assert.equal(5, #log.requests)
    assert.equal(1, n)
  end)

  it("refuses poisoned control bodies and form posts as the luasocket server does", function()
    control("/_emulator/stacks", { project_id = PROJECT, stack_name = "ngx-em", status = "DEPLOYMENT_COMPLETE" })
    for _, body in ipairs({ '{"match": {"path": {}}}', '{"status": 200.5}', '{"body_bytes": 1e13}', '{"count": -1}' }) do
      local status, data = E.request(url .. "/_emulator/faults", "POST", body)
      assert.equal(400, status, body)
      assert.matches("^fault: ", cjson.decode(data).error_msg)
    end
    local status = E.request(url .. "/_emulator/stacks", "POST", '{"stack_name": "ngx-em", "deploy_seconds": NaN}')
    assert.equal(400, status)
    local socket = require "socket"
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(5)
    local form = "project_id=" .. PROJECT .. "&stack_name=ngx-form"
    assert(c:send("POST /_emulator/stacks HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  .. "Content-Length: " .. #form .. "\r\nConnection: close\r\n\r\n" .. form))
    assert.matches("^HTTP/1%.1 415", c:receive("*l"))
    c:close()
    assert(client():stack("ngx-em"):metadata()) -- nothing poisoned: it keeps serving
  end)

  it("answers a body over 1 MiB with an RFS-shaped 413, in memory or in a file, and keeps serving", function()
    local big = ("x"):rep(1024 * 1024 + 10)
    for _, path in ipairs({ "/v1/" .. PROJECT .. "/stacks/ngx-em/continuations", "/_emulator/stacks" }) do
      local status, data = E.request(url .. path, "POST", big)
      assert.equal(413, status, path)
      assert.equal("APIG.0201", cjson.decode(data).error_code)
    end
    assert.equal(200, (control("/_emulator/health")))
  end)
end)
