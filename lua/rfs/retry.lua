-- rfs.retry: exponential backoff with full jitter, Retry-After, a shared token
-- bucket, and the rules for re-sending a continue that is not idempotent.
--
-- Effects are injected: policy.sleep, policy.clock (monotonic seconds) and
-- policy.random (default: the C core's CSPRNG), so specs run six hours of backoff in
-- milliseconds.

local errors = require "rfs.errors"

local retry = {}

local POLICY_KEYS = {
  attempts = "number", base = "number", cap = "number", deadline = "number", max_elapsed = "number",
  sleep = "function", clock = "function", random = "function", budget = "table",
  on_retry = "function",
}
local DEFAULTS = { attempts = 5, base = 0.5, cap = 20 }

-- Defaults: nginx's non-blocking sleep and cached clock inside OpenResty, the C core's
-- monotonic clock and nanosleep elsewhere.
local function in_ngx_yieldable_phase()
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.sleep) ~= "function" then return false end
  local ok, phase = pcall(ngx.get_phase)
  return ok and (phase == "rewrite" or phase == "access" or phase == "content" or phase == "timer"
                 or phase == "ssl_cert" or phase == "ssl_session_fetch")
end

function retry.default_sleep()
  if in_ngx_yieldable_phase() then return rawget(_G, "ngx").sleep end
  return require("rfs.core").sleep
end

function retry.default_clock()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.now) == "function" then
    return function()
      ngx.update_time()
      return ngx.now()
    end
  end
  return require("rfs.core").monotonic
end

--- Raises, naming the option and its range, unless v is a finite number in [lo, hi]
--  (an integer when `integer`). fname names the call in the message.
function retry.check_number(fname, name, v, lo, hi, integer, level)
  local ok = v == v and v ~= math.huge and v ~= -math.huge and v >= lo and v <= hi
    and (not integer or v == math.floor(v))
  if ok then return v end
  local range
  if lo == -math.huge then range = "a finite number"
  elseif hi == math.huge then range = ("%s >= %s"):format(integer and "an integer" or "a finite number", lo)
  else range = ("%s from %s to %s"):format(integer and "an integer" or "a number", lo, hi) end
  error(("rfs: %s: option '%s' must be %s (got %s)"):format(fname, name, range, tostring(v)), (level or 2) + 1)
end
local check_number = retry.check_number

--- Validates and completes a retry policy. Unknown keys raise, naming the key.
function retry.policy(opts)
  opts = errors.check_options("retry", opts, POLICY_KEYS, 2) or {}
  local p = {}
  for k, v in pairs(opts) do p[k] = v end
  for k, v in pairs(DEFAULTS) do
    if p[k] == nil then p[k] = v end
  end
  check_number("retry", "attempts", p.attempts, 1, 100, true, 2)
  check_number("retry", "base", p.base, 0, math.huge, false, 2)
  check_number("retry", "cap", p.cap, 0, math.huge, false, 2)
  if p.deadline then check_number("retry", "deadline", p.deadline, -math.huge, math.huge, false, 2) end
  if p.max_elapsed then check_number("retry", "max_elapsed", p.max_elapsed, 0, math.huge, false, 2) end
  -- the default sleep is chosen when it is called: a client built in init_by_lua must
  -- still sleep with ngx.sleep when it runs in a request or a timer
  p.sleep = p.sleep or function(seconds) return retry.default_sleep()(seconds) end
  p.clock = p.clock or retry.default_clock()
  p.random = p.random or retry.random
  return p
end

--- The jitter's random number in [0, 1), drawn from the C core's CSPRNG: two processes
--  (or two forked nginx workers) never back off in step, and a program's own
--  math.random and math.randomseed are left alone.
function retry.random()
  return tonumber(require("rfs.core").uuid4():sub(1, 8), 16) / 4294967296
end

--- Seconds to wait before attempt n+1: full jitter, capped, never less than Retry-After.
function retry.delay(policy, attempt, err)
  local ceiling = math.min(policy.cap, policy.base * 2 ^ (attempt - 1))
  local d = policy.random() * ceiling
  if err and err.retry_after and err.retry_after > d then d = err.retry_after end
  return d
end

-- Retry-After: delta-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
                 Nov = 11, Dec = 12 }

local function epoch_of(y, mo, d, h, mi, s)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + s
end

--- Seconds to wait, from a Retry-After value and the current epoch time; nil if unreadable.
function retry.parse_retry_after(value, now_epoch)
  if type(value) ~= "string" then return nil end
  local n = value:match("^%s*(%d+)%s*$")
  if n then return tonumber(n) end
  local d, mon, y, h, mi, s = value:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d or not MONTHS[mon] then return nil end
  local at = epoch_of(tonumber(y), MONTHS[mon], tonumber(d), tonumber(h), tonumber(mi), tonumber(s))
  return math.max(0, at - math.floor(now_epoch or os.time()))
end

-- A shared token bucket: every retry (never a first attempt) takes a token. -------------

local Budget = {}
Budget.__index = Budget

function Budget:refill(now)
  local elapsed = now - self.last
  if elapsed > 0 then
    self.tokens = math.min(self.burst, self.tokens + elapsed * self.rate)
    self.last = now
  end
end

--- Takes one token, sleeping (through sleep) until one is there; returns the seconds waited.
function Budget:take(sleep, clock)
  clock = clock or self.clock
  self:refill(clock())
  local waited = 0
  if self.tokens < 1 then
    waited = (1 - self.tokens) / self.rate
    sleep(waited)
    self:refill(clock())
    if self.tokens < 1 then self.tokens = 1 end -- a clock that did not move with the sleep
  end
  self.tokens = self.tokens - 1
  self.taken = self.taken + 1
  return waited
