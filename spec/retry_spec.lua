-- Backoff, Retry-After, the shared budget, and continues that are applied at most once.
local retry = require "rfs.retry"
local errors = require "rfs.errors"
local inproc = require "inproc"

local function fake_policy(extra)
  local t = { now = 0, sleeps = {} }
  local p = { clock = function() return t.now end,
              sleep = function(s) t.sleeps[#t.sleeps + 1] = s t.now = t.now + s end,
              random = function() return 1 end }
  for k, v in pairs(extra or {}) do p[k] = v end
  return retry.policy(p), t
end

describe("retry.policy", function()
  it("fills defaults and refuses unknown or mistyped options", function()
    local p = fake_policy()
    assert.equal(5, p.attempts)
    assert.equal(0.5, p.base)
    assert.equal(20, p.cap)
    assert.error_matches(function() retry.policy{ atempts = 3 } end, "unknown option 'atempts'")
    assert.error_matches(function() retry.policy{ cap = "20" } end, "'cap' must be a number")
    assert.error_matches(function() retry.policy{ attempts = 0 } end, "attempts' must be an integer from 1 to 100")
  end)
end)

describe("retry.delay", function()
  it("is full jitter: between 0 and min(cap, base * 2^(n-1))", function()
    for _, r in ipairs({ 0, 0.25, 0.999 }) do
      local p = fake_policy{ random = function() return r end, base = 0.5, cap = 20 }
      for n = 1, 10 do
        local d = retry.delay(p, n)
        local ceiling = math.min(20, 0.5 * 2 ^ (n - 1))
        assert.is_true(d >= 0 and d <= ceiling, ("attempt %d: %g not in [0, %g]"):format(n, d, ceiling))
        assert.near(r * ceiling, d, 1e-9)
      end
    end
  end)

  it("never waits less than the server's Retry-After", function()
    local p = fake_policy{ random = function() return 0 end }
    assert.equal(12, retry.delay(p, 1, { retry_after = 12 }))
  end)
end)

describe("retry.parse_retry_after", function()
  it("reads delta-seconds and HTTP dates", function()
    assert.equal(120, retry.parse_retry_after("120", 0))
    assert.equal(30, retry.parse_retry_after("Tue, 24 Nov 2026 00:00:30 GMT", 1795478400))
    assert.equal(0, retry.parse_retry_after("Tue, 24 Nov 2026 00:00:00 GMT", 1795478500))
    assert.is_nil(retry.parse_retry_after("soon", 0))
  end)
end)

describe("retry.call", function()
  local function failing(kinds)
    local calls = 0
    return function()
      calls = calls + 1
      local k = kinds[calls]
      if not k then return "ok" end
      return nil, errors.new{ kind = k, message = k }
    end, function() return calls end
  end

  it("retries retryable errors and returns the value", function()
    local p, t = fake_policy()
    local fn, calls = failing{ "server", "throttled", "network" }
    assert.equal("ok", retry.call(fn, p))
    assert.equal(4, calls())
    assert.same({ 0.5, 1, 2 }, t.sleeps)
  end)

  it("stops at once on errors that retrying cannot help", function()
    local p, t = fake_policy()
    local fn, calls = failing{ "auth" }
    local v, err = retry.call(fn, p)
    assert.is_nil(v)
    assert.equal("auth", err.kind)
    assert.equal(1, err.attempts)
    assert.equal(1, calls())
    assert.same({}, t.sleeps)
  end)

  it("gives up after the attempts, with the last error and the count", function()
    local p = fake_policy{ attempts = 3 }
    local fn = failing{ "server", "server", "timeout", "server" }
    local _, err = retry.call(fn, p)
    assert.equal("timeout", err.kind)
    assert.equal(3, err.attempts)
  end)

  it("does not sleep past an absolute deadline", function()
    local p, t = fake_policy{ attempts = 10, deadline = 2 }
    local fn, calls = failing{ "server", "server", "server", "server", "server" }
    local _, err = retry.call(fn, p)
    assert.equal("server", err.kind)
    assert.is_true(t.now <= 2)
    -- sleeps 0.5 s (t = 0.5) and 1 s (t = 1.5); the next 2 s would pass the deadline
    assert.equal(3, calls())
    assert.same({ 0.5, 1 }, t.sleeps)
  end)
end)

describe("retry.budget", function()
  it("lets a burst through, then paces retries to the rate for everyone sharing it", function()
    local t = { now = 0 }
    local clock = function() return t.now end
    local sleep = function(s) t.now = t.now + s end
    local b = retry.budget{ rate = 2, burst = 3, clock = clock }
    for _ = 1, 3 do assert.equal(0, b:take(sleep, clock)) end
    assert.near(0.5, b:take(sleep, clock), 1e-9)
    assert.near(0.5, b:take(sleep, clock), 1e-9)
    assert.near(1.0, t.now, 1e-9)
    assert.equal(5, b.taken)
  end)

  it("slows down two callers together", function()
    local t = { now = 0 }
    local clock = function() return t.now end
    local budget = retry.budget{ rate = 1, burst = 1, clock = clock }
    local p1 = fake_policy{ budget = budget, clock = clock, sleep = function(s) t.now = t.now + s end }
    local p2 = fake_policy{ budget = budget, clock = clock, sleep = function(s) t.now = t.now + s end }
    local always = function() return nil, errors.new{ kind = "throttled", message = "slow down" } end
    retry.call(always, p1) -- 4 retries
    retry.call(always, p2) -- 4 more, from the same bucket
    assert.equal(8, budget.taken)
    assert.is_true(t.now >= 7, "the shared budget did not pace the second caller: " .. t.now)
  end)
end)

describe("continue_deploy under faults is applied at most once", function()
  local function setup_world()
    local w = inproc.new{ queue_seconds = 2 }
    w:seed{ stack_name = "s1", status = "DEPLOYMENT_FAILED", deploy_seconds = 60 }
    return w, w:client():stack("s1")
  end

  it("the answer is lost after the continue was applied: recovered, not re-sent", function()
    local w, stack = setup_world()
    w:fault{ match = { path = "/continuations" }, drop = "after" }
    w.t = 5 -- let the queued work start before the client looks
    local res = assert(stack:continue_deploy())
    assert.is_true(res.accepted)
    assert.is_true(res.recovered)
    assert.equal(1, w:applied("/continuations"))
  end)

  it("the answer is lost while the continue is still queued: one re-send gets 409, recovered", function()
    local w, stack = setup_world()
    w:fault{ match = { path = "/continuations" }, drop = "after" }
    local res = assert(stack:continue_deploy())
    assert.is_true(res.recovered)
    assert.equal(1, w:applied("/continuations"))
    local log = w:requests()
    local posts = 0
    for _, r in ipairs(log) do if r.path:match("/continuations$") then posts = posts + 1 end end
    assert.equal(2, posts) -- the lost one, and the one answered 409
  end)

  it("the connection drops before the continue is applied: re-sent once, applied once", function()
    local w, stack = setup_world()
    w:fault{ match = { path = "/continuations" }, drop = "before" }
    local res = assert(stack:continue_deploy())
    assert.truthy(res.deployment_id)
    assert.equal(1, w:applied("/continuations"))
  end)

  for _, status in ipairs({ 500, 502, 503 }) do
    it("HTTP " .. status .. " before applying: re-sent after backoff, applied once", function()
      local w, stack = setup_world()
      w:fault{ match = { path = "/continuations" }, status = status, count = 2 }
      local res = assert(stack:continue_deploy())
      assert.truthy(res.deployment_id)
      assert.equal(1, w:applied("/continuations"))
    end)
  end

  it("429 with Retry-After: waits at least that long, then applies once", function()
    local w, stack = setup_world()
    w:fault{ match = { path = "/continuations" }, status = 429, retry_after = 17 }
    local res = assert(stack:continue_deploy())
    assert.truthy(res.deployment_id)
    assert.is_true(w.t >= 17)
    assert.equal(1, w:applied("/continuations"))
  end)

  it("409 from another client's continue: waited out, not applied twice", function()
    local w, stack = setup_world()
    local other = w:client():stack("s1")
    assert(other:continue_deploy())
    local res, err = stack:continue_deploy()
    assert.is_nil(res)
    assert.equal("conflict", err.kind)
    assert.matches("DEPLOYMENT_IN_PROGRESS", err.message)
    assert.equal(1, w:applied("/continuations"))
  end)

  it("a client error is returned at once, never retried", function()
    local w, stack = setup_world()
    w:seed{ stack_name = "s1", status = "DEPLOYMENT_COMPLETE" }
    local _, err = stack:continue_deploy()
    assert.equal("invalid_state", err.kind)
    local posts = 0
    for _, r in ipairs(w:requests()) do if r.path:match("/continuations$") then posts = posts + 1 end end
    assert.equal(1, posts)
  end)

  it("continue_rollback follows the same rules", function()
    local w = inproc.new{ queue_seconds = 2 }
    w:seed{ stack_name = "rb", status = "ROLLBACK_FAILED" }
    local stack = w:client():stack("rb")
    w:fault{ match = { path = "/rollbacks" }, drop = "after" }
    local res = assert(stack:continue_rollback())
    assert.is_true(res.recovered)
    assert.equal(1, w:applied("/rollbacks"))
  end)
end)

describe("a Retry-After longer than the cap or the time left", function()
  local fake = require "fake_transport"
  local THROTTLED = { error_code = "APIG.0308", error_msg = "The throttling threshold has been reached" }

  local function throttled_client(extra)
    local t, clock = fake.new(), { now = 0, sleeps = {} }
    local policy = { attempts = 5, base = 0.5, cap = 20, random = function() return 0.5 end,
                     clock = function() return clock.now end,
                     sleep = function(s) clock.sleeps[#clock.sleeps + 1] = s clock.now = clock.now + s end }
    for k, v in pairs(extra or {}) do policy[k] = v end
    return t, fake.client(t, { retry = policy }), clock
  end

  for _, value in ipairs({ "999999", "Tue, 01 Jan 2999 00:00:00 GMT" }) do
    it("is not slept by a read: the throttled error comes back at once (" .. value .. ")", function()
      local t, c, clock = throttled_client()
      t:push(429, THROTTLED, { ["retry-after"] = value }):push(200, fake.metadata())
      local meta, err = c:stack("my-stack"):metadata()
      assert.is_nil(meta)
      assert.equal("throttled", err.kind)
      assert.is_true(err.retry_after >= 999999)
      assert.same({}, clock.sleeps)
      assert.equal(1, #t.requests)
      assert.matches("Retry%-After %d+s", tostring(err))
    end)
  end

  it("is slept when within the cap, as before", function()
    local t, c, clock = throttled_client()
    t:push(429, THROTTLED, { ["retry-after"] = "12" }):push(200, fake.metadata())
    assert.truthy(c:stack("my-stack"):metadata())
    assert.same({ 12 }, clock.sleeps)
  end)

  it("is not slept past the call's deadline", function()
    local t, c, clock = throttled_client{ deadline = 10 }
    t:push(429, THROTTLED, { ["retry-after"] = "15" }):push(200, fake.metadata())
    local _, err = c:stack("my-stack"):metadata()
    assert.equal("throttled", err.kind)
    assert.equal(15, err.retry_after)
    assert.same({}, clock.sleeps)
  end)

  it("is not slept by a continue", function()
    local t, c, clock = throttled_client()
    t:push(429, THROTTLED, { ["retry-after"] = "999999" }):push(202, { deployment_id = "d-1" })
    local dep, err = c:stack("my-stack"):continue_deploy()
    assert.is_nil(dep)
    assert.equal("throttled", err.kind)
    assert.equal(999999, err.retry_after)
    assert.same({}, clock.sleeps)
    assert.equal(1, #t.requests)
  end)

  it("is not slept by a wait's polling past its deadline, even by a client that retries reads", function()
    local t, c, clock = throttled_client()
    local stack = c:stack("my-stack")
    t:push(200, fake.metadata{ status = "DEPLOYMENT_IN_PROGRESS" })
    t:push(429, THROTTLED, { ["retry-after"] = "15" })
    t:push(200, fake.metadata{ status = "DEPLOYMENT_COMPLETE", update_time = "later" })
    local res, err = stack:wait{ timeout = 10, clock = function() return clock.now end,
                                 sleep = function(s) clock.sleeps[#clock.sleeps + 1] = s clock.now = clock.now + s end }
    assert.is_nil(res)
    assert.equal("throttled", err.kind)
    assert.equal(15, err.retry_after)
    assert.is_true(clock.now <= 10, "slept until " .. clock.now)
  end)
end)

describe("the jitter", function()
  local function delays_of_a_new_process(lua)
    local cmd = lua .. " -e '"
      .. "package.path=\"./lua/?.lua;./lua/?/init.lua;\"..package.path "
      .. "package.cpath=\"./build/" .. lua .. "/?.so;\"..package.cpath "
      .. "local retry = require(\"rfs.retry\") local p = retry.policy{} local out = {} "
      .. "for n = 1, 8 do out[n] = (\"%.6f\"):format(retry.delay(p, n)) end "
      .. "math.randomseed(42) out[#out + 1] = tostring(math.random(1000000)) "
      .. "print(table.concat(out, \" \"))' 2>&1"
    local p = io.popen(cmd)
    local out = p:read("*a")
    p:close()
    return out
  end

  it("differs between two processes, and leaves the program's own math.random alone", function()
    local lua = rawget(_G, "jit") and "luajit" or "lua5.4"
    local a, b = delays_of_a_new_process(lua), delays_of_a_new_process(lua)
    local da, ra = a:match("^(.-) (%d+)\n$")
    local db, rb = b:match("^(.-) (%d+)\n$")
    assert.truthy(da, a)
    assert.truthy(db, b)
    assert.are_not.equal(da, db, "two processes backed off in step: " .. da)
    -- a seeded math.random still gives the program its own repeatable sequence
    assert.equal(ra, rb)
    math.randomseed(42)
    assert.equal(tostring(math.random(1000000)), ra)
  end)
end)
