-- stack:wait{} and rfs.wait_all against the emulator's state machine on a fake clock.
local rfs = require "rfs"
local inproc = require "inproc"

local function world(seed, opts)
  local w = inproc.new(opts)
  seed.stack_name = seed.stack_name or "s1"
  seed.status = seed.status or "DEPLOYMENT_FAILED"
  w:seed(seed)
  return w, w:client():stack(seed.stack_name)
end

local function api_calls(w)
  return #w:requests()
end

describe("stack:wait", function()
  it("waits out a six-hour deployment in milliseconds, with few calls and a short detection delay", function()
    local w, stack = world{ deploy_seconds = 6 * 3600 }
    assert(stack:continue_deploy())
    local before = api_calls(w)
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    local finished_at = 2 + 6 * 3600 -- queue + deployment
    local latency = res.elapsed - finished_at
    assert.is_true(latency >= 0 and latency <= 30, "detection latency " .. latency)
    local calls = api_calls(w) - before
    assert.equal(calls, res.polls)
    assert.is_true(calls <= 4320 / 5, "a fixed 5 s poller makes 4320 calls; this made " .. calls)
  end)

  it("does not take the previous DEPLOYMENT_FAILED for the result while the continue is queued", function()
    local w, stack = world({ deploy_seconds = 60, outcome = "success" }, { queue_seconds = 90 })
    assert(stack:continue_deploy())
    local seen = {}
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock,
                                   on_progress = function(p) if p.type == "status" then seen[#seen + 1] = p.status end end })
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.same({ "DEPLOYMENT_FAILED", "DEPLOYMENT_IN_PROGRESS", "DEPLOYMENT_COMPLETE" }, seen)
    assert.is_true(res.elapsed >= 150)
  end)

  it("is not fooled when the queued deployment starts between a metadata read and an events read", function()
    local w = inproc.new{ queue_seconds = 2 }
    w:seed{ stack_name = "s1", status = "DEPLOYMENT_FAILED", deploy_seconds = 60 }
    -- every metadata answer takes 3 s to arrive: the next events read sees the deployment running
    local slow = function(req)
      local a, b, c, d = w.transport(req)
      if req.url:match("/metadata") then w.t = w.t + 3 end
      return a, b, c, d
    end
    local stack = w:client{ transport = slow }:stack("s1")
    assert(stack:continue_deploy())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.is_true(res.ok)
  end)

  it("reports a deployment that failed, with the failed resources", function()
    local w, stack = world{ deploy_seconds = 120, outcome = "fail" }
    assert(stack:continue_deploy())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_false(res.ok)
    assert.equal("DEPLOYMENT_FAILED", res.status)
    assert.is_true(#res.failures >= 1)
    assert.equal("ecs", res.failures[1].resource_name)
    assert.matches("quota exceeded", res.failures[1].event_message)
    assert.matches("^s1 DEPLOYMENT_FAILED after %d+m%d%ds %(%d+ polls%); %d failure events?: ecs", tostring(res))
  end)

  it("says a deployment that auto-rolled back is not ok, and that it was rolled back", function()
    local w, stack = world{ deploy_seconds = 60, outcome = "fail", enable_auto_rollback = true, rollback_seconds = 40 }
    assert(stack:continue_deploy())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_false(res.ok)
    assert.equal("ROLLBACK_COMPLETE", res.status)
    assert.is_true(res.rolled_back)
    assert.matches("rolled back", tostring(res))
  end)

  it("knows what success means for a continued rollback", function()
    local w, stack = world{ status = "ROLLBACK_FAILED", rollback_seconds = 30 }
    assert(stack:continue_rollback())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_true(res.ok)
    assert.equal("continue_rollback", res.operation)
    assert.equal("ROLLBACK_COMPLETE", res.status)
    w:seed{ stack_name = "s1", status = "ROLLBACK_FAILED", rollback_outcome = "fail" }
    assert(stack:continue_rollback())
    res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_false(res.ok)
    assert.equal("ROLLBACK_FAILED", res.status)
  end)

  it("stops at the deadline with a timeout that says how to resume", function()
    local w, stack = world{ deploy_seconds = 6 * 3600 }
    local dep = assert(stack:continue_deploy())
    local res, err = stack:wait{ timeout = 600, sleep = w.sleep, clock = w.clock }
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.matches("still DEPLOYMENT_IN_PROGRESS after 10m00s", err.message)
    assert.matches(dep.deployment_id, err.message, 1, true)
    assert.is_true(w.t <= 600 + 1)
  end)

  it("resumes from a deployment_id alone after the script restarted", function()
    local w, stack = world{ deploy_seconds = 300 }
    local dep = assert(stack:continue_deploy())
    w.t = w.t + 1000 -- the script was down; the deployment finished meanwhile
    local fresh = w:client():stack("s1")
    local res = assert(fresh:wait{ deployment_id = dep.deployment_id, sleep = w.sleep, clock = w.clock })
    assert.is_true(res.ok)
    assert.equal(dep.deployment_id, res.deployment_id)
    assert.is_true(res.elapsed < 1, "a finished deployment should be recognised at the first poll")
  end)

  it("reports the failures of a deployment first seen already failed in three requests", function()
    local w, stack = world{ deploy_seconds = 120, outcome = "fail" }
    local dep = assert(stack:continue_deploy())
    w.t = w.t + 1000 -- it failed before the wait began: its metadata, its events, its metadata again
    local before = api_calls(w)
    local res = assert(stack:wait{ deployment_id = dep.deployment_id, sleep = w.sleep, clock = w.clock })
    assert.is_false(res.ok)
    assert.equal("DEPLOYMENT_FAILED", res.status)
    assert.equal("ecs", res.failures[1].resource_name)
    assert.matches("quota exceeded", res.failures[1].event_message)
    assert.equal(3, api_calls(w) - before)
    assert.equal(3, res.polls)
  end)

  it("hands each event of the deployment to on_progress exactly once, oldest first", function()
    local w, stack = world{ deploy_seconds = 600, resources = { "vpc", "subnet", "ecs", "eip" } }
    local dep = assert(stack:continue_deploy())
    local events = {}
    assert(stack:wait{ sleep = w.sleep, clock = w.clock, on_progress = function(p)
      if p.type == "event" then events[#events + 1] = p.event end
    end })
    local all = assert(stack:events{ deployment_id = dep.deployment_id })
    assert.equal(#all, #events)
    local seen = {}
    for i, e in ipairs(events) do
      local k = e.time .. e.event_type .. tostring(e.resource_name)
      assert.is_nil(seen[k], "event handed twice: " .. k)
      seen[k] = true
      if i > 1 then assert.is_true(events[i - 1].time <= e.time) end
    end
  end)

  it("rides out transient errors while polling", function()
    local w, stack = world{ deploy_seconds = 60 }
    assert(stack:continue_deploy())
    w:fault{ match = { path = "/metadata" }, status = 503, count = 2 }
    w:fault{ match = { path = "/metadata" }, status = 429, retry_after = 5 }
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
    assert.is_true(res.ok)
  end)

  it("ends on an error that waiting cannot fix", function()
    local w, stack = world{ deploy_seconds = 60 }
    assert(stack:continue_deploy())
    w:fault{ match = { path = "/metadata" }, status = 401 }
    local res, err = stack:wait{ sleep = w.sleep, clock = w.clock }
    assert.is_nil(res)
    assert.equal("auth", err.kind)
  end)

  it("counts and paces every page of a deployment's events, not only the first", function()
    local resources = {}
    for i = 1, 60 do resources[i] = "r" .. i end -- some 120 events: two pages
    local w, stack = world{ deploy_seconds = 600, resources = resources }
    assert(stack:continue_deploy())
    local before, t0 = api_calls(w), w.t
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock, rate = 1, on_progress = function() end })
    assert.is_true(res.ok)
    local log, second_pages = w:requests(), 0
    for i = before + 1, #log do
      if log[i].path:match("/events$") and (log[i].query or ""):match("marker=") then second_pages = second_pages + 1 end
    end
    assert.is_true(second_pages > 0, "no second page of events was read")
    local calls = #log - before
    assert.equal(calls, res.polls)
    assert.is_true(calls <= 1 + (w.t - t0), calls .. " requests in " .. (w.t - t0) .. " s at one a second")
  end)

  it("refuses unknown options", function()
    local _, stack = world{}
    assert.error_matches(function() stack:wait{ timeot = 5 } end, "unknown option 'timeot'")
    assert.error_matches(function() stack:wait{ operation = "redeploy" } end, "continue_deploy")
  end)

  it("follows a delete until the stack is gone (DELETED), past the state it had before", function()
    local w, stack = world{ status = "DEPLOYMENT_COMPLETE", delete_seconds = 60 }
    assert(stack:delete())
    local seen = {}
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock,
                                   on_progress = function(p) if p.type == "status" then seen[#seen + 1] = p.status end end })
    assert.is_true(res.ok)
    assert.equal("delete", res.operation)
    assert.equal("DELETED", res.status)
    assert.equal("DELETED", seen[#seen])
    assert.is_true(res.elapsed >= 60)
  end)
end)

describe("rfs.wait_all", function()
  it("waits on several stacks in one loop and returns a result per stack, in order", function()
    local w = inproc.new{}
    local c = w:client()
    local stacks = {}
    for i, spec in ipairs({ { 600, "success" }, { 60, "fail" }, { 1800, "success" } }) do
      w:seed{ stack_name = "s" .. i, status = "DEPLOYMENT_FAILED", deploy_seconds = spec[1], outcome = spec[2] }
      stacks[i] = c:stack("s" .. i)
      assert(stacks[i]:continue_deploy())
    end
    local results, summary = rfs.wait_all(stacks, { sleep = w.sleep, clock = w.clock })
    assert.equal(3, #results)
    assert.is_true(results[1].ok)
    assert.is_false(results[2].ok)
    assert.equal("DEPLOYMENT_FAILED", results[2].status)
    assert.is_true(results[3].ok)
    assert.same({ ok = 2, failed = 1, errors = 0 }, summary)
    assert.is_true(w.t <= 2 + 1800 + 30, "finished late: " .. w.t)
  end)

  it("keeps every read of all the waits under rate requests a second, and finishes every stack", function()
    local w = inproc.new{}
    local c = w:client()
    local stacks = {}
    for i = 1, 30 do
      w:seed{ stack_name = "r" .. i, status = "DEPLOYMENT_FAILED", deploy_seconds = 20 + 7 * i, outcome = "success" }
      stacks[i] = c:stack("r" .. i)
      assert(stacks[i]:continue_deploy())
    end
    local before = #w:requests()
    local t0 = w.t
    local results, summary = rfs.wait_all(stacks, { sleep = w.sleep, clock = w.clock, rate = 2 })
    assert.same({ ok = 30, failed = 0, errors = 0 }, summary)
    for i, r in ipairs(results) do assert.equal("r" .. i, r.stack) end
    local log = w:requests()
    local reads = #log - before
    -- a second's worth at once, then at most 2 a second
    assert.is_true(reads <= 2 + 2 * (w.t - t0) + 1, reads .. " reads in " .. (w.t - t0) .. " s")
    local per_window, first = {}, log[before + 1].time
    for i = before + 1, #log do
      local window = math.floor((log[i].time - first) / 10)
      per_window[window] = (per_window[window] or 0) + 1
    end
    for window, n in pairs(per_window) do
      assert.is_true(n <= 2 * 10 + 2, n .. " reads in the 10 s from " .. window * 10 .. " s")
    end
  end)

  -- The arithmetic a user can do with rate = R and N stacks: between two reads of one stack
  -- every other stack is read at most once more, and a read of a stack costs at most three
  -- requests (its metadata; then, when the final state it shows may still be the previous
  -- deployment's, the deployment's events and the metadata again). So once deployments end,
  -- each is seen within the longer of the poll interval and 3 * N / R seconds.
  local function finishing_round(on_progress)
    local N, R = 40, 1
    local w = inproc.new{ queue_seconds = 0.1 }
    local c = w:client()
    local stacks, ends = {}, {}
    for i = 1, N do
      -- deployments of 3 to 30 s: the first round of reads (40 s at one request a second)
      -- finds a few still running and most already finished, as the scale bench does
      local d = 3 + (i * 11) % 28
      w:seed{ stack_name = "f" .. i, status = "DEPLOYMENT_FAILED", deploy_seconds = d, outcome = "success",
              resources = { "vpc", "ecs" } }
      stacks[i] = c:stack("f" .. i)
      assert(stacks[i]:continue_deploy())
      ends[i] = w.t + 0.1 + d
    end
    local before, t0 = #w:requests(), w.t
    local results, summary = rfs.wait_all(stacks, { sleep = w.sleep, clock = w.clock, rate = R,
                                                    on_progress = on_progress })
    assert.same({ ok = N, failed = 0, errors = 0 }, summary)
    local longest = 0
    for i = 1, N do longest = math.max(longest, ends[i] - t0) end
    local bound = math.max(math.min(30, math.max(2, longest * 0.25)), 3 * N / R)
    for i, r in ipairs(results) do
      local late = t0 + r.elapsed - ends[i]
      assert.is_true(late >= 0 and late <= bound,
                     ("%s seen %.1f s after its deployment ended (bound %.1f s)"):format(r.stack, late, bound))
    end
    local reads = #w:requests() - before
    assert.is_true(reads <= 1 + R * (w.t - t0), reads .. " reads in " .. (w.t - t0) .. " s")
  end

  it("sees every deployment of the round in which most of them end within 3 reads of each stack at the rate",
     function() finishing_round() end)

  it("keeps to the same bound while it hands the deployments' events to on_progress", function()
    local events = 0
    finishing_round(function(p) if p.type == "event" then events = events + 1 end end)
    assert.is_true(events >= 40 * 2, events .. " events shown")
  end)

  it("refuses a rate that is not a positive number, naming the option", function()
    local w = inproc.new{}
    local stack = w:client():stack("x1")
    assert.error_matches(function() rfs.wait_all({ stack }, { rate = 0 }) end, "option 'rate'", 1, true)
    assert.error_matches(function() stack:wait{ rate = 0 / 0 } end, "option 'rate'", 1, true)
  end)
end)
