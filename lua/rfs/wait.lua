-- rfs.wait: one waiter for every operation, scoped to a deployment.
--
-- Polls metadata with an interval that starts short and grows to a cap, follows the
-- deployment's events, and decides success or failure by the operation it waits for.
-- Right after a continue RFS may keep showing the previous DEPLOYMENT_FAILED while the
-- request is queued: a final state counts only once there is evidence the deployment
-- ran (a non-final state seen, update_time moved, or the deployment's own events).

local errors = require "rfs.errors"
local retry = require "rfs.retry"
local stack_ops = require "rfs.stack"

local wait = {}

local OUTCOMES = {
  continue_deploy = { DEPLOYMENT_COMPLETE = true, DEPLOYMENT_FAILED = false, ROLLBACK_COMPLETE = false,
                      ROLLBACK_FAILED = false },
  continue_rollback = { ROLLBACK_COMPLETE = true, ROLLBACK_FAILED = false },
  -- a delete ends when metadata answers 404 (reported as DELETED) or in DELETION_FAILED
  delete = { DELETION_FAILED = false },
}
-- create with a template, deploy and an execution plan's apply run a deployment, like continue_deploy
OUTCOMES.create = OUTCOMES.continue_deploy
OUTCOMES.deploy = OUTCOMES.continue_deploy
OUTCOMES.apply = OUTCOMES.continue_deploy
-- plan:wait{}: a plan being created ends AVAILABLE or CREATION_FAILED
OUTCOMES.create_plan = { AVAILABLE = true, CREATION_FAILED = false }
wait.OUTCOMES = OUTCOMES

-- The operations whose failed deployment may have been rolled back by auto-rollback.
local DEPLOYS = { continue_deploy = true, create = true, deploy = true, apply = true }

local FINAL = {
  CREATION_COMPLETE = true, DEPLOYMENT_FAILED = true, DEPLOYMENT_COMPLETE = true, ROLLBACK_FAILED = true,
  ROLLBACK_COMPLETE = true, DELETION_FAILED = true,
}
wait.FINAL = FINAL
-- An execution plan's final states (APPLY_IN_PROGRESS -> APPLIED is the stack's deployment).
local PLAN_FINAL = { AVAILABLE = true, CREATION_FAILED = true, APPLIED = true }

local OPTIONS = {
  deployment_id = "string", operation = "string", timeout = "number", interval = "number",
  max_interval = "number", on_progress = "function", sleep = "function", clock = "function",
  retry = "table", budget = "table", events_every = "number", settle = "number", rate = "number",
}

local MIN_INTERVAL = 0.1
local DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL = 2, 30

local FAILURE_EVENTS = { ERROR = true, CREATION_FAILED = true, UPDATE_FAILED = true, DELETION_FAILED = true }

-- Formatting ------------------------------------------------------------------------------

