-- The client, Stack operations and error model, over a scripted transport.
local rfs = require "rfs"
local core = require "rfs.core"
local cjson = require "cjson"
local fake = require "fake_transport"

local UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local function header(req, name)
  for k, v in pairs(req.headers) do
    if k:lower() == name:lower() then return v end
  end
end

describe("rfs.new", function()
  it("refuses unknown options and wrong types, naming the option", function()
    assert.has_error(function() fake.client(fake.new(), { regoin = "cn-north-4" }) end,
                     "rfs.new: unknown option 'regoin'; did you mean 'region'?")
    -- a misspelt key is answered with the one it was meant to be, as the command line does
    assert.error_matches(function() rfs.new{ akk = "AK", sk = "SK" } end, "unknown option 'akk'; did you mean 'ak'%?")
    assert.has_error(function() fake.client(fake.new(), { zzzzzzzz = 1 }) end, "rfs.new: unknown option 'zzzzzzzz'")
    assert.error_matches(function() fake.client(fake.new(), { timeout = "30" }) end, "option 'timeout' must be a number")
    assert.error_matches(function() rfs.new("cn-north-4") end, "expected a table of options")
    -- a misused retry policy is blamed on the caller's line, as every other option is
    local ok, err = pcall(function()
      local c = rfs.new{ endpoint = "https://rfs.test.example", project_id = "proj123", ak = "A", sk = "B",
                         retry = { attempt = 3 } }
      return c
    end)
    assert.is_false(ok)
    assert.matches("^spec/client_spec%.lua:%d+: rfs: retry: unknown option 'attempt'$", err)
  end)

  it("says what to set when a key pair is half given or no project can be found", function()
    local credentials = require "rfs.credentials"
    local function noenv() return nil end
    assert.error_matches(function() credentials.resolve({ ak = "a" }, noenv) end, "has ak but not sk")
    assert.error_matches(function() fake.client(fake.new(), { project_id = false }) end, "project_id")
    assert.error_matches(function()
      rfs.new{ endpoint = "https://rfs.test.example", ak = "a1234", sk = "b" }
    end, "HUAWEICLOUD_SDK_PROJECT_ID")
    local env = { HUAWEICLOUD_SDK_AK = "envak", HUAWEICLOUD_SDK_SK = "envsk", HUAWEICLOUD_SDK_PROJECT_ID = "p123",
                  HUAWEICLOUD_SDK_REGION = "cn-east-3", HUAWEICLOUD_SDK_SECURITY_TOKEN = "tok" }
    -- the key pair comes whole from one source; the project and region from the first that has them
    local c = credentials.resolve({ ak = "argak", sk = "argsk" }, function(k) return env[k] end)
    assert.same({ "argak", "argsk", nil, "p123", "cn-east-3", "options" },
                { c.ak, c.sk, c.security_token, c.project_id, c.region, c.source })
    c = credentials.resolve({}, function(k) return env[k] end)
    assert.same({ "envak", "envsk", "tok", "env" }, { c.ak, c.sk, c.security_token, c.source })
  end)

  it("reads credentials and region from the environment of a real process", function()
    local lua = rawget(_G, "jit") and "luajit" or "lua5.4"
    local cmd = "HUAWEICLOUD_SDK_AK=ENVAK123 HUAWEICLOUD_SDK_SK=envsecret HUAWEICLOUD_SDK_PROJECT_ID=proj-env "
      .. "HUAWEICLOUD_SDK_REGION=ap-southeast-1 " .. lua .. " -e '"
      .. "package.path=\"./lua/?.lua;./lua/?/init.lua;\"..package.path "
      .. "package.cpath=\"./build/" .. lua .. "/?.so;\"..package.cpath "
      .. "print(require(\"rfs\").new{})' 2>&1"
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    assert.matches("rfs.Client%(https://rfs.ap%-southeast%-1.myhuaweicloud.com, project=proj%-env, "
                   .. "region=ap%-southeast%-1, ak=ENVA%.%.%., source=env%)", out)
    assert.not_matches("envsecret", out)
  end)

  it("maps every region to its endpoint, honours the per-service override, rejects unknown ones", function()
    local regions = require "rfs.regions"
    assert.equal("https://rfs.cn-north-4.myhuaweicloud.com", regions.endpoint("cn-north-4"))
    assert.equal("https://aos.myhuaweicloud.eu", regions.endpoint("eu-west-101"))
    local n = 0
    for _ in pairs(regions.endpoints) do n = n + 1 end
    assert.equal(25, n)
    local env = { HUAWEICLOUD_SDK_REGION_AOS_CN_NORTH_4 = "https://rfs.internal.example" }
    assert.equal("https://rfs.internal.example", regions.endpoint("cn-north-4", function(k) return env[k] end))
    assert.error_matches(function() fake.client(fake.new(), { endpoint = false }) end, "endpoint")
    assert.error_matches(function()
      rfs.new{ region = "mars-1", project_id = "p123", ak = "a", sk = "b" }
    end, "unknown region 'mars%-1'.*HUAWEICLOUD_SDK_REGION_AOS_MARS_1")
  end)

  it("rejects malformed endpoints and project ids before anything is sent", function()
    local t = fake.new()
    assert.error_matches(function() fake.client(t, { endpoint = "rfs.example.com" }) end, "endpoint must look like")
    assert.error_matches(function() fake.client(t, { endpoint = "https://x/v1" }) end, "no path")
    for _, bad in ipairs({ "ab", ("x"):rep(65), "../etc", "p%2F1", "p 1", "p\r\n1", "pé1" }) do
      assert.error_matches(function() fake.client(t, { project_id = bad }) end, "invalid project_id")
    end
    assert.equal(0, #t.requests)
  end)

  it("normalises the endpoint so that the Host signed is the Host sent", function()
    local t = fake.new()
    for _, case in ipairs({
      { "http://127.0.0.1:80", "http://127.0.0.1", "127.0.0.1" },
      { "HTTPS://RFS.Example.COM:443/", "https://rfs.example.com", "rfs.example.com" },
      { "http://LocalHost:8080", "http://localhost:8080", "localhost:8080" },
      { "https://rfs.example.com:8443", "https://rfs.example.com:8443", "rfs.example.com:8443" },
    }) do
      local c = fake.client(t, { endpoint = case[1] })
      assert.equal(case[2], c.endpoint)
      t:push(200, fake.metadata())
      assert.truthy(c:stack("my-stack"):metadata())
      local req = t:last()
      assert.equal(case[2], req.url:match("^(https?://[^/]+)"))
      assert.equal(case[3], req.headers.Host)
    end
  end)

  it("refuses timeouts outside 1 ms .. 1 day, NaN included, naming the option and the range", function()
    local t = fake.new()
    for _, key in ipairs({ "timeout", "connect_timeout" }) do
      for _, bad in ipairs({ 0.0005, 0, -1, 0 / 0, 1 / 0, 86401 }) do
        assert.error_matches(function() fake.client(t, { [key] = bad }) end,
                             "option '" .. key .. "' must be between 0.001 and 86400 seconds")
      end
      assert.truthy(fake.client(t, { [key] = 0.001 }))
      assert.truthy(fake.client(t, { [key] = 86400 }))
    end
    assert.equal(0, #t.requests)
  end)

  it("shows at most four characters of the AK and never the SK", function()
    local c = fake.client(fake.new())
    local s = tostring(c)
    assert.matches("ak=AKID%.%.%.", s)
    assert.not_matches(fake.AK, s, 1, true)
    assert.not_matches(fake.SK, s, 1, true)
  end)
end)

describe("requests", function()
  local t, c, stack
  before_each(function()
    t = fake.new()
    c = fake.client(t)
    stack = c:stack("my-stack")
  end)

  it("are signed, carry a fresh Client-Request-Id, JSON content type and the project", function()
    t:push(200, fake.metadata()):push(200, fake.metadata())
    assert.truthy(stack:metadata())
    assert.truthy(stack:metadata())
    local a, b = t.requests[1], t.requests[2]
    assert.equal("GET", a.method)
    assert.equal("https://rfs.test.example/v1/" .. fake.PROJECT .. "/stacks/my-stack/metadata", a.url)
    assert.matches(UUID4, header(a, "Client-Request-Id"))
    assert.are_not.equal(header(a, "Client-Request-Id"), header(b, "Client-Request-Id"))
    assert.equal("application/json", header(a, "Content-Type"))
    assert.equal(fake.PROJECT, header(a, "X-Project-Id"))
    -- the signature verifies: recompute it from what was sent
    local signed = {}
    for k, v in pairs(a.headers) do
      if k ~= "Authorization" and k ~= "Host" then signed[k] = v end
    end
    local expect = core.sign{ method = "GET", url = a.url, headers = signed, body = a.body, ak = fake.AK, sk = fake.SK }
    assert.equal(expect.Authorization, header(a, "Authorization"))
    assert.matches("^SDK%-HMAC%-SHA256 Access=" .. fake.AK .. ", SignedHeaders=client%-request%-id;content%-type;"
                   .. "host;x%-project%-id;x%-sdk%-date, Signature=%x+$", header(a, "Authorization"))
    -- the second call pins the stack id learned from the first
    assert.equal(a.url .. "?stack_id=" .. fake.STACK_ID, b.url)
  end)

  it("send and sign the security token of temporary credentials", function()
    local c2 = fake.client(t, { security_token = "TEMPTOKEN" })
    t:push(200, fake.metadata())
    assert.truthy(c2:stack("my-stack"):metadata())
    local req = t:last()
    assert.equal("TEMPTOKEN", header(req, "X-Security-Token"))
    assert.matches("x%-security%-token", header(req, "Authorization"))
  end)
end)

describe("stack:metadata()", function()
  it("returns every documented field and refreshes stack.id and stack.status", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    local m = fake.metadata({ vars_body = "a = 1", vars_uri_content = "b = 2",
                              vars_structure = { { var_key = "k", var_value = "v",
                                                   encryption = { kms = { id = fake.STACK_ID, cipher_text = "ct" } } } } })
    t:push(200, m)
    local meta = assert(stack:metadata())
    for k, v in pairs(m) do assert.same(v, meta[k]) end
    assert.equal(fake.STACK_ID, stack.id)
    assert.equal("DEPLOYMENT_FAILED", stack.status)
    assert.equal("my-stack DEPLOYMENT_FAILED (id " .. fake.STACK_ID .. ", updated 2026-11-24T01:00:00Z): quota exceeded",
                 tostring(meta))
    assert.matches("status=DEPLOYMENT_FAILED", tostring(stack))
  end)

  it("turns JSON null into nil and refuses a body with wrong types", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(200, '{"stack_id":"' .. fake.STACK_ID .. '","stack_name":"my-stack","status":"DEPLOYMENT_COMPLETE","description":null}')
    local meta = assert(stack:metadata())
    assert.is_nil(meta.description)
    t:push(200, '{"stack_id":"' .. fake.STACK_ID .. '","stack_name":"my-stack","status":7}')
    local none, err = stack:metadata()
    assert.is_nil(none)
    assert.equal("decode", err.kind)
    assert.matches("'status'", err.message)
    t:push(200, "<html>gateway</html>")
    none, err = stack:metadata()
    assert.is_nil(none)
    assert.equal("decode", err.kind)
  end)
end)

describe("continue_deploy / continue_rollback", function()
  it("post the stack_id guard when known and remember the deployment", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack", { stack_id = fake.STACK_ID })
    t:push(202, { deployment_id = "3fef5d3e-27b6-44e8-9769-1d7262bd9430" })
    local dep = assert(stack:continue_deploy())
    assert.equal("3fef5d3e-27b6-44e8-9769-1d7262bd9430", dep.deployment_id)
    assert.equal("continue_deploy accepted: deployment_id 3fef5d3e-27b6-44e8-9769-1d7262bd9430", tostring(dep))
    local req = t:last()
    assert.equal("POST", req.method)
    assert.matches("/stacks/my%-stack/continuations$", req.url)
    assert.same({ stack_id = fake.STACK_ID }, cjson.decode(req.body))
    assert.equal(dep.deployment_id, stack.deployment_id)
    assert.equal("continue_deploy", stack.operation)

    t:push(202, { deployment_id = "8592967b-18b0-421b-b6c1-079c9ded3931" })
    assert.truthy(stack:continue_rollback())
    assert.matches("/stacks/my%-stack/rollbacks$", t:last().url)
    assert.equal("continue_rollback", stack.operation)
  end)

  it("send an empty JSON object when the stack id is unknown", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(202, { deployment_id = "d-1" })
    assert.truthy(stack:continue_deploy())
    assert.equal("{}", t:last().body)
  end)

  it("report a 403 caused by the stack's state as invalid_state, naming both states", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(403, { error_code = "AOS.01.0403", error_msg = "Invalid stack status" })
    t:push(200, fake.metadata({ status = "DEPLOYMENT_COMPLETE" }))
    local none, err = stack:continue_deploy()
    assert.is_nil(none)
    assert.equal("invalid_state", err.kind)
    assert.equal(403, err.status)
    assert.equal("AOS.01.0403", err.code)
    assert.equal("continue_deploy needs DEPLOYMENT_FAILED; stack my-stack is DEPLOYMENT_COMPLETE", err.message)
    assert.is_false(err.retryable)
  end)

  it("report a 403 in the right state as forbidden (no permission)", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(403, { error_code = "AOS.00.0403", error_msg = "no permission", encoded_authorization_message = "x" })
    t:push(200, fake.metadata({ status = "ROLLBACK_FAILED" }))
    local _, err = stack:continue_rollback()
    assert.equal("forbidden", err.kind)
    assert.matches("IAM permission", tostring(err))
  end)

  it("report a 202 with an unreadable body as accepted, keep no deployment_id, and wait by state", function()
    local odd = { { something = "else" }, { deployment_id = "d 1" }, { deployment_id = ("d"):rep(129) },
                  { deployment_id = "d\r\n1" }, { deployment_id = 42 }, { deployment_id = "" }, "<html>ok</html>", "",
                  "[]", '"d-1"' }
    for i, body in ipairs(odd) do
      local t = fake.new()
      local stack = fake.client(t):stack("my-stack")
      -- a stack that remembers an earlier continue must not keep that deployment_id either
      t:push(202, { deployment_id = "earlier-1" })
      assert.truthy(stack:continue_rollback())
      t:push(202, body)
      local ok, dep, err = pcall(stack.continue_deploy, stack)
      assert.is_true(ok, "case " .. i .. " raised: " .. tostring(dep))
      assert.is_nil(err, "case " .. i)
      assert.is_true(dep.accepted)
      assert.is_nil(dep.deployment_id)
      assert.equal("continue_deploy", dep.operation)
      assert.matches("^continue_deploy accepted, but the deployment_id in the answer was not readable", tostring(dep))
      assert.not_matches("[%c]", tostring(dep))
      assert.is_nil(stack.deployment_id)
      assert.equal("continue_deploy", stack.operation)
      assert.equal(2, #t.requests, "case " .. i .. ": a continue that was applied is not sent again")
    end
    -- and stack:wait{} still follows the deployment, by the stack's state
    local t, now = fake.new(), 0
    local stack = fake.client(t):stack("my-stack")
    t:push(202, "not json")
    assert.truthy(stack:continue_deploy())
    t:push(200, fake.metadata{ status = "DEPLOYMENT_IN_PROGRESS" })
    t:push(200, fake.metadata{ status = "DEPLOYMENT_COMPLETE", update_time = "2026-11-24T02:00:00Z" })
    local res = assert(stack:wait{ clock = function() return now end, sleep = function(s) now = now + s end })
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
  end)
end)

describe("answers that break the rules are decode errors, never raises", function()
  it("metadata with an odd status or stack_id returns nil, err naming the field and the value", function()
    local cases = {
      { "status", "DEPLOYMENT FAILED" }, { "status", ("S"):rep(33) }, { "status", "" }, { "status", "A\27[2J" },
      { "stack_id", ("x"):rep(36) }, { "stack_id", fake.STACK_ID:gsub("%-", "_") }, { "stack_id", "short" },
      { "stack_id", 5 },
    }
    for _, case in ipairs(cases) do
      local t = fake.new()
      local stack = fake.client(t):stack("my-stack")
      t:push(200, fake.metadata{ [case[1]] = case[2] })
      local ok, meta, err = pcall(stack.metadata, stack)
      assert.is_true(ok, case[1] .. " " .. tostring(case[2]) .. " raised: " .. tostring(meta))
      assert.is_nil(meta)
      assert.equal("decode", err.kind)
      assert.matches("'" .. case[1] .. "'", err.message, 1, true)
      if type(case[2]) == "string" then assert.matches(require("rfs.errors").display(case[2]), err.message, 1, true) end
      assert.is_nil(stack.status)
      assert.is_nil(stack.id)
    end
  end)
end)

describe("errors", function()
  local cases = {
    { 400, { error_code = "AOS.01.0400", error_msg = "stack_id mismatch" }, "bad_request", false },
    { 401, { error_code = "APIG.0301", error_msg = "Incorrect IAM authentication information" }, "auth", false },
    { 404, { error_code = "AOS.00.0404", error_msg = "stack not found" }, "not_found", false },
    -- a read refused with 409 may be read again (a continue refused with 409 is not re-sent blindly)
    { 409, { error_code = "AOS.01.0409", error_msg = "another request" }, "conflict", true },
    { 429, { error_code = "APIG.0308", error_msg = "The throttling threshold has been reached" }, "throttled", true },
    { 500, { error_code = "AOS.00.0500", error_msg = "internal" }, "server", true },
    { 503, "Service Unavailable", "server", true },
    { 413, { error_code = "APIG.0201", error_msg = "Request entity too large" }, "bad_request", false },
  }
  for _, case in ipairs(cases) do
    it("maps HTTP " .. case[1] .. " to kind " .. case[3], function()
      local t = fake.new()
      local stack = fake.client(t):stack("my-stack")
      t:push(case[1], case[2], { ["x-request-id"] = "srv-123", ["retry-after"] = "7" })
      local none, err = stack:metadata()
      assert.is_nil(none)
      assert.equal(case[3], err.kind)
      assert.equal(case[1], err.status)
      assert.equal(case[4], err.retryable)
      assert.equal(header(t:last(), "Client-Request-Id"), err.request_id)
      assert.equal("srv-123", err.server_request_id)
      if type(case[2]) == "table" then
        assert.equal(case[2].error_code, err.code)
        assert.equal(case[2].error_msg, err.message)
      else
        assert.equal(case[2], err.message)
      end
      local line = tostring(err)
      assert.not_matches("\n", line)
      assert.matches("^rfs " .. case[3] .. " error: ", line)
      assert.matches("HTTP " .. case[1], line)
      assert.matches(err.request_id, line, 1, true)
      assert.not_matches(fake.SK, line, 1, true)
    end)
  end

  it("reads Retry-After into err.retry_after", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(429, { error_code = "APIG.0308", error_msg = "slow down" }, { ["retry-after"] = "12" })
    local _, err = stack:metadata()
    assert.equal(12, err.retry_after)
  end)

  it("finds the code and message in the other shapes the gateway sends", function()
    local client = require "rfs.client"
    assert.same({ "E1", "m1" }, { client.parse_error_body('{"errorCode":"E1","errorMsg":"m1"}') })
    assert.same({ "E2", "m2" }, { client.parse_error_body('{"error":{"code":"E2","message":"m2"}}') })
    assert.same({ "E3", "m3" }, { client.parse_error_body('{"code":"E3","message":"m3"}') })
    local code, msg = client.parse_error_body("upstream\r\nfailed")
    assert.is_nil(code)
    assert.equal("upstream failed", msg)
  end)

  it("reports transport failures as network, timeout and tls errors with the request id", function()
    for _, kind in ipairs({ "network", "timeout", "tls" }) do
      local t = fake.new()
      local stack = fake.client(t):stack("my-stack")
      t:fail(kind, "it broke", kind == "timeout")
      local none, err = stack:metadata()
      assert.is_nil(none)
      assert.equal(kind, err.kind)
      assert.equal(kind ~= "tls", err.retryable)
      assert.equal(kind == "timeout", err.sent)
      assert.matches(UUID4, err.request_id)
      assert.equal(header(t:last(), "Client-Request-Id"), err.request_id) -- the id that went out
    end
  end)
end)

describe("stack:events()", function()
  local function ev(i, t) return { time = "2026-11-24T00:00:0" .. i .. "Z", event_type = t or "LOG",
                                   resource_name = "r" .. i, event_message = "m" .. i } end

  it("follows next_marker through every page and passes the filters", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(200, { stack_events = { ev(3), ev(2) }, page_info = { next_marker = "m2", current_count = 2 } })
    t:push(200, { stack_events = { ev(1) }, page_info = { current_count = 1 } })
    local list = assert(stack:events{ deployment_id = "dep-1", filter = "event_type==ERROR|event_type==LOG" })
    assert.equal(3, #list)
    assert.same({ "r3", "r2", "r1" }, { list[1].resource_name, list[2].resource_name, list[3].resource_name })
    assert.matches("[?&]deployment_id=dep%-1", t.requests[1].url)
    assert.matches("filter=event_type%%3D%%3DERROR%%7Cevent_type%%3D%%3DLOG", t.requests[1].url)
    assert.matches("marker=m2", t.requests[2].url)
    assert.matches("^3 events %(newest first%)\n  2026%-11%-24T00:00:03Z  LOG", tostring(list))
  end)

  it("handles older servers without page_info, an empty page, and one page on request", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(200, { stack_events = { ev(1) } })
    assert.equal(1, #assert(stack:events()))
    t:push(200, { stack_events = {}, page_info = { next_marker = "again" } })
    assert.equal(0, #assert(stack:events()))
    assert.equal(2, #t.requests)
    t:push(200, { stack_events = { ev(1) }, page_info = { next_marker = "n1" } })
    local list, next_marker = stack:events{ all = false, limit = 1 }
    assert.equal(1, #list)
    assert.equal("n1", next_marker)
    assert.matches("limit=1", t:last().url)
  end)

  it("returns not_found for an unknown deployment", function()
    local t = fake.new()
    local stack = fake.client(t):stack("my-stack")
    t:push(404, { error_code = "AOS.01.0404", error_msg = "deployment not found" })
    local none, err = stack:events{ deployment_id = "nope" }
    assert.is_nil(none)
    assert.equal("not_found", err.kind)
  end)
end)

describe("bad input", function()
  local t, c
  before_each(function()
    t = fake.new()
    c = fake.client(t)
  end)

  it("rejects invalid stack names at once and sends nothing", function()
    local bad = { "", "1abc", "-abc", "_abc", "a b", "a/b", "../x", "a%2Fb", "a\0b", "a\r\nb", "abé", ("a"):rep(129),
                  "a.b", "a:b" }
    for _, name in ipairs(bad) do
      assert.error_matches(function() c:stack(name) end, "invalid stack name")
    end
    assert.truthy(c:stack(("a"):rep(128)))
    assert.truthy(c:stack("A"))
    assert.error_matches(function() c:stack(42) end, "stack name must be a string")
    assert.equal(0, #t.requests)
  end)

  it("rejects a stack_id that is not a UUID, and unknown options", function()
    for _, bad in ipairs({ "x", fake.STACK_ID .. "0", fake.STACK_ID:gsub("%-", "_"), ("g"):rep(36) }) do
      assert.error_matches(function() c:stack("s", { stack_id = bad }) end, "invalid stack_id")
    end
    assert.error_matches(function() c:stack("s", { stackid = fake.STACK_ID }) end, "unknown option 'stackid'")
    local s = c:stack("s")
    assert.error_matches(function() s:events{ deployment = "x" } end, "unknown option 'deployment'")
    assert.error_matches(function() s:events{ limit = "10" } end, "option 'limit' must be a number")
    assert.error_matches(function() s:events{ deployment_id = "a\r\nb" } end, "invalid deployment_id")
    -- checked when the wait starts, not in the middle of it
    assert.error_matches(function() s:wait{ deployment_id = "a b" } end, "stack:wait: invalid deployment_id 'a b'")
    assert.error_matches(function() s:wait{ deployment_id = ("d"):rep(129) } end, "invalid deployment_id")
    assert.error_matches(function() s:continue_deploy{ force = true } end, "unknown option 'force'")
    assert.equal(0, #t.requests)
  end)

  it("rejects CR/LF in header values and unknown keys in rfs.sign", function()
    local base = { method = "GET", url = "https://h/v1/p/stacks/s/metadata", ak = "a", sk = "b" }
    local function with(extra)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(extra) do o[k] = v end
      return o
    end
    assert.error_matches(function() rfs.sign(with{ headers = { ["X-A"] = "v\r\nInjected: 1" } }) end, "CR, LF")
    assert.error_matches(function() rfs.sign(with{ headers = { ["Bad Name"] = "v" } }) end, "valid HTTP token")
    assert.error_matches(function() rfs.sign(with{ headers = { ["X-A"] = 1 } }) end, "string values")
    assert.error_matches(function() rfs.sign(with{ security_token = "t\n" }) end, "CR, LF")
    assert.error_matches(function() rfs.sign(with{ sk = 5 }) end, "'sk' must be a string")
    assert.error_matches(function() rfs.sign(with{ url = "ftp://h/x" }) end, "http:// or https://")
    assert.error_matches(function() rfs.sign(with{ date = "yesterday" }) end, "date must look like")
    assert.error_matches(function() rfs.sign(with{ colour = "red" }) end, "unknown option 'colour'")
    assert.error_matches(function()
      rfs.sign(with{ headers = { ["content-type"] = "a", ["Content-Type"] = "b" } })
    end, "given twice")
  end)

  it("refuses request bodies over 1 MiB before sending", function()
    local client = require "rfs.client"
    assert.error_matches(function()
      client.call(c, "POST", "https://rfs.test.example/v1/x", { big = ("x"):rep(1024 * 1024) }, "test")
    end, "larger than 1 MiB")
    assert.equal(0, #t.requests)
  end)
end)

describe("userdata lifecycle", function()
  it("close() is idempotent and use after close is a clear error", function()
    local t = fake.new()
    local c = fake.client(t)
    local s = c:stack("my-stack")
    c:close()
    c:close()
    assert.is_true(c.closed)
    assert.equal("rfs.Client(closed)", tostring(c))
    assert.error_matches(function() s:metadata() end, "this client is closed")
    assert.error_matches(function() c:stack("x") end, "this client is closed")
  end)

  it("a stack keeps its client alive after the last other reference is gone", function()
    local t = fake.new()
    local s = fake.client(t):stack("my-stack")
    collectgarbage()
    collectgarbage()
    t:push(200, fake.metadata())
    assert.truthy(s:metadata())
    assert.is_false(s.client.closed)
  end)

  it("stacks compare equal by client, name and id; fields are read-only", function()
    local c = fake.client(fake.new())
    local a, b = c:stack("s1"), c:stack("s1")
    assert.is_true(a == b)
    assert.is_false(a == c:stack("s2"))
    assert.is_false(a == fake.client(fake.new()):stack("s1"))
    assert.is_false(a == c:stack("s1", { stack_id = fake.STACK_ID }))
    assert.error_matches(function() a.status = "DEPLOYMENT_COMPLETE" end, "read%-only")
    assert.error_matches(function() c.endpoint = "x" end, "read%-only")
  end)

  if _VERSION == "Lua 5.4" then
    it("a to-be-closed client is released at the end of its scope", function()
      local chunk = assert(load([[
        local fake, t = ...
        local c <close> = fake.client(t)
        return c
      ]]))
      local c = chunk(fake, fake.new())
      assert.is_true(c.closed)
    end)
  end
end)
