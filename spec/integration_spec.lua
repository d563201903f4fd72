-- The real C core (libcurl transport) against the real emulator over loopback.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKINTEGRATION0001", "integration-secret-key", "0123456789abcdef0123456789abcdef"

describe("against the emulator over loopback", function()
  local em

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 200 }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
  end)

  local function client(opts)
    local o = { endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, timeout = 5,
                retry = { attempts = 3, base = 0.01, cap = 0.05 } }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  local function seed(t)
    t.project_id = t.project_id or PROJECT
    return em:seed(t)
  end

  it("reads every documented metadata field", function()
    local seeded = seed{ stack_name = "meta-stack", status = "DEPLOYMENT_FAILED", description = "seeded",
                         enable_auto_rollback = true }
    local stack = client():stack("meta-stack")
    local meta = assert(stack:metadata())
    assert.equal("meta-stack", meta.stack_name)
    assert.equal("DEPLOYMENT_FAILED", meta.status)
    assert.equal("seeded", meta.description)
    assert.is_true(meta.enable_auto_rollback)
    assert.is_false(meta.enable_deletion_protection)
    assert.equal(seeded.stack_id, meta.stack_id)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", meta.create_time)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", meta.update_time)
    assert.equal(seeded.stack_id, stack.id)
    assert.equal("DEPLOYMENT_FAILED", stack.status)
  end)

  it("continues a failed deployment to DEPLOYMENT_COMPLETE and lists its events", function()
    seed{ stack_name = "recover-me", status = "DEPLOYMENT_FAILED", deploy_seconds = 30, outcome = "success" }
    local stack = client():stack("recover-me")
    assert(stack:metadata())
    local dep = assert(stack:continue_deploy())
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", dep.deployment_id)
    local res = assert(stack:wait{ timeout = 60, interval = 0.1, max_interval = 0.2 })
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.equal(dep.deployment_id, res.deployment_id)
    local events = assert(stack:events{ deployment_id = dep.deployment_id })
    assert.is_true(#events > 0)
    local types = {}
    for _, e in ipairs(events) do types[e.event_type] = true end
    assert.is_true(types.SUMMARY or types.CREATION_COMPLETE or false)
  end)

  it("says which state a continue needs when the stack is elsewhere", function()
    seed{ stack_name = "healthy", status = "DEPLOYMENT_COMPLETE" }
    local none, err = client():stack("healthy"):continue_deploy()
    assert.is_nil(none)
    assert.equal("invalid_state", err.kind)
    assert.equal(403, err.status)
    assert.equal("continue_deploy needs DEPLOYMENT_FAILED; stack healthy is DEPLOYMENT_COMPLETE", err.message)
  end)

  it("continues a failed rollback", function()
    seed{ stack_name = "rb", status = "ROLLBACK_FAILED", rollback_seconds = 20 }
    local stack = client():stack("rb")
    local dep = assert(stack:continue_rollback())
    assert.truthy(dep.deployment_id)
    local res = assert(stack:wait{ timeout = 60, interval = 0.1, max_interval = 0.2 })
    assert.is_true(res.ok)
    assert.equal("ROLLBACK_COMPLETE", res.status)
  end)

  it("maps the service's refusals to error kinds", function()
    local seeded = seed{ stack_name = "guarded", status = "DEPLOYMENT_FAILED" }
    local c = client()
    -- a same-named stack with another id: 400
    local other = c:stack("guarded", { stack_id = "00000000-0000-4000-8000-000000000000" })
    local _, err = other:metadata()
    assert.equal("bad_request", err.kind)
    assert.equal(400, err.status)
    assert.truthy(err.server_request_id)
    -- unknown stack: 404
    _, err = c:stack("nobody-home"):metadata()
    assert.equal("not_found", err.kind)
    -- wrong secret: 401 from the gateway
    _, err = client{ sk = "not-the-secret" }:stack("guarded"):metadata()
    assert.equal("auth", err.kind)
    assert.equal("APIG.0301", err.code)
    assert.not_matches("not%-the%-secret", tostring(err))
    -- the right id passes the guard
    assert.truthy(c:stack("guarded", { stack_id = seeded.stack_id }):metadata())
  end)

  it("sends the Client-Request-Id it reports, and nothing at all for bad input", function()
    seed{ stack_name = "logged", status = "DEPLOYMENT_COMPLETE" }
    local c = client()
    local _, err = c:stack("logged"):continue_deploy()
    local log = em:requests()
    local found = false
    for _, r in ipairs(log) do
      if r.client_request_id == err.request_id then found = true end
    end
    assert.is_true(found)
    local before = #em:requests()
    for _, name in ipairs({ "", "../etc", "a%2Fb", "a b", "1x", ("x"):rep(129), "a\r\nb" }) do
      assert.has_error(function() c:stack(name) end)
    end
    assert.has_error(function() c:stack("logged", { stack_id = "nope" }) end)
    assert.equal(before, #em:requests())
  end)

  it("retries a throttled read after Retry-After and succeeds", function()
    seed{ stack_name = "busy", status = "DEPLOYMENT_COMPLETE" }
    em:fault{ match = { method = "GET", path = "/metadata" }, status = 429, count = 1, retry_after = 0 }
    local meta = assert(client():stack("busy"):metadata())
    assert.equal("DEPLOYMENT_COMPLETE", meta.status)
    em:fault{ match = { method = "GET", path = "/metadata" }, status = 429, count = 1, retry_after = 3 }
    local _, err = client{ retry = false }:stack("busy"):metadata()
    assert.equal("throttled", err.kind)
    assert.equal(3, err.retry_after)
  end)

  it("does not sleep a Retry-After of days: the throttled error comes back at once", function()
    seed{ stack_name = "busy", status = "DEPLOYMENT_COMPLETE" }
    em:fault{ match = { method = "GET", path = "/metadata" }, status = 429, count = 1, retry_after = 999999 }
    local slept = {}
    local c = client{ retry = { attempts = 3, base = 0.01, cap = 0.05, sleep = function(s) slept[#slept + 1] = s end } }
    local meta, err = c:stack("busy"):metadata()
    assert.is_nil(meta)
    assert.equal("throttled", err.kind)
    assert.equal(999999, err.retry_after)
    assert.matches("Retry-After 999999s", tostring(err), 1, true)
    assert.same({}, slept)
    -- the fault is spent: the next call is answered
    assert.truthy(c:stack("busy"):metadata())
  end)
end)
