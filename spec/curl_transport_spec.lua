-- The libcurl transport against the real emulator: at most once on the wire, the Host
-- sent is the Host signed, and large answers do not stay pinned in the client.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKCURLTRANSPORT01", "curl-transport-secret", "0123456789abcdef0123456789abcdef"

describe("the curl transport", function()
  local em

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 1, queue_seconds = 30 }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:seed{ project_id = PROJECT, stack_name = "c-deploy", status = "DEPLOYMENT_FAILED", deploy_seconds = 600 }
  end)

  local function client(opts)
    local o = { endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, timeout = 2, connect_timeout = 2 }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  local function posts(suffix)
    local list = {}
    for _, r in ipairs(em:requests()) do
      if r.method == "POST" and r.path:sub(-#suffix) == suffix then list[#list + 1] = r end
    end
    return list
  end

  it("sends a continue at most once when the warm connection drops after it was applied", function()
    local c = client{ retry = false }
    local stack = c:stack("c-deploy")
    assert(stack:metadata()) -- the keep-alive connection is now warm
    em:fault{ match = { method = "POST", path = "/continuations" }, drop = "after", count = 1 }
    local res, err = stack:continue_deploy()
    assert.is_nil(res)
    assert.equal("network", err.kind)
    assert.is_true(err.sent) -- maybe applied: it was
    local sent = posts("/continuations")
    assert.equal(1, #sent, "the continue reached the emulator " .. #sent .. " times")
    assert.equal(err.request_id, sent[1].client_request_id)
    -- reads still share one connection afterwards
    assert(stack:metadata())
    c:close()
  end)

  it("signs the Host it sends, for a mixed-case host name", function()
    local port = em.url:match(":(%d+)$")
    local c = client{ endpoint = "http://LocalHost:" .. port, retry = false }
    assert.equal("http://localhost:" .. port, c.endpoint)
    local meta, err = c:stack("c-deploy"):metadata()
    assert.is_truthy(meta, tostring(err))
    assert.equal("DEPLOYMENT_FAILED", meta.status)
    c:close()
  end)

  it("gives the memory of a large answer back instead of keeping it until close()", function()
    -- in a child whose malloc hands every block over 128 KiB back to the system when it is
    -- freed, so that the process size shows what the client still holds
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[
local rfs = require "rfs"
local function vm_kib()
  local f = assert(io.open("/proc/self/statm"))
  local pages = f:read("*n")
  f:close()
  return pages * 4
end
local c = rfs.new{ endpoint = arg[1], project_id = arg[2], ak = arg[3], sk = arg[4], retry = false, timeout = 10 }
assert(c:stack("c-deploy"):metadata())
local stack = c:stack("c-big")
collectgarbage()
collectgarbage()
local before = vm_kib()
local res = stack:metadata() -- answered with 12 MiB of padding (not an RFS answer: nil, err)
assert(res == nil)
collectgarbage()
collectgarbage()
print("grown " .. (vm_kib() - before))
assert(c:stack("c-deploy"):metadata())
c:close()
]])
    f:close()
    em:fault{ match = { path = "/c-big/metadata" }, status = 200, body_bytes = 12 * 1024 * 1024, count = 1 }
    local lua = rawget(_G, "jit") and "luajit" or "lua5.4"
    local cmd = ("MALLOC_MMAP_THRESHOLD_=131072 LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' "
                 .. "%s %s %s %s %s %s 2>&1"):format(lua, lua, script, em.url, PROJECT, AK, SK)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    os.remove(script)
    local grown = tonumber(out:match("grown (%-?%d+)"))
    assert.is_truthy(grown, out)
    assert.is_true(grown < 4 * 1024, ("the client still holds %d KiB after the call"):format(grown))
  end)
end)
