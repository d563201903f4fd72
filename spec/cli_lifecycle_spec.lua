-- The lifecycle commands and examples/lifecycle.lua as subprocesses against the emulator:
-- create, wait, outputs, deploy, resources, template, update, delete, list, variables.
local cjson = require "cjson"
local C = require "cli_process"

local AK, SK = "AKLIFECYCLE0000001", "lifecycle-spec-secret-key-01"
local PROJECT = "0123456789abcdef0123456789abcdef"
local EMPTY_PROJECT = "fedcba9876543210fedcba9876543210"
local LUA = C.LUA
local tmpfile = C.tmpfile

local V1 = [[
variable "vpc_name" {
  type    = string
  default = "spec-vpc"
}

resource "huaweicloud_vpc" "vpc" {
  name = var.vpc_name
  cidr = "192.168.0.0/16"
}

output "vpc_id" {
  value = huaweicloud_vpc.vpc.id
}
]]

local V2 = V1 .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name   = "spec-subnet"
  cidr   = "192.168.1.0/24"
  vpc_id = huaweicloud_vpc.vpc.id
}
]]

describe("the rfs lifecycle commands", function()
  local cli = C.new{ ak = AK, sk = SK, project = PROJECT, endpoint = true }
  local em, v1, v2

  setup(function()
    em = cli:start{ time_scale = 50 }
    v1, v2 = tmpfile(V1), tmpfile(V2)
  end)

  teardown(function()
    cli:stop()
    os.remove(v1)
    os.remove(v2)
  end)

  local function rfs(args, env) return cli:rfs(args, env) end

  it("creates a stack from a template file and waits, with progress on stderr", function()
    local code, out, err = rfs("create cli-life --template " .. v1 .. " --var vpc_name=life-vpc --wait")
    assert.equal(0, code)
    assert.matches("create cli%-life accepted: deployment_id %x+%-", err)
    assert.matches("DEPLOYMENT_IN_PROGRESS", err)
    assert.matches("^cli%-life DEPLOYMENT_COMPLETE", out)
    local code2, json = rfs("outputs cli-life --output json")
    assert.equal(0, code2)
    local outs = cjson.decode(json)
    assert.equal(1, #outs)
    assert.equal("vpc_id", outs[1].name)
    local code3, list = rfs("list --status DEPLOYMENT_COMPLETE --output json")
    assert.equal(0, code3)
    local names = {}
    for _, s in ipairs(cjson.decode(list)) do names[s.stack_name] = s.status end
    assert.equal("DEPLOYMENT_COMPLETE", names["cli-life"])
  end)

  it("deploys a changed template: the new resource shows in resources, the text in template --download", function()
    assert.equal(0, (rfs("create cli-redeploy --template " .. v1 .. " --wait --quiet")))
    local code, _, err = rfs("deploy cli-redeploy --template " .. v2 .. " --wait")
    assert.equal(0, code)
    assert.matches("huaweicloud_vpc_subnet", err)
    local code2, tbl = rfs("resources cli-redeploy --output table")
    assert.equal(0, code2)
    assert.matches("^LOGICAL_RESOURCE_NAME%s+LOGICAL_RESOURCE_TYPE", tbl)
    assert.matches("\nsubnet%s+huaweicloud_vpc_subnet%s+", tbl)
    assert.matches("\nvpc%s+huaweicloud_vpc%s+", tbl)
    local code3, text = rfs("template cli-redeploy --download")
    assert.equal(0, code3)
    assert.matches('resource "huaweicloud_vpc_subnet" "subnet"', text, 1, true)
  end)

  it("updates a stack's switches and deletes it, waiting until it is gone", function()
    assert.equal(0, (rfs("create cli-bye --description first")))
    local code = rfs("update cli-bye --description second --deletion-protection")
    assert.equal(0, code)
    local _, meta = rfs("metadata cli-bye --output json")
    meta = cjson.decode(meta)
    assert.equal("second", meta.description)
    assert.is_true(meta.enable_deletion_protection)
    local code2, _, err2 = rfs("delete cli-bye")
    assert.equal(3, code2)
    assert.matches("^rfs %S+ error", err2)
    assert.equal(0, (rfs("update cli-bye --no-deletion-protection")))
    local code3, out3 = rfs("delete cli-bye --wait --quiet --output json")
    assert.equal(0, code3)
    local res = cjson.decode(out3)
    assert.is_true(res.ok)
    assert.equal("DELETED", res.status)
    local code4, _, err4 = rfs("metadata cli-bye")
    assert.equal(3, code4)
    assert.matches("not_found", err4)
  end)

  it("prints an empty list as [] and a template's variables as a table", function()
    local code, out = rfs("list --output json", "HUAWEICLOUD_SDK_PROJECT_ID=" .. EMPTY_PROJECT)
    assert.equal(0, code)
    assert.equal("[]\n", out)
    local code2, tbl = rfs("variables --template " .. v1 .. " --output table")
    assert.equal(0, code2)
    assert.matches("^NAME%s+TYPE%s+DEFAULT", tbl)
    assert.matches("\nvpc_name%s+string%s+spec%-vpc", tbl)
  end)

  it("exits 2 naming a template file that is not there, before any request", function()
    local before = #em:requests()
    local code, out, err = rfs("create cli-nofile --template /nonexistent/main.tf")
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("--template", err, 1, true)
    assert.matches("/nonexistent/main.tf", err, 1, true)
    assert.equal(before, #em:requests())
  end)

  it("examples/lifecycle.lua creates, redeploys and deletes a stack", function()
    local code, out = cli:run(LUA .. " examples/lifecycle.lua ex-life", "RFS_ENDPOINT=" .. em.url)
    assert.equal(0, code)
    assert.matches("ex%-life DEPLOYMENT_COMPLETE", out)
    assert.matches("output vpc_id = ", out)
    assert.matches("resource huaweicloud_vpc_subnet%.subnet ", out)
    assert.matches("DELETED", out)
  end)
end)
