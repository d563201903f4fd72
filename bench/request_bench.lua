-- stack:metadata() calls per second over one keep-alive connection.
--   lua5.4 bench/request_bench.lua URL SECONDS
--   lua5.4 bench/request_bench.lua URL calls=N   (N calls, for counting instructions)
local rfs = require "rfs"
local core = require "rfs.core"

local url = arg[1]
local limit = tonumber((arg[2] or ""):match("^calls=(%d+)$"))
local seconds = tonumber(arg[2]) or 3
local client = rfs.new{ endpoint = url, project_id = "proj123", ak = "AKBENCH", sk = "bench-secret", retry = false }
local stack = client:stack("my-stack")
local calls, t0 = 0, core.monotonic()
while (limit and calls < limit) or (not limit and core.monotonic() - t0 < seconds) do
  assert(stack:metadata())
  calls = calls + 1
end
print(("%.0f"):format(calls / (core.monotonic() - t0)))
