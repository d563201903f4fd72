-- Faults through the real C core (libcurl) and the emulator process: every operation under
-- every fault gives the right error kind, the process keeps working, no continue is
-- applied twice, and no socket or handle leaks.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKFAULTS000000001", "faults-secret-key", "0123456789abcdef0123456789abcdef"

local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("*n")
  f:close()
  return pid
end

local PID = my_pid()

-- The open descriptors as "fd -> what" (socket:[inode], pipe:[inode], a path). Read by
-- a child writing to a file, so that counting opens no descriptor in this process.
local function open_fds()
  collectgarbage()
  collectgarbage()
  local tmp = os.tmpname()
  os.execute("ls -l /proc/" .. PID .. "/fd > " .. tmp .. " 2>/dev/null")
  local set = {}
  for line in io.lines(tmp) do
    local fd, target = line:match("(%d+) %-> (.*)$")
    if fd then set[fd .. " -> " .. target] = true end
  end
  os.remove(tmp)
  return set
end

-- A leak is a descriptor open at the end that was not open at the start. One that was
-- closed meanwhile (a collected object of an earlier spec) is not a leak.
local function assert_no_new_fds(before, what)
  local new = {}
  for k in pairs(open_fds()) do
    if not before[k] then new[#new + 1] = k end
  end
  table.sort(new)
  assert.same({}, new, (what or "") .. "file descriptors leaked")
end

local closed_port = E.closed_port

describe("faults", function()
  local em

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 1, queue_seconds = 30 }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  before_each(function()
    em:reset()
    em:seed{ project_id = PROJECT, stack_name = "f-deploy", status = "DEPLOYMENT_FAILED", deploy_seconds = 600 }
    em:seed{ project_id = PROJECT, stack_name = "f-rollback", status = "ROLLBACK_FAILED", rollback_seconds = 600 }
  end)

  local function client(opts)
    local o = { endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, timeout = 1, connect_timeout = 1,
                retry = { attempts = 3, base = 0.01, cap = 0.02 } }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  -- continues that started a deployment at the emulator
  local function applied(suffix)
    local n = 0
    for _, r in ipairs(em:requests()) do
      if r.path:sub(-#suffix) == suffix and r.applied then n = n + 1 end
    end
    return n
  end

  local OPS = {
    { name = "metadata", path = "/metadata", method = "GET", stack = "f-deploy",
      call = function(s) return s:metadata() end },
    { name = "events", path = "/events", method = "GET", stack = "f-deploy",
      call = function(s) return s:events() end },
    { name = "continue_deploy", path = "/continuations", method = "POST", stack = "f-deploy",
      call = function(s) return s:continue_deploy() end },
    { name = "continue_rollback", path = "/rollbacks", method = "POST", stack = "f-rollback",
      call = function(s) return s:continue_rollback() end },
  }

  -- fault, the kind a call with retries off gets, the kind with retries on (nil: it succeeds)
  local FAULTS = {
    { "500", { status = 500 }, "server" },
    { "502", { status = 502 }, "server" },
    { "503", { status = 503 }, "server" },
    { "429 with Retry-After", { status = 429, retry_after = 0 }, "throttled" },
    { "429 without Retry-After", { status = 429 }, "throttled" },
    { "401 stale signature", { status = 401 }, "auth", "auth" },
    { "409", { status = 409, error_code = "AOS.01.0409" }, "conflict" },
    { "drop before sending an answer", { drop = "before" }, "network" },
    { "drop after applying", { drop = "after" }, "network" },
    { "slow answer past the timeout", { delay = 1.5, status = 200, body = "{}" }, "timeout" },
    { "truncated body", { status = 200, body = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3",'
                                                    .. '"stack_name":"x","status":"X"}', truncate = true }, "network" },
    { "non-JSON body", { status = 200, body = "<html>gateway error</html>" }, "decode", "decode" },
    { "JSON with wrong types", { status = 200, body = '{"stack_id":5,"stack_name":[],"status":true,'
                                                       .. '"deployment_id":7,"stack_events":"no"}' }, "decode", "decode" },
  }

  for _, op in ipairs(OPS) do
    for _, f in ipairs(FAULTS) do
      it(op.name .. ": " .. f[1], function()
        local fds = open_fds()
        local fault = { match = { method = op.method, path = op.path }, count = 1 }
        for k, v in pairs(f[2]) do fault[k] = v end
        -- without retries: the error kind of the fault itself
        em:fault(fault)
        local c = client{ retry = false }
        local stack = c:stack(op.stack)
        local res, err = op.call(stack)
        local is_continue = op.method == "POST"
        -- a continue answered 2xx was applied, however odd the body: accepted, no deployment_id
        local accepted = is_continue and f[3] == "decode"
        if accepted then
          assert.is_nil(err)
          assert.is_true(res.accepted)
          assert.is_nil(res.deployment_id)
          assert.is_nil(stack.deployment_id)
        else
          assert.is_nil(res) -- with retries off even a lost answer is reported, not guessed
          assert.equal(f[3], err.kind, tostring(err))
          assert.is_truthy(err.request_id)
          assert.not_matches(SK, tostring(err), 1, true)
        end
        -- the process and the client keep working
        assert.truthy(c:stack("f-deploy"):metadata())
        c:close()
        -- with retries: reads recover, continues are applied at most once
        em:reset()
        em:seed{ project_id = PROJECT, stack_name = "f-deploy", status = "DEPLOYMENT_FAILED", deploy_seconds = 600 }
        em:seed{ project_id = PROJECT, stack_name = "f-rollback", status = "ROLLBACK_FAILED", rollback_seconds = 600 }
        em:fault(fault)
        local c2 = client()
        res, err = op.call(c2:stack(op.stack))
        if accepted then
          assert.is_true(res.accepted)
          assert.equal(1, #em:requests(), "a continue answered 2xx is sent once")
        elseif f[4] then
          assert.is_nil(res)
          assert.equal(f[4], err.kind)
        elseif is_continue then
          -- applied exactly once, whether the answer got through or not
          assert.equal(1, applied(op.path), "applied " .. applied(op.path) .. " times")
        else
          assert.truthy(res, tostring(err))
        end
        c2:close()
        collectgarbage()
        collectgarbage()
        assert_no_new_fds(fds)
      end)
    end
  end

  it("connection refused: network, nothing sent, nothing leaked, for every operation", function()
    local fds = open_fds()
    local c = client{ endpoint = "http://127.0.0.1:" .. closed_port(), retry = false }
    for _, op in ipairs(OPS) do
      local res, err = op.call(c:stack(op.stack))
      assert.is_nil(res)
      assert.equal("network", err.kind)
      assert.is_false(err.sent)
    end
    c:close()
    collectgarbage()
    assert_no_new_fds(fds)
  end)

  it("cuts off a response over 16 MiB with an error", function()
    em:fault{ match = { path = "/metadata" }, status = 200, body_bytes = 17 * 1024 * 1024 }
    local c = client{ retry = false, timeout = 10 }
    local res, err = c:stack("f-deploy"):metadata()
    assert.is_nil(res)
    assert.equal("decode", err.kind)
    assert.matches("16 MiB", err.message)
    assert.truthy(c:stack("f-deploy"):metadata())
    c:close()
  end)
end)
