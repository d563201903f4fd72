-- The whole stack lifecycle through the real C core (libcurl) against the emulator process.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKLIFEINT", "lifecycle-integration-secret", "proj-life"

local TEMPLATE = [[
variable "env" {
  type    = string
  default = "dev"
}

resource "huaweicloud_vpc" "main" {
  name = "vpc-${var.env}"
  cidr = "10.0.0.0/16"
}

output "cidr" {
  value = huaweicloud_vpc.main.cidr
}
]]

describe("the stack lifecycle against the emulator", function()
  local em, client
  local fast = { interval = 0.1, max_interval = 0.2, timeout = 60 }

  setup(function()
    em = E.start{ ak = AK, sk = SK, time_scale = 200, queue_seconds = 1 }
    client = rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK }
  end)
  teardown(function()
    if client then client:close() end
    if em then em:stop() end
  end)

  it("creates, lists, reads, updates, redeploys and deletes a stack", function()
    local vars = assert(client:parse_variables{ template_body = TEMPLATE })
    assert.equal("env", vars[1].name)

    local stack = assert(client:create_stack("life", { template_body = TEMPLATE, vars = { env = "prod" },
                                                        description = "first" }))
    assert.is_string(stack.id)
    assert.is_string(stack.deployment_id)
    local res = assert(stack:wait(fast))
    assert.is_true(res.ok, tostring(res))
    assert.equal("DEPLOYMENT_COMPLETE", res.status)

    local list = assert(client:stacks())
    local found
    for _, s in ipairs(list) do
      if s.name == "life" then found = s end
    end
    assert.is_truthy(found)
    assert.equal(stack.id, found.id)
    assert.equal("first", found.description)
    assert.equal("DEPLOYMENT_COMPLETE", found.status)
    assert.is_true(found == stack)

    local resources = assert(stack:resources())
    assert.equal("huaweicloud_vpc", resources[1].logical_resource_type)
    local outs = assert(stack:outputs())
    assert.equal("10.0.0.0/16", outs.by_name.cidr.decoded)

    local tpl = assert(stack:template{ download = true })
    assert.matches("^http://127%.0%.0%.1:%d+/", tpl.location)
    assert.truthy(tpl.body:find("huaweicloud_vpc", 1, true))

    assert.is_true(stack:update{ description = "second" })
    assert.equal("second", assert(stack:metadata()).description)

    local dep = assert(stack:deploy{ template_body = TEMPLATE, vars = { env = "stage" } })
    assert.equal(dep.deployment_id, stack.deployment_id)
    res = assert(stack:wait(fast))
    assert.is_true(res.ok, tostring(res))

    assert.is_true(stack:delete())
    res = assert(stack:wait(fast))
    assert.is_true(res.ok, tostring(res))
    assert.equal("DELETED", res.status)
    local _, err = stack:metadata()
    assert.equal("not_found", err.kind)
  end)

  it("says why auto-rollback cannot be switched on for a failed stack, and how to recover", function()
    em:seed{ project_id = PROJECT, stack_name = "failed-one", status = "DEPLOYMENT_FAILED" }
    local stack = client:stack("failed-one")
    local ok, err = stack:update{ enable_auto_rollback = true }
    assert.is_nil(ok)
    assert.equal("invalid_state", err.kind)
    assert.equal("RF.10012546", err.code)
    assert.equal("DEPLOYMENT_FAILED", err.stack_status)
    assert.matches("continue_deploy", err.hint)
    assert.is_false(stack:metadata().enable_auto_rollback) -- nothing changed
  end)

  it("deletes keeping the resources with retain_all_resources", function()
    local stack = assert(client:create_stack("keep", { template_body = TEMPLATE }))
    assert(stack:wait(fast))
    assert.is_true(stack:delete{ retain_all_resources = true })
    local res = assert(stack:wait(fast))
    assert.equal("DELETED", res.status)
  end)
end)
