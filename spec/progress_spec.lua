-- What people and machines see while a stack settles.
local progress = require "rfs.progress"
local cjson = require "cjson"
local inproc = require "inproc"

local function buffer()
  local b = { parts = {} }
  function b:write(...)
    for _, s in ipairs({ ... }) do self.parts[#self.parts + 1] = tostring(s) end
  end
  function b:text() return table.concat(self.parts) end
  return b
end

describe("progress renderers", function()
  it("human: a line per state change and per event, with elapsed time", function()
    local out = buffer()
    local on = progress.human{ out = out }
    on{ type = "status", stack = "s1", elapsed = 0, status = "DEPLOYMENT_IN_PROGRESS" }
    on{ type = "event", stack = "s1", elapsed = 65, event = { resource_name = "vpc", event_type = "CREATION_COMPLETE",
                                                              event_message = "done\nnow" } }
    on{ type = "done", stack = "s1", elapsed = 3725, status = "DEPLOYMENT_COMPLETE", ok = true }
    on{ type = "poll", stack = "s1", elapsed = 1 }
    assert.equal("[ 0m00s] s1  DEPLOYMENT_IN_PROGRESS\n"
                 .. "[ 1m05s] s1  vpc                      CREATION_COMPLETE: done now\n"
                 .. "[1h02m05s] s1  done: DEPLOYMENT_COMPLETE\n", out:text())
  end)

  it("human on a tty: the state line is refreshed in place", function()
    local out = buffer()
    local on = progress.human{ out = out, tty = true }
    on{ type = "status", stack = "s1", elapsed = 0, status = "DEPLOYMENT_IN_PROGRESS" }
    on{ type = "event", stack = "s1", elapsed = 5, event = { resource_name = "vpc", event_type = "LOG" } }
    local text = out:text()
    assert.matches("^\r\27%[K%[ 0m00s%] s1  DEPLOYMENT_IN_PROGRESS\r\27%[K%[ 0m05s%] s1  vpc", text)
    assert.matches("\n%[ 0m00s%] s1  DEPLOYMENT_IN_PROGRESS$", text)
  end)

  it("json: one decodable object per line", function()
    local out = buffer()
    local on = progress.json{ out = out }
    on{ type = "status", stack = "s1", elapsed = 1.5, status = "DEPLOYMENT_IN_PROGRESS", previous = "DEPLOYMENT_FAILED" }
    on{ type = "event", stack = "s1", elapsed = 2, event = { event_type = "LOG", event_message = "m" } }
    local lines = {}
    for line in out:text():gmatch("[^\n]+") do lines[#lines + 1] = cjson.decode(line) end
    assert.equal(2, #lines)
    assert.equal("DEPLOYMENT_IN_PROGRESS", lines[1].status)
    assert.equal("DEPLOYMENT_FAILED", lines[1].previous)
    assert.equal("LOG", lines[2].event.event_type)
  end)

  it("renders a whole wait without showing any secret", function()
    local w = inproc.new{}
    w:seed{ stack_name = "s1", status = "DEPLOYMENT_FAILED", deploy_seconds = 90, outcome = "fail" }
    local stack = w:client{ security_token = "TOKEN-SECRET-123" }:stack("s1")
    -- the emulator does not check tokens; what matters is that none is printed
    assert(stack:continue_deploy())
    local human, json = buffer(), buffer()
    local h, j = progress.human{ out = human }, progress.json{ out = json }
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock, on_progress = function(p) h(p) j(p) end })
    assert.is_false(res.ok)
    for _, text in ipairs({ human:text(), json:text(), tostring(res), tostring(stack) }) do
      assert.not_matches(inproc.SK, text, 1, true)
      assert.not_matches("TOKEN-SECRET-123", text, 1, true)
    end
    assert.matches("CREATION_FAILED", human:text())
    assert.matches("ended: DEPLOYMENT_FAILED", human:text())
  end)
end)
