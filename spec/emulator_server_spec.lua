-- bin/rfs-emulator as a process, over loopback with raw sockets.
local socket = require "socket"
local cjson = require "cjson"
local E = require "emulator_process"

local function connect(url)
  local host, port = url:match("^http://([^:/]+):(%d+)")
  local c = assert(socket.connect(host, tonumber(port)))
  c:settimeout(5)
  return c
end

local function read_response(c)
  local line, err = c:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.1 (%d+)"))
  local headers = {}
  while true do
    local h = assert(c:receive("*l"))
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    headers[k:lower()] = v
  end
  local length = tonumber(headers["content-length"] or 0)
  local body = length > 0 and assert(c:receive(length)) or ""
  return status, headers, body
end

local function send_get(c, path, extra)
  assert(c:send("GET " .. path .. " HTTP/1.1\r\nHost: x\r\n" .. (extra or "") .. "\r\n"))
end

describe("rfs-emulator server", function()
  local em

  setup(function()
    em = E.start{ ak = "AKSERVER", sk = "server-secret" }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  it("prints its URL and answers control requests", function()
    assert.matches("^http://127%.0%.0%.1:%d+$", em.url)
    local c = connect(em.url)
    send_get(c, "/_emulator/health")
    local status, headers, body = read_response(c)
    assert.equal(200, status)
    assert.equal("application/json", headers["content-type"])
    assert.is_true(cjson.decode(body).ok)
    c:close()
  end)

  it("keeps a connection alive across requests", function()
    local c = connect(em.url)
    for _ = 1, 5 do
      send_get(c, "/_emulator/health")
      assert.equal(200, (read_response(c)))
    end
    send_get(c, "/_emulator/health", "Connection: close\r\n")
    local _, headers = read_response(c)
    assert.equal("close", headers.connection)
    assert.is_nil((c:receive("*l")))
    c:close()
  end)

  it("answers malformed HTTP with an RFS-shaped 400 and keeps serving", function()
    local c = connect(em.url)
    assert(c:send("THIS IS NOT HTTP\r\n\r\n"))
    local status, _, body = read_response(c)
    assert.equal(400, status)
    assert.equal("AOS.00.0400", cjson.decode(body).error_code)
    c:close()
    c = connect(em.url)
    assert(c:send("POST /v1/p/stacks/s/continuations HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"))
    status, _, body = read_response(c)
    assert.equal(413, status)
    assert.equal("APIG.0201", cjson.decode(body).error_code)
    c:close()
    c = connect(em.url)
    send_get(c, "/_emulator/health")
    assert.equal(200, (read_response(c)))
    c:close()
  end)

  it("serves other connections while a delayed response is held", function()
    em:fault{ match = { path = "/slow" }, status = 503, delay = 1.0 }
    local slow = connect(em.url)
    send_get(slow, "/v1/proj123/stacks/slow/metadata")
    local t0 = socket.gettime()
    local fast = connect(em.url)
    send_get(fast, "/_emulator/health")
    assert.equal(200, (read_response(fast)))
    assert.is_true(socket.gettime() - t0 < 0.5, "a held response stalled another connection")
    assert.equal(503, (read_response(slow)))
    assert.is_true(socket.gettime() - t0 >= 0.9)
    slow:close()
    fast:close()
  end)

  it("drops a connection when told to", function()
    em:fault{ match = { path = "/dropme" }, drop = "before" }
    local c = connect(em.url)
    send_get(c, "/v1/proj123/stacks/dropme/metadata")
    local status, err = read_response(c)
    assert.is_nil(status)
    assert.equal("closed", err)
    c:close()
  end)

  it("exits 0 on SIGTERM and on SIGINT", function()
    assert.equal(0, E.start{ ak = "A", sk = "B" }:stop("TERM"))
    assert.equal(0, E.start{ ak = "A", sk = "B" }:stop("INT"))
  end)
end)
