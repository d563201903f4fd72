-- API calls and detection latency per wait, ours vs a fixed 5-second metadata poller
-- (KooCLI's waiter), on emulated deployments of 1 min, 30 min and 6 h with a 2 s queue.
-- Runs on a fake clock against the emulator's state machine: seconds, not hours.
--   lua5.4 bench/wait_efficiency.lua
local inproc = require "inproc"

local QUEUE = 2

local function ours(seconds)
  local w = inproc.new{ queue_seconds = QUEUE }
  w:seed{ stack_name = "s", status = "DEPLOYMENT_FAILED", deploy_seconds = seconds }
  local stack = w:client():stack("s")
  assert(stack:continue_deploy())
  local before = #w:requests()
  local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock })
  return #w:requests() - before, res.elapsed - (QUEUE + seconds)
end

local function fixed_poller(seconds)
  local w = inproc.new{ queue_seconds = QUEUE }
  w:seed{ stack_name = "s", status = "DEPLOYMENT_FAILED", deploy_seconds = seconds }
  local stack = w:client():stack("s")
  assert(stack:continue_deploy())
  local before, start = #w:requests(), w.t
  local seen_running = false
  while true do
    local meta = assert(stack:metadata())
    if meta.status ~= "DEPLOYMENT_FAILED" then seen_running = true end
    if seen_running and meta.status:match("COMPLETE$") or (seen_running and meta.status:match("FAILED$")) then break end
    w.sleep(5)
  end
  return #w:requests() - before, (w.t - start) - (QUEUE + seconds)
end

-- Detection latency depends on where the end falls between two polls: measure ten
-- deployment lengths spread over one 30 s cap interval and report mean and worst.
local function measure(fn, seconds)
  local calls, sum, worst = 0, 0, 0
  for k = 0, 9 do
    local c, latency = fn(seconds + 3 * k)
    calls, sum, worst = calls + c, sum + latency, math.max(worst, latency)
  end
  return calls / 10, sum / 10, worst
end

for _, case in ipairs({ { "1min", 60 }, { "30min", 1800 }, { "6h", 6 * 3600 } }) do
  local calls, mean, worst = measure(ours, case[2])
  local bcalls, bmean, bworst = measure(fixed_poller, case[2])
  print(("wait %s: ours %.0f calls / %.1f s mean %.0f s worst latency, baseline %.0f calls / %.1f s mean %.0f s worst "
         .. "latency (fixed 5 s poller), ratio %.2f"):format(case[1], calls, mean, worst, bcalls, bmean, bworst,
                                                            calls / bcalls))
end