end

function Budget:__tostring()
  return ("rfs.retry.budget(%.1f tokens/s, burst %d, %d taken)"):format(self.rate, self.burst, self.taken)
end

--- retry.budget{ rate = tokens per second, burst = N, clock = } -> one budget for many clients.
function retry.budget(opts)
  opts = opts or {}
  local clock = opts.clock or retry.default_clock()
  local b = setmetatable({ rate = opts.rate or 1, burst = opts.burst or 10, clock = clock, taken = 0 }, Budget)
  if type(b.rate) ~= "number" or b.rate ~= b.rate or b.rate <= 0 or b.rate == math.huge then
    error("rfs: retry.budget: option 'rate' must be a finite number > 0 (got " .. tostring(b.rate) .. ")", 2)
  end
  if type(b.burst) ~= "number" then error("rfs: retry.budget: option 'burst' must be a number", 2) end
  check_number("retry.budget", "burst", b.burst, 1, math.huge, false, 2)
  b.tokens, b.last = b.burst, clock()
  return b
end

-- Calls --------------------------------------------------------------------------------

-- start: when the call began (read from the clock here when the caller did not)
local function deadline_of(policy, start)
  if policy.deadline then return policy.deadline end
  if policy.max_elapsed then return (start or policy.clock()) + policy.max_elapsed end
end

-- Sleeps before the next attempt; false when the deadline does not leave room for it.
-- A Retry-After longer than the policy's cap, or than the time left, is not slept: a
-- server asking for days (or a date in 2999) gets its throttled error back at once, with
-- err.retry_after saying when it would take the call again.
local function back_off(policy, attempt, err, deadline)
  local asked = type(err) == "table" and err.retry_after
  if asked and (asked > policy.cap or (deadline and policy.clock() + asked > deadline)) then return false end
  local d = retry.delay(policy, attempt, err)
  if deadline and policy.clock() + d > deadline then return false end
  if policy.on_retry then
    policy.on_retry{ attempt = attempt, attempts = policy.attempts, delay = d, kind = type(err) == "table" and err.kind,
                     status = type(err) == "table" and err.status or nil, retry_after = asked or nil }
  end
  if policy.budget then policy.budget:take(policy.sleep, policy.clock) end
  policy.sleep(d)
  return true
end
retry.back_off = back_off

--- Calls fn(attempt) until it returns a value, the error is not retryable, the attempts
--  run out or the deadline would pass. Returns fn's values, or nil and the last error
--  with err.attempts set. A caller that already made the first attempt passes when it
--  started (nil when the policy has no max_elapsed) and the error it got: the loop goes
--  on from there.
function retry.call(fn, policy, start, first_err)
  local deadline = deadline_of(policy, start)
  for attempt = 1, policy.attempts do
    local v, err, a, b
    if attempt == 1 and first_err ~= nil then err = first_err else v, err, a, b = fn(attempt) end
    if v ~= nil then return v, err, a, b end
    if type(err) == "table" then err.attempts = attempt end
    if not (type(err) == "table" and err.retryable) or attempt == policy.attempts
      or not back_off(policy, attempt, err, deadline) then
      return nil, err
    end
  end
end

-- Continues ----------------------------------------------------------------------------

local NEEDS = { continue_deploy = "DEPLOYMENT_FAILED", continue_rollback = "ROLLBACK_FAILED" }
retry.NEEDS = NEEDS

local function accepted(operation, status, why)
  return { deployment_id = nil, accepted = true, recovered = true, status = status, operation = operation,
           note = why }
end

-- After an answer that may have been lost: did our continue take effect?
local function took_effect(stack, needs)
  local meta = stack:metadata()
  if meta and meta.status ~= needs then return true, meta.status end
  return false, meta and meta.status
end

--- Sends a continue (not idempotent at RFS) so that it is applied at most once:
--  a request that surely did not arrive, or was throttled, is re-sent after backoff;
--  after an ambiguous failure (timeout, drop after sending, 5xx) the stack's state
--  decides: if it left the state the continue needs, the continue was accepted; if not,
--  one re-send tells (202: the first never arrived; 409 or a state refusal: it did).
--  A 409 on a first send is waited out: re-sent only while the stack still needs it.
function retry.continue(stack, operation, send, policy)
  local needs = assert(NEEDS[operation], "unknown operation")
  local deadline = deadline_of(policy, policy.clock())
  local maybe_applied = false
  local last
  for attempt = 1, policy.attempts do
    local res, err = send()
    if res then return res end
    err.attempts = attempt
    last = err
    if maybe_applied and (err.kind == "conflict" or err.kind == "invalid_state") then
      return accepted(operation, err.stack_status or needs, "an earlier attempt was accepted (" .. err.kind .. ")")
    end
    if err.kind == "conflict" then
      -- another request for the stack is in progress: ours was refused, nothing applied
      if not back_off(policy, attempt, err, deadline) then return nil, err end
      local moved, status = took_effect(stack, needs)
      if moved then
        err.message = err.message .. "; the stack is now " .. tostring(status)
        return nil, err
      end
    elseif err.retryable and (err.sent == false or err.kind == "throttled") then
      if attempt == policy.attempts or not back_off(policy, attempt, err, deadline) then return nil, err end
    elseif err.retryable then
      -- ambiguous: the request may have been applied
      local moved, status = took_effect(stack, needs)
      if moved then return accepted(operation, status, "the answer was lost: " .. err.kind) end
      maybe_applied = true
      if attempt == policy.attempts or not back_off(policy, attempt, err, deadline) then return nil, err end
    else
      return nil, err
    end
  end
  return nil, last or errors.new{ kind = "network", message = operation .. " was not attempted" }
end

return retry
