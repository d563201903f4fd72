-- The libcurl transport against the real emulator: at most once on the wire, the Host
-- sent is the Host signed, and large answers do not stay pinned in the client.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKCURLTRANSPORT01", "curl-transport-secret", "0123456789abcdef0123456789abcdef"

-- the interpreter running this spec, for child processes (build/<it>/rfs/core.so)
local LUA = rawget(_G, "jit") and "luajit" or "lua" .. _VERSION:match("%d+%.%d+")

describe("the curl transport", function()
  local em

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 1, queue_seconds = 30 }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:seed{ project_id = PROJECT, stack_name = "c-deploy", status = "DEPLOYMENT_FAILED", deploy_seconds = 600 }
  end)

  local function client(opts)
    local o = { endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, timeout = 2, connect_timeout = 2 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  local function posts(suffix)
    local list = {}
    for _, r in ipairs(em:requests()) do
      if r.method == "POST" and r.path:sub(-#suffix) == suffix then list[#list + 1] = r end
    end
    return list
  end

  it("sends a continue at most once when the warm connection drops after it was applied", function()
    local c = client{ retry = false }
    local stack = c:stack("c-deploy")
    assert(stack:metadata()) -- the keep-alive connection is now warm
    em:fault{ match = { method = "POST", path = "/continuations" }, drop = "after", count = 1 }
    local res, err = stack:continue_deploy()
    assert.is_nil(res)
    assert.equal("network", err.kind)
    assert.is_true(err.sent) -- maybe applied: it was
    local sent = posts("/continuations")
    assert.equal(1, #sent, "the continue reached the emulator " .. #sent .. " times")
    assert.equal(err.request_id, sent[1].client_request_id)
    -- reads still share one connection afterwards
    assert(stack:metadata())
    c:close()
  end)

  it("signs the Host it sends, for a mixed-case host name", function()
    local port = em.url:match(":(%d+)$")
    local c = client{ endpoint = "http://LocalHost:" .. port, retry = false }
    assert.equal("http://localhost:" .. port, c.endpoint)
    local meta, err = c:stack("c-deploy"):metadata()
    assert.is_truthy(meta, tostring(err))
    assert.equal("DEPLOYMENT_FAILED", meta.status)
    c:close()
  end)

  it("gives the memory of a large answer back instead of keeping it until close()", function()
    -- in a child whose malloc hands every block over 128 KiB back to the system when it is
    -- freed, so that the process size shows what the client still holds
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local rfs = require "rfs"
local function vm_kib()
  local f = assert(io.open("/proc/self/statm"))
  local pages = f:read("*n")
  f:close()
  return pages * 4
end
local c = rfs.new{ endpoint = arg[1], project_id = arg[2], ak = arg[3], sk = arg[4], retry = false, timeout = 10 }
assert(c:stack("c-deploy"):metadata())
local stack = c:stack("c-big")
collectgarbage()
collectgarbage()
local before = vm_kib()
local res = stack:metadata() -- answered with 12 MiB of padding (not an RFS answer: nil, err)
assert(res == nil)
collectgarbage()
collectgarbage()
print("grown " .. (vm_kib() - before))
assert(c:stack("c-deploy"):metadata())
c:close()
]])
    f:close()
    em:fault{ match = { path = "/c-big/metadata" }, status = 200, body_bytes = 12 * 1024 * 1024, count = 1 }
    local lua = LUA
    -- (and without a preloaded sanitizer runtime, whose allocator keeps freed memory)
    local cmd = ("env -u LD_PRELOAD MALLOC_MMAP_THRESHOLD_=131072 LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' "
                 .. "%s %s %s %s %s %s 2>&1"):format(lua, lua, script, em.url, PROJECT, AK, SK)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    local grown = tonumber(out:match("grown (%-?%d+)"))
    assert.is_truthy(grown, out)
    assert.is_true(grown < 4 * 1024, ("the client still holds %d KiB after the call"):format(grown))
  end)
end)

