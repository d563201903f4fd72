-- Memory: RSS growth between 1,000 and 100,000 metadata calls, and bytes per Stack object.
--   lua5.4 bench/memory_bench.lua PORT   (PORT: a server answering with fixed metadata JSON)
local rfs = require "rfs"

local function rss_kib()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident * 4
end

local port = assert(tonumber(arg[1]), "usage: memory_bench.lua PORT [CALLS]")
local calls = tonumber(arg[2]) or 100000
local client = rfs.new{ endpoint = "http://127.0.0.1:" .. port, project_id = "proj123",
                        ak = "AKBENCH", sk = "bench-secret", retry = false }
local stack = client:stack("my-stack")
local function run(n)
  for _ = 1, n do assert(stack:metadata()) end
end
run(1000)
collectgarbage()
local rss_1k = rss_kib()
run(calls - 1000)
collectgarbage()
local rss_100k = rss_kib()

collectgarbage()
collectgarbage()
local before = collectgarbage("count")
local keep = {}
for i = 1, 100000 do keep[i] = client:stack("stack-" .. i) end
collectgarbage()
local per_stack = (collectgarbage("count") - before) * 1024 / #keep
print(("rss_growth_kib=%d per_stack_bytes=%.0f calls=%d"):format(rss_100k - rss_1k, per_stack, calls))
