-- Numbers a caller passes to retries and waits: NaN, infinities, fractions and zeros are
-- refused at once, naming the option and its range, before anything is sent.
local rfs = require "rfs"
local retry = require "rfs.retry"
local fake = require "fake_transport"

local NAN, INF = 0 / 0, math.huge

describe("retry options", function()
  local cases = {
    { "attempts", NAN, "an integer from 1 to 100" }, { "attempts", 2.5, "an integer from 1 to 100" },
    { "attempts", 0, "an integer from 1 to 100" }, { "attempts", 101, "an integer from 1 to 100" },
    { "attempts", INF, "an integer from 1 to 100" },
    { "base", NAN, "a finite number >= 0" }, { "base", INF, "a finite number >= 0" },
    { "base", -1, "a finite number >= 0" }, { "cap", NAN, "a finite number >= 0" },
    { "cap", INF, "a finite number >= 0" }, { "cap", -INF, "a finite number >= 0" },
    { "deadline", NAN, "a finite number" }, { "max_elapsed", NAN, "a finite number >= 0" },
    { "max_elapsed", INF, "a finite number >= 0" },
  }
  for _, case in ipairs(cases) do
    it(("refuses %s = %s in rfs.new and retry.policy"):format(case[1], tostring(case[2])), function()
      local t = fake.new()
      local pattern = "option '" .. case[1] .. "' must be " .. case[3]
      assert.error_matches(function() fake.client(t, { retry = { [case[1]] = case[2] } }) end, pattern, 1, true)
      assert.error_matches(function() retry.policy{ [case[1]] = case[2] } end, pattern, 1, true)
      assert.equal(0, #t.requests)
    end)
  end

  it("still accepts sane values, and a retried read still works with them", function()
    local t = fake.new()
    local now = 0
    local c = fake.client(t, { retry = { attempts = 100, base = 0, cap = 0, clock = function() return now end,
                                         sleep = function(s) now = now + s end } })
    t:push(503, "busy"):push(200, fake.metadata())
    assert.truthy(c:stack("my-stack"):metadata())
    assert.equal(2, #t.requests)
  end)

  it("refuses a budget with a NaN or infinite rate or burst", function()
    assert.error_matches(function() retry.budget{ rate = NAN } end, "option 'rate' must be a finite number > 0", 1, true)
    assert.error_matches(function() retry.budget{ rate = INF } end, "option 'rate' must be a finite number > 0", 1, true)
    assert.error_matches(function() retry.budget{ burst = NAN } end, "option 'burst' must be", 1, true)
  end)
end)

describe("wait options", function()
  local cases = {
    { { timeout = NAN }, "option 'timeout' must be a finite number of seconds > 0" },
    { { timeout = -5 }, "option 'timeout' must be a finite number of seconds > 0" },
    { { timeout = 0 }, "option 'timeout' must be a finite number of seconds > 0" },
    { { timeout = INF }, "option 'timeout' must be a finite number of seconds > 0" },
    { { interval = 0, max_interval = 0 }, "option 'interval' must be a finite number >= 0.1" },
    { { interval = NAN }, "option 'interval' must be a finite number >= 0.1" },
    { { max_interval = 0 }, "option 'max_interval' must be a finite number >= 0.1" },
    { { max_interval = INF }, "option 'max_interval' must be a finite number >= 0.1" },
    { { interval = 10, max_interval = 5 }, "option 'interval' (10) must not be more than 'max_interval' (5)" },
    { { events_every = 0 }, "option 'events_every' must be an integer >= 1" },
    { { events_every = 1.5 }, "option 'events_every' must be an integer >= 1" },
    { { events_every = NAN }, "option 'events_every' must be an integer >= 1" },
    { { settle = NAN }, "option 'settle' must be a finite number >= 0" },
    { { retry = { attempts = NAN } }, "option 'attempts' must be an integer from 1 to 100" },
  }
  for _, case in ipairs(cases) do
    local shown = {}
    for k, v in pairs(case[1]) do shown[#shown + 1] = k .. "=" .. tostring(type(v) == "table" and "{...}" or v) end
    it("refuses " .. table.concat(shown, ", ") .. " at once, in stack:wait and rfs.wait_all", function()
      local t = fake.new()
      local stack = fake.client(t):stack("my-stack")
      assert.error_matches(function() stack:wait(case[1]) end, case[2], 1, true)
      assert.error_matches(function() rfs.wait_all({ stack }, case[1]) end, case[2], 1, true)
      assert.equal(0, #t.requests)
    end)
  end

  it("blames the caller's line for a bad option", function()
    local stack = fake.client(fake.new()):stack("my-stack")
    local ok, msg = pcall(function() stack:wait{ interval = 0 } end)
    assert.is_false(ok)
    assert.matches("^spec/numeric_options_spec%.lua:%d+: rfs: stack:wait: option 'interval'", msg)
    ok, msg = pcall(function() stack:wait{ colour = "red" } end)
    assert.is_false(ok)
    assert.matches("^spec/numeric_options_spec%.lua:%d+: rfs: stack:wait: unknown option 'colour'", msg)
  end)

  it("takes interval or max_interval alone, moving the other default out of the way", function()
    for _, opts in ipairs({ { interval = 60 }, { max_interval = 1 }, { interval = 0.1, max_interval = 0.1 } }) do
      local t, now = fake.new(), 0
      local stack = fake.client(t):stack("my-stack")
      t:push(200, fake.metadata{ status = "DEPLOYMENT_IN_PROGRESS" })
      t:push(200, fake.metadata{ status = "DEPLOYMENT_COMPLETE", update_time = "later" })
      opts.clock, opts.sleep = function() return now end, function(s) now = now + s end
      local res = assert(stack:wait(opts))
      assert.is_true(res.ok)
      assert.equal(2, res.polls)
    end
  end)
end)
