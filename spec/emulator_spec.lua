-- The emulator's state machine, driven with a fake clock (no sleeping) and real signatures.
local emulator = require "rfs.emulator"
local http = require "rfs.emulator.http"
local core = require "rfs.core"
local cjson = require "cjson"

local AK, SK, PROJECT = "AKEMULATOR", "emulator-secret", "proj123"
local EPOCH = 1795478400 -- 2026-11-24T00:00:00Z

local function new_emulator(opts)
  local t = { now = 0 }
  local o = { ak = AK, sk = SK, clock = function() return t.now end, epoch = EPOCH, queue_seconds = 2 }
  for k, v in pairs(opts or {}) do o[k] = v end
  local emu = emulator.new(o)
  return emu, t
end

local function sdk_date(epoch)
  return os.date("!%Y%m%dT%H%M%SZ", epoch)
end

-- A signed request, as a client would send it.
local function signed(_, method, path, query, body, clock, extra)
  local headers = { ["Client-Request-Id"] = core.uuid4(), ["Content-Type"] = "application/json",
                    ["X-Sdk-Date"] = sdk_date(EPOCH + clock.now) }
  for k, v in pairs(extra or {}) do headers[k] = v end
  local url = "http://127.0.0.1:9/" .. path:sub(2) .. ((query or "") ~= "" and ("?" .. query) or "")
  local auth = core.sign{ method = method, url = url, headers = headers, body = body or "", ak = AK, sk = SK }
  local lower = {}
  for k, v in pairs(headers) do lower[k:lower()] = v end
  lower.host = auth.Host
  lower.authorization = auth.Authorization
  return { method = method, path = path, query = query or "", headers = lower, body = body or "", peer = "127.0.0.1" }
end

local function call(emu, clock, method, path, query, body, extra)
  local resp = emu:handle(signed(emu, method, path, query, body, clock, extra))
  return resp.status, cjson.decode(resp.body), resp
end

local function control(emu, method, path, body, content_type)
  local resp = emu:handle{ method = method, path = path, query = "",
                           headers = { ["content-type"] = content_type or "application/json" },
                           body = body and (type(body) == "string" and body or cjson.encode(body)) or "",
                           peer = "127.0.0.1" }
  return resp.status, cjson.decode(resp.body)
end

local function meta(emu, clock, name)
  local status, body = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/" .. (name or "s1") .. "/metadata")
  assert.equal(200, status)
  return body
end

