-- lua-rfs inside a real nginx with lua-nginx-module, against the emulator: the cosocket
-- transport, a worker that keeps answering during a wait, keep-alive, TLS, phases.
local socket = require "socket"
local cjson = require "cjson"
local nginx = require "nginx"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKNGINXSPEC000001", "nginx-spec-secret", "0123456789abcdef0123456789abcdef"
local ROOT = io.popen("pwd"):read("*l")

local function get(port, path, method)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(20)
  -- HTTP/1.0: nginx answers with a plain body up to the close, never chunked
  assert(c:send(("%s %s HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n"):format(method or "GET", path)))
  local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.%d (%d+)"))
  repeat local line = assert(c:receive("*l")) until line == ""
  local body = c:receive("*a")
  c:close()
  return status, body
end

if nginx.missing("OpenResty (nginx + lua-nginx-module)", "the OpenResty transport") then return end

describe("inside nginx", function()
  local em, ngx_server, certs

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 30 }
    certs = os.tmpname()
    os.remove(certs)
    assert(nginx.shell_ok(("mkdir -p %s && cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      .. "-nodes -keyout srv.key -out srv.pem -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1 && chmod -R a+rX %s")
      :format(certs, certs, certs)))
    local lua_path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/examples/nginx/?.lua;;"):format(ROOT, ROOT, ROOT)
    ngx_server = nginx.start{
      ports = 2,
      env = { HUAWEICLOUD_SDK_AK = AK, HUAWEICLOUD_SDK_SK = SK, HUAWEICLOUD_SDK_PROJECT_ID = PROJECT,
              RFS_ENDPOINT = em.url },
      main = "env HUAWEICLOUD_SDK_AK; env HUAWEICLOUD_SDK_SK; env HUAWEICLOUD_SDK_PROJECT_ID; env RFS_ENDPOINT;",
      http = ([[
        lua_package_path "%s";
        lua_package_cpath "%s/build/luajit/?.so;;";
        lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
        lua_shared_dict rfs_jobs 1m;
        lua_shared_dict rfs_spec 1m;
        init_worker_by_lua_block {
          local rfs = require "rfs"
          local client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
          local ok, err = pcall(function() return client:stack("s"):metadata() end)
          ngx.shared.rfs_spec:set("init_worker", ok and "no error" or tostring(err))
        }
        server {
          listen 127.0.0.1:$PORT;
          location = /ping { content_by_lua_block { ngx.say("pong") } }
          location /stacks/ {
            content_by_lua_block { require("rfs_handler").route{ interval = 0.2, max_interval = 0.5 } }
          }
          location = /recover {
            content_by_lua_block {
              local rfs, cjson = require "rfs", require "cjson"
              local s = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }:stack(ngx.var.arg_stack)
              assert(s:continue_deploy())
              local res, err = s:wait{ interval = 0.2, max_interval = 0.5 }
              ngx.say(cjson.encode(res and { ok = res.ok, status = res.status, polls = res.polls }
                                   or { error = err.kind, message = err.message }))
            }
          }
          location = /many {
            content_by_lua_block {
              local rfs = require "rfs"
              local s = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT"), retry = false }:stack(ngx.var.arg_stack)
              local n = 0
              for _ = 1, tonumber(ngx.var.arg_n) do if s:metadata() then n = n + 1 end end
              ngx.say(n)
            }
          }
          location = /tls {
            content_by_lua_block {
              local rfs = require "rfs"
              local c = rfs.new{ endpoint = "https://127.0.0.1:$PORT2", retry = false }
              local _, err = c:stack("s"):metadata()
              ngx.say(err and (err.kind .. " " .. err.message) or "no error")
            }
          }
          location = /phase { content_by_lua_block { ngx.say(ngx.shared.rfs_spec:get("init_worker")) } }
          # this server as an odd upstream: header blocks the transport must bound or join
          location ~ ^/v1/[^/]+/stacks/odd-(small|large)/metadata$ {
            content_by_lua_block {
              local size = ngx.var[1] == "large" and 80000 or 8000
              for i = 1, math.ceil(size / 4000) do ngx.header["X-Filler-" .. i] = string.rep("f", 4000) end
              ngx.header["X-Twice"] = { "a", "b" }
              ngx.print('{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3","stack_name":"odd-' .. ngx.var[1]
                        .. '","status":"DEPLOYMENT_COMPLETE"}')
            }
          }
          location ~ ^/v1/[^/]+/stacks/huge-(length|chunked)/metadata$ {
            content_by_lua_block {
              local piece = string.rep("x", 1024 * 1024)
              if ngx.var[1] == "length" then ngx.header["Content-Length"] = 17 * #piece end
              for _ = 1, 17 do ngx.print(piece) ngx.flush(true) end
            }
          }
          location = /odd {
            content_by_lua_block {
              local rfs = require "rfs"
              local c = rfs.new{ endpoint = "http://127.0.0.1:$PORT", retry = false, timeout = 5 }
              local meta, err = c:stack(ngx.var.arg_stack):metadata()
              ngx.say(meta and meta.status or (err.kind .. " " .. err.message))
            }
          }
        }
        server {
          listen 127.0.0.1:$PORT2 ssl;
          ssl_certificate %s/srv.pem;
          ssl_certificate_key %s/srv.key;
          location / { default_type application/json; return 200 '{}'; }
        }
      ]]):format(lua_path, ROOT, certs, certs),
    }
  end)

  teardown(function()
    if ngx_server then ngx_server:stop() end
    if em then em:stop() end
    if certs then nginx.shell_ok("rm -rf " .. certs) end
  end)

  local function seed(t)
    t.project_id = PROJECT
    return em:seed(t)
  end

  it("picks the cosocket transport and reads metadata through it", function()
    local seeded = seed{ stack_name = "ngx-meta", status = "DEPLOYMENT_FAILED" }
    local status, body = get(ngx_server.port, "/stacks/ngx-meta/metadata")
    assert.equal(200, status, body)
    local meta = cjson.decode(body)
    assert.equal("ngx-meta", meta.stack_name)
    assert.equal(seeded.stack_id, meta.stack_id)
    assert.equal("DEPLOYMENT_FAILED", meta.status)
  end)

  it("returns the library's errors as JSON", function()
    local status, body = get(ngx_server.port, "/stacks/nobody/metadata")
    assert.equal(404, status)
    assert.equal("not_found", cjson.decode(body).error)
    status, body = get(ngx_server.port, "/stacks/1-bad/metadata")
    assert.equal(400, status)
    assert.matches("invalid stack name", cjson.decode(body).message)
  end)

  it("continues and waits inside a request", function()
    seed{ stack_name = "ngx-recover", status = "DEPLOYMENT_FAILED", deploy_seconds = 30 }
    local status, body = get(ngx_server.port, "/recover?stack=ngx-recover")
    assert.equal(200, status, body)
    local res = cjson.decode(body)
    assert.is_true(res.ok, body)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
  end)

  it("keeps the worker answering other requests within 100 ms while a wait is in progress", function()
    seed{ stack_name = "ngx-busy", status = "DEPLOYMENT_FAILED", deploy_seconds = 60 } -- 2 s real
    local waiting = assert(socket.connect("127.0.0.1", ngx_server.port))
    waiting:settimeout(20)
    assert(waiting:send("GET /recover?stack=ngx-busy HTTP/1.0\r\nHost: x\r\n\r\n"))
    socket.sleep(0.2)
    local worst, pings = 0, 0
    local t_end = socket.gettime() + 1.2
    while socket.gettime() < t_end do
      local t0 = socket.gettime()
      local status, body = get(ngx_server.port, "/ping")
      local dt = socket.gettime() - t0
      assert.equal(200, status)
      assert.equal("pong\n", body)
      worst, pings = math.max(worst, dt), pings + 1
      socket.sleep(0.05)
    end
    local answer = waiting:receive("*a")
    waiting:close()
    assert.matches('"ok":true', answer)
    assert.is_true(pings >= 10)
    assert.is_true(worst < 0.1, ("a ping took %.0f ms during the wait"):format(worst * 1000))
  end)

  it("reuses one keep-alive connection for consecutive calls", function()
    seed{ stack_name = "ngx-keep", status = "DEPLOYMENT_COMPLETE" }
    local before = #em:requests()
    local status, body = get(ngx_server.port, "/many?stack=ngx-keep&n=20")
    assert.equal(200, status)
    assert.equal("20\n", body)
    local log, conns = em:requests(), {}
    local n = 0
    for i = before + 1, #log do
      conns[log[i].connection] = true
      n = n + 1
    end
    local distinct = 0
    for _ in pairs(conns) do distinct = distinct + 1 end
    assert.equal(20, n)
    assert.equal(1, distinct)
  end)

  it("reads a header block up to 64 KiB and refuses a larger one with an error", function()
    local status, body = get(ngx_server.port, "/odd?stack=odd-small")
    assert.equal(200, status)
    assert.equal("DEPLOYMENT_COMPLETE\n", body)
    status, body = get(ngx_server.port, "/odd?stack=odd-large")
    assert.equal(200, status)
    assert.matches("^network .*response headers larger than 64 KiB", body)
  end)

  it("cuts off a response body over 16 MiB with an error, sized or chunked", function()
    for _, name in ipairs({ "huge-length", "huge-chunked" }) do
      local status, body = get(ngx_server.port, "/odd?stack=" .. name)
      assert.equal(200, status)
      assert.matches("^decode .*16 MiB", body, nil, false)
    end
  end)

  it("runs the wait in an ngx.timer background job (examples/nginx)", function()
    seed{ stack_name = "ngx-job", status = "DEPLOYMENT_FAILED", deploy_seconds = 30 }
    local status, body = get(ngx_server.port, "/stacks/ngx-job/continue-deploy", "POST")
    assert.equal(202, status, body)
    local dep = cjson.decode(body)
    assert.is_string(dep.deployment_id)
    local job
    for _ = 1, 100 do
      local _, jbody = get(ngx_server.port, "/stacks/ngx-job/job")
      job = cjson.decode(jbody)
      if job.state == "done" then break end
      socket.sleep(0.1)
    end
    assert.equal("done", job.state)
    assert.is_true(job.ok)
    assert.equal(dep.deployment_id, job.deployment_id)
  end)

  it("verifies TLS and reports a failed verification as kind tls", function()
    local status, body = get(ngx_server.port, "/tls")
    assert.equal(200, status)
    assert.matches("^tls ", body)
  end)

  it("says clearly that requests cannot be made where cosockets are disabled", function()
    local _, body = get(ngx_server.port, "/phase")
    assert.matches("cannot make requests in nginx's init_worker phase", body)
    assert.matches("content_by_lua", body)
  end)
end)
