-- rfs.transport.ngx against a hostile HTTP/1.1 server, inside a real nginx: the cosocket
-- transport must answer like libcurl would (a response, or nil, kind, message, maybe_applied)
-- whatever bytes come back, within the call's timeout, and never raise.
local socket = require "socket"
local cjson = require "cjson"
local nginx = require "nginx"

local ROOT = io.popen("pwd"):read("*l")

local function can_listen_on_ipv6_loopback()
  local s = socket.tcp6 and socket.tcp6()
  if not s then return false end
  local ok = s:bind("::1", 0)
  s:close()
  return ok == 1 or ok == true
end

if nginx.missing("rfs.transport.ngx against a hostile server", "the OpenResty transport") then return end

describe("rfs.transport.ngx against a hostile server", function()
  local server
  local ipv6 = can_listen_on_ipv6_loopback()

  setup(function()
    server = nginx.start{
      ports = 3, -- $PORT2 and $PORT3: one each for the two dropped-connection specs, whose pools they own
      http = ([[
        lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/support/?.lua;;";
        lua_package_cpath "%s/build/luajit/?.so;;";
        lua_shared_dict hostile 1m;
        server {
          listen 127.0.0.1:$PORT;
          listen 127.0.0.1:$PORT2;
          listen 127.0.0.1:$PORT3;
          %s
          location /raw/ { content_by_lua_block { require("hostile_http").serve() } }
          location = /call { content_by_lua_block { require("hostile_http").call() } }
          location = /seen { content_by_lua_block { ngx.say(require("hostile_http").seen(ngx.var.arg_scenario)) } }
        }
      ]]):format(ROOT, ROOT, ROOT, ROOT, ipv6 and "listen [::1]:$PORT;" or ""),
    }
  end)

  teardown(function()
    if server then server:stop() end
  end)

  local function get(path)
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(30)
    assert(c:send(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n"):format(path)))
    local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.%d (%d+)"))
    repeat local line = assert(c:receive("*l")) until line == ""
    local body = c:receive("*a")
    c:close()
    assert.equal(200, status, body)
    return body
  end

  -- the outcomes of n calls of the transport to /raw/<scenario>
  local function call(scenario, opts)
    opts = opts or {}
    local q = ("/call?scenario=%s&method=%s&n=%d&timeout=%s"):format(scenario, opts.method or "GET", opts.n or 1,
                                                                   opts.timeout or 2)
    if opts.base then q = q .. "&base=" .. opts.base end
    return cjson.decode(get(q))
  end

  local function seen(scenario)
    return tonumber(get("/seen?scenario=" .. scenario))
  end

  local function assert_error(out, kind, pattern)
    assert.is_nil(out.raised, out.raised)
    assert.is_nil(out.status, "expected an error, got HTTP " .. tostring(out.status))
    assert.equal(kind, out.kind, out.message)
    if pattern then assert.matches(pattern, out.message) end
  end

  describe("bounds the whole call by req.timeout", function()
    it("when the body trickles in a byte at a time", function()
      assert_error(call("trickle-body", { timeout = 0.5 })[1], "timeout")
    end)

    it("when the header block trickles in a byte at a time", function()
      assert_error(call("trickle-head", { timeout = 0.5 })[1], "timeout")
    end)
  end)

  describe("answers a body it cannot frame with a decode error", function()
    for _, scenario in ipairs({ "cl-negative", "cl-abc", "cl-two", "cl-huge" }) do
      it("Content-Length (" .. scenario .. ")", function()
        assert_error(call(scenario)[1], "decode", "Content%-Length")
      end)
    end
    for _, scenario in ipairs({ "chunk-zz", "chunk-negative", "chunk-huge" }) do
      it("chunk size (" .. scenario .. ")", function()
        assert_error(call(scenario)[1], "decode", "chunk")
      end)
    end

    it("but takes the same Content-Length given twice, and chunks with extensions and trailers", function()
      local out = call("cl-same-twice")[1]
      assert.equal(200, out.status)
      assert.equal("hello", out.body)
      out = call("chunk-ok")[1]
      assert.equal(200, out.status)
      assert.equal("hello!", out.body)
    end)
  end)

  it("skips 1xx interim responses and returns the final one", function()
    local out = call("interim")[1]
    assert.equal(200, out.status, out.message or out.raised)
    assert.equal("final", out.body)
    assert.equal("yes", out.headers["x-final"])
    assert.is_nil(out.headers.link)
  end)

  describe("does not wait for a body that cannot come", function()
    it("after 204 and 304", function()
      local out = call("no-content")[1]
      assert.equal(204, out.status, out.message)
      assert.equal("", out.body)
      assert.equal("yes", out.headers["x-empty"])
      out = call("not-modified")[1]
      assert.equal(304, out.status, out.message)
      assert.equal("", out.body)
    end)

    it("after any answer to HEAD", function()
      local out = call("head-no-length", { method = "HEAD" })[1]
      assert.equal(200, out.status, out.message)
      assert.equal("", out.body)
    end)
  end)

  it("accepts header lines ended by a bare LF, as curl does", function()
    local out = call("bare-lf")[1]
    assert.equal(200, out.status, out.message)
    assert.equal("hello", out.body)
    assert.equal("lf", out.headers["x-bare"])
  end)

  it("ends the header block at the first blank line, LF or CR LF, however the bytes arrive", function()
    local out = call("mixed-lf")[1]
    assert.equal(200, out.status, out.message)
    assert.equal("ab\r\n\r\ncd", out.body)
    assert.equal("yes", out.headers["x-mixed"])
    out = call("trickle-bare-lf", { timeout = 10 })[1]
    assert.equal(200, out.status, out.message)
    assert.equal("ok", out.body)
    assert.equal("lf", out.headers["x-slow"])
  end)

  describe("reads a body with no length up to the close", function()
    it("and returns it", function()
      local out = call("to-close")[1]
      assert.equal(200, out.status, out.message)
      assert.equal("read until the server closes", out.body)
    end)

    it("but not past 16 MiB", function()
      assert_error(call("to-close-huge", { timeout = 10 })[1], "decode", "16 MiB")
    end)
  end)

  describe("a kept-alive connection the server has dropped", function()
    it("is replaced by a fresh one for a GET", function()
      local before = seen("stale")
      local outs = call("stale", { n = 3, base = "http://127.0.0.1:" .. server.ports[2] })
      for i = 1, 3 do
        assert.equal(200, outs[i].status, outs[i].message)
        assert.equal("fresh", outs[i].body)
      end
      -- calls 2 and 3 each reached a dropped connection first, then a fresh one
      assert.equal(before + 5, seen("stale"))
    end)

    it("is not re-sent for a POST, which may have been applied", function()
      local before = seen("stale")
      local outs = call("stale", { method = "POST", n = 2, base = "http://127.0.0.1:" .. server.ports[3] })
      assert.equal(200, outs[1].status, outs[1].message)
      assert_error(outs[2], "network")
      assert.is_true(outs[2].maybe_applied)
      assert.equal(before + 2, seen("stale"))
    end)
  end)

  it("sends each call its own request line and fields, whatever the call before it sent", function()
    -- calls 1, 2, 4, 5 reach echo-request and 3, 6 echo-host: the same URL twice, then another, then back
    local outs = call("echo-request,echo-request,echo-host", { n = 6 })
    for i, o in ipairs(outs) do assert.equal(200, o.status, i .. ": " .. tostring(o.message or o.raised)) end
    assert.equal("GET /raw/echo-request HTTP/1.1\nx-call: 1\nx-odd: yes", outs[1].body)
    assert.equal("GET /raw/echo-request HTTP/1.1\nx-call: 2", outs[2].body)
    assert.equal("127.0.0.1:" .. server.port .. " 127.0.0.1", outs[3].body)
    assert.equal("GET /raw/echo-request HTTP/1.1\nx-call: 4", outs[4].body)
    assert.equal("GET /raw/echo-request HTTP/1.1\nx-call: 5\nx-odd: yes", outs[5].body)
    assert.equal("127.0.0.1:" .. server.port .. " 127.0.0.1", outs[6].body)
  end)

  describe("says exactly whether the request may have been applied", function()
    it("false when the connection was refused", function()
      local port = nginx.free_port()
      local out = call("drop", { method = "POST", base = "http://127.0.0.1:" .. port })[1]
      assert_error(out, "network", "connect")
      assert.is_false(out.maybe_applied)
    end)

    it("true when the request went out and the server closed without an answer", function()
      local out = call("drop", { method = "POST" })[1]
      assert_error(out, "network")
      assert.is_true(out.maybe_applied)
    end)
  end)

  it("never raises, whatever the server sends", function()
    for _, scenario in ipairs({ "garbage", "bad-status", "empty", "cut-head", "cut-body", "cut-chunk", "switching",
                                "cl-negative", "cl-huge", "chunk-huge", "chunk-negative" }) do
      for _, method in ipairs({ "GET", "POST" }) do
        local out = call(scenario, { method = method })[1]
        assert.is_nil(out.raised, scenario .. ": " .. tostring(out.raised))
        assert.is_nil(out.status, scenario .. " gave HTTP " .. tostring(out.status))
        assert.is_string(out.kind, scenario)
        assert.is_string(out.message, scenario)
        assert.is_boolean(out.maybe_applied, scenario)
      end
    end
  end)

  describe("an IPv6 literal endpoint", function()
    it("splits into host, port and path", function()
      local parse_url = require("rfs.transport.ngx").parse_url
      local scheme, host, port, path = parse_url("http://[::1]:8080/v1/x?y=1")
      assert.same({ "http", "::1", 8080, "/v1/x?y=1" }, { scheme, host, port, path })
      scheme, host, port, path = parse_url("https://[fe80::1]")
      assert.same({ "https", "fe80::1", 443, "/" }, { scheme, host, port, path })
    end)

    if ipv6 then
      it("connects to ::1 and keeps the brackets in the Host header", function()
        local base = "http://[::1]:" .. server.port
        local out = call("echo-host", { base = base })[1]
        assert.equal(200, out.status, out.message or out.raised)
        assert.equal("[::1]:" .. server.port .. " ::1", out.body)
      end)
    else
      pending("connects to ::1 (this machine cannot listen on ::1)")
    end
  end)
end)
