-- Thousands of stacks: the emulator holds STACKS stacks; client:stacks() lists them all
-- (time, calls, RSS); then WAITED of them run deployments of random length and one
-- rfs.wait_all with rate = RATE requests a second watches them all. Prints lines of
-- the bench/run shape ("NAME: ours X, baseline Y, ratio R").
--   lua5.4 bench/scale.lua [STACKS [WAITED [RATE [TIME_SCALE]]]]
-- Deployments take 1 to 10 emulated minutes, at TIME_SCALE emulated seconds per second.
local rfs = require "rfs"
local core = require "rfs.core"
local emulator_process = require "emulator_process"

local STACKS = tonumber(arg[1]) or 10000
local WAITED = tonumber(arg[2]) or 2000
local RATE = tonumber(arg[3]) or 50
local TIME_SCALE = tonumber(arg[4]) or 20
local QUEUE = 2 -- emulated seconds a continue stays queued
local AK, SK, PROJECT = "AKSCALE", "scale-secret", "0123456789abcdef0123456789abcdef"

local function rss_kib()
  for line in io.lines("/proc/self/status") do
    local kib = line:match("^VmRSS:%s*(%d+)")
    if kib then return tonumber(kib) end
  end
end

local em = emulator_process.start{ ak = AK, sk = SK, time_scale = TIME_SCALE, queue_seconds = QUEUE,
                                   lua = "lua5.4" }
local good, err = pcall(function()
  -- every WAITED-th stack fails, the rest are DEPLOYMENT_COMPLETE; deployments are random
  math.randomseed(18)
  local every = math.floor(STACKS / WAITED)
  local deploy_seconds, seeded = {}, os.time()
  for i = 1, STACKS do
    local name = ("s%05d"):format(i)
    if i % every == 0 and #deploy_seconds < WAITED then
      local d = math.random(60, 600)
      deploy_seconds[name] = d
      deploy_seconds[#deploy_seconds + 1] = name
      em:seed{ project_id = PROJECT, stack_name = name, status = "DEPLOYMENT_FAILED", deploy_seconds = d,
               outcome = "success" }
    else
      em:seed{ project_id = PROJECT, stack_name = name, status = "DEPLOYMENT_COMPLETE" }
    end
  end
  io.stderr:write(("scale: seeded %d stacks in %d s\n"):format(STACKS, os.time() - seeded))

  local client = rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK }
  collectgarbage()
  local rss0, t0, log0 = rss_kib(), core.monotonic(), #em:requests()
  local list = assert(client:stacks())
  local list_seconds = core.monotonic() - t0
  local list_calls = #em:requests() - log0
  collectgarbage()
  local list_rss = rss_kib() - rss0
  assert(#list == STACKS, "listed " .. #list .. " of " .. STACKS .. " stacks")
  print(("scale list: ours %.2f s, %d calls, %d KiB RSS for %d stacks (%.0f bytes each), baseline %d stacks, "
         .. "ratio n/a"):format(list_seconds, list_calls, list_rss, STACKS, list_rss * 1024 / STACKS, STACKS))

  -- the deployments: a continue each, then one wait_all for them all
  local by_name = {}
  for _, s in ipairs(list) do by_name[s.name] = s end
  local stacks, ends = {}, {}
  for i, name in ipairs(deploy_seconds) do
    stacks[i] = by_name[name]
    assert(stacks[i]:continue_deploy())
    -- when the deployment ends, on this process's clock
    ends[i] = core.monotonic() + (QUEUE + deploy_seconds[name]) / TIME_SCALE
  end
  list, by_name = nil, nil -- luacheck: ignore
  collectgarbage()
  local log1 = #em:requests()
  local rss1, cpu1, w1 = rss_kib(), os.clock(), core.monotonic()
  local results, summary = rfs.wait_all(stacks, { rate = RATE })
  local wall, cpu = core.monotonic() - w1, os.clock() - cpu1
  collectgarbage()
  local rss_growth = rss_kib() - rss1
  local calls = #em:requests() - log1
  assert(summary.ok == WAITED, ("%d of %d deployments seen complete (%d failed, %d errors)")
         :format(summary.ok, WAITED, summary.failed, summary.errors))

  -- detection latency: from a deployment's end to the read that showed wait_all its final
  -- state (r.elapsed is taken when that metadata answered, not after the reads that follow)
  local worst, sum = 0, 0
  for i, r in ipairs(results) do
    local late = w1 + r.elapsed - ends[i]
    if late > worst then worst = late end
    sum = sum + late
  end
  -- the arithmetic: a wait polls again after a quarter of the time waited (2 to 30 s), and
  -- the loop polls whichever stack is due first, so once a stack is due every other stack
  -- is polled once more at most before it. A poll costs one read while the deployment runs
  -- or when it is seen finished after it was seen running (events are read only for
  -- on_progress, a failure, or evidence), and three when the stack is first seen already
  -- finished: its metadata, its deployment's events (the evidence that the final state is
  -- this deployment's, not the one before the continue) and its metadata again. A round
  -- at RATE is therefore at most 3 * WAITED / RATE seconds. When reading every stack even
  -- once takes at least the longest pause (WAITED / RATE >= 30 s: 40 s with the defaults),
  -- every stack is due again before its turn comes, the loop reads them in turn, and a
  -- deployment's end is seen within one round: the longer of that and the poll interval.
  -- Otherwise stacks that fall due together after an idle spell can add a round to the
  -- pause, and the bound is their sum.
  local longest = 0
  for i = 1, #ends do longest = math.max(longest, ends[i] - w1) end
  local pause = math.min(30, math.max(2, longest * 0.25))
  local always_due = WAITED / RATE >= 30
  local bound = always_due and math.max(pause, 3 * WAITED / RATE) or pause + 3 * WAITED / RATE
  -- starvation: the longest gap between two reads of one stack while it was waited
  local log = em:requests()
  local last, gap = {}, 0
  for i = log1 + 1, #log do
    local name = log[i].path:match("/stacks/([^/]+)/metadata$")
    if name then
      if last[name] and log[i].time - last[name] > gap then gap = log[i].time - last[name] end
      last[name] = log[i].time
    end
  end
  gap = gap / TIME_SCALE
  print(("scale wait: ours worst detection %.1f s (mean %.1f s), longest gap between polls of one stack %.1f s, "
         .. "baseline %.1f s (the %s of the poll interval, %.1f s, and 3 reads x %d stacks / %d requests/s), ratio %.2f")
        :format(worst, sum / #results, gap, bound, always_due and "longer" or "sum", pause, WAITED, RATE,
                worst / bound))
  print(("scale wait calls: ours %d calls for %d stacks over %.0f s (%.1f/s), baseline %d/s (rate), ratio %.2f")
        :format(calls, WAITED, wall, calls / wall, RATE, calls / wall / RATE))
  print(("scale wait RSS: ours %.2f KiB per waited stack (%d KiB in all), baseline 10 KiB (target), ratio %.2f")
        :format(rss_growth / WAITED, rss_growth, rss_growth / WAITED / 10))
  print(("scale wait CPU: ours %.2f s in %.0f s (%.2f%% of the wall time), baseline 5%% (target), ratio %.2f")
        :format(cpu, wall, 100 * cpu / wall, 100 * cpu / wall / 5))
end)
em:stop()
if not good then
  print("scale: failed, " .. tostring(err):gsub("\n", " "):sub(1, 300))
  os.exit(1)
end
