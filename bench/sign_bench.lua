-- Signatures per second of rfs.sign over 1,000 varied requests.
--   lua5.4 bench/sign_bench.lua [OUT.json]   (writes the requests for the Node baseline)
local rfs = require "rfs"
local core = require "rfs.core"
local cjson = require "cjson"
local requests = require("requests").make(1000)

if arg[1] then
  local f = assert(io.open(arg[1], "w"))
  f:write(cjson.encode(requests))
  f:close()
end

local rounds, t0 = 0, core.monotonic()
local expected = rfs.sign(requests[1]).Authorization
repeat
  for i = 1, #requests do rfs.sign(requests[i]) end
  rounds = rounds + 1
until core.monotonic() - t0 > 2
local rate = rounds * #requests / (core.monotonic() - t0)
assert(rfs.sign(requests[1]).Authorization == expected)
print(("%.0f"):format(rate))
