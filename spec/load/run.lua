-- make load: 20 client processes x 500 calls against one emulator with ~10% of the
-- requests answered 429 or 503. Every call must end in a result or a returned error,
-- no continue may be applied twice, and the run must end within its bound.
--   lua5.4 spec/load/run.lua [PROCESSES] [CALLS]
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/support/?.lua;" .. package.path
local E = require "emulator_process"
local socket = require "socket"

local PROCESSES, CALLS, BOUND = tonumber(arg[1]) or 20, tonumber(arg[2]) or 500, 240
local AK, SK, PROJECT = "AKLOADTEST0000001", "load-test-secret", "0123456789abcdef0123456789abcdef"
local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

local em = E.start{ ak = AK, sk = SK, queue_seconds = 3600 }
for i = 1, PROCESSES do
  em:seed{ project_id = PROJECT, stack_name = "load-" .. i, status = "DEPLOYMENT_FAILED", deploy_seconds = 3600 }
end
em:fault{ status = 429, rate = 0.05, retry_after = 0 }
em:fault{ status = 503, rate = 0.05 }

local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)
local t0 = socket.gettime()
local cmds = {}
for i = 1, PROCESSES do
  cmds[#cmds + 1] = ("(HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s "
    .. "LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' timeout %d %s spec/load/client.lua "
    .. "%s load-%d %d %d > %s/%d.out 2>&1; echo $? > %s/%d.code) &"):format(AK, SK, PROJECT, LUA, BOUND, LUA,
    em.url, i, CALLS, i, dir, i, dir, i)
end
os.execute(table.concat(cmds, " ") .. " wait")
local elapsed = socket.gettime() - t0

local failures, total_ok, total_err, crashed = {}, 0, 0, 0
local continues = {}
for i = 1, PROCESSES do
  local f = io.open(dir .. "/" .. i .. ".code")
  local code = f and f:read("*n")
  if f then f:close() end
  f = io.open(dir .. "/" .. i .. ".out")
  local out = f and f:read("*a") or ""
  if f then f:close() end
  local ok, errs, cont = out:match("ok=(%d+) errors=(%d+) continue=(%S+)")
  if code ~= 0 or not ok then
    crashed = crashed + 1
    failures[#failures + 1] = ("process %d exited %s: %s"):format(i, tostring(code), out:sub(1, 300))
  else
    total_ok, total_err = total_ok + tonumber(ok), total_err + tonumber(errs)
    continues["load-" .. i] = cont
  end
end
os.execute("rm -rf " .. dir)

-- the emulator's log: continues that started a deployment, per stack
local applied, requests, faulted = {}, 0, 0
for _, r in ipairs(em:requests()) do
  requests = requests + 1
  if r.status == 429 or r.status == 503 then faulted = faulted + 1 end
  if r.applied then
    local name = r.path:match("/stacks/([^/]+)/")
    applied[name] = (applied[name] or 0) + 1
  end
end
em:stop()
for name, cont in pairs(continues) do
  local n = applied[name] or 0
  if n > 1 then failures[#failures + 1] = name .. ": continue applied " .. n .. " times" end
  if cont:match("^error") and n ~= 0 then failures[#failures + 1] = name .. ": an error was returned but it applied" end
  if (cont == "accepted" or cont == "recovered") and n ~= 1 then
    failures[#failures + 1] = name .. ": reported " .. cont .. " but applied " .. n .. " times"
  end
end
if elapsed > BOUND then failures[#failures + 1] = ("took %.0f s, over the %d s bound"):format(elapsed, BOUND) end

print(("load: %d processes x %d calls in %.1f s: %d ok, %d returned errors, %d crashed; the emulator saw %d "
       .. "requests, %d answered 429/503 (%.1f%%); no continue applied twice: %s")
      :format(PROCESSES, CALLS, elapsed, total_ok, total_err, crashed, requests, faulted,
              100 * faulted / math.max(1, requests), #failures == 0 and "yes" or "NO"))
for _, f in ipairs(failures) do print("load FAILURE: " .. f) end
os.exit(#failures == 0 and 0 or 1)
