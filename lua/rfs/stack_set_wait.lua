-- rfs.stack_set_wait: ss:wait{}, waiting for a stack set operation.
--
-- Polls ShowStackSetOperationMetadata until OPERATION_COMPLETE (ok) or OPERATION_FAILED,
-- STOP_COMPLETE, STOP_FAILED (not ok), with the same deadline, adaptive interval, retries and
-- shared budget as stack:wait (rfs.wait, rfs.retry). Someone watching (on_progress) also gets
-- the operation's instances: one report per instance state change. The result has a digest
-- of every failed or cancelled instance and reads as one line per region.

local errors = require "rfs.errors"
local operations = require "rfs.operations"
local retry = require "rfs.retry"
local wait = require "rfs.wait"

local set_wait = {}

local OUTCOMES = { OPERATION_COMPLETE = true, OPERATION_FAILED = false, STOP_COMPLETE = false, STOP_FAILED = false }
set_wait.OUTCOMES = OUTCOMES
-- instances that count as failures in the digest
local BAD = { OPERATION_FAILED = true, INOPERABLE = true, CANCEL_COMPLETE = true }

local OPTIONS = {
  operation_id = "string", timeout = "number", interval = "number", max_interval = "number",
  on_progress = "function", sleep = "function", clock = "function", retry = "table", budget = "table",
}
local UUID = operations.UUID
local DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL = 2, 30
local LEVEL = 4 -- the caller of ss:wait

local printable = errors.printable
local duration = wait.duration

local function check_options(ss, opts)
  local fname = "ss:wait"
  opts = errors.check_options(fname, opts, OPTIONS, LEVEL) or {}
  if opts.operation_id and not opts.operation_id:match(UUID) then
    error("rfs: " .. fname .. ": option 'operation_id' must be a 36-character UUID (got "
          .. errors.display(opts.operation_id) .. ")", LEVEL)
  end
  if not opts.operation_id and not ss.operation_id then
    error("rfs: " .. fname .. ": no operation to wait for: pass operation_id (a stack_set_operation_id), or start "
          .. "one with this object (deploy, create_instances, update_instances, delete_instances)", LEVEL)
  end
  wait.check_timing(fname, opts, LEVEL)
  return opts
end

-- The result ----------------------------------------------------------------------------------

local Result = {}
Result.__index = Result
Result.__name = "rfs.StackSetWaitResult"

