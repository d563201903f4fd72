-- The stack lifecycle built from rfs.api, over a scripted transport: what is sent, how
-- answers and errors come back, paging, misuse, the unsigned template download, and
-- waiting for create, deploy and delete.
local cjson = require "cjson"
local fake = require "fake_transport"

local ID = fake.STACK_ID
local DEP = "7c2e0c4a-1111-4c1d-9a55-0123456789ab"
local BASE = "https://rfs.test.example/v1/" .. fake.PROJECT

local function header(req, name)
  for k, v in pairs(req.headers) do
    if k:lower() == name:lower() then return v end
  end
end

local function body(req) return cjson.decode(req.body) end

local function setup(opts)
  local t = fake.new()
  local c = fake.client(t, opts)
  return t, c, c:stack("web", { stack_id = ID })
end

local function err_body(code) return { error_code = code, error_msg = "refused by RFS" } end

describe("client:create_stack", function()
  it("posts CreateStack with the template and vars, and returns a Stack with id and deployment_id", function()
    local t, c = setup()
    t:push(201, { stack_id = ID, deployment_id = DEP })
    local s = assert(c:create_stack("web", {
      template_body = "resource \"x\" \"y\" {}", description = "the web tier", enable_auto_rollback = true,
      vars = { count = 2, name = "prod", tags = { env = "prod" }, on = true },
      agencies = { { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } },
    }))
    local req = t:last()
    assert.equal("POST", req.method)
    assert.equal(BASE .. "/stacks", req.url)
    assert.same({
      stack_name = "web", template_body = "resource \"x\" \"y\" {}", description = "the web tier",
      enable_auto_rollback = true,
      agencies = { { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } },
      vars_structure = { { var_key = "count", var_value = "2" }, { var_key = "name", var_value = "prod" },
                         { var_key = "on", var_value = "true" }, { var_key = "tags", var_value = '{"env":"prod"}' } },
    }, body(req))
    assert.equal("web", s.name)
    assert.equal(ID, s.id)
    assert.equal(DEP, s.deployment_id)
    assert.equal("create", s.operation)
  end)

  it("creates an empty stack without a deployment_id when no template is given", function()
    local t, c = setup()
    t:push(201, { stack_id = ID })
    local s = assert(c:create_stack("empty"))
    assert.same({ stack_name = "empty" }, body(t:last()))
    assert.equal(ID, s.id)
    assert.is_nil(s.deployment_id)
  end)

  it("maps the documented refusals to error kinds", function()
    for status, kind in pairs({ [400] = "bad_request", [401] = "auth", [403] = "forbidden", [409] = "conflict",
                                [429] = "throttled", [500] = "server" }) do
      local t, c = setup()
      t:push(status, err_body("RF.10013502"))
      local s, err = c:create_stack("web")
      assert.is_nil(s)
      assert.equal(kind, err.kind, "HTTP " .. status)
      assert.equal(status, err.status)
      assert.equal("RF.10013502", err.code)
      assert.equal(1, #t.requests, "a create is never sent twice")
    end
  end)

  it("refuses a bad answer as a decode error instead of a half-made Stack", function()
    local t, c = setup()
    t:push(201, { stack_id = "not-a-uuid" })
    local s, err = c:create_stack("web")
    assert.is_nil(s)
    assert.equal("decode", err.kind)
  end)
end)

describe("misuse is caught before anything is sent", function()
  local t, c, s
  before_each(function() t, c, s = setup() end)

  local cases = {
    { "unknown option", function() return c:create_stack("web", { templat_body = "x" }) end,
      "client:create_stack: unknown option 'templat_body'" },
    { "wrong type", function() return s:update{ enable_auto_rollback = "yes" } end,
      "stack:update: option 'enable_auto_rollback' must be a boolean %(got string%)" },
    { "template too long", function() return s:deploy{ template_body = ("x"):rep(51201) } end,
      "stack:deploy: option 'template_body' is 51201 characters long; at most 51200" },
    { "vars body too long", function() return s:deploy{ template_uri = "u", vars_body = ("x"):rep(51201) } end,
      "option 'vars_body' is 51201 characters long" },
    { "both templates", function() return c:create_stack("web", { template_body = "a", template_uri = "b" }) end,
      "pass at most one of template_body and template_uri" },
    { "no template to deploy", function() return s:deploy{ vars = { a = "1" } } end,
      "stack:deploy: pass exactly one of template_body or template_uri" },
    { "vars and vars_structure", function()
        return s:deploy{ template_body = "a", vars = { a = 1 }, vars_structure = {} } end,
      "pass at most one of vars and vars_structure" },
    { "more than 100 vars", function()
        local vars = {}
        for i = 1, 101 do vars["v" .. i] = i end
        return s:deploy{ template_body = "a", vars = vars } end,
      "option 'vars' has 101 items; at most 100" },
    { "bad var name", function() return s:deploy{ template_body = "a", vars = { ["9lives"] = 1 } } end,
      "vars: invalid variable name '9lives'" },
    { "long var name", function() return s:deploy{ template_body = "a", vars = { [("v"):rep(33)] = 1 } } end,
      "vars: invalid variable name" },
    { "bad var value", function() return s:deploy{ template_body = "a", vars = { f = print } } end,
      "vars.f must be a string, number, boolean or table" },
    { "vars_structure item", function()
        return s:deploy{ template_body = "a", vars_structure = { { var_key = "a", var_value = 1 } } } end,
      "vars_structure%[1%]%.var_value must be a string" },
    { "nothing to update", function() return s:update{} end, "stack:update: nothing to change" },
    { "description too long", function() return s:update{ description = ("d"):rep(1025) } end,
      "option 'description' is 1025 characters long; at most 1024" },
    { "limit out of range", function() return s:resources{ limit = 0 } end,
      "option 'limit' must be between 1 and 1000" },
    { "limit not an integer", function() return c:stacks{ limit = 1.5 } end,
      "option 'limit' must be an integer" },
    { "array expected", function() return s:template{ access_control_source_ips = "10.0.0.0/8" } end,
      "option 'access_control_source_ips' must be an array" },
    { "delete option", function() return s:delete{ retain = true } end,
      "stack:delete: unknown option 'retain'; known options: retain_all_resources" },
    { "stack_id is the object's", function() return s:deploy{ template_body = "a", stack_id = ID } end,
      "unknown option 'stack_id'" },
    { "options not a table", function() return s:outputs("all") end, "stack:outputs: expected a table of options" },
    { "parse needs a template", function() return c:parse_variables{} end,
      "client:parse_variables: pass exactly one of template_body or template_uri" },
    { "bad stack name", function() return c:create_stack("9web") end, "invalid stack name '9web'" },
  }
  for _, case in ipairs(cases) do
    it(case[1], function()
      assert.error_matches(case[2], case[3])
      assert.equal(0, #t.requests)
    end)
  end

  it("points the error at the caller's line", function()
    local ok, msg = pcall(function() s:update{} end)
    assert.is_false(ok)
    assert.matches("lifecycle_spec.lua:%d+: rfs: stack:update", msg)
  end)
end)

describe("stack:deploy, update and delete", function()
  it("deploy posts DeployStack with stack_id and remembers the deployment", function()
    local t, _, s = setup()
    t:push(202, { deployment_id = DEP })
    local dep = assert(s:deploy{ template_uri = "https://obs.example/main.tf", vars_body = "a = 1" })
    assert.equal(DEP, dep.deployment_id)
    assert.equal("POST", t:last().method)
    assert.equal(BASE .. "/stacks/web/deployments", t:last().url)
    assert.same({ stack_id = ID, template_uri = "https://obs.example/main.tf", vars_body = "a = 1" }, body(t:last()))
    assert.equal(DEP, s.deployment_id)
    assert.equal("deploy", s.operation)
    assert.equal("deploy accepted: deployment_id " .. DEP, tostring(dep))
  end)

  it("deploy reports a busy stack (409) without sending it again", function()
    local t, _, s = setup({ retry = { attempts = 3, base = 0, cap = 0 }, sleep = function() end })
    t:push(409, err_body("RF.10013503"))
    local dep, err = s:deploy{ template_body = "a" }
    assert.is_nil(dep)
    assert.equal("conflict", err.kind)
    assert.equal(1, #t.requests)
  end)

  it("update patches only what is given and returns true on 204", function()
    local t, _, s = setup()
    t:push(204, "")
    assert.is_true(s:update{ description = "x", enable_auto_rollback = false })
    assert.equal("PATCH", t:last().method)
    assert.equal(BASE .. "/stacks/web", t:last().url)
    assert.same({ stack_id = ID, description = "x", enable_auto_rollback = false }, body(t:last()))
  end)

  it("update is sent again while RFS answers busy (409, 403 RF.10012519), not after a 403 for another reason",
     function()
    local t, _, s = setup({ retry = { attempts = 4, base = 0, cap = 0 }, sleep = function() end })
    t:push(409, err_body("RF.10013503")):push(403, err_body("RF.10012519")):push(204, "")
    assert.is_true(s:update{ description = "x" })
    assert.equal(3, #t.requests)
    t, _, s = setup({ retry = { attempts = 4, base = 0, cap = 0 }, sleep = function() end })
    t:push(403, err_body("RF.10012546")):push(200, fake.metadata{ status = "DEPLOYMENT_FAILED" })
    local ok, err = s:update{ enable_auto_rollback = true }
    assert.is_nil(ok)
    -- not a missing permission: the stack's state refuses it, and the error says the way out
    assert.equal("invalid_state", err.kind)
    assert.equal("DEPLOYMENT_FAILED", err.stack_status)
    assert.matches("enable_auto_rollback on while stack .* is DEPLOYMENT_FAILED", err.message)
    assert.matches("continue_deploy", err.hint)
    assert.equal(2, #t.requests) -- the update once, then the stack's state
    assert.equal("GET", t.requests[2].method)
  end)

  it("update is not sent again after a 500: it may have been applied", function()
    local t, _, s = setup({ retry = { attempts = 4, base = 0, cap = 0 }, sleep = function() end })
    t:push(500, err_body("RF.10010001")):push(204, "")
    local ok, err = s:update{ description = "x" }
    assert.is_nil(ok)
    assert.equal("server", err.kind)
    assert.equal(1, #t.requests)
  end)

  it("delete sends DeleteStack with stack_id in the query", function()
    local t, _, s = setup()
    t:push(202, "")
    assert.is_true(s:delete())
    assert.equal("DELETE", t:last().method)
    assert.equal(BASE .. "/stacks/web?stack_id=" .. ID, t:last().url)
    assert.equal("delete", s.operation)
  end)

  it("delete{ retain_all_resources = true } posts DeleteStackEnhanced", function()
    local t, _, s = setup()
    t:push(202, "")
    assert.is_true(s:delete{ retain_all_resources = true })
    assert.equal("POST", t:last().method)
    assert.equal(BASE .. "/stacks/web/deletion", t:last().url)
    assert.same({ stack_id = ID, retain_all_resources = true }, body(t:last()))
  end)

  it("delete maps 404, 401 and a 403 that names no state to their kinds", function()
    for status, kind in pairs({ [403] = "forbidden", [404] = "not_found", [401] = "auth" }) do
      local t, _, s = setup()
      t:push(status, err_body(status == 403 and "RF.10012507" or "RF.10012544"))
      local ok, err = s:delete()
      assert.is_nil(ok)
      assert.equal(kind, err.kind)
      assert.equal(1, #t.requests)
    end
  end)
end)

describe("a busy stack refuses deploy, update and delete: invalid_state, not a permission error", function()
  local function busy_metadata(status, extra)
    local m = fake.metadata{ stack_name = "web", status = status }
    for k, v in pairs(extra or {}) do m[k] = v end
    return m
  end

  it("deploy: 403 RF.10012519 says the stack is busy, its status, and to wait, without sending it again", function()
    local t, _, s = setup({ retry = { attempts = 3, base = 0, cap = 0 }, sleep = function() end })
    t:push(403, err_body("RF.10012519")):push(200, busy_metadata("ROLLBACK_IN_PROGRESS"))
    local dep, err = s:deploy{ template_body = "a" }
    assert.is_nil(dep)
    assert.equal("invalid_state", err.kind)
    assert.is_false(err.retryable)
    assert.equal("ROLLBACK_IN_PROGRESS", err.stack_status)
    assert.equal(2, #t.requests) -- the deploy once, then the stack's metadata
    assert.equal("GET", t:last().method)
    local text = tostring(err)
    assert.matches("deploy needs a stack with no operation in progress; stack web is busy: ROLLBACK_IN_PROGRESS",
                   text, 1, true)
    assert.matches("wait until the stack's operation ends (stack:wait{}), then deploy again", text, 1, true)
    assert.not_matches("IAM", text, 1, true)
  end)

  it("update: once the busy retries are spent, the same", function()
    local t, _, s = setup({ retry = { attempts = 3, base = 0, cap = 0 }, sleep = function() end })
    t:push(403, err_body("RF.10012519")):push(403, err_body("RF.10012519")):push(403, err_body("RF.10012519"))
     :push(200, busy_metadata("DEPLOYMENT_IN_PROGRESS"))
    local ok, err = s:update{ description = "x" }
    assert.is_nil(ok)
    assert.equal(4, #t.requests)
    assert.equal("invalid_state", err.kind)
    assert.equal(3, err.attempts)
    assert.matches("update needs a stack with no operation in progress; stack web is busy: DEPLOYMENT_IN_PROGRESS",
                   tostring(err), 1, true)
    assert.matches("then update again", tostring(err), 1, true)
  end)

  it("delete: 403 RF.10012544 is a busy stack, or one with deletion protection on, as its metadata shows", function()
    local t, _, s = setup()
    t:push(403, err_body("RF.10012544")):push(200, busy_metadata("DELETION_IN_PROGRESS"))
    local ok, err = s:delete()
    assert.is_nil(ok)
    assert.equal("invalid_state", err.kind)
    assert.matches("stack web is busy: DELETION_IN_PROGRESS", tostring(err), 1, true)
    assert.matches("then delete again", tostring(err), 1, true)
    t, _, s = setup()
    t:push(403, err_body("RF.10012544"))
     :push(200, busy_metadata("DEPLOYMENT_COMPLETE", { enable_deletion_protection = true }))
    ok, err = s:delete{ retain_all_resources = true }
    assert.is_nil(ok)
    assert.equal("invalid_state", err.kind)
    assert.matches("delete needs deletion protection off; stack web has it on", tostring(err), 1, true)
    assert.matches("stack:update{ enable_deletion_protection = false }", tostring(err), 1, true)
  end)

  it("the stack done by the time its metadata is read: refused while busy, try again", function()
    local t, _, s = setup()
    t:push(403, err_body("RF.10012519")):push(200, busy_metadata("DEPLOYMENT_COMPLETE"))
    local _, err = s:deploy{ template_body = "a" }
    assert.equal("invalid_state", err.kind)
    assert.matches("deploy was refused while stack web was busy; it is DEPLOYMENT_COMPLETE now", tostring(err), 1, true)
    t, _, s = setup()
    t:push(403, err_body("RF.10012519")):push(500, err_body("RF.10010001"))
    _, err = s:deploy{ template_body = "a" }
    assert.equal("invalid_state", err.kind)
    assert.matches("deploy needs a stack with no operation in progress; stack web is busy", tostring(err), 1, true)
  end)
end)

describe("lists", function()
  local function stack_item(name, extra)
    local s = { stack_name = name, stack_id = ID, status = "DEPLOYMENT_COMPLETE" }
    for k, v in pairs(extra or {}) do s[k] = v end
    return s
  end

  it("client:stacks() reads every page and returns Stack objects with the listing's fields", function()
    local t, c = setup()
    t:push(200, { stacks = { stack_item("a", { description = "first", create_time = "2026-11-24T00:00:00Z",
                                               update_time = "2026-11-24T01:00:00Z" }) },
                  page_info = { next_marker = "m2", current_count = 1 } })
    t:push(200, { stacks = { stack_item("b", { status = "DEPLOYMENT_FAILED", status_message = "quota" }) },
                  page_info = { current_count = 1 } })
    local list = assert(c:stacks())
    assert.equal(2, #list)
    assert.equal(BASE .. "/stacks", t.requests[1].url)
    assert.equal(BASE .. "/stacks?marker=m2", t.requests[2].url)
    assert.equal("a", list[1].name)
    assert.equal(ID, list[1].id)
    assert.equal("DEPLOYMENT_COMPLETE", list[1].status)
    assert.equal("first", list[1].description)
    assert.equal("2026-11-24T00:00:00Z", list[1].create_time)
    assert.equal("2026-11-24T01:00:00Z", list[1].update_time)
    assert.equal("DEPLOYMENT_FAILED", list[2].status)
    assert.equal("quota", list[2].status_message)
    assert.is_function(list[2].deploy)
    assert.matches("2 stacks", tostring(list))
  end)

  it("takes an old server's answer without page_info as the one page", function()
    local t, c = setup()
    t:push(200, { stacks = { stack_item("a"), stack_item("b") } })
    assert.equal(2, #assert(c:stacks()))
    assert.equal(1, #t.requests)
  end)

  it("stops when a marker comes back a second time", function()
    local t, _, s = setup()
    t:push(200, { stack_resources = { { logical_resource_name = "a" } }, page_info = { next_marker = "m1" } })
    t:push(200, { stack_resources = { { logical_resource_name = "b" } }, page_info = { next_marker = "m2" } })
    t:push(200, { stack_resources = { { logical_resource_name = "c" } }, page_info = { next_marker = "m1" } })
    local list = assert(s:resources())
    assert.equal(3, #list)
    assert.equal(3, #t.requests)
  end)

  it("all = false returns one page and the next marker; marker resumes there", function()
    local t, _, s = setup()
    t:push(200, { outputs = { { name = "a", value = "1", type = "number" } }, page_info = { next_marker = "m2" } })
    local page, marker = s:outputs{ all = false, limit = 10 }
    assert.equal(1, #page)
    assert.equal("m2", marker)
    assert.equal(BASE .. "/stacks/web/outputs?limit=10&stack_id=" .. ID, t:last().url)
    t:push(200, { outputs = { { name = "b", value = "2" } } })
    page, marker = s:outputs{ all = false, marker = "m2" }
    assert.equal("b", page[1].name)
    assert.is_nil(marker)
    assert.equal(BASE .. "/stacks/web/outputs?marker=m2&stack_id=" .. ID, t:last().url)
  end)

  it("stack:resources() returns the resources of ListStackResources", function()
    local t, _, s = setup()
    t:push(200, { stack_resources = { { logical_resource_name = "vpc", logical_resource_type = "huaweicloud_vpc",
                                        physical_resource_id = "p1", resource_status = "CREATION_COMPLETE",
                                        resource_attributes = { { key = "name", value = "prod" } } } } })
    local list = assert(s:resources())
    assert.equal("GET", t:last().method)
    assert.equal(BASE .. "/stacks/web/resources?stack_id=" .. ID, t:last().url)
    assert.equal("huaweicloud_vpc", list[1].logical_resource_type)
    assert.equal("prod", list[1].resource_attributes[1].value)
    assert.matches("huaweicloud_vpc%.vpc", tostring(list))
  end)

  it("stack:outputs() indexes by name and decodes each JSON value; sensitive ones stay hidden", function()
    local t, _, s = setup()
    t:push(200, { outputs = {
      { name = "id", type = "string", value = '"abc"', sensitive = false },
      { name = "ports", type = "list", value = "[80,443]" },
      { name = "secret", type = "<sensitive>", value = "<sensitive>", sensitive = true },
    } })
    local outs = assert(s:outputs())
    assert.equal(3, #outs)
    assert.equal("abc", outs.by_name.id.decoded)
    assert.same({ 80, 443 }, outs.by_name.ports.decoded)
    assert.is_nil(outs.by_name.secret.decoded)
    assert.equal("<sensitive>", outs.by_name.secret.value)
  end)

  it("returns a list error from any page, and a decode error for a non-array list", function()
    local t, c = setup()
    t:push(200, { stacks = { stack_item("a") }, page_info = { next_marker = "m2" } })
    t:push(429, err_body("RF.10014001"))
    local list, err = c:stacks()
    assert.is_nil(list)
    assert.equal("throttled", err.kind)
    t:push(200, { stacks = "nope" })
    list, err = c:stacks()
    assert.is_nil(list)
    assert.equal("decode", err.kind)
  end)

  it("a listing with a bad stack is a decode error, never a raised error", function()
    local t, c = setup()
    t:push(200, { stacks = { { stack_name = "9bad", stack_id = ID, status = "DEPLOYMENT_COMPLETE" } } })
    local list, err = c:stacks()
    assert.is_nil(list)
    assert.equal("decode", err.kind)
  end)

  it("client:parse_variables posts ParseTemplateVariables and returns the variables", function()
    local t, c = setup()
    t:push(200, { variables = { { name = "vpc_name", type = "string", description = "the VPC", default = "x",
                                  sensitive = false, nullable = false } } })
    local vars = assert(c:parse_variables{ template_body = "variable \"vpc_name\" {}" })
    assert.equal("POST", t:last().method)
    assert.equal(BASE .. "/template-analyses/variables", t:last().url)
    assert.same({ template_body = "variable \"vpc_name\" {}" }, body(t:last()))
    assert.equal("vpc_name", vars[1].name)
    assert.equal("x", vars[1].default)
    t:push(400, err_body("RF.10011073"))
    local v, err = c:parse_variables{ template_uri = "https://obs.example/bad.tf" }
    assert.is_nil(v)
    assert.equal("bad_request", err.kind)
  end)
end)

describe("stack:template", function()
  local LOCATION = "https://obs.example/tpl/main.tf?AccessKeyId=X&Signature=s1g"

  it("returns the 307's location without following it", function()
    local t, _, s = setup()
    t:push(307, "", { location = LOCATION })
    local tpl = assert(s:template{ access_control_source_ips = { "10.0.0.0/8", "192.168.0.0/16" } })
    assert.equal(LOCATION, tpl.location)
    assert.is_nil(tpl.body)
    assert.equal(1, #t.requests)
    assert.equal(BASE .. "/stacks/web/templates?access_control_source_ips=10.0.0.0%2F8"
                 .. "&access_control_source_ips=192.168.0.0%2F16&stack_id=" .. ID, t:last().url)
  end)

  it("download = true fetches the body with no signature, token or project header", function()
    local t, _, s = setup({ security_token = "temporary-token-value" })
    t:push(307, "", { location = LOCATION }):push(200, "resource \"a\" \"b\" {}")
    local tpl = assert(s:template{ download = true })
    assert.equal("resource \"a\" \"b\" {}", tpl.body)
    assert.equal(2, #t.requests)
    assert.is_string(header(t.requests[1], "Authorization"))
    local get = t.requests[2]
    assert.equal("GET", get.method)
    assert.equal(LOCATION, get.url)
    for _, h in ipairs({ "Authorization", "X-Sdk-Date", "X-Security-Token", "X-Project-Id", "Client-Request-Id" }) do
      assert.is_nil(header(get, h), h .. " must not go to the download location")
    end
  end)

  it("a failed download is an error that does not repeat the pre-signed location", function()
    local t, _, s = setup()
    t:push(307, "", { location = LOCATION }):push(403, "<Error>AccessDenied</Error>")
    local tpl, err = s:template{ download = true }
    assert.is_nil(tpl)
    assert.equal("forbidden", err.kind)
    assert.is_nil(tostring(err):find("s1g", 1, true))
  end)

  it("404 for a stack that was never deployed is not_found", function()
    local t, _, s = setup()
    t:push(404, err_body("RF.10013023"))
    local tpl, err = s:template()
    assert.is_nil(tpl)
    assert.equal("not_found", err.kind)
  end)
end)

describe("stack:wait after create, deploy and delete", function()
  local function clocked()
    local now = 0
    return function() return now end, function(s) now = now + s end
  end

  local function meta(status, update_time)
    return fake.metadata{ stack_name = "web", status = status, update_time = update_time or "2026-11-24T01:00:00Z",
                          status_message = status:match("FAILED") and "boom" or nil }
  end

  it("follows a create with a template until DEPLOYMENT_COMPLETE", function()
    local clock, sleep = clocked()
    local t, c = setup()
    t:push(201, { stack_id = ID, deployment_id = DEP })
    local s = assert(c:create_stack("web", { template_body = "a" }))
    t:push(200, meta("DEPLOYMENT_IN_PROGRESS"))
    t:push(200, { stack_events = { { event_type = "LOG", event_message = "Creating required resource now" } } })
    t:push(200, meta("DEPLOYMENT_COMPLETE", "2026-11-24T02:00:00Z"))
    t:push(200, { stack_events = { { event_type = "SUMMARY", event_message = "Apply complete!" },
                                   { event_type = "LOG", event_message = "Creating required resource now" } } })
    local events = {}
    local res = assert(s:wait{ clock = clock, sleep = sleep, on_progress = function(p)
      if p.type == "event" then events[#events + 1] = p.event.event_message end
    end })
    assert.is_true(res.ok)
    assert.equal("DEPLOYMENT_COMPLETE", res.status)
    assert.equal("create", res.operation)
    assert.equal(DEP, res.deployment_id)
    -- the events shown are the create's own deployment's
    assert.truthy(t.requests[3].url:find("/events?deployment_id=" .. DEP, 1, true))
    assert.truthy(t.requests[5].url:find("/events?deployment_id=" .. DEP, 1, true))
    assert.same({ "Creating required resource now", "Apply complete!" }, events)
  end)

  it("reports a deploy that auto-rollback undid as not ok, rolled back", function()
    local clock, sleep = clocked()
    local t, _, s = setup()
    t:push(202, { deployment_id = DEP })
    assert(s:deploy{ template_body = "a" })
    t:push(200, meta("ROLLBACK_IN_PROGRESS"))
    t:push(200, meta("ROLLBACK_COMPLETE", "2026-11-24T02:00:00Z"))
    t:push(200, { stack_events = { { event_type = "CREATION_FAILED", resource_name = "vm", event_message = "quota" } } })
    t:push(200, { stack_events = { { event_type = "CREATION_FAILED", resource_name = "vm", event_message = "quota" } } })
    local res = assert(s:wait{ clock = clock, sleep = sleep })
    assert.is_false(res.ok)
    assert.is_true(res.rolled_back)
    assert.equal("ROLLBACK_COMPLETE", res.status)
    assert.equal("vm", res.failures[1].resource_name)
  end)

  it("waits for a delete until metadata answers 404: ok, DELETED", function()
    local clock, sleep = clocked()
    local t, _, s = setup()
    t:push(202, "")
    assert(s:delete())
    t:push(200, meta("DEPLOYMENT_COMPLETE")) -- not yet taken up: the old state shows
    t:push(200, meta("DELETION_IN_PROGRESS"))
    t:push(404, err_body("RF.10013001"))
    local res = assert(s:wait{ clock = clock, sleep = sleep })
    assert.is_true(res.ok)
    assert.equal("DELETED", res.status)
    assert.equal(3, #t.requests - 1)
  end)

  it("a delete that ends in DELETION_FAILED is not ok", function()
    local clock, sleep = clocked()
    local t, _, s = setup()
    t:push(202, "")
    assert(s:delete{ retain_all_resources = false })
    t:push(200, meta("DELETION_IN_PROGRESS"))
    t:push(200, meta("DELETION_FAILED", "2026-11-24T02:00:00Z"))
    local res = assert(s:wait{ clock = clock, sleep = sleep })
    assert.is_false(res.ok)
    assert.equal("DELETION_FAILED", res.status)
    assert.equal("delete", res.operation)
  end)
end)

describe("printing what the server sent", function()
  it("shows a listing on one line per item, with no terminal control from the server", function()
    local t, _, s = setup()
    t:push(200, { stack_resources = { { logical_resource_name = "a\27[2J\nFAKE", logical_resource_type = "t",
                                        resource_status = "CREATION_COMPLETE" } } })
    local text = tostring(assert(s:resources()))
    assert.is_nil(text:find("\27", 1, true))
    assert.equal(2, select(2, text:gsub("\n", "")) + 1)
  end)
end)
