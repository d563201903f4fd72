-- rfs.help is built from the operation model: every operation, its call, RFS name,
-- method and path, parameters with their limits.
local api = require "rfs.api"
local help = require "rfs.help"
local fake = require "fake_transport"

describe("rfs.help", function()
  it("lists every operation of the model with its Lua call and RFS name", function()
    local text = help.text()
    for _, op in ipairs(api.operations) do
      assert.truthy(text:find(op.name, 1, true), op.name)
      assert.truthy(text:find(help.call_of(op), 1, true), help.call_of(op))
    end
  end)

  it("shows a client's and a stack's calls", function()
    local c = fake.client(fake.new())
    assert.matches("client:create_stack%(name, {%.%.%.}%)%s+CreateStack", help.text(c))
    local s = help.text(c:stack("web"))
    assert.matches("stack:deploy{%.%.%.}%s+DeployStack", s)
    assert.matches("stack:delete{ retain_all_resources = }%s+DeleteStackEnhanced", s)
    assert.matches("stack:wait", s)
  end)

  it("shows a template's calls, with the version as their argument", function()
    local c = fake.client(fake.new())
    assert.matches("client:create_template%(name, {%.%.%.}%)%s+CreateTemplate", help.text(c))
    assert.matches("client:template%(name", help.text(c))
    local t = help.text(c:_object("Template", "net"))
    assert.matches("template:create_version{%.%.%.}%s+CreateTemplateVersion", t)
    assert.matches("template:version_content%(version_id %[, {%.%.%.}%]%)%s+ShowTemplateVersionContent", t)
    assert.matches("template:delete_version%(version_id%)%s+DeleteTemplateVersion", t)
    local one = help.text("version_content")
    assert.matches("%-> the template text", one)
    assert.truthy(one:find("GET /v1/{project_id}/templates/{template_name}/versions/{version_id} -> 307", 1, true))
  end)

  it("shows a stack set's calls, not a stack's", function()
    local c = fake.client(fake.new())
    assert.matches("client:stack_set%(name", help.text(c))
    local ss = help.text(c:stack_set("web"))
    assert.matches("ss:create_instances{%.%.%.}%s+CreateStackInstance", ss)
    assert.matches("ss:instance%(region, domain_id %[, {%.%.%.}%]%)%s+ShowStackInstance", ss)
    assert.matches("ss:wait", ss)
    assert.is_nil(ss:find("stack:", 1, true))
  end)

  it("describes one operation: method, path, status, options and their limits", function()
    local text = help.text("deploy")
    assert.matches("stack:deploy{%.%.%.} %-> { deployment_id }", text)
    assert.truthy(text:find("DeployStack: POST /v1/{project_id}/stacks/{stack_name}/deployments -> 202", 1, true))
    assert.matches("template_body%s+string, <= 51200 chars", text)
    assert.matches("vars_structure%s+array, <= 100 items", text)
    assert.matches("exactly one of: template_body, template_uri", text)
    assert.is_nil(text:find("stack_id", 1, true)) -- it comes from the stack, not the caller
    assert.equal(help.text("deploy"), help.text("DeployStack"))
    assert.equal(help.text("deploy"), help.text("stack:deploy"))
    assert.matches("DeleteStack:.*DeleteStackEnhanced:", help.text("stack:delete"))
  end)

  it("knows an operation as soon as it is in the model", function()
    local op = { name = "FrobnicateStack", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/frob",
                 status = 202, on = "stack", lua = "frobnicate", summary = "Frobnicate the stack",
                 params = { { name = "level", ["in"] = "body", type = "integer", min = 1, max = 9 } } }
    table.insert(api.operations, op)
    api.by_name[op.name] = op
    local ok, text, all = pcall(function() return help.text("frobnicate"), help.operations() end)
    table.remove(api.operations)
    api.by_name[op.name] = nil
    assert(ok, text)
    assert.truthy(text:find("FrobnicateStack: POST /v1/{project_id}/stacks/{stack_name}/frob -> 202", 1, true))
    assert.matches("level%s+integer, 1%-9", text)
    assert.matches("stack:frobnicate{%.%.%.}%s+FrobnicateStack%s+Frobnicate the stack", all)
  end)

  it("says so for a name it does not know", function()
    local out = { text = "" }
    function out:write(...) self.text = self.text .. table.concat({ ... }) end
    help.print("frobnicate", out)
    assert.matches('no operation named "frobnicate"', out.text)
  end)
end)
