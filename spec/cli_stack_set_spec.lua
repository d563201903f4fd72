-- rfs stack-set ... and examples/rollout.lua as subprocesses against the emulator process.
local cjson = require "cjson"
local socket = require "socket"
local E = require "emulator_process"
local C = require "cli_process"

local AK, SK = "AKSTACKSET00000001", "stack-set-spec-secret-key-01"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = C.LUA
local tmpfile = C.tmpfile

local TEMPLATE = [[
variable "env" {
  type    = string
  default = "dev"
}

resource "huaweicloud_vpc" "main" {
  name = "vpc-${var.env}"
}
]]

describe("rfs stack-set against the emulator", function()
  local cli = C.new{ ak = AK, sk = SK, project = PROJECT }
  local em, tpl

  setup(function()
    em = cli:start{ time_scale = 100, queue_seconds = 1 }
    tpl = tmpfile(TEMPLATE)
  end)
  teardown(function()
    os.remove(tpl)
    cli:stop()
  end)

  local function rfs(args)
    return cli:run(LUA .. " bin/rfs --endpoint " .. em.url .. " " .. args)
  end

  local function fail_instance(region, domain)
    local status = E.request(em.url .. "/_emulator/stack-sets/failures", "POST",
                             cjson.encode{ region = region, domain_id = domain, message = "quota exceeded" })
    assert.equal(201, status)
  end

  it("creates, lists, shows, rolls out with --wait, lists instances and operations, and deletes", function()
    local code, out, err = rfs("stack-set create web --template " .. tpl
                               .. " --administration-agency-urn iam::1:agency:admin --managed-agency-name managed"
                               .. " --description baseline")
    assert.equal(0, code, err)
    assert.matches("stack_set_name +web", out)
    assert.matches("status +IDLE", out)

    code, out = rfs("stack-set list --output json")
    assert.equal(0, code)
    local list = cjson.decode(out)
    assert.equal("web", list[1].stack_set_name)
    assert.equal("baseline", list[1].stack_set_description)

    fail_instance("r2", "acct2")
    code, out, err = rfs("stack-set instances create web --regions r1,r2,r3 --accounts acct1,acct2"
                         .. " --failure-tolerance 1 --max-concurrent 2 --wait")
    assert.equal(0, code, err)
    assert.matches("create_instances accepted: stack_set_operation_id %x+", err)
    assert.matches("r2/acct2 +OPERATION_FAILED: quota exceeded", err) -- progress per instance
    assert.matches("web CREATE_STACK_INSTANCES OPERATION_COMPLETE after", out)
    assert.matches("\n  r2 +2 instances: 1 OPERATION_COMPLETE, 1 OPERATION_FAILED; acct2 %(quota exceeded%)", out)

    code, out = rfs("stack-set instances list web --output json")
    assert.equal(0, code)
    assert.equal(6, #cjson.decode(out))
    code, out = rfs("stack-set instances show web r1 acct1")
    assert.equal(0, code)
    assert.matches("stack_domain_id +acct1", out)
    code, out = rfs("stack-set operations list web")
    assert.equal(0, code)
    local op_id = out:match("(%x+%-%x+%-%x+%-%x+%-%x+)%s+CREATE_STACK_INSTANCES")
    assert.is_string(op_id)
    code, out = rfs("stack-set operations show web " .. op_id .. " --output json")
    assert.equal(0, code)
    assert.equal("OPERATION_COMPLETE", cjson.decode(out).status)
    code, out = rfs("stack-set show web")
    assert.equal(0, code)
    assert.matches("permission_model +SELF_MANAGED", out)
    code, out = rfs("stack-set template web --download")
    assert.equal(0, code)
    assert.equal(TEMPLATE, out)

    code, out, err = rfs("stack-set delete web")
    assert.equal("", out)
    assert.equal(3, code)
    assert.matches("invalid_state", err)
    -- the way out is the stack set's, in commands, not a stack's `rfs metadata STACK`
    assert.matches("delete the instances (`rfs stack-set instances list web`, then `rfs stack-set instances delete "
                   .. "web --regions R1,R2 --accounts A1,A2 --wait`), then delete the set", err, 1, true)
    assert.not_matches("rfs metadata", err, 1, true)
    assert.not_matches("ss:", err, 1, true)
    code, out, err = rfs("stack-set create web --template " .. tpl
                         .. " --administration-agency-urn iam::1:agency:admin --managed-agency-name managed")
    assert.equal("", out)
    assert.equal(3, code)
    assert.matches("a stack set of that name exists: pick another name, or deploy to that set "
                   .. "(`rfs stack-set deploy web ...`)", err, 1, true)
    assert.not_matches("this stack", err, 1, true)
    code, out, err = rfs("stack-set instances delete web --regions r1,r2,r3 --accounts acct1,acct2 --wait --output json")
    assert.equal(0, code, err)
    local res = cjson.decode(out)
    assert.is_true(res.ok)
    assert.equal("DELETE_STACK_INSTANCES", res.action)
    code = rfs("stack-set delete web")
    assert.equal(0, code)
  end)

  it("exits 1 when the operation fails, and 2 for usage errors naming the flags", function()
    assert.equal(0, (rfs("stack-set create bad --template " .. tpl
                         .. " --administration-agency-urn iam::1:agency:admin --managed-agency-name m")))
    fail_instance("x1", "a1")
    local code, out = rfs("stack-set instances create bad --regions x1,x2 --accounts a1 --wait --quiet")
    assert.equal(1, code)
    assert.matches("OPERATION_FAILED", out)
    assert.matches("x2 +1 instance: 1 CANCEL_COMPLETE", out)
    local err
    code, out, err = rfs("stack-set instances create bad --regions x1")
    assert.equal("", out)
    assert.equal(2, code)
    assert.matches("needs %-%-regions R1,R2 and %-%-accounts A1,A2", err)
    code, out, err = rfs("stack-set instances create bad --regions x1 --accounts a1 --failure-tolerance-percent 500")
    assert.equal("", out)
    assert.equal(2, code)
    assert.matches("'%-%-failure%-tolerance%-percent' must be between 0 and 100", err)
    code, out, err = rfs("stack-set operations list bad --filter status=x")
    assert.equal("", out)
    assert.equal(2, code)
    assert.matches("not key==value", err)
  end)

  it("examples/rollout.lua rolls out to three regions x two accounts and prints the per-region digest", function()
    fail_instance("cn-south-1", "acctB")
    local code, out, err = cli:run(LUA .. " examples/rollout.lua ex-rollout acctA,acctB", "RFS_ENDPOINT=" .. em.url)
    assert.equal(0, code, err)
    assert.matches("ex%-rollout CREATE_STACK_INSTANCES OPERATION_COMPLETE", out)
    assert.matches("\n  ap%-southeast%-1 +2 instances: 2 OPERATION_COMPLETE", out)
    assert.matches("\n  cn%-north%-4 +2 instances: 2 OPERATION_COMPLETE", out)
    assert.matches("\n  cn%-south%-1 +2 instances: 1 OPERATION_COMPLETE, 1 OPERATION_FAILED", out)
    assert.matches("failed: cn%-south%-1/acctB OPERATION_FAILED: quota exceeded", out)
    assert.matches("cn%-south%-1/acctB +OPERATION_FAILED", err)
  end)
end)

describe("rfs stack-set --wait interrupted", function()
  local cli = C.new{ ak = AK, sk = SK, project = PROJECT }
  local em, tpl

  setup(function()
    em = cli:start{ time_scale = 1 } -- each instance takes 10 s: the wait is under way
    tpl = tmpfile(TEMPLATE)
  end)
  teardown(function()
    os.remove(tpl)
    cli:stop()
  end)

  local function run(cmd) return cli:run(cmd) end

  local function polled(name)
    for _ = 1, 200 do
      for _, r in ipairs(em:requests()) do
        if r.path:find("/stack-sets/" .. name .. "/operations/", 1, true) then return true end
      end
      socket.sleep(0.05)
    end
    return false
  end

  it("a set busy with an operation is refused with the commands that show it, not a stack's", function()
    assert.equal(0, (run(LUA .. " bin/rfs stack-set create busy --template " .. tpl
                         .. " --administration-agency-name admin --managed-agency-name m --endpoint " .. em.url)))
    assert.equal(0, (run(LUA .. " bin/rfs stack-set instances create busy --regions r1 --accounts a1 --endpoint "
                         .. em.url)))
    local code, out, err = run(LUA .. " bin/rfs stack-set update busy --description x --endpoint " .. em.url)
    assert.equal(3, code, err)
    assert.equal("", out)
    assert.matches("rfs invalid_state error: update needs an IDLE stack set", err, 1, true)
    assert.matches("; run `rfs stack-set show busy` and `rfs stack-set operations list busy`, wait for the active "
                   .. "operation to end (`rfs stack-set operations show busy OPERATION_ID`), then retry", err, 1, true)
    assert.not_matches("rfs metadata", err, 1, true)
    code, out, err = run(LUA .. " bin/rfs stack-set instances create busy --regions r2 --accounts a1 --endpoint "
                       .. em.url)
    assert.equal(3, code, err)
    assert.equal("", out)
    assert.matches("`rfs stack-set operations list busy`", err, 1, true)
  end)

  it("exits 130 at once and prints the command that shows the operation, which goes on", function()
    local code = run(LUA .. " bin/rfs stack-set create int --template " .. tpl
                     .. " --administration-agency-name admin --managed-agency-name m --endpoint " .. em.url)
    assert.equal(0, code)
    local h = cli:spawn("stack-set instances create int --regions r1 --accounts a1 --wait --endpoint " .. em.url)
    assert.is_true(polled("int"))
    os.execute("kill -INT " .. h.pid)
    local status, out, err = cli:finish(h, 5)
    assert.equal(130, status, err)
    assert.equal("", out)
    assert.not_matches("internal error", err, 1, true)
    local check = err:match("check it with: (rfs stack%-set operations show int %x+%-[%x-]+ [^\n]+)")
    assert.is_string(check, err)
    local code2, shown = run(LUA .. " bin/" .. check .. " --output json")
    assert.equal(0, code2)
    assert.equal("CREATE_STACK_INSTANCES", cjson.decode(shown).action)
  end)
end)
