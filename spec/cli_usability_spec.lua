-- bin/rfs as a newcomer meets it, as subprocesses against the emulator: --version, --debug,
-- completion, RFS_ENDPOINT, table output, messages in the command line's words, wait and
-- events that do what they say, and errors that fit a wrong endpoint.
local cjson = require "cjson"
local C = require "cli_process"

local AK, SK, TOKEN = "AKUSABILITY000001", "usability-secret-key-0001", "USABILITY-TOKEN-SECRET-1"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = C.LUA

describe("the rfs command line for a newcomer", function()
  local cli = C.new{ ak = AK, sk = SK, token = TOKEN, project = PROJECT, env = "unset RFS_ENDPOINT;" }
  local em

  setup(function() em = cli:start{ time_scale = 50 } end)
  teardown(function() cli:stop() end) -- and no secret in anything any command printed

  local function run(cmd, env) return cli:run(cmd, env) end
  local function rfs(args, env) return cli:rfs(args, env) end
  local function seed(t) return cli:seed(t) end

  local function continued(name, command)
    local code, out = rfs(command .. " " .. name .. " --output json --endpoint " .. em.url)
    assert.equal(0, code)
    return cjson.decode(out).deployment_id
  end

  it("--version prints the version and exits 0", function()
    local code, out = rfs("--version")
    assert.equal(0, code)
    assert.matches("^rfs %(lua%-rfs%) %d+%.%d+%.%d+ on ", out)
  end)

  it("completes commands, the model's included, and options in bash", function()
    local code, script = rfs("completion bash")
    assert.equal(0, code)
    for _, word in ipairs({ "continue-deploy", "continue-rollback", "events", "wait", "create", "delete", "list",
                            "--deployment-id", "--follow", "--debug", "--version" }) do
      assert.matches(word, script, 1, true)
    end
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local function complete(words, cword)
      local c, out = run(("bash -c 'source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _rfs; echo \"${COMPREPLY[*]}\"'")
                         :format(path, words, cword))
      assert.equal(0, c)
      return out
    end
    assert.equal("continue-deploy continue-rollback\n", complete("rfs cont", 1))
    assert.matches("text json table", complete("rfs events --output ''", 3), 1, true)
    assert.matches("--deployment-id", complete("rfs wait s --dep", 3), 1, true)
    os.remove(path)
  end)

  it("honours RFS_ENDPOINT as the examples do; --region overrides it", function()
    seed{ stack_name = "u-env", status = "DEPLOYMENT_FAILED" }
    local code, out = rfs("metadata u-env", "RFS_ENDPOINT=" .. em.url)
    assert.equal(0, code)
    assert.matches("status%s+DEPLOYMENT_FAILED", out)
  end)

  it("--debug writes one line per exchange and per retry, and no secret", function()
    seed{ stack_name = "u-debug", status = "DEPLOYMENT_FAILED" }
    em:fault{ match = { method = "GET", path = "/v1/" .. PROJECT .. "/stacks/u-debug/metadata" }, status = 503,
              count = 1, retry_after = 0 }
    local code, _, err = rfs("metadata u-debug --debug --endpoint " .. em.url)
    assert.equal(0, code)
    local lines = {}
    for line in err:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(3, #lines, err)
    assert.matches("^rfs: debug: GET /v1/" .. PROJECT .. "/stacks/u%-debug/metadata %-> 503 in %d+%.%d+s request %x+%-", lines[1])
    assert.matches("server request ", lines[1], 1, true)
    assert.matches("^rfs: debug: retry 2/5 in %d+%.%ds after server %(HTTP 503%)", lines[2])
    assert.matches("%-> 200 in ", lines[3])
    assert.not_matches("Authorization", err, 1, true)
    assert.not_matches("Signature", err, 1, true)
    assert.not_matches(AK, err, 1, true)
    -- without --debug: nothing of it
    local _, _, quiet = rfs("metadata u-debug --endpoint " .. em.url)
    assert.equal("", quiet)
  end)

  it("prints events as a table with a header, and as a JSON array also when empty", function()
    seed{ stack_name = "u-table", status = "DEPLOYMENT_FAILED", deploy_seconds = 50 }
    assert.equal(0, (rfs("continue-deploy u-table --wait --quiet --endpoint " .. em.url)))
    local code, out = rfs("events u-table --output table --endpoint " .. em.url)
    assert.equal(0, code)
    local header = out:match("^[^\n]+")
    assert.matches("^TIME%s+EVENT_TYPE%s+RESOURCE_NAME%s+RESOURCE_TYPE%s+EVENT_MESSAGE$", header)
    local col = header:find("EVENT_TYPE", 1, true)
    for line in out:gmatch("[^\n]+") do
      assert.equal(" ", line:sub(col - 1, col - 1), line) -- aligned: every row has its column there
    end
    -- text and JSON list the events in the same order, oldest first
    local _, text = rfs("events u-table --endpoint " .. em.url)
    local _, json = rfs("events u-table --output json --endpoint " .. em.url)
    local from_text, from_json = {}, {}
    for line in text:gmatch("[^\n]+") do from_text[#from_text + 1] = line:match("^%S+%s+(%S+)") end
    for i, e in ipairs(cjson.decode(json)) do from_json[i] = e.event_type end
    assert.same(from_text, from_json)
    assert.equal("LOG", from_json[1])
    seed{ stack_name = "u-none", status = "DEPLOYMENT_FAILED" }
    local _, empty = rfs("events u-none --output json --endpoint " .. em.url)
    assert.equal("[]\n", empty)
  end)

  it("says how to resume a wait that timed out with an rfs command, not a Lua call", function()
    seed{ stack_name = "u-slow", status = "DEPLOYMENT_FAILED", deploy_seconds = 3000 }
    local code, _, err = rfs("continue-deploy u-slow --wait --quiet --timeout 0.5 --endpoint " .. em.url)
    assert.equal(4, code)
    assert.matches("resume with: rfs wait u%-slow %-%-deployment%-id %S+ %-%-operation continue_deploy "
                   .. "%-%-endpoint http://127%.0%.0%.1:%d+", err)
    assert.not_matches("stack:", err, 1, true)
    assert.matches("raise --timeout", err, 1, true)
  end)

  it("rfs wait after continue-rollback reads the operation: a completed rollback is a success", function()
    seed{ stack_name = "u-rb", status = "ROLLBACK_FAILED", rollback_seconds = 50 }
    local id = continued("u-rb", "continue-rollback")
    local code, out = rfs("wait u-rb --deployment-id " .. id .. " --endpoint " .. em.url .. " --quiet")
    assert.equal(0, code)
    assert.matches("^u%-rb ROLLBACK_COMPLETE after ", out)
    assert.not_matches("the deployment failed", out, 1, true)
    -- a continue-deploy that auto-rollback undid is still a failure
    seed{ stack_name = "u-ar", status = "DEPLOYMENT_FAILED", enable_auto_rollback = true, outcome = "fail",
          deploy_seconds = 50 }
    local id2 = continued("u-ar", "continue-deploy")
    local code2, out2 = rfs("wait u-ar --deployment-id " .. id2 .. " --endpoint " .. em.url .. " --quiet")
    assert.equal(1, code2)
    assert.matches("ROLLBACK_COMPLETE", out2)
  end)

  it("events --follow without --deployment-id follows the deployment in progress", function()
    seed{ stack_name = "u-follow", status = "DEPLOYMENT_FAILED", deploy_seconds = 150 } -- 3 s at 50x
    continued("u-follow", "continue-deploy")
    local code, out = rfs("events u-follow --follow --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("CREATION_COMPLETE", out)
    assert.matches("deployment complete", out)
  end)

  it("refuses a filter RFS would refuse as a usage error, naming --filter", function()
    seed{ stack_name = "u-filter", status = "DEPLOYMENT_FAILED" }
    for _, f in ipairs({ "foo", "event_type=ERROR", "colour==red", "event_type==ERROR|resource_name==x" }) do
      local code, out, err = rfs("events u-filter --filter '" .. f .. "' --endpoint " .. em.url)
      assert.equal(2, code, f)
      assert.equal("", out)
      assert.matches("--filter '", err, 1, true)
    end
    assert.equal(0, (rfs("events u-filter --filter 'event_type==ERROR|event_type==LOG' --endpoint " .. em.url)))
  end)

  it("the emulator binds '|' (OR) tighter than ',' (AND), as RFS does", function()
    seed{ stack_name = "u-prec", status = "DEPLOYMENT_FAILED", outcome = "fail", deploy_seconds = 50 }
    rfs("continue-deploy u-prec --wait --quiet --endpoint " .. em.url)
    local code, out = rfs("events u-prec --output json --filter 'event_type==LOG|event_type==ERROR,resource_name==ecs' "
                          .. "--endpoint " .. em.url)
    assert.equal(0, code)
    local list = cjson.decode(out)
    assert.is_true(#list > 0)
    for _, e in ipairs(list) do
      assert.equal("ecs", e.resource_name) -- (LOG or ERROR) and ecs: the stack's LOG events are not in it
    end
  end)

  it("gives hints that fit: an unknown deployment, a recreated stack, a state", function()
    seed{ stack_name = "u-hint", status = "DEPLOYMENT_COMPLETE" }
    local code, _, err = rfs("events u-hint --deployment-id 11111111-2222-4333-8444-555555555555 --endpoint " .. em.url)
    assert.equal(3, code)
    assert.matches("check --deployment-id", err, 1, true)
    assert.not_matches("check the stack name", err, 1, true)
    code, _, err = rfs("metadata u-hint --stack-id 11111111-2222-4333-8444-555555555555 --endpoint " .. em.url)
    assert.equal(3, code)
    assert.matches("deleted and recreated under the same name", err, 1, true)
    code, _, err = rfs("continue-deploy u-hint --endpoint " .. em.url)
    assert.equal(3, code)
    assert.matches("run `rfs metadata u-hint`", err, 1, true)
    assert.not_matches("stack:metadata()", err, 1, true)
  end)

  it("says an HTML page is not RFS, without quoting it", function()
    em:fault{ match = { method = "GET" }, status = 404, count = 1,
              body = "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>" }
    local code, _, err = rfs("metadata u-html --endpoint " .. em.url)
    assert.equal(3, code)
    assert.matches("the endpoint answered HTML, not RFS JSON", err, 1, true)
    assert.matches("check --endpoint", err, 1, true)
    assert.not_matches("Welcome", err, 1, true)
  end)

  it("fails at once, without retries, for https:// to a plain-HTTP port and an unresolvable host", function()
    local code, _, err = rfs("metadata u-tls --debug --endpoint " .. em.url:gsub("^http:", "https:"))
    assert.equal(3, code)
    assert.matches("rfs tls error", err, 1, true)
    assert.matches("use http://", err, 1, true)
    assert.not_matches("retry", err, 1, true)
    code, _, err = rfs("metadata u-dns --debug --endpoint https://no-such-host.invalid")
    assert.equal(3, code)
    assert.not_matches("retry", err, 1, true)
    assert.matches("host name", err, 1, true)
  end)

  it("speaks CLI in configuration errors and names --timeout", function()
    local code, _, err = run("cd / && env -u HUAWEICLOUD_SDK_PROJECT_ID -u HUAWEICLOUD_SDK_REGION " .. LUA .. " "
                             .. os.getenv("PWD") .. "/bin/rfs metadata x")
    assert.equal(2, code)
    assert.matches("pass --region", err, 1, true)
    assert.not_matches("pass region", err, 1, true)
    code, _, err = rfs("continue-deploy x --wait --timeout abc --endpoint " .. em.url)
    assert.equal(2, code)
    assert.matches("--timeout", err, 1, true)
  end)

  it("takes Chinese stack names", function()
    seed{ stack_name = "测试栈", status = "DEPLOYMENT_FAILED" }
    local code, out = rfs("metadata 测试栈 --endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("stack_name%s+测试栈", out)
    local code2, _, err = rfs("metadata 测试栈! --endpoint " .. em.url)
    assert.equal(2, code2)
    assert.matches("'测试栈!'", err, 1, true)
  end)
end)

describe("the emulator's own answers", function()
  local cli = C.new{ ak = AK, sk = SK, token = TOKEN, project = PROJECT, env = "unset RFS_ENDPOINT;" }
  local em

  setup(function() em = cli:start{ time_scale = 50 } end)
  teardown(function() cli:stop() end)

  local function run(cmd) return cli:run(cmd) end

  it("says HTTP 502 for an injected 502, and keeps its timestamps on the real clock", function()
    em:seed{ project_id = PROJECT, stack_name = "u-time", status = "DEPLOYMENT_FAILED", deploy_seconds = 600 }
    local code, out = run(LUA .. " bin/rfs continue-deploy u-time --wait --quiet --output json --endpoint " .. em.url)
    assert.equal(0, code)
    assert.is_true(cjson.decode(out).ok)
    local _, events = run(LUA .. " bin/rfs events u-time --output json --endpoint " .. em.url)
    local now = os.time()
    for _, e in ipairs(cjson.decode(events)) do
      local y, mo, d, h, mi, s = e.time:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
      local t = os.time{ year = y, month = mo, day = d, hour = h, min = mi, sec = s }
      local utc_offset = os.time(os.date("*t", now)) - os.time(os.date("!*t", now))
      -- 600 emulated seconds at 50x are 12 real ones: no event lies minutes in the future
      assert.is_true(t + utc_offset <= now + 2, e.time .. " is in the future")
    end
    em:fault{ match = { method = "GET" }, status = 502, count = 1 }
    local c2, _, err2 = run("curl -s " .. em.url .. "/v1/" .. PROJECT .. "/stacks/u-time/metadata -o /dev/stderr")
    assert.equal(0, c2)
    assert.matches("injected fault: HTTP 502\"", err2, 1, true)
    assert.not_matches("502.0", err2, 1, true)
  end)
end)
