-- bin/rfs and examples/ as subprocesses against the emulator: output, JSON, exit codes, secrets.
local cjson = require "cjson"
local E = require "emulator_process"

local AK, SK, TOKEN = "AKCLISPEC00000001", "cli-spec-secret-key-0001", "CLI-TOKEN-SECRET-0001"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

local function run(cmd, env_extra)
  local out, errf = os.tmpname(), os.tmpname()
  local env = ("export HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_SECURITY_TOKEN=%s "
               .. "HUAWEICLOUD_SDK_PROJECT_ID=%s %s;"):format(AK, SK, TOKEN, PROJECT, env_extra or "")
  local ok, _, code = os.execute(("%s (%s) > %s 2> %s"):format(env, cmd, out, errf))
  if type(ok) == "number" then code = ok / 256 end -- LuaJIT: a wait status
  local function slurp(p)
    local f = io.open(p)
    local s = f:read("*a")
    f:close()
    os.remove(p)
    return s
  end
  return code, slurp(out), slurp(errf)
end

describe("the rfs command line", function()
  local em, all_output

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 50 }
    all_output = {}
  end)

  teardown(function()
    if em then em:stop() end
    -- no secret in anything any command printed
    local text = table.concat(all_output, "\n")
    assert.not_matches(SK, text, 1, true)
    assert.not_matches(TOKEN, text, 1, true)
  end)

  local function rfs(args)
    local code, out, err = run(LUA .. " bin/rfs " .. args)
    all_output[#all_output + 1] = out
    all_output[#all_output + 1] = err
    return code, out, err
  end

  local function seed(t)
    t.project_id = PROJECT
    return em:seed(t)
  end

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
    all_output[#all_output + 1] = err2
    assert.equal(3, code2)
    assert.matches("^rfs auth error", err2)
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
      assert.matches("\nrfs: %-%-timeout must be a number of seconds > 0", err)
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

describe("examples", function()
  local em

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 50 }
  end)

  teardown(function()
    if em then em:stop() end
  end)

  local function example(cmd)
      return run(("%s examples/%s"):format(LUA, cmd), ("RFS_ENDPOINT=%s LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' "
               .. "LUA_CPATH='./build/%s/?.so;;'"):format(em.url, LUA))
  end

  local function seed(t)
    t.project_id = PROJECT
    return em:seed(t)
  end

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

  it("events_digest.lua says why a deployment failed", function()
    seed{ stack_name = "ex-why", status = "DEPLOYMENT_FAILED", deploy_seconds = 20, outcome = "fail" }
    assert.equal(1, (example("recover.lua ex-why")))
    local code, out = example("events_digest.lua ex-why")
    assert.equal(1, code)
    assert.matches("\necs\n  %S+ CREATION_FAILED: quota exceeded", out)
  end)
end)