-- A child lua process running `code` with LUA_PATH/LUA_CPATH for this build; `env` is a
-- prefix of VAR=value assignments. Started in the background: returns its pid and the
-- file its output goes to.
local function spawn(code, env)
  local lua = LUA
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(code)
  f:close()
  local p = assert(io.popen(("%s LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' "
                             .. "%s %s > %s 2>&1 & echo $!"):format(env or "", lua, lua, script, out)))
  local pid = tonumber(p:read("*l"))
  p:close()
  return pid, out, script
end

local function alive(pid)
  local r = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return r == true or r == 0
end

local function read_file(path)
  local f = io.open(path)
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

describe("the curl transport and the process environment", function()
  local socket = require "socket"

  it("ends a request in flight within a second of Ctrl-C, as kind interrupted", function()
    local server = assert(socket.bind("127.0.0.1", 0)) -- accepts connections, never answers
    local _, port = server:getsockname()
    local pid, out, script = spawn(([[
local rfs = require "rfs"
local core = require "rfs.core"
core.watch_signals()
local c = rfs.new{ endpoint = "http://127.0.0.1:%d", project_id = "proj123", ak = "AKSIG", sk = "sksig",
                   timeout = 30, retry = false }
local t0 = core.monotonic()
local res, err = c:stack("s1"):continue_deploy()
print(res, err and err.kind, err and tostring(err.sent), ("%%.1f"):format(core.monotonic() - t0))
print(tostring(err))
]]):format(port))
    socket.sleep(0.3)
    local conn = server:accept() -- the request is in flight
    socket.sleep(0.3)
    os.execute("kill -INT " .. pid)
    local waited = 0
    while alive(pid) and waited < 10 do
      socket.sleep(0.05)
      waited = waited + 0.05
    end
    local text = read_file(out)
    os.remove(out)
    os.remove(script)
    if conn then conn:close() end
    server:close()
    assert.is_false(alive(pid), "the request was still running 10 s after SIGINT")
    local kind, sent, seconds = text:match("^nil\t(%S+)\t(%S+)\t([%d.]+)")
    assert.equal("interrupted", kind, text)
    assert.equal("true", sent) -- the continue went out: it may have been applied
    assert.is_true(tonumber(seconds) < 5, text)
    assert.matches("rfs interrupted error: interrupted by SIGINT", text, 1, true)
  end)

  local function recording_proxy()
    local server = assert(socket.bind("127.0.0.1", 0))
    server:settimeout(0.05)
    local _, port = server:getsockname()
    return server, port
  end

  -- Hands every connection that arrives for up to `seconds` (while the child lives) to
  -- handle(conn, head), head being the request line and header lines; then closes it.
  local function accept_each(server, pid, seconds, handle)
    local waited = 0
    while waited < seconds and alive(pid) do
      local conn = server:accept()
      if conn then
        conn:settimeout(2)
        local head = { conn:receive("*l") }
        repeat
          local h = conn:receive("*l")
          head[#head + 1] = h
        until not h or h == ""
        handle(conn, head)
        conn:close()
      else
        waited = waited + 0.05
      end
    end
  end

  -- Serves what arrives at the proxy for up to `seconds`: the request line of each request.
  local function serve(server, pid, seconds)
    local lines = {}
    accept_each(server, pid, seconds, function(conn, head)
      lines[#lines + 1] = head[1]
      local body = '{"error_code":"PROXY.0001","error_msg":"answered by the proxy"}'
      conn:send("HTTP/1.1 418 I'm a proxy\r\nContent-Type: application/json\r\nContent-Length: " .. #body
                .. "\r\nConnection: close\r\n\r\n" .. body)
    end)
    return lines
  end

  -- Records the head of every request for up to `seconds` and answers it: a GET with a
  -- failed stack's metadata, anything else with a 418.
  local function record_heads(server, pid, seconds)
    local heads = {}
    local meta = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3","stack_name":"s1","status":"DEPLOYMENT_FAILED"}'
    accept_each(server, pid, seconds, function(conn, head)
      heads[#heads + 1] = head
      local length = 0
      for _, h in ipairs(head) do length = tonumber(h:lower():match("^content%-length:%s*(%d+)")) or length end
      if length > 0 then conn:receive(length) end
      local get = head[1] and head[1]:match("^GET ")
      local body = get and meta or '{"error_code":"X.0001","error_msg":"recorded"}'
      conn:send((get and "HTTP/1.1 200 OK" or "HTTP/1.1 418 Teapot")
                .. "\r\nContent-Type: application/json\r\nContent-Length: " .. #body
                .. "\r\nConnection: close\r\n\r\n" .. body)
    end)
    return heads
  end

  local function header_values(head, name)
    local values = {}
    for i = 2, #head do
      local n, v = head[i]:match("^([^:]+):%s*(.-)%s*$")
      if n and n:lower() == name then values[#values + 1] = v end
    end
    return values
  end

  it("sends each header once: the Host it signed, its User-Agent, and never an Expect", function()
    local server = assert(socket.bind("127.0.0.1", 0))
    server:settimeout(0.05)
    local _, port = server:getsockname()
    local pid, out, script = spawn(([[
local rfs = require "rfs"
local c = rfs.new{ endpoint = "http://127.0.0.1:%d", project_id = "proj123", ak = "AKWIRE", sk = "skwire",
                   timeout = 5, retry = false }
local s = c:stack("s1")
print(assert(s:metadata()).status)
print(select(2, s:deploy{ template_body = ("# padding\n"):rep(300) }).kind)
]]):format(port))
    local heads = record_heads(server, pid, 10)
    server:close()
    local text = read_file(out)
    os.remove(out)
    os.remove(script)
    assert.matches("^DEPLOYMENT_FAILED\n", text)
    assert.equal(2, #heads, text)
    assert.matches("^GET /v1/proj123/stacks/s1/metadata HTTP/1%.1$", heads[1][1])
    assert.matches("^POST /v1/proj123/stacks/s1/deployments HTTP/1%.1$", heads[2][1])
    for _, head in ipairs(heads) do
      assert.same({ "127.0.0.1:" .. port }, header_values(head, "host"))
      assert.same({ "lua-rfs/0.1" }, header_values(head, "user-agent"))
      assert.same({}, header_values(head, "expect")) -- the POST's body is over 1 KiB
      assert.equal(1, #header_values(head, "client-request-id"))
      assert.same({ "proj123" }, header_values(head, "x-project-id"))
      local auth = header_values(head, "authorization")
      assert.equal(1, #auth)
      assert.matches("SignedHeaders=client%-request%-id;content%-type;host;x%-project%-id;x%-sdk%-date,", auth[1])
    end
  end)

  local CHILD = [[
local rfs = require "rfs"
local c = rfs.new{ endpoint = "http://127.0.0.1:%d", project_id = "proj123", ak = "AKPROXY", sk = "skproxy",
                   timeout = 5, retry = false }
local res, err = c:stack("s1"):metadata()
print(res and "ok" or (err.kind .. " " .. tostring(err.status) .. " " .. tostring(err.message)))
]]

  it("goes through http_proxy from the environment", function()
    local server, port = recording_proxy()
    local target = E.closed_port()
    local pid, out, script = spawn(CHILD:format(target), "http_proxy=http://127.0.0.1:" .. port .. " no_proxy=")
    local lines = serve(server, pid, 10)
    server:close()
    local text = read_file(out)
    os.remove(out)
    os.remove(script)
    assert.equal(1, #lines, text)
    assert.matches("^GET http://127%.0%.0%.1:" .. target .. "/v1/proj123/stacks/s1/metadata HTTP/1%.1$", lines[1])
    assert.matches("answered by the proxy", text, 1, true)
  end)

  it("goes straight to a host that no_proxy covers", function()
    local server, port = recording_proxy()
    local target = E.closed_port()
    local pid, out, script = spawn(CHILD:format(target),
                                   "http_proxy=http://127.0.0.1:" .. port .. " no_proxy=localhost,127.0.0.1")
    local lines = serve(server, pid, 10)
    server:close()
    local text = read_file(out)
    os.remove(out)
    os.remove(script)
    assert.same({}, lines)
    assert.matches("^network", text) -- nothing listens on the target itself
  end)
end)
