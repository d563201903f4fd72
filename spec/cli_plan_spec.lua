-- The plan commands and examples/plan_and_apply.lua as subprocesses against the emulator:
-- plan create, list, metadata, show, prices, apply, delete.
local cjson = require "cjson"
local C = require "cli_process"

local AK, SK = "AKPLANCLI000000001", "plan-cli-spec-secret-key-01"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = C.LUA
local tmpfile = C.tmpfile

local V1 = [[
variable "vpc_name" {
  type    = string
  default = "plan-vpc"
}

resource "huaweicloud_vpc" "vpc" {
  name = var.vpc_name
  cidr = "192.168.0.0/16"
}
]]

-- adds a subnet and a server: nothing is deleted
local V2 = V1 .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name   = "plan-subnet"
  cidr   = "192.168.1.0/24"
  vpc_id = huaweicloud_vpc.vpc.id
}

resource "huaweicloud_compute_instance" "web" {
  name      = "web"
  flavor_id = "s6.small.1"
}
]]

-- drops the server and the subnet again
local V3 = V1

describe("the rfs plan commands", function()
  local cli = C.new{ ak = AK, sk = SK, project = PROJECT, endpoint = true }
  local em, v1, v2, v3

  setup(function()
    em = cli:start{ time_scale = 50, queue_seconds = 1 }
    v1, v2, v3 = tmpfile(V1), tmpfile(V2), tmpfile(V3)
  end)

  teardown(function()
    cli:stop()
    os.remove(v1)
    os.remove(v2)
    os.remove(v3)
  end)

  local function rfs(args, env) return cli:rfs(args, env) end

  it("creates a plan and waits, lists it, and shows it as a diff and as JSON items", function()
    assert.equal(0, (rfs("create plan-web --template " .. v1 .. " --wait --quiet")))
    local code, out, err = rfs("plan create plan-web add-web --template " .. v2 .. " --var vpc_name=plan-vpc --wait")
    assert.equal(0, code, err)
    assert.matches("plan create plan%-web/add%-web accepted: execution_plan_id %x+%-", err)
    assert.matches("^plan%-web plan add%-web AVAILABLE after", out)

    local code2, list = rfs("plan list plan-web")
    assert.equal(0, code2)
    assert.matches("^add%-web%s+AVAILABLE%s+%x+%-", list)
    local _, json = rfs("plan list plan-web --output json")
    local plans = cjson.decode(json)
    assert.equal(1, #plans)
    assert.equal("add-web", plans[1].execution_plan_name)
    assert.equal("AVAILABLE", plans[1].status)

    local code3, diff = rfs("plan show plan-web add-web")
    assert.equal(0, code3)
    assert.matches("+ huaweicloud_vpc_subnet.subnet\n", diff, 1, true)
    assert.matches('    + flavor_id = "s6.small.1"\n', diff, 1, true)
    assert.matches("    + id        = (known after apply)\n", diff, 1, true)
    assert.matches("\n2 to add, 0 to change, 0 to delete.\n$", diff)

    local _, items_json = rfs("plan show plan-web add-web --output json")
    local items = cjson.decode(items_json)
    assert.is_true(#items >= 3)
    local actions = {}
    for _, it in ipairs(items) do actions[it.resource_name] = it.action end
    assert.same({ vpc = "NO_OPERATION", subnet = "ADD", web = "ADD" }, actions)

    local _, meta = rfs("plan metadata plan-web add-web --output json")
    meta = cjson.decode(meta)
    assert.equal("AVAILABLE", meta.status)
    assert.equal(2, meta.summary.resource_add)
    assert.equal("plan-vpc", meta.vars_structure[1].var_value)
    local _, meta_text = rfs("plan metadata plan-web add-web")
    assert.matches("\nstatus%s+AVAILABLE\n", meta_text)
    assert.not_matches("plan-vpc", meta_text, 1, true) -- variable values stay out of text output
  end)

  it("prices a plan, applies it with --wait, and refuses to apply it twice", function()
    local code0, _, err0 = rfs("plan create plan-web priced --template " .. v2 .. " --var vpc_name=plan-vpc --wait --quiet")
    assert.equal(0, code0, err0)
    local code, prices = rfs("plan prices plan-web priced")
    assert.equal(0, code)
    assert.matches("huaweicloud_compute_instance.web%s+POST_PAID [%d.]+ CNY/HOUR", prices)
    assert.matches("huaweicloud_vpc_subnet.subnet%s+free", prices)
    local _, pj = rfs("plan prices plan-web priced --output json")
    assert.equal("CNY", cjson.decode(pj).currency)

    local code2, out2, err2 = rfs("plan apply plan-web priced --wait")
    assert.equal(0, code2, err2)
    assert.matches("plan apply plan%-web/priced accepted: deployment_id %x+%-", err2)
    assert.matches("huaweicloud_compute_instance", err2) -- the deployment's events
    assert.matches("^plan%-web DEPLOYMENT_COMPLETE", out2)

    local code3, _, err3 = rfs("plan apply plan-web priced")
    assert.equal(3, code3)
    assert.matches("^rfs invalid_state error: .*only an AVAILABLE plan can be applied", err3)
    assert.matches("(`rfs plan metadata plan-web priced`)", err3, 1, true) -- the command, not the Lua call
    assert.not_matches("plan:metadata()", err3, 1, true)
    -- the first plan was made before this apply: it has expired
    local code4, _, err4 = rfs("plan apply plan-web add-web")
    assert.equal(3, code4)
    assert.matches("RF.10012545", err4, 1, true)
    assert.matches("create a new plan", err4, 1, true)

    local code5, out5 = rfs("plan delete plan-web add-web")
    assert.equal(0, code5)
    assert.matches("^plan delete plan%-web/add%-web accepted", out5)
    local code6, _, err6 = rfs("plan show plan-web add-web")
    assert.equal(3, code6)
    assert.matches("not_found", err6)
  end)

  it("says how to look at a plan whose --wait timed out: its creation goes on at RFS", function()
    local code, out, err = rfs("plan create plan-web slow --template " .. v1 .. " --wait --timeout 0.01 --quiet")
    assert.equal(4, code, err)
    assert.equal("", out)
    assert.matches("plan slow of stack plan-web is still CREATION_IN_PROGRESS", err, 1, true)
    assert.matches("check it with: rfs plan metadata plan-web slow --endpoint", err, 1, true)
    assert.not_matches("plan:wait", err, 1, true) -- a command, not a Lua call
  end)

  it("exits 2 for a plan without a template, before any request", function()
    local before = #em:requests()
    local code, out, err = rfs("plan create plan-web p")
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("--template", err, 1, true)
    local code2, _, err2 = rfs("plan show plan-web")
    assert.equal(2, code2)
    assert.matches("plan", err2)
    assert.equal(before, #em:requests())
  end)

  it("examples/plan_and_apply.lua applies a change that deletes nothing, and holds back one that does", function()
    assert.equal(0, (rfs("create plan-gate --template " .. v1 .. " --wait --quiet")))
    local env = "RFS_ENDPOINT=" .. em.url
    local code, out, err = cli:run(LUA .. " examples/plan_and_apply.lua plan-gate " .. v2 .. " grow", env)
    assert.equal(0, code, err)
    assert.matches("+ huaweicloud_compute_instance.web\n", out, 1, true)
    assert.matches("2 to add, 0 to change, 0 to delete.", out, 1, true)
    assert.matches("apply accepted: deployment_id", out, 1, true)
    assert.matches("plan%-gate DEPLOYMENT_COMPLETE", out)

    code, out, err = cli:run(LUA .. " examples/plan_and_apply.lua plan-gate " .. v3 .. " shrink", env)
    assert.equal(1, code, err)
    assert.matches("- huaweicloud_compute_instance.web\n", out, 1, true)
    assert.matches("0 to add, 0 to change, 2 to delete.", out, 1, true)
    assert.matches("not applied: plan shrink deletes 2 resource(s)", out, 1, true)
    local _, plan_meta = rfs("plan metadata plan-gate shrink --output json")
    assert.equal("AVAILABLE", cjson.decode(plan_meta).status) -- planned, not applied
  end)
end)
