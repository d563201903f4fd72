-- One load-test client process: CALLS calls against STACK, one of them a continue.
--   lua5.4 spec/load/client.lua ENDPOINT STACK CALLS SEED
-- Prints "ok=N errors=N continue=accepted|recovered|error:KIND kinds=k1:n,k2:n" and exits 0
-- unless something was raised (a crash is what this test looks for).
local rfs = require "rfs"

local endpoint, name, calls, seed = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
math.randomseed(seed)
local client = rfs.new{ endpoint = endpoint, timeout = 10,
                        retry = { attempts = 6, base = 0.05, cap = 0.5 } }
local stack = client:stack(name)
local continue_at = math.random(1, calls)
local ok, errors, kinds, cont = 0, 0, {}, "not sent"
for i = 1, calls do
  local res, err
  if i == continue_at then
    res, err = stack:continue_deploy()
    cont = res and (res.recovered and "recovered" or "accepted") or ("error:" .. err.kind)
  else
    res, err = stack:metadata()
  end
  if res then
    ok = ok + 1
  else
    errors = errors + 1
    kinds[err.kind] = (kinds[err.kind] or 0) + 1
  end
end
client:close()
local k = {}
for kind, n in pairs(kinds) do k[#k + 1] = kind .. ":" .. n end
print(("ok=%d errors=%d continue=%s kinds=%s"):format(ok, errors, cont, table.concat(k, ",")))