describe("emulator state machine", function()
  local emu, clock

  before_each(function()
    emu, clock = new_emulator()
    local status = control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1",
                                                               status = "DEPLOYMENT_FAILED", deploy_seconds = 30 })
    assert.equal(201, status)
  end)

  it("serves every documented metadata field with RFC 3339 times", function()
    local m = meta(emu, clock)
    for _, f in ipairs({ "stack_id", "stack_name", "description", "vars_structure", "enable_deletion_protection",
                         "enable_auto_rollback", "status", "agencies", "status_message", "create_time", "update_time" }) do
      assert.is_not_nil(m[f], f)
    end
    assert.equal("2026-11-24T00:00:00Z", m.create_time)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", m.stack_id)
  end)

  it("runs a continued deployment in time: queued (old state shown), in progress, complete", function()
    local before = meta(emu, clock)
    local status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    assert.equal(202, status)
    local dep = body.deployment_id
    clock.now = 1 -- still queued: the service keeps showing the old final state
    local m = meta(emu, clock)
    assert.equal("DEPLOYMENT_FAILED", m.status)
    assert.equal(before.update_time, m.update_time)
    -- a second continue while queued is a conflict
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    assert.equal(409, status)
    assert.equal("AOS.01.0409", body.error_code)
    clock.now = 3
    m = meta(emu, clock)
    assert.equal("DEPLOYMENT_IN_PROGRESS", m.status)
    assert.equal("2026-11-24T00:00:02Z", m.update_time)
    assert.is_nil(m.status_message)
    -- while running, a continue is refused by state
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    assert.equal(403, status)
    assert.equal("AOS.01.0403", body.error_code)
    assert.matches("DEPLOYMENT_IN_PROGRESS", body.error_msg)
    clock.now = 40
    m = meta(emu, clock)
    assert.equal("DEPLOYMENT_COMPLETE", m.status)
    assert.equal("2026-11-24T00:00:32Z", m.update_time)
    status, body = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/events", "deployment_id=" .. dep)
    assert.equal(200, status)
    assert.equal("SUMMARY", body.stack_events[1].event_type) -- newest first
    assert.equal("LOG", body.stack_events[#body.stack_events].event_type)
    assert.is_nil(body.stack_events[1].deployment_id)
  end)

  it("fails a deployment, with ERROR events and a status_message", function()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1", outcome = "fail" })
    local _, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    clock.now = 100
    local m = meta(emu, clock)
    assert.equal("DEPLOYMENT_FAILED", m.status)
    assert.matches("quota exceeded", m.status_message)
    local status, ev = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/events",
                            "deployment_id=" .. body.deployment_id .. "&filter=event_type%3D%3DERROR")
    assert.equal(200, status)
    assert.equal(1, #ev.stack_events)
    assert.equal("ecs", ev.stack_events[1].resource_name)
  end)

  it("rolls back automatically after a failed deployment when enabled", function()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1", outcome = "fail",
                                                enable_auto_rollback = true, rollback_seconds = 20 })
    call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    clock.now = 40
    assert.equal("ROLLBACK_IN_PROGRESS", meta(emu, clock).status)
    clock.now = 60
    assert.equal("ROLLBACK_COMPLETE", meta(emu, clock).status)
  end)

  it("ends in ROLLBACK_FAILED with fail_then_rollback_fail, then continue_rollback recovers it", function()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1",
                                                outcome = "fail_then_rollback_fail" })
    call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    clock.now = 100
    assert.equal("ROLLBACK_FAILED", meta(emu, clock).status)
    local status = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    assert.equal(403, status)
    local body
    status, body = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/rollbacks")
    assert.equal(202, status)
    assert.truthy(body.deployment_id)
    clock.now = 103
    assert.equal("ROLLBACK_IN_PROGRESS", meta(emu, clock).status)
    clock.now = 200
    assert.equal("ROLLBACK_COMPLETE", meta(emu, clock).status)
  end)

  it("checks stack names, stack ids, project ids, the request id and the body", function()
    local p = "/v1/" .. PROJECT .. "/stacks/"
    local cases = {
      { "GET", p .. "1bad/metadata", "", nil, 400 },
      { "GET", p .. "s1/metadata", "stack_id=not-a-uuid", nil, 400 },
      { "GET", p .. "s1/metadata", "stack_id=00000000-0000-4000-8000-000000000000", nil, 400, "AOS.01.0400" },
      { "GET", p .. "nobody/metadata", "", nil, 404, "AOS.00.0404" },
      { "GET", "/v1/xx/stacks/s1/metadata", "", nil, 400 },
      { "GET", "/v1/other-project/stacks/s1/metadata", "", nil, 404 },
      { "POST", p .. "s1/continuations", "", "{not json", 400 },
      { "POST", p .. "s1/continuations", "", '{"stack_id":"' .. meta(emu, clock).stack_id .. '","force":true}', 400 },
      { "POST", p .. "s1/continuations", "", '{"stack_id":"00000000-0000-4000-8000-000000000000"}', 400 },
      { "GET", p .. "s1/events", "deployment_id=unknown", nil, 404, "AOS.01.0404" },
      { "DELETE", p .. "s1/metadata", "", nil, 405 },
    }
    for _, c in ipairs(cases) do
      local status, body = call(emu, clock, c[1], c[2], c[3], c[4])
      assert.equal(c[5], status, c[1] .. " " .. c[2] .. "?" .. c[3])
      assert.is_string(body.error_code)
      assert.is_string(body.error_msg)
      if c[6] then assert.equal(c[6], body.error_code) end
    end
    local status = call(emu, clock, "GET", p .. "s1/metadata", "", nil, { ["Client-Request-Id"] = "short" })
    assert.equal(400, status)
    assert.equal("DEPLOYMENT_FAILED", meta(emu, clock).status) -- nothing changed
  end)

  it("pages events with markers, newest first, honouring field and filter", function()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1",
                                                resources = { "a", "b", "c", "d" } })
    call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    clock.now = 100
    local all = {}
    local marker = nil
    for _ = 1, 20 do
      local q = "limit=3" .. (marker and ("&marker=" .. marker) or "")
      local status, body = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/events", q)
      assert.equal(200, status)
      for _, e in ipairs(body.stack_events) do all[#all + 1] = e end
      marker = body.page_info.next_marker
      if not marker then break end
    end
    assert.equal(10, #all) -- start + 4 x (in progress, complete) + summary
    for i = 2, #all do assert.is_true(all[i - 1].time >= all[i].time) end
    local _, body = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/events",
                         "field=resource_name&filter=event_type%3D%3DCREATION_COMPLETE%7Cevent_type%3D%3DSUMMARY")
    assert.equal(5, #body.stack_events)
    assert.is_nil(body.stack_events[2].event_message)
    assert.is_string(body.stack_events[2].event_type)
  end)
end)

