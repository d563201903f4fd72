-- rfs template-lib and examples/template_library.lua as subprocesses against the emulator
-- (libcurl, real signatures): every library command, its output and its exit codes.
local cjson = require "cjson"
local C = require "cli_process"

local AK, SK = "AKTEMPLATELIB00001", "template-lib-spec-secret-key-1"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = C.LUA
local tmpfile = C.tmpfile

local V1 = [[
resource "huaweicloud_vpc" "vpc" {
  name = "lib-vpc"
  cidr = "192.168.0.0/16"
}
]]

local V2 = V1 .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name   = "lib-subnet"
  cidr   = "192.168.1.0/24"
  vpc_id = huaweicloud_vpc.vpc.id
}
]]

describe("rfs template-lib", function()
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

  it("publishes, shows, updates, versions, downloads and deletes a template", function()
    local code, out = rfs("template-lib create cli-net --template " .. v1
                          .. " --description 'the network' --version-description first --output json")
    assert.equal(0, code)
    local created = cjson.decode(out)
    assert.equal("cli-net", created.template_name)
    assert.equal("V1", created.version_id)
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", created.template_id)

    local id_pattern = created.template_id:gsub("%-", "%%-")
    local code2, show = rfs("template-lib show cli-net")
    assert.equal(0, code2)
    assert.matches("^template_name%s+cli%-net\ntemplate_id%s+" .. id_pattern, show)
    assert.matches("\ntemplate_description%s+the network", show)

    assert.equal(0, (rfs("template-lib update cli-net --description reviewed")))
    local _, json = rfs("template-lib show cli-net --output json")
    assert.equal("reviewed", cjson.decode(json).template_description)

    local code3, ver = rfs("template-lib version-create cli-net --template " .. v2 .. " --version-description subnet")
    assert.equal(0, code3)
    assert.matches("version_id%s+V2", ver)

    local code4, tbl = rfs("template-lib versions cli-net --output table")
    assert.equal(0, code4)
    assert.matches("^VERSION_ID%s+CREATE_TIME%s+VERSION_DESCRIPTION\nV2%s+%S+%s+subnet\nV1%s+%S+%s+first", tbl)

    local code5, meta = rfs("template-lib version-show cli-net V1 --output json")
    assert.equal(0, code5)
    assert.equal("first", cjson.decode(meta).version_description)

    local code6, text = rfs("template-lib version-download cli-net V2")
    assert.equal(0, code6)
    assert.equal(V2, text)

    local code7, list = rfs("template-lib list")
    assert.equal(0, code7)
    assert.matches("cli%-net%s+V2%s+" .. id_pattern, list)

    local code8, done = rfs("template-lib version-delete cli-net V1 --template-id " .. created.template_id)
    assert.equal(0, code8)
    assert.equal("template-lib version-delete cli-net V1: done\n", done)
    assert.equal(0, (rfs("template-lib delete cli-net")))
    local code9, _, err9 = rfs("template-lib show cli-net")
    assert.equal(3, code9)
    assert.matches("^rfs not_found error: template cli%-net does not exist", err9)
  end)

  it("exits 3 with RFS's reason for a name taken, the last version and a stale --template-id", function()
    assert.equal(0, (rfs("template-lib create cli-dup --template " .. v1)))
    local code, _, err = rfs("template-lib create cli-dup --template " .. v1)
    assert.equal(3, code)
    assert.matches("^rfs conflict error: .*HTTP 409", err)
    local code2, _, err2 = rfs("template-lib version-delete cli-dup V1")
    assert.equal(3, code2)
    assert.matches("only version of template cli%-dup; delete the template instead", err2)
    local code3, _, err3 = rfs("template-lib delete cli-dup --template-id 1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3")
    assert.equal(3, code3)
    assert.matches("HTTP 400", err3)
    local code4, list = rfs("template-lib list --output json")
    assert.equal(0, code4)
    local names = {}
    for _, t in ipairs(cjson.decode(list)) do names[t.template_name] = true end
    assert.is_true(names["cli-dup"])
  end)

  it("exits 2 on a usage error, naming the flag or argument, before any request", function()
    local before = #em:requests()
    local code, _, err = rfs("template-lib create cli-none")
    assert.equal(2, code)
    assert.matches("needs --template FILE or --template-uri URL", err, 1, true)
    local code2, _, err2 = rfs("template-lib version-show cli-none v1")
    assert.equal(2, code2)
    assert.matches("VERSION must be 'V' and a number", err2, 1, true)
    local code3, _, err3 = rfs("template-lib update cli-none")
    assert.equal(2, code3)
    assert.matches("nothing to change; give --description", err3, 1, true)
    local code4, _, err4 = rfs("template-lib show 1bad")
    assert.equal(2, code4)
    assert.matches("invalid template name '1bad'", err4, 1, true)
    local code5 = rfs("template-lib")
    assert.equal(2, code5)
    assert.equal(before, #em:requests())
  end)

  it("examples/template_library.lua publishes, adds a version and deploys a stack from the download", function()
    local code, out, err = cli:run(LUA .. " examples/template_library.lua ex-lib", "RFS_ENDPOINT=" .. em.url)
    assert.equal(0, code, err)
    assert.matches("published ex%-lib %(id %x+%-[%x-]+%) as V1", out)
    assert.matches("added V2", out)
    assert.matches("ex%-lib%-stack DEPLOYMENT_COMPLETE", out)
    assert.matches("huaweicloud_vpc_subnet", err) -- the stack was built from V2's text
    assert.matches("deleted the stack and the template", out)
  end)
end)
