-- bin/rfs and examples/ as subprocesses against the emulator: output, JSON, exit codes, secrets.
local cjson = require "cjson"
local socket = require "socket"
local C = require "cli_process"

local AK, SK, TOKEN = "AKCLISPEC00000001", "cli-spec-secret-key-0001", "CLI-TOKEN-SECRET-0001"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = C.LUA

-- the credentials every command runs with; each describe starts its own emulator
local function new_cli() return C.new{ ak = AK, sk = SK, token = TOKEN, project = PROJECT } end

describe("the rfs command line", function()
  local cli = new_cli()
  local em

  setup(function() em = cli:start{ time_scale = 50 } end)
  teardown(function() cli:stop() end) -- and no secret in anything any command printed

  local function run(cmd, env) return cli:run(cmd, env) end
  local function rfs(args) return cli:rfs(args) end
  local function seed(t) return cli:seed(t) end

  it("shows metadata as text and as JSON, with global options before or after the command", function()
    seed{ stack_name = "cli-meta", status = "DEPLOYMENT_FAILED" }
    local code, out = rfs("metadata cli-meta --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("stack_name%s+cli%-meta\n", out)
    assert.matches("status%s+DEPLOYMENT_FAILED\n", out)
    local code2, json = rfs("--output json --endpoint " .. em.url .. " metadata cli-meta")
    assert.equal(0, code2)
    local m = cjson.decode(json)
    assert.equal("cli-meta", m.stack_name)
    assert.equal("DEPLOYMENT_FAILED", m.status)
    local code3, json3 = rfs("--endpoint " .. em.url .. " metadata --output json cli-meta")
    assert.equal(0, code3)
    assert.equal(m.stack_id, cjson.decode(json3).stack_id)
  end)

  it("continues and waits, with progress on stderr and exit 0", function()
    seed{ stack_name = "cli-ok", status = "DEPLOYMENT_FAILED", deploy_seconds = 150 } -- 3 s at 50x
    local code, out, err = rfs("continue-deploy cli-ok --wait --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("^cli%-ok DEPLOYMENT_COMPLETE after ", out)
    assert.matches("DEPLOYMENT_IN_PROGRESS", err)
    assert.matches("CREATION_COMPLETE", err)
  end)

  it("prints the deployment as JSON and waits on it from another process", function()
    seed{ stack_name = "cli-json", status = "DEPLOYMENT_FAILED", deploy_seconds = 30 }
    local code, out = rfs("continue-deploy cli-json --output json --endpoint " .. em.url)
    assert.equal(0, code)
    local dep = cjson.decode(out)
    assert.equal("continue_deploy", dep.operation)
    assert.is_string(dep.deployment_id)
    local code2, out2, err2 = rfs("wait cli-json --deployment-id " .. dep.deployment_id .. " --output json --quiet "
                                  .. "--endpoint " .. em.url)
    assert.equal(0, code2)
    assert.equal("", err2)
    local res = cjson.decode(out2)
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.equal(dep.deployment_id, res.deployment_id)
    assert.is_number(res.polls)
  end)

  it("exits 1 when the stack ends in a failure state, naming the failed resource", function()
    seed{ stack_name = "cli-fail", status = "DEPLOYMENT_FAILED", deploy_seconds = 30, outcome = "fail" }
    local code, out = rfs("continue-deploy cli-fail --wait --quiet --endpoint " .. em.url)
    assert.equal(1, code)
    assert.matches("DEPLOYMENT_FAILED", out)
    assert.matches("ecs", out)
  end)

  it("exits 3 on an API error, with one line that says what to do", function()
    seed{ stack_name = "cli-done", status = "DEPLOYMENT_COMPLETE" }
    local code, out, err = rfs("continue-deploy cli-done --endpoint " .. em.url)
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("^rfs invalid_state error: continue_deploy needs DEPLOYMENT_FAILED; stack cli%-done is "
                   .. "DEPLOYMENT_COMPLETE", err)
    assert.equal(1, select(2, err:gsub("\n", "")))
    local code2, _, err2 = run(LUA .. " bin/rfs metadata cli-done --endpoint " .. em.url,
                               "HUAWEICLOUD_SDK_SK=wrong-secret")
    assert.equal(3, code2)
    assert.matches("^rfs auth error", err2)
  end)

  it("a busy stack refuses deploy and delete as invalid_state, saying to wait with a command that does", function()
    seed{ stack_name = "cli-busy", status = "DEPLOYMENT_FAILED", deploy_seconds = 250 } -- 5 s at 50x
    assert.equal(0, (rfs("continue-deploy cli-busy --quiet --endpoint " .. em.url)))
    for _ = 1, 100 do -- out of the queue (409 meanwhile), into DEPLOYMENT_IN_PROGRESS
      local _, meta = rfs("metadata cli-busy --output json --endpoint " .. em.url)
      if cjson.decode(meta).status == "DEPLOYMENT_IN_PROGRESS" then break end
      socket.sleep(0.05)
    end
    local tf = os.tmpname()
    local f = assert(io.open(tf, "w"))
    f:write('resource "huaweicloud_vpc" "v" {\n  name = "v"\n}\n')
    f:close()
    local code, out, err = rfs("deploy cli-busy --template " .. tf .. " --endpoint " .. em.url)
    os.remove(tf)
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("^rfs invalid_state error: deploy needs a stack with no operation in progress; stack cli%-busy "
                   .. "is busy: DEPLOYMENT_IN_PROGRESS %(HTTP 403, RF%.10012519", err)
    assert.equal("; wait until the stack's operation ends (`rfs wait cli-busy`), then deploy again\n",
                 err:match(";[^;]*$"))
    assert.not_matches("IAM", err, 1, true)
    code, out, err = rfs("delete cli-busy --endpoint " .. em.url)
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("delete needs a stack with no operation in progress; stack cli-busy is busy", err, 1, true)
    assert.matches("(`rfs wait cli-busy`), then delete again", err, 1, true)
    -- the command the hint names follows the stack until what it is busy with ends
    code, out, err = rfs("wait cli-busy --endpoint " .. em.url)
    assert.equal(0, code, err)
    assert.matches("^cli%-busy DEPLOYMENT_COMPLETE after ", out)
    -- a stack that is not busy still needs to be told which deployment to wait for
    code, out, err = rfs("wait cli-busy --endpoint " .. em.url)
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("pass --deployment-id", err, 1, true)
  end)

  it("exits 4 when a wait times out", function()
    seed{ stack_name = "cli-slow", status = "DEPLOYMENT_FAILED", deploy_seconds = 3600 }
    local code, out = rfs("continue-deploy cli-slow --output json --endpoint " .. em.url)
    assert.equal(0, code)
    local dep = cjson.decode(out)
    local code2, _, err = rfs("wait cli-slow --deployment-id " .. dep.deployment_id .. " --timeout 1 --quiet "
                              .. "--endpoint " .. em.url)
    assert.equal(4, code2)
    assert.matches("^rfs timeout error: stack cli%-slow is still ", err)
    assert.matches(dep.deployment_id, err, 1, true)
  end)

  it("exits 2 on usage errors, and refuses credentials on the command line", function()
    assert.equal(2, (rfs("")))
    assert.equal(2, (rfs("frobnicate x")))
    assert.equal(2, (rfs("metadata")))
    assert.equal(2, (rfs("metadata 'bad name' --endpoint " .. em.url)))
    assert.equal(2, (rfs("metadata x --output yaml --endpoint " .. em.url)))
    assert.equal(2, (rfs("wait x --endpoint " .. em.url)))
    for _, t in ipairs({ "0", "nan", "inf" }) do
      local code, _, err = rfs("wait x --deployment-id d1 --timeout " .. t .. " --endpoint " .. em.url)
      assert.equal(2, code)
      assert.matches("\nrfs: %-%-timeout takes a number of seconds above 0", err)
    end
    local code, _, err = rfs("metadata x --sk " .. SK .. " --endpoint " .. em.url)
    assert.equal(2, code)
    assert.matches("HUAWEICLOUD_SDK_SK", err)
    code, _, err = run(LUA .. " bin/rfs metadata x --endpoint " .. em.url, "HUAWEICLOUD_SDK_AK=")
    assert.equal(2, code)
    assert.matches("HUAWEICLOUD_SDK_AK", err)
  end)

  it("lists events oldest first, or as JSON", function()
    seed{ stack_name = "cli-ev", status = "DEPLOYMENT_FAILED", deploy_seconds = 20 }
    assert.equal(0, (rfs("continue-deploy cli-ev --wait --quiet --endpoint " .. em.url)))
    local code, out = rfs("events cli-ev --endpoint " .. em.url)
    assert.equal(0, code)
    local first, last = out:match("^(%S+)"), out:match("\n(%S+)[^\n]*\n$")
    assert.is_true(first <= last)
    assert.matches("LOG%s+stack: deployment started", out)
    local code2, json = rfs("events cli-ev --output json --filter event_type==SUMMARY --endpoint " .. em.url)
    assert.equal(0, code2)
    local list = cjson.decode(json)
    assert.equal(1, #list)
    assert.equal("SUMMARY", list[1].event_type)
  end)

  it("has --help for every command", function()
    for _, c in ipairs({ "", "metadata ", "continue-deploy ", "events ", "wait " }) do
      local code, out = rfs(c .. "--help")
      assert.equal(0, code)
      assert.matches("Usage: rfs", out)
    end
  end)

  it("opens a REPL with a client from the environment", function()
    seed{ stack_name = "cli-repl", status = "ROLLBACK_FAILED" }
    local code, out = run("printf \"stack('cli-repl'):metadata()\\nrfs.help(client)\\nerror('x')\\nexit\\n\" | "
                          .. LUA .. " bin/rfs repl --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("ak=AKCL%.%.%.", out)
    assert.matches("cli%-repl ROLLBACK_FAILED", out)
    assert.matches("client:stack%(name", out)
    assert.matches("error: ", out)
  end)
end)

describe("the rfs command line against a hostile or odd server", function()
  local cli = new_cli()
  local em

  setup(function() em = cli:start{ time_scale = 50 } end)
  teardown(function() cli:stop() end) -- and no secret in anything any command printed

  local function run(cmd, env) return cli:run(cmd, env) end
  local function rfs(args) return cli:rfs(args) end
  local function seed(t) return cli:seed(t) end

  -- what a terminal would obey: ESC, CR, BEL, a C1 CSI, a bidirectional override
  local function assert_inert(text, what)
    assert.is_nil(text:find("[\27\r\7]"), what .. " lets a control character through: " .. text)
    assert.is_nil(text:find("\194\155", 1, true), what .. " lets a C1 control through")
    assert.is_nil(text:find("\226\128\174", 1, true), what .. " lets a bidi override through")
    assert.is_nil(text:find("\nFORGED", 1, true), what .. " lets a server forge a line")
  end

  local HOSTILE = "quota \27]0;owned\7\27[2J\27[31mred \194\155[1m \226\128\174 \r\nFORGED line"

  it("shows server text in metadata, events, results and errors without obeying it", function()
    seed{ stack_name = "cli-hostile", status = "DEPLOYMENT_FAILED", status_message = HOSTILE, description = HOSTILE,
          failure_message = HOSTILE, outcome = "fail", deploy_seconds = 20 }
    local code, out, err = rfs("metadata cli-hostile --endpoint " .. em.url)
    assert.equal(0, code)
    assert_inert(out .. err, "metadata")
    assert.matches("status_message%s+quota \\x1b%]0;owned\\x07", out)
    assert.equal(10, select(2, out:gsub("\n", ""))) -- one line per field, none forged
    code, out, err = rfs("continue-deploy cli-hostile --wait --endpoint " .. em.url)
    assert.equal(1, code)
    assert_inert(out, "the wait result")
    assert_inert(err, "the progress")
    assert.matches("\\x1b[2J", out, 1, true)
    code, out, err = rfs("events cli-hostile --endpoint " .. em.url)
    assert.equal(0, code)
    assert_inert(out .. err, "events")
    assert.matches("CREATION_FAILED", out)
    -- JSON is escaped by the encoder, and reads back to the very text
    code, out = rfs("metadata cli-hostile --output json --endpoint " .. em.url)
    assert.equal(0, code)
    assert_inert(out, "JSON metadata")
    assert.equal("deployment failed: " .. HOSTILE, cjson.decode(out).status_message)
    code, out = rfs("events cli-hostile --output json --endpoint " .. em.url)
    assert.equal(0, code)
    assert_inert(out, "JSON events")
    -- an error message from the server
    em:fault{ match = { path = "/stacks/cli-hostile-err/" }, status = 400,
              body = cjson.encode{ error_code = "AOS.00.0400\27[2J", error_msg = HOSTILE } }
    code, out, err = rfs("metadata cli-hostile-err --endpoint " .. em.url)
    assert.equal(3, code)
    assert.equal("", out)
    assert_inert(err, "the error")
    assert.equal(1, select(2, err:gsub("\n", "")))
  end)

  it("shows server text at the REPL without obeying it", function()
    seed{ stack_name = "cli-repl-hostile", status = "DEPLOYMENT_FAILED", status_message = HOSTILE }
    local code, out = run("printf \"stack('cli-repl-hostile'):metadata()\\nexit\\n\" | "
                          .. LUA .. " bin/rfs repl --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("cli%-repl%-hostile DEPLOYMENT_FAILED", out)
    assert_inert(out, "the REPL")
  end)

  it("never shows a Lua traceback: NaN, infinities and odd types in a response", function()
    local id = "0c6dd0b1-4c3e-4f5e-8a57-7d4a3f0f6a11"
    -- NaN and Infinity are not JSON: the answer is refused as a decode error, in one line
    local not_json = '{"stack_id": "' .. id .. '", "stack_name": "cli-odd", "status": "DEPLOYMENT_FAILED",'
      .. ' "status_message": {"a": [1, NaN]}, "create_time": -Infinity}'
    em:fault{ match = { path = "/stacks/cli-odd/metadata" }, status = 200, body = not_json, count = 1 }
    local code, out, err = rfs("metadata cli-odd --endpoint " .. em.url)
    assert.equal(3, code, err)
    assert.equal("", out)
    assert.matches("^rfs decode error: the response body is not a JSON object %(invalid JSON at byte %d+", err)
    assert.equal(1, select(2, err:gsub("\n", "")))
    -- numbers that overflow to infinity and values of the wrong type are shown as they are
    local odd_meta = '{"stack_id": "' .. id .. '", "stack_name": "cli-odd", "status": "DEPLOYMENT_FAILED",'
      .. ' "description": 1e999, "status_message": {"a": [1, null]}, "agencies": "huaweicloud",'
      .. ' "create_time": -1e999, "enable_auto_rollback": "yes", "vars_structure": [1, "x"]}'
    em:fault{ match = { path = "/stacks/cli-odd/metadata" }, status = 200, body = odd_meta, count = 2 }
    code, out, err = rfs("metadata cli-odd --endpoint " .. em.url)
    assert.equal(0, code, err)
    assert.matches("description%s+inf", out)
    assert.matches("agencies%s+huaweicloud", out)
    code, out, err = rfs("metadata cli-odd --output json --endpoint " .. em.url)
    assert.equal(0, code, err)
    local m = cjson.decode(out)
    assert.equal(cjson.null, m.description)
    assert.equal(cjson.null, m.create_time)
    local odd_events = '{"stack_events": [{"event_type": "LOG", "resource_name": {"x": 1}, "resource_type": [2],'
      .. ' "event_message": ["a", "b"], "time": 5, "elapsed_seconds": 1e999}]}'
    em:fault{ match = { path = "/stacks/cli-odd/events" }, status = 200, body = odd_events, count = 2 }
    seed{ stack_name = "cli-odd" }
    code, out, err = rfs("events cli-odd --endpoint " .. em.url)
    assert.equal(0, code, err)
    assert.matches('LOG%s+%[2%]%.{"x":1}: %["a","b"%]', out)
    code, out, err = rfs("events cli-odd --output json --endpoint " .. em.url)
    assert.equal(0, code, err)
    assert.equal(cjson.null, cjson.decode(out)[1].elapsed_seconds)
    for _, text in ipairs(cli.output) do
      assert.not_matches("traceback", text)
      assert.not_matches("%.lua:%d+:", text)
    end
  end)

  it("answers a bad --deployment-id or --timeout with a usage error (exit 2)", function()
    for _, args in ipairs({ "wait x --deployment-id 'a b'", "events x --deployment-id ''",
                            "wait x --deployment-id \"$(printf 'a\\033[2Jb')\"",
                            "wait x --deployment-id " .. ("d"):rep(129), "wait x --deployment-id d --timeout 0",
                            "wait x --deployment-id d --timeout=-5", "wait x --deployment-id d --timeout 1e999",
                            "continue-deploy x --wait --timeout nan" }) do
      local code, out, err = rfs(args .. " --endpoint " .. em.url)
      assert.equal(2, code, args)
      assert.equal("", out)
      assert.matches("rfs: %-%-%a[%a-]+ takes ", err)
      assert.not_matches("traceback", err)
      assert.is_nil(err:find("\27", 1, true))
    end
  end)

  it("turns an unexpected error into one line and exit 70", function()
    local rfs_cli = require "rfs.cli"
    local lines = {}
    local stderr = { write = function(_, ...) lines[#lines + 1] = table.concat({ ... }) end }
    local stdout = { write = function() error("stdout went away") end }
    local code = rfs_cli.main({ "metadata", "cli-anything", "--endpoint", em.url },
                          { stdout = stdout, stderr = stderr, new = function()
                            return setmetatable({}, { __index = function() error("a bug in lua-rfs") end })
                          end })
    assert.equal(70, code)
    local text = table.concat(lines)
    assert.matches("^rfs: internal error: .*a bug in lua%-rfs", text)
    assert.equal(1, select(2, text:gsub("\n", "")))
    assert.not_matches("traceback", text)
  end)
end)

describe("Ctrl-C during a wait", function()
  local cli = new_cli()
  local em

  setup(function() em = cli:start{ time_scale = 1 } end)
  teardown(function() cli:stop() end)

  local function run(cmd) return cli:run(cmd) end

  -- until the emulator has seen n metadata reads of the stack: the wait is under way
  local function polled(name, n)
    for _ = 1, 200 do
      local count = 0
      for _, r in ipairs(em:requests()) do
        if r.path:find("/stacks/" .. name .. "/metadata", 1, true) then count = count + 1 end
      end
      if count >= n then return true end
      socket.sleep(0.05)
    end
    return false
  end

  it("exits 130 at once and prints the command that resumes the wait", function()
    em:seed{ project_id = PROJECT, stack_name = "cli-int", status = "DEPLOYMENT_FAILED", deploy_seconds = 3600 }
    local code, out = run(LUA .. " bin/rfs continue-deploy cli-int --output json --endpoint " .. em.url)
    assert.equal(0, code)
    local dep = cjson.decode(out).deployment_id
    local h = cli:spawn("wait cli-int --deployment-id " .. dep .. " --endpoint " .. em.url)
    assert.is_true(polled("cli-int", 1))
    os.execute("kill -INT " .. h.pid)
    local status, _, err = cli:finish(h, 5)
    assert.equal(130, status)
    local resume = err:match("resume with: (rfs wait [^\n]+)")
    assert.is_string(resume, err)
    assert.matches("rfs wait cli-int --deployment-id " .. dep .. " --operation continue_deploy --endpoint "
                   .. em.url, resume, 1, true)
    -- the printed command picks the wait up again (here with a short timeout: exit 4, same deployment)
    local code2, _, err2 = run(LUA .. " bin/" .. resume .. " --timeout 0.5")
    assert.equal(4, code2)
    assert.matches(dep, err2, 1, true)
  end)

  it("prints the resume command as a JSON line with --output json --quiet, after continue --wait", function()
    em:seed{ project_id = PROJECT, stack_name = "cli-int-json", status = "DEPLOYMENT_FAILED", deploy_seconds = 3600 }
    local h = cli:spawn("continue-deploy cli-int-json --wait --output json --quiet --endpoint " .. em.url)
    assert.is_true(polled("cli-int-json", 2))
    os.execute("kill -INT " .. h.pid)
    local status, out, err = cli:finish(h, 5)
    assert.equal(130, status)
    assert.equal("", out)
    local line = cjson.decode(err)
    assert.is_true(line.interrupted)
    assert.equal("continue_deploy", line.operation)
    assert.is_string(line.deployment_id)
    assert.matches("^rfs wait cli%-int%-json %-%-deployment%-id " .. line.deployment_id:gsub("%-", "%%-"), line.resume)
    assert.matches("--output json --quiet", line.resume, 1, true)
  end)
end)

describe("examples", function()
  local cli = new_cli()
  local em

  setup(function() em = cli:start{ time_scale = 50 } end)
  teardown(function() cli:stop() end)

  -- as README says: from the checkout after `make`, with the credentials and RFS_ENDPOINT
  -- set and no LUA_PATH or LUA_CPATH
  local function example(cmd)
    return cli:run(("unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4; %s examples/%s"):format(LUA, cmd),
                   ("RFS_ENDPOINT=%s"):format(em.url))
  end

  local function seed(t) return cli:seed(t) end

  it("recover.lua continues a failed deployment and exits 0", function()
    seed{ stack_name = "ex-recover", status = "DEPLOYMENT_FAILED", deploy_seconds = 20 }
    local code, out, err = example("recover.lua ex-recover")
    assert.equal(0, code)
    assert.matches("DEPLOYMENT_COMPLETE", out)
    assert.matches("continue_deploy accepted", err)
  end)

  it("rollback.lua retries a failed rollback", function()
    seed{ stack_name = "ex-rb", status = "ROLLBACK_FAILED", rollback_seconds = 20 }
    local code, out = example("rollback.lua ex-rb")
    assert.equal(0, code)
    assert.matches("ROLLBACK_COMPLETE", out)
  end)

  it("watch_many.lua waits on several stacks and reports each", function()
    seed{ stack_name = "ex-a", status = "DEPLOYMENT_FAILED", deploy_seconds = 20 }
    seed{ stack_name = "ex-b", status = "DEPLOYMENT_FAILED", deploy_seconds = 40, outcome = "fail" }
    local code, out = example("watch_many.lua ex-a ex-b")
    assert.equal(1, code)
    assert.matches("ex%-a DEPLOYMENT_COMPLETE", out)
    assert.matches("ex%-b DEPLOYMENT_FAILED", out)
    assert.matches("1 complete, 1 failed, 0 errors", out)
  end)

  it("watch_many.lua counts a stack it could not continue as an error", function()
    seed{ stack_name = "ex-c", status = "DEPLOYMENT_FAILED", deploy_seconds = 20 }
    local code, out, err = example("watch_many.lua ex-c ex-missing")
    assert.equal(1, code)
    assert.matches("ex%-missing: rfs not_found error", err)
    assert.matches("1 complete, 0 failed, 1 errors", out)
  end)

  it("events_digest.lua says why a deployment failed", function()
    seed{ stack_name = "ex-why", status = "DEPLOYMENT_FAILED", deploy_seconds = 20, outcome = "fail" }
    assert.equal(1, (example("recover.lua ex-why")))
    local code, out = example("events_digest.lua ex-why")
    assert.equal(1, code)
    assert.matches("\necs\n  %S+ CREATION_FAILED: quota exceeded", out)
  end)
end)