local function duration(s)
  s = math.floor(s + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return ("%dm%02ds"):format(math.floor(s / 60), s % 60) end
  return ("%dh%02dm%02ds"):format(math.floor(s / 3600), math.floor((s % 3600) / 60), s % 60)
end
wait.duration = duration

local Result = {}
Result.__index = Result
Result.__name = "rfs.WaitResult"

local printable = errors.printable

function Result.__tostring(r)
  local s = ("%s %s after %s (%d polls)"):format(r.stack or "stack", printable(r.status), duration(r.elapsed or 0),
                                                  r.polls or 0)
  if r.rolled_back then s = s .. ": the deployment failed and was rolled back" end
  if r.failures and #r.failures > 0 then
    local parts = {}
    for i, f in ipairs(r.failures) do
      if i > 3 then parts[#parts + 1] = ("and %d more"):format(#r.failures - 3) break end
      parts[#parts + 1] = ("%s (%s: %s)"):format(printable(f.resource_name or "stack"), printable(f.event_type),
                                                 printable(f.event_message))
    end
    s = s .. "; " .. #r.failures .. " failure event" .. (#r.failures == 1 and "" or "s") .. ": "
      .. table.concat(parts, "; ")
  elseif not r.ok and r.status_message then
    s = s .. ": " .. printable(r.status_message)
  end
  return s
end

-- Options ---------------------------------------------------------------------------------

-- Misuse is blamed on the caller's line: (stack:wait / rfs.wait_all, tail calls) ->
-- wait.wait / wait.wait_all -> wait.new -> here.
local LEVEL = 4

--- The timing options every wait takes (timeout, interval, max_interval), stack sets' too:
--  misuse raises, blamed as error(message, level) in the caller would blame.
function wait.check_timing(fname, opts, level)
  level = level + 1
  if opts.timeout and not (opts.timeout > 0 and opts.timeout < math.huge) then
    error(("rfs: %s: option 'timeout' must be a finite number of seconds > 0 (got %s)")
          :format(fname, tostring(opts.timeout)), level)
  end
  -- polling faster than ten times a second is a busy loop against RFS, not a wait
  local check = retry.check_number
  if opts.interval then check(fname, "interval", opts.interval, MIN_INTERVAL, math.huge, false, level) end
  if opts.max_interval then check(fname, "max_interval", opts.max_interval, MIN_INTERVAL, math.huge, false, level) end
  if opts.interval and opts.max_interval and opts.interval > opts.max_interval then
    error(("rfs: %s: option 'interval' (%s) must not be more than 'max_interval' (%s)")
          :format(fname, opts.interval, opts.max_interval), level)
  end
end

local function check_options(opts, fname)
  opts = errors.check_options(fname, opts, OPTIONS, LEVEL) or {}
  stack_ops.check_deployment_id(fname, opts.deployment_id, LEVEL)
  if opts.operation and not OUTCOMES[opts.operation] then
    error("rfs: " .. fname .. ": operation must be one of 'continue_deploy', 'continue_rollback', "
          .. "'create', 'deploy', 'apply', 'delete' or 'create_plan'", LEVEL)
  end
  wait.check_timing(fname, opts, LEVEL)
  local check = retry.check_number
  if opts.events_every then check(fname, "events_every", opts.events_every, 1, math.huge, true, LEVEL) end
  if opts.settle then check(fname, "settle", opts.settle, 0, math.huge, false, LEVEL) end
  if opts.rate then check(fname, "rate", opts.rate, 0.01, math.huge, false, LEVEL) end
  return opts
end

-- A Waiter: the state of one wait, advanced one poll at a time ------------------------------

local Waiter = {}
Waiter.__index = Waiter

local function event_key(e)
  return table.concat({ tostring(e.time), tostring(e.resource_key or e.resource_name), tostring(e.event_type),
                        tostring(e.event_message) }, "\0")
end

-- What a wait reads each poll: a stack's metadata, or for plan:wait{} the plan's.
local function reader_of(obj)
  if obj.stack then
    local plans = require "rfs.plans"
    return function() return plans.read_metadata(obj, nil, "plan:wait") end, "plan"
  end
  return function(call_opts) return stack_ops.read_metadata(obj, call_opts) end, "stack"
end

function wait.new(stack, opts, shared)
  local read_status, kind = reader_of(stack)
  opts = check_options(opts, kind .. ":wait")
  local clock = opts.clock or (shared and shared.clock) or retry.default_clock()
  local sleep = opts.sleep or (shared and shared.sleep) or function(s) return retry.default_sleep()(s) end
  local timeout = opts.timeout or (6 * 3600 + 600)
  local self = setmetatable({
    stack = stack,
    operation = opts.operation or (kind == "plan" and "create_plan") or stack.operation or "continue_deploy",
    deployment_id = kind == "stack" and (opts.deployment_id or stack.deployment_id) or nil,
    read_status = read_status, kind = kind, final = kind == "plan" and PLAN_FINAL or FINAL,
    label = kind == "plan" and (stack.stack.name .. " plan " .. stack.name) or stack.name,
    on_progress = opts.on_progress,
    clock = clock, sleep = sleep,
    -- one of the two given alone moves the other's default out of its way
    interval = opts.interval or math.min(DEFAULT_INTERVAL, opts.max_interval or DEFAULT_INTERVAL),
    max_interval = opts.max_interval or math.max(DEFAULT_MAX_INTERVAL, opts.interval or DEFAULT_MAX_INTERVAL),
    -- someone watching sees events every other poll; otherwise they are read when they matter
    events_every = opts.events_every or (opts.on_progress and 2 or 4),
    settle = opts.settle or 120,
    polls = 0, seen = {}, events_seen = 0,
  }, Waiter)
  self.start = clock()
  self.deadline = self.start + timeout
  self.next_at = self.start
  local rp = {}
  for k, v in pairs(opts.retry or {}) do rp[k] = v end
  rp.sleep, rp.clock = rp.sleep or sleep, rp.clock or clock
  rp.budget = rp.budget or opts.budget or (shared and shared.budget)
  rp.deadline = self.deadline
  self.policy = retry.policy(rp)
  -- rate: requests per second for every read of this wait (of all the waits of one
  -- wait_all), first attempts and retries alike; a second's worth may go at once
  if opts.rate then
    local pace = shared and shared.pace
    if not pace then
      pace = retry.budget{ rate = opts.rate, burst = math.max(1, opts.rate), clock = clock }
      if shared then shared.pace = pace end
    end
    self.pace = pace
  end
  return self
end

function Waiter:progress(p)
  if self.on_progress then
    p.stack = self.label
    p.elapsed = self.clock() - self.start
    p.deployment_id = self.deployment_id
    self.on_progress(p)
  end
end

-- The waiter's reads skip the client's own retries: it retries them itself, within
-- its deadline (the client's policy knows no deadline, and both would multiply).
local READ_ONCE = { no_retry = true }

-- One request: counted in polls, and paced when the wait has a rate.
function Waiter:request()
  self.polls = self.polls + 1
  if self.pace then self.pace:take(self.sleep, self.clock) end
end

function Waiter:read(fn)
  return retry.call(function()
    self:request()
    return fn()
  end, self.policy)
end

-- New events of the deployment, oldest first, each handed to on_progress once.
function Waiter:follow_events()
  if not self.deployment_id then return {} end
  -- a deployment with more events than one page holds costs a request per page
  local next_page = function() self:request() end
  local list, err = self:read(function()
    return stack_ops.read_events(self.stack, { deployment_id = self.deployment_id, deadline = self.deadline,
                                               clock = self.clock, before_page = next_page }, READ_ONCE)
  end)
  if not list then return nil, err end
  local fresh = {}
  for i = #list, 1, -1 do
    local k = event_key(list[i])
    if not self.seen[k] then
      self.seen[k] = true
      fresh[#fresh + 1] = list[i]
    end
  end
  self.events_seen = self.events_seen + #fresh
  self.events_total = #list
  for _, e in ipairs(fresh) do self:progress{ type = "event", event = e } end
  self.last_events = list
  return fresh
end

function Waiter:failures()
  local out = {}
  for _, e in ipairs(self.last_events or {}) do
    if FAILURE_EVENTS[e.event_type] then
      out[#out + 1] = { resource_name = e.resource_name, resource_type = e.resource_type, event_type = e.event_type,
                        event_message = e.event_message, time = e.time }
    end
  end
  return out
end

-- Did the deployment we wait for run? (A final status alone may be the previous one.)
-- Events count as evidence only when they were read before this metadata: a queued
-- deployment can start between a metadata read and the events read that follows it.
function Waiter:ran(meta, had_events)
  -- a plan starts CREATION_IN_PROGRESS: any final state it shows is its own
  if self.saw_in_progress or self.kind == "plan" then return true end
  if self.first_update_time and meta.update_time ~= self.first_update_time then return true end
  if self.deployment_id then
    return had_events
  end
  -- no deployment_id (an answer was lost): accept a final state that held for `settle` seconds
  return self.clock() - self.start >= self.settle
end

function Waiter:succeeded(status)
  return OUTCOMES[self.operation][status] == true or (self.operation == "delete" and status == "DELETED")
end

-- seen_at: when the metadata that showed the final state was read (the result's elapsed);
-- events_current: the deployment's events were read after it, so a failure's are at hand.
function Waiter:finish(meta, seen_at, events_current)
  local ok = self:succeeded(meta.status)
  local res = setmetatable({
    ok = ok, status = meta.status, operation = self.operation, deployment_id = self.deployment_id,
    elapsed = (seen_at or self.clock()) - self.start, polls = self.polls, stack = self.label,
    status_message = meta.status_message,
    rolled_back = DEPLOYS[self.operation] == true and meta.status == "ROLLBACK_COMPLETE",
    failures = {},
  }, Result)
  if not ok and self.deployment_id then
    if not events_current then self:follow_events() end
    res.failures = self:failures()
    res.polls = self.polls
  end
  self:progress{ type = "done", status = meta.status, ok = ok }
  return res
end

function Waiter:timeout_error()
  local status = self.status or "unknown"
  local elapsed = duration(self.clock() - self.start)
  if self.kind == "plan" then
    return errors.new{
      kind = "timeout", operation = "wait", retryable = false,
      message = ("plan %s of stack %s is still %s after %s; its creation goes on at RFS, resume with plan:wait{}")
        :format(self.stack.name, self.stack.stack.name, status, elapsed),
      hint = "raise timeout, or resume the wait later",
    }
  end
  local resume = self.deployment_id and ("stack:wait{ deployment_id = \"" .. self.deployment_id .. "\" }")
    or "stack:wait{}"
  return errors.new{
    kind = "timeout", operation = "wait", retryable = false,
    message = ("stack %s is still %s after %s; the deployment goes on at RFS, resume with %s")
      :format(self.stack.name, status, elapsed, resume),
    hint = "raise timeout, or resume the wait later with the deployment_id",
  }
end

--- One poll. Returns true, result | true, nil, err when done; false when more polls are due
--  (self.next_at says when).
--
--  A poll reads the metadata, and the deployment's events only when something needs them:
--  on_progress (every events_every polls and at each change of state), the evidence that a
--  final state is this deployment's (then the metadata is read again at once), and the
--  failures of a deployment that failed. So a stack costs at most three reads a poll
--  (metadata, events, metadata), which is what a wait_all with a rate can count on.
function Waiter:poll()
  local had_events = (self.events_total or 0) > 0
  -- the events read after the previous metadata, and what that metadata showed
  local events_after, before = self.events_after_meta, self.meta_seen
  self.events_after_meta = false
  local meta, err = self:read(function() return self.read_status(READ_ONCE) end)
  local seen_at = self.clock()
  if not meta and err.kind == "not_found" and self.operation == "delete" then
    self:progress{ type = "status", status = "DELETED", previous = self.status }
    return true, self:finish({ status = "DELETED" }, seen_at)
  end
  if not meta then return true, nil, err end
  local previous = self.status
  self.status = meta.status
  self.first_update_time = self.first_update_time or meta.update_time
  self.meta_seen = meta.update_time ~= nil and (meta.status .. "\0" .. tostring(meta.update_time)) or nil
  local final = self.final[meta.status]
  -- until it is gone, a deleted stack shows its old final state: only DELETION_FAILED ends the wait
  if self.operation == "delete" then final = meta.status == "DELETION_FAILED" end
  if not final then self.saw_in_progress = true end
  local ran = final and self:ran(meta, had_events)
  -- a final state that has not moved since the deployment's events were read (same state,
  -- same update_time): the deployment ended before them, so they are already its last
  -- events. (Events still empty are read again: the deployment may not have started.)
  local events_current = final and events_after and had_events and self.meta_seen ~= nil
    and self.meta_seen == before
  -- at a final state the deployment's last events are read too, so a quick deployment that
  -- ran between two polls still shows what it did (to on_progress, and in a failure's result)
  local due_events = self.deployment_id and not events_current and (previous ~= meta.status
    or self.polls % self.events_every == 0 or final)
  local need = self.on_progress or (final and not ran) or (ran and not self:succeeded(meta.status))
  if due_events and need then
    local _, eerr = self:follow_events()
    if eerr and eerr.kind ~= "not_found" then return true, nil, eerr end
    if not eerr then
      self.events_after_meta = true
      events_current = final
    end
  end
  -- the events that led to a state come before the state itself
  if previous ~= meta.status then
    self:progress{ type = "status", status = meta.status, previous = previous }
  end
  if ran then return true, self:finish(meta, seen_at, events_current) end
  local now = self.clock()
  if now >= self.deadline then return true, nil, self:timeout_error() end
  if final and self.deployment_id and (self.events_total or 0) > 0 then
    -- the deployment's events appeared after this metadata was read: read it again now
    self.next_at = now
    return false
  end
  -- poll again after ~25% of the time waited so far, between interval and max_interval:
  -- quick answers for short deployments, few calls for long ones
  local pause = math.min(self.max_interval, math.max(self.interval, (now - self.start) * 0.25))
  self.next_at = math.min(now + pause, self.deadline)
  return false
end

--- stack:wait{...} -> result | nil, err
function wait.wait(stack, opts)
  local w = wait.new(stack, opts)
  while true do
    local done, res, err = w:poll()
    if done then return res, err end
    local pause = w.next_at - w.clock()
    if pause > 0 then w.sleep(pause) end
  end
end

-- The waiters in a binary min-heap of their indexes, ordered by (next_at, index): the
-- stack due first is found in log(n) steps, where a scan over thousands of waiters per
-- poll cost more than the polls themselves.
local function due_before(waiters, a, b)
  local x, y = waiters[a].next_at, waiters[b].next_at
  return x < y or (x == y and a < b)
end

local function heap_push(heap, waiters, i)
  local n = #heap + 1
  heap[n] = i
  while n > 1 do
    local parent = math.floor(n / 2)
    if not due_before(waiters, heap[n], heap[parent]) then break end
    heap[n], heap[parent] = heap[parent], heap[n]
    n = parent
  end
end

local function heap_pop(heap, waiters)
  local top, n = heap[1], #heap
  local last = heap[n]
  heap[n] = nil
  n = n - 1
  if n == 0 then return top end
  heap[1] = last
  local k = 1
  while true do
    local l, r, m = 2 * k, 2 * k + 1, k
    if l <= n and due_before(waiters, heap[l], heap[m]) then m = l end
    if r <= n and due_before(waiters, heap[r], heap[m]) then m = r end
    if m == k then break end
    heap[k], heap[m] = heap[m], heap[k]
    k = m
  end
  return top
end

--- rfs.wait_all(stacks, opts) -> { results... }, summary. One loop for every stack,
--  polling whichever is due next; one shared retry budget (and, with rate, one pace).
function wait.wait_all(stacks, opts)
  if type(stacks) ~= "table" then error("rfs.wait_all: expected an array of stacks", 2) end
  opts = opts or {}
  local shared = { clock = opts.clock or retry.default_clock(),
                   sleep = opts.sleep or function(s) return retry.default_sleep()(s) end,
                   budget = opts.budget or retry.budget{ rate = 5, burst = 20, clock = opts.clock } }
  local per = {}
  for k, v in pairs(opts) do
    if k ~= "budget" then per[k] = v end
  end
  local waiters, results, heap = {}, {}, {}
  for i, s in ipairs(stacks) do waiters[i] = wait.new(s, per, shared) end
  for i = 1, #waiters do heap_push(heap, waiters, i) end
  while heap[1] do
    local i = heap_pop(heap, waiters)
    local w = waiters[i]
    local pause = w.next_at - shared.clock()
    if pause > 0 then shared.sleep(pause) end
    local done, res, err = w:poll()
    -- a waiter that asks to read again at once (its deployment's events came after its
    -- metadata) is finishing: it reads now, not after every stack that is merely overdue
    local again = 2
    while not done and again > 0 and w.next_at <= shared.clock() do
      done, res, err = w:poll()
      again = again - 1
    end
    if done then
      results[i] = res or { ok = false, error = err, stack = w.stack.name }
    else
      heap_push(heap, waiters, i)
    end
  end
  local summary = { ok = 0, failed = 0, errors = 0 }
  for _, r in ipairs(results) do
    if r.error then summary.errors = summary.errors + 1
    elseif r.ok then summary.ok = summary.ok + 1
    else summary.failed = summary.failed + 1 end
  end
  return results, summary
end

return wait