--- One line for the operation, then one per region: how many instances ended how, and the
--  failed or cancelled ones with their message.
function Result.__tostring(r)
  local lines = { ("%s %s %s after %s (%d polls)%s"):format(printable(r.stack_set), printable(r.action or "operation"),
    printable(r.status), duration(r.elapsed or 0), r.polls or 0,
    (not r.ok and r.status_message and r.status_message ~= "") and (": " .. printable(r.status_message)) or "") }
  for _, reg in ipairs(r.regions) do
    local counts = {}
    for _, st in ipairs(reg.order) do counts[#counts + 1] = reg.counts[st] .. " " .. st end
    local line = ("  %-16s %d instance%s: %s"):format(printable(reg.region), reg.total, reg.total == 1 and "" or "s",
                                                       printable(table.concat(counts, ", ")))
    local bad = {}
    for _, f in ipairs(reg.failures) do
      bad[#bad + 1] = printable(f.domain_id) .. (f.status_message and (" (" .. printable(f.status_message) .. ")") or "")
    end
    if #bad > 0 then line = line .. "; " .. table.concat(bad, ", ") end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n")
end

local function regions_of(instances)
  local list, by = {}, {}
  for _, i in ipairs(instances) do
    local reg = by[i.region]
    if not reg then
      reg = { region = i.region, total = 0, counts = {}, order = {}, failures = {} }
      by[i.region] = reg
      list[#list + 1] = reg
    end
    reg.total = reg.total + 1
    if not reg.counts[i.status] then
      reg.counts[i.status] = 0
      reg.order[#reg.order + 1] = i.status
    end
    reg.counts[i.status] = reg.counts[i.status] + 1
    if BAD[i.status] then
      reg.failures[#reg.failures + 1] = { region = i.region, domain_id = i.stack_domain_id, status = i.status,
                                          status_message = i.status_message }
    end
  end
  table.sort(list, function(a, b) return a.region < b.region end)
  for _, reg in ipairs(list) do
    table.sort(reg.order)
    table.sort(reg.failures, function(a, b) return tostring(a.domain_id) < tostring(b.domain_id) end)
  end
  return list
end

-- The waiter ----------------------------------------------------------------------------------

local READ_ONCE = { no_retry = true }

local function instance_key(i) return tostring(i.region) .. "/" .. tostring(i.stack_domain_id) end

--- ss:wait{...} -> result | nil, err
function set_wait.wait(ss, opts)
  opts = check_options(ss, opts)
  local stack_sets = require "rfs.stack_sets"
  local clock = opts.clock or retry.default_clock()
  local sleep = opts.sleep or function(s) return retry.default_sleep()(s) end
  local id = opts.operation_id or ss.operation_id
  local start = clock()
  local deadline = start + (opts.timeout or (6 * 3600 + 600))
  local interval = opts.interval or math.min(DEFAULT_INTERVAL, opts.max_interval or DEFAULT_INTERVAL)
  local max_interval = opts.max_interval or math.max(DEFAULT_MAX_INTERVAL, opts.interval or DEFAULT_MAX_INTERVAL)
  local rp = {}
  for k, v in pairs(opts.retry or {}) do rp[k] = v end
  rp.sleep, rp.clock, rp.budget, rp.deadline = rp.sleep or sleep, rp.clock or clock, rp.budget or opts.budget, deadline
  local policy = retry.policy(rp)
  local polls, status, seen = 0, nil, {}

  local function progress(p)
    if opts.on_progress then
      p.stack = ss.name
      p.elapsed = clock() - start
      p.operation_id = id
      opts.on_progress(p)
    end
  end
  local function read(fn)
    polls = polls + 1
    return retry.call(function(attempt)
      if attempt > 1 then polls = polls + 1 end
      return fn()
    end, policy)
  end
  -- the operation's instances (those whose latest operation is this one); reports changes
  local function follow_instances()
    local list, err = read(function() return ss:instances() end)
    if not list then return nil, err end
    local mine = {}
    for _, i in ipairs(list) do
      if i.latest_stack_set_operation_id == id then
        mine[#mine + 1] = i
        local k = instance_key(i)
        if seen[k] ~= i.status then
          progress{ type = "instance", region = i.region, domain_id = i.stack_domain_id, status = i.status,
                    previous = seen[k], status_message = i.status_message }
          seen[k] = i.status
        end
      end
    end
    return mine
  end

  while true do
    local meta, err = read(function() return stack_sets.read_operation(ss, id, READ_ONCE) end)
    if not meta then return nil, err end
    local previous = status
    status = meta.status
    if opts.on_progress and status ~= "QUEUE_IN_PROGRESS" then
      local _, ierr = follow_instances()
      if ierr then return nil, ierr end
    end
    if previous ~= status then progress{ type = "status", status = status, previous = previous } end
    if OUTCOMES[status] ~= nil then
      local instances, ierr = follow_instances()
      if not instances then return nil, ierr end
      local ok = OUTCOMES[status]
      local res = setmetatable({
        ok = ok, status = status, status_message = meta.status_message, action = meta.action, operation_id = id,
        stack_set = ss.name, elapsed = clock() - start, polls = polls, instances = instances,
        regions = regions_of(instances), failures = {},
      }, Result)
      for _, reg in ipairs(res.regions) do
        for _, f in ipairs(reg.failures) do res.failures[#res.failures + 1] = f end
      end
      progress{ type = "done", status = status, ok = ok }
      return res
    end
    local now = clock()
    if now >= deadline then
      return nil, errors.new{
        kind = "timeout", operation = "wait", retryable = false,
        message = ("stack set %s: operation %s is still %s after %s; it goes on at RFS, resume with "
                   .. "ss:wait{ operation_id = \"%s\" }"):format(ss.name, id, tostring(status), duration(now - start), id),
        hint = "raise timeout, or resume the wait later with the operation_id",
      }
    end
    local pause = math.min(max_interval, math.max(interval, (now - start) * 0.25))
    pause = math.min(pause, deadline - now)
    if pause > 0 then sleep(pause) end
  end
end

return set_wait