describe("emulator authentication", function()
  local emu, clock
  before_each(function()
    emu, clock = new_emulator()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1" })
  end)

  it("accepts a request signed by the official signer's algorithm and rejects one byte changed", function()
    local req = signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock)
    assert.equal(200, emu:handle(req).status)
    local sig = req.headers.authorization
    local last = sig:sub(-1)
    req.headers.authorization = sig:sub(1, -2) .. (last == "0" and "1" or "0")
    local resp = emu:handle(req)
    assert.equal(401, resp.status)
    assert.equal("APIG.0301", cjson.decode(resp.body).error_code)
    req.headers.authorization = sig
    req.path = req.path:gsub("s1", "s2")
    assert.equal(401, emu:handle(req).status)
  end)

  it("rejects a missing, stale or unknown-key signature", function()
    local req = signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock)
    req.headers.authorization = nil
    assert.equal(401, emu:handle(req).status)
    clock.now = 0
    req = signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock)
    clock.now = 16 * 60
    assert.equal(401, emu:handle(req).status)
    local other = emulator.new{ ak = "OTHER", sk = SK, clock = function() return clock.now end, epoch = EPOCH }
    control(other, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1" })
    req = signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock)
    assert.equal(401, other:handle(req).status)
  end)

  it("logs every API request, rejected ones too, and resets", function()
    emu:handle(signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock))
    local bad = signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock)
    bad.headers.authorization = "nope"
    emu:handle(bad)
    local _, log = control(emu, "GET", "/_emulator/requests")
    assert.equal(2, #log.requests)
    assert.equal(200, log.requests[1].status)
    assert.equal(401, log.requests[2].status)
    control(emu, "POST", "/_emulator/reset")
    _, log = control(emu, "GET", "/_emulator/requests")
    assert.equal(0, #log.requests)
  end)

  it("answers control endpoints only to loopback peers", function()
    local resp = emu:handle{ method = "GET", path = "/_emulator/requests", query = "", headers = {}, body = "",
                             peer = "10.0.0.5" }
    assert.equal(403, resp.status)
  end)
end)

