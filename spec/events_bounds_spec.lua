-- One stack:events() call costs bounded time and memory, whatever the server pages:
-- at most 100 pages, about 8 MiB of events, and no page once the deadline has passed.
-- What was read is returned, with list.truncated and the marker to go on from.
local cjson = require "cjson"
local fake = require "fake_transport"

-- A server whose event log never ends (or ends after `last` pages); each answer moves the
-- fake clock by `step` seconds.
local function endless(opts)
  local s = { requests = 0, now = 0 }
  s.clock = function() return s.now end
  s.transport = function(req)
    s.requests = s.requests + 1
    s.now = s.now + (opts.step or 0)
    if req.url:match("/metadata") then
      return { status = 200, headers = {}, body = cjson.encode(fake.metadata{ status = "DEPLOYMENT_IN_PROGRESS" }) }
    end
    local n = tonumber(req.url:match("marker=p(%d+)")) or 0
    local page = { stack_events = {} }
    for i = 1, opts.per_page or 2 do
      page.stack_events[i] = { time = "2026-11-24T00:00:00Z", event_type = "LOG", resource_name = "r" .. n .. "-" .. i,
                               event_message = opts.message or "m" }
    end
    if not opts.last or n + 1 < opts.last then page.page_info = { next_marker = "p" .. (n + 1) } end
    return { status = 200, headers = {}, body = cjson.encode(page) }
  end
  return s
end

describe("stack:events() bounds", function()
  it("reads at most 100 pages in one call, and says where to go on", function()
    local s = endless{}
    local list = assert(fake.client(s):stack("my-stack"):events())
    assert.equal(100, s.requests)
    assert.equal(200, #list)
    assert.is_true(list.truncated)
    assert.equal("p100", list.next_marker)
    assert.matches("^200 events %(newest first%); more not read %(100 pages%), continue with marker = 'p100'",
                   tostring(list))
    -- going on from the marker reads the next pages
    local more = assert(fake.client(s):stack("my-stack"):events{ marker = list.next_marker })
    assert.equal("r100-1", more[1].resource_name)
  end)

  it("stops once about 8 MiB of events are read", function()
    local s = endless{ per_page = 1, message = ("x"):rep(1024 * 1024), last = 20 }
    local list = assert(fake.client(s):stack("my-stack"):events())
    assert.equal(8, s.requests)
    assert.equal(8, #list)
    assert.is_true(list.truncated)
    assert.equal("p8", list.next_marker)
  end)

  it("asks for no page once the deadline has passed", function()
    local s = endless{ step = 1 }
    local list = assert(fake.client(s):stack("my-stack"):events{ deadline = 5, clock = s.clock })
    assert.equal(5, s.requests)
    assert.is_true(list.truncated)
    assert.equal("p5", list.next_marker)
  end)

  it("an ordinary log is read whole, with no truncation flag", function()
    local s = endless{ last = 3 }
    local list = assert(fake.client(s):stack("my-stack"):events())
    assert.equal(6, #list)
    assert.is_nil(list.truncated)
    assert.not_matches("more not read", tostring(list))
  end)

  it("stack:wait{ timeout = 5 } ends near 5 s when the event log pages forever", function()
    local s = endless{ step = 0.05 }
    local stack = fake.client(s):stack("my-stack")
    local res, err = stack:wait{ deployment_id = "d-1", timeout = 5, clock = s.clock,
                                 sleep = function(d) s.now = s.now + d end, on_progress = function() end }
    assert.is_nil(res)
    assert.equal("timeout", err.kind)
    assert.is_true(s.now <= 6, "the wait took " .. s.now .. " s")
  end)
end)
