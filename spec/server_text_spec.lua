-- Text a server sends is shown, never obeyed: no answer can clear a terminal, move its
-- cursor or forge a line in what tostring and the progress renderers print.
local rfs = require "rfs"
local errors = require "rfs.errors"
local fake = require "fake_transport"

local HOSTILE = "quota\27[2J\27]0;pwned\7 exceeded\r\nrfs: all good\194\155 31m"

local function no_controls(text, what)
  assert.is_nil(text:find("[%c\127]"), what .. " carries a control character: " .. errors.display(text))
  assert.is_nil(text:find("\194[\128-\159]"), what .. " carries a C1 control: " .. errors.display(text))
end

describe("errors.printable", function()
  it("escapes control characters, joins lines, and keeps printable and UTF-8 text", function()
    assert.equal("a\\x1b[2Jb c\\x07 d\\x7f\\xc2\\x9b", errors.printable("a\27[2Jb\r\nc\7\td\127\194\155"))
    assert.equal("資源 état ok", errors.printable("資源 état ok"))
    assert.equal("", errors.printable(nil))
  end)
end)

describe("what is rendered from a server's answer", function()
  it("metadata, events, errors and a wait result show escaped text on the lines they should", function()
    local t = fake.new()
    local now = 0
    local stack = fake.client(t):stack("my-stack")
    t:push(200, fake.metadata{ status_message = HOSTILE })
    local meta = assert(stack:metadata())
    no_controls(tostring(meta), "tostring(metadata)")
    assert.matches("quota\\x1b[2J", tostring(meta), 1, true)

    local ev = { time = "2026-11-24T00:00:01Z\27[1A", event_type = "CREATION_FAILED", resource_name = "ecs\r\nX",
                 resource_type = "huaweicloud_compute_instance\27[0m", event_message = HOSTILE }
    t:push(200, { stack_events = { ev, ev } })
    local list = assert(stack:events())
    local text = tostring(list)
    local lines = {}
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      no_controls(line, "a line of tostring(events)")
      lines[#lines + 1] = line
    end
    assert.equal(3, #lines) -- the heading and one line per event, none forged

    t:push(500, { error_code = "AOS.00.0500", error_msg = HOSTILE })
    local _, err = stack:metadata()
    no_controls(tostring(err), "tostring(err)")

    -- a wait that ends in a failure, with the failure events in its result
    stack = fake.client(t):stack("my-stack")
    t:push(200, fake.metadata{ status = "DEPLOYMENT_IN_PROGRESS" })
    t:push(200, { stack_events = { ev } })
    t:push(200, fake.metadata{ status = "DEPLOYMENT_FAILED", status_message = HOSTILE, update_time = "later" })
    t:push(200, { stack_events = { ev } })
    t:push(200, { stack_events = { ev } })
    local seen = {}
    local res = assert(stack:wait{ deployment_id = "d-1", clock = function() return now end,
                                   sleep = function(s) now = now + s end,
                                   on_progress = function(p) seen[#seen + 1] = rfs.progress.format(p) end })
    assert.is_false(res.ok)
    no_controls(tostring(res), "tostring(wait result)")
    assert.matches("ecs X (CREATION_FAILED: quota\\x1b[2J", tostring(res), 1, true)
    assert.is_true(#seen >= 3)
    for _, line in ipairs(seen) do no_controls(line, "a progress line") end
  end)

  it("a progress line is one line whatever the event says", function()
    local out = {}
    local on = rfs.progress.human{ out = { write = function(_, ...) for _, s in ipairs{ ... } do out[#out + 1] = s end end } }
    on{ type = "event", stack = "s1", elapsed = 1, event = { resource_name = "vpc\27[31m", event_type = "LOG\r\n",
                                                            event_message = HOSTILE } }
    on{ type = "status", stack = "s1", elapsed = 2, status = "DEPLOYMENT\27[2KFAILED" }
    local text = table.concat(out)
    local n = 0
    for line in text:gmatch("([^\n]*)\n") do
      no_controls(line, "a progress line")
      n = n + 1
    end
    assert.equal(2, n)
  end)

  it("JSON progress lines are written whatever odd values an event carries", function()
    local cjson = require "cjson"
    local client = require "rfs.client"
    local odd = client.decode('{"event_type":"LOG","event_message":"m","elapsed_seconds":1e999,'
                              .. '"tags":[1,null,null,null,null,null,null,null,null,null,null,null,null,2]}')
    local lines = {}
    local on = rfs.progress.json{ out = { write = function(_, s) lines[#lines + 1] = s end } }
    on{ type = "event", stack = "s1", elapsed = 1, event = odd }
    local record = cjson.decode(lines[1])
    assert.equal("LOG", record.event.event_type)
    assert.equal("m", record.event.event_message)
  end)
end)