describe("emulator faults", function()
  local emu, clock
  before_each(function()
    emu, clock = new_emulator()
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1" })
  end)

  it("injects a status with Retry-After a given number of times, matched on method and path", function()
    control(emu, "POST", "/_emulator/faults", { match = { method = "GET", path = "/metadata" }, status = 429,
                                                count = 2, retry_after = 7 })
    local status, body, resp = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")
    assert.equal(429, status)
    assert.equal("APIG.0308", body.error_code)
    assert.equal("7", resp.headers["Retry-After"])
    assert.equal(200, (call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")) == 202 and 200)
    assert.equal(429, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")))
    assert.equal(200, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")))
  end)

  it("drops before or after applying, delays, and sends raw bodies", function()
    control(emu, "POST", "/_emulator/faults", { match = { path = "/continuations" }, drop = "after" })
    local _, _, resp = call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")
    assert.equal("after", resp.drop)
    clock.now = 3
    assert.equal("DEPLOYMENT_IN_PROGRESS", meta(emu, clock).status) -- it was applied
    control(emu, "POST", "/_emulator/faults", { drop = "before" })
    _, _, resp = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")
    assert.equal("before", resp.drop)
    control(emu, "POST", "/_emulator/faults", { delay = 2.5, status = 503 })
    _, _, resp = call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")
    assert.equal(503, resp.status)
    assert.equal(2.5, resp.delay)
    control(emu, "POST", "/_emulator/faults", { status = 200, body = '{"stack_id": 5' })
    resp = emu:handle(signed(emu, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata", "", "", clock))
    assert.equal('{"stack_id": 5', resp.body)
  end)

  it("hits only the given share of matching requests with a rate, until removed", function()
    local draws = { 0.9, 0.05, 0.5, 0.09 }
    local i = 0
    emu = new_emulator{ random = function() i = i + 1; return draws[i] or 1 end }
    control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "s1" })
    control(emu, "POST", "/_emulator/faults", { status = 503, rate = 0.1 })
    local got = {}
    for n = 1, 5 do got[n] = (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s1/metadata")) end
    assert.same({ 200, 503, 200, 503, 200 }, got)
    assert.equal(400, (control(emu, "POST", "/_emulator/faults", { status = 503, rate = 1.5 })))
  end)

  it("refuses unknown seed and fault fields", function()
    assert.equal(400, (control(emu, "POST", "/_emulator/stacks", { stack_name = "x", colour = "red" })))
    assert.equal(400, (control(emu, "POST", "/_emulator/stacks", { project_id = PROJECT, stack_name = "x",
                                                                   status = "NOPE" })))
    assert.equal(400, (control(emu, "POST", "/_emulator/stacks", { stack_name = "x" }))) -- no project
    assert.equal(404, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/x/metadata"))) -- nothing half-made
    assert.equal(400, (control(emu, "POST", "/_emulator/faults", { drop = "sideways" })))
  end)

  it("refuses a poisoned fault or seed with a 400 naming the field, and keeps serving", function()
    local bad_faults = {
      { '{"match": {"path": {}}}', "match.path" },
      { '{"match": {"path": "/m", "host": "x"}}', "match.host" },
      { '{"match": "/metadata"}', "match" },
      { '{"match": {"method": 5}}', "match.method" },
      { '{"status": 200.5}', "status" },
      { '{"status": 1e20}', "status" },
      { '{"status": 99}', "status" },
      { '{"body_bytes": 1e13}', "body_bytes" },
      { '{"count": -1}', "count" },
      { '{"count": 0}', "count" },
      { '{"count": 1.5}', "count" },
      { '{"retry_after": -3}', "retry_after" },
      { '{"retry_after": Infinity}', "retry_after" },
      { '{"delay": NaN}', "delay" },
      { '{"delay": 1e20}', "delay" },
      { '{"rate": NaN}', "rate" },
      { '{"truncate": "yes"}', "truncate" },
      { '{"error_code": {"x": 1}}', "error_code" },
      { '{"body": 5}', "body" },
      { '{"nonsense": 1}', "nonsense" },
    }
    for _, case in ipairs(bad_faults) do
      local status, body = control(emu, "POST", "/_emulator/faults", case[1])
      assert.equal(400, status, case[1])
      assert.equal("AOS.00.0400", body.error_code)
      assert.matches(case[2], body.error_msg, 1, true)
    end
    local bad_seeds = {
      { '{"stack_name": "s2", "deploy_seconds": NaN}', "deploy_seconds" },
      { '{"stack_name": "s2", "deploy_seconds": -1}', "deploy_seconds" },
      { '{"stack_name": "s2", "rollback_seconds": 1e300}', "rollback_seconds" },
      { '{"stack_name": "s2", "resources": [{}]}', "resources[1]" },
      { '{"stack_name": "s2", "resources": {"a": "b"}}', "resources" },
      { '{"stack_name": "s2", "agencies": [{"provider_name": 5}]}', "agencies[1].provider_name" },
      { '{"stack_name": "s2", "agencies": "huaweicloud"}', "agencies" },
      { '{"stack_name": "s2", "vars_structure": [{"var_value": NaN}]}', "vars_structure[1].var_value" },
      { '{"stack_name": "s2", "stack_id": "not-a-uuid"}', "stack_id" },
      { '{"stack_name": "' .. ("s"):rep(129) .. '"}', "stack_name" },
      { '{"stack_name": "s2", "project_id": "a/b"}', "project_id" },
      { '{"stack_name": "s2", "enable_auto_rollback": "true"}', "enable_auto_rollback" },
    }
    for _, case in ipairs(bad_seeds) do
      local status, body = control(emu, "POST", "/_emulator/stacks",
                                   (case[1]:gsub("^{", '{"project_id": "' .. PROJECT .. '", ', 1)))
      assert.equal(400, status, case[1])
      assert.matches(case[2], body.error_msg, 1, true)
    end
    -- nothing was kept: requests and the emulated time go on as before
    assert.equal(404, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s2/metadata")))
    assert.equal(202, (call(emu, clock, "POST", "/v1/" .. PROJECT .. "/stacks/s1/continuations")))
    clock.now = 100
    emu:tick()
    assert.equal("DEPLOYMENT_COMPLETE", meta(emu, clock).status)
  end)

  it("takes control calls only with a JSON content type (no form posts from a web page)", function()
    local seed_body = { project_id = PROJECT, stack_name = "s3" }
    for _, ct in ipairs({ "application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "" }) do
      assert.equal(415, (control(emu, "POST", "/_emulator/stacks", seed_body, ct)), ct)
      assert.equal(415, (control(emu, "POST", "/_emulator/reset", nil, ct)), ct)
    end
    assert.equal(404, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s3/metadata")))
    assert.equal(201, (control(emu, "POST", "/_emulator/stacks", seed_body, "Application/JSON; charset=utf-8")))
    assert.equal(200, (call(emu, clock, "GET", "/v1/" .. PROJECT .. "/stacks/s3/metadata")))
  end)
end)

describe("emulator HTTP parsing", function()
  it("parses a request with a body and keep-alive", function()
    local raw = "POST /v1/p/stacks/s/continuations?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}GET"
    local req, consumed = http.parse(raw)
    assert.equal("POST", req.method)
    assert.equal("/v1/p/stacks/s/continuations", req.path)
    assert.equal("x=1", req.query)
    assert.equal("{}", req.body)
    assert.is_true(req.keep_alive)
    assert.equal("GET", raw:sub(consumed + 1))
  end)

  it("waits for more bytes, and rejects malformed or oversized requests", function()
    assert.same({ nil, "more" }, { http.parse("GET / HTTP/1.1\r\nHost: h\r\n") })
    assert.same({ nil, "more" }, { http.parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}") })
    assert.equal(400, select(3, http.parse("BLAH\r\n\r\n")))
    assert.equal(400, select(3, http.parse("GET / HTTP/1.1\r\nno colon here\r\n\r\n")))
    assert.equal(400, select(3, http.parse("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")))
    assert.equal(413, select(3, http.parse("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n")))
    assert.equal(431, select(3, http.parse("GET / HTTP/1.1\r\nX: " .. ("a"):rep(20000))))
    assert.equal(400, select(3, http.parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")))
  end)
end)
