-- `rfs whoami` as a subprocess: which source and project the command line found, for
-- each kind of source, against the emulator standing in for RFS, IAM and the metadata service.
local E = require "emulator_process"
local C = require "cli_process"

local AK, SK = "AKWHOAMI000000001", "whoami-secret-key-0001"
local PROJECT = "0123456789abcdef0123456789abcdef"

-- rfs whoami with only the environment given (no HOME, so no ~/.huaweicloud of the machine's)
local function run(env, args)
  return C.execute(("env -i PATH=\"$PATH\" HOME=/nonexistent %s %s bin/rfs whoami %s"):format(env, C.LUA, args or ""))
end

describe("rfs whoami", function()
  local em
  setup(function() em = E.start{ ak = AK, sk = SK } end)
  teardown(function() if em then em:stop() end end)

  it("names the environment and the project given there", function()
    local code, out = run(("HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s")
                          :format(AK, SK, PROJECT), "--endpoint " .. em.url)
    assert.equal(0, code)
    assert.matches("source%s+env\n", out)
    assert.matches("project_id%s+" .. PROJECT, out)
    assert.matches("keys%s+long%-lived", out)
    assert.not_matches(SK, out, 1, true)
  end)

  it("names the profile file and the project looked up at IAM", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("[basic]\nak = ", AK, "\nsk = ", SK, "\niam_endpoint = ", em.url, "\n")
    f:close()
    os.execute("chmod 600 " .. path)
    local code, out, err = run("HUAWEICLOUD_SDK_CREDENTIALS_FILE=" .. path,
                               "--endpoint " .. em.url .. " --region cn-north-4 --output json")
    os.remove(path)
    assert.equal(0, code, err)
    local info = require("cjson").decode(out)
    assert.equal("profile:" .. path, info.source)
    assert.equal(PROJECT, info.project_id)
    assert.is_false(info.temporary)
    assert.not_matches(SK, out .. err, 1, true)
  end)

  it("names the metadata service and how long its temporary keys last, with no secret", function()
    local code, out, err = run("RFS_METADATA_ENDPOINT=" .. em.url,
                               "--endpoint " .. em.url .. " --project-id " .. PROJECT)
    assert.equal(0, code, err)
    assert.matches("source%s+metadata\n", out)
    assert.matches("keys%s+temporary, valid for [56]h%d%dm", out)
    assert.not_matches("emu%-sts%-", out .. err)
  end)

  it("lists every source tried when none has keys, and exits 3", function()
    local closed = E.closed_port()
    local code, out, err = run("RFS_METADATA_ENDPOINT=http://127.0.0.1:" .. closed,
                               "--endpoint " .. em.url .. " --project-id " .. PROJECT)
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("unable to get credentials from any source: options: .*environment: .*federation: .*"
                   .. "profile: .*metadata: PUT http://127.0.0.1:" .. closed, err)
  end)
end)
