-- TLS through the libcurl transport: verification on by default, ca_file, verify_tls = false.
-- A CA and a server certificate are made with the openssl CLI at test time and served by
-- `openssl s_server` on loopback.
local socket = require "socket"
local rfs = require "rfs"

local function sh(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  return ok == true or ok == 0
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function wait_listening(port)
  for _ = 1, 100 do
    local c = socket.tcp()
    c:settimeout(0.1)
    if c:connect("127.0.0.1", port) then c:close() return true end
    c:close()
    socket.sleep(0.05)
  end
  return false
end

describe("TLS with the curl transport", function()
  local dir, port, pidfile

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(sh("mkdir -p " .. dir))
    local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    assert(sh(("cd %s && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=lua-rfs-test-ca"):format(dir, ec)))
    assert(sh(("cd %s && openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1"):format(dir, ec)))
    assert(sh(("cd %s && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
               .. "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
               .. "-extfile ext.cnf"):format(dir)))
    port = free_port()
    pidfile = dir .. "/server.pid"
    assert(sh(("cd %s && (openssl s_server -accept 127.0.0.1:%d -cert srv.pem -key srv.key -www -quiet "
               .. "</dev/null >server.log 2>&1 & echo $! > %s)"):format(dir, port, pidfile)))
    assert(wait_listening(port), "openssl s_server did not start")
  end)

  teardown(function()
    if pidfile then sh("kill $(cat " .. pidfile .. ")") end
    if dir then sh("rm -rf " .. dir) end
  end)

  local function client(opts)
    local o = { endpoint = "https://127.0.0.1:" .. port, project_id = "proj123", ak = "AKTEST", sk = "secret",
                retry = false, timeout = 5 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  it("refuses a server whose certificate no trusted CA signed, as kind tls", function()
    local none, err = client():stack("my-stack"):metadata()
    assert.is_nil(none)
    assert.equal("tls", err.kind)
    assert.is_false(err.retryable)
    assert.matches("certificate", tostring(err))
  end)

  it("trusts the server with ca_file (the TLS handshake passes; the page is not RFS JSON)", function()
    local none, err = client{ ca_file = dir .. "/ca.pem" }:stack("my-stack"):metadata()
    assert.is_nil(none)
    assert.equal("decode", err.kind)
    assert.equal(200, err.status)
  end)

  it("skips verification with verify_tls = false (unsafe, for test rigs)", function()
    local _, err = client{ verify_tls = false }:stack("my-stack"):metadata()
    assert.equal("decode", err.kind)
  end)

  it("fails cleanly with a missing ca_file", function()
    local _, err = client{ ca_file = dir .. "/nope.pem" }:stack("my-stack"):metadata()
    assert.equal("tls", err.kind)
  end)
end)
