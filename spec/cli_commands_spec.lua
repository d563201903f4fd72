-- The lifecycle commands (built from the operation model) through cli.main, with a client
-- that records the Lua calls: what each flag becomes, what is printed, which exit code.
local cjson = require "cjson"
local cli = require "rfs.cli"
local errors = require "rfs.errors"

local function sink()
  local s = { text = "" }
  function s:write(...)
    for _, x in ipairs({ ... }) do self.text = self.text .. tostring(x) end
    return self
  end
  return s
end

-- A client whose methods answer from `answers` (method name -> function(...) -> value, err)
-- and record their arguments in `calls`.
local function recording_client(answers)
  local calls = {}
  local function method(name)
    return function(_, ...)
      calls[#calls + 1] = { name = name, args = { ... } }
      local f = answers[name]
      if not f then error("no answer for " .. name) end
      return f(...)
    end
  end
  local stack_mt = { __index = function(s, k)
    if k == "wait" or answers[k] then return method(k) end
    return rawget(s, "_" .. k)
  end }
  local client = setmetatable({}, { __index = function(_, k)
    if k == "stack" then
      return function(_, name, opts)
        calls[#calls + 1] = { name = "stack", args = { name, opts } }
        return setmetatable({ _name = name, _id = opts and opts.stack_id }, stack_mt)
      end
    end
    return method(k)
  end })
  return client, calls
end

local function rfs(argv, answers)
  local out, err = sink(), sink()
  local client, calls = recording_client(answers or {})
  local code = cli.main(argv, { stdout = out, stderr = err, new = function() return client end })
  return code, out.text, err.text, calls
end

local tmpfile = require("cli_process").tmpfile

local STACK_ID = "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"
local DEP_ID = "6b4e6a87-0e0f-4d6e-9c55-3f0b8f4b8c11"
local function lit(s) return (s:gsub("%-", "%%-")) end

describe("rfs create / deploy", function()
  local tf, tfvars
  setup(function()
    tf = tmpfile('resource "huaweicloud_vpc" "v" {\n  name = var.vpc_name\n}\n')
    tfvars = tmpfile('vpc_name = "prod"\n')
  end)
  teardown(function()
    os.remove(tf)
    os.remove(tfvars)
  end)

  it("sends the template file's text, --var pairs, the vars file and the switches", function()
    local code, out, _, calls = rfs({ "create", "web", "--template", tf, "--var", "a=1", "--var", "b=x=y",
                                      "--vars-file", tfvars, "--description", "front", "--auto-rollback",
                                      "--deletion-protection" },
      { create_stack = function(name)
          return { name = name, id = STACK_ID, deployment_id = DEP_ID }
        end })
    assert.equal(0, code)
    local call = calls[1]
    assert.equal("create_stack", call.name)
    assert.equal("web", call.args[1])
    local opts = call.args[2]
    assert.matches('resource "huaweicloud_vpc"', opts.template_body, 1, true)
    assert.same({ a = "1", b = "x=y" }, opts.vars)
    assert.equal('vpc_name = "prod"\n', opts.vars_body)
    assert.equal("front", opts.description)
    assert.is_true(opts.enable_auto_rollback)
    assert.is_true(opts.enable_deletion_protection)
    assert.matches("^create web accepted: deployment_id " .. lit(DEP_ID), out)
  end)

  it("prints the new stack as JSON and as key/value rows", function()
    local answers = { create_stack = function(name) return { name = name, id = STACK_ID, deployment_id = DEP_ID } end }
    local code, out = rfs({ "create", "web", "--template", tf, "--output", "json" }, answers)
    assert.equal(0, code)
    local o = cjson.decode(out)
    assert.equal("web", o.stack_name)
    assert.equal(STACK_ID, o.stack_id)
    assert.equal(DEP_ID, o.deployment_id)
    local code2, out2 = rfs({ "--output", "table", "create", "web", "--template", tf }, answers)
    assert.equal(0, code2)
    assert.matches("stack_name%s+web\nstack_id%s+" .. lit(STACK_ID), out2)
  end)

  it("follows the operation with --wait: progress on stderr, exit 1 when it fails", function()
    local code, out, err, calls = rfs({ "deploy", "web", "--template", tf, "--wait" },
      { deploy = function() return { deployment_id = DEP_ID } end,
        wait = function(opts)
          opts.on_progress{ type = "status", status = "DEPLOYMENT_IN_PROGRESS", elapsed = 1, stack = "web" }
          return setmetatable({ ok = false, status = "ROLLBACK_COMPLETE", deployment_id = DEP_ID, failures = {} },
                              { __tostring = function() return "web ROLLBACK_COMPLETE" end })
        end })
    assert.equal(1, code)
    assert.equal("deploy", calls[2].name)
    assert.equal("wait", calls[3].name)
    assert.matches("deploy web accepted: deployment_id " .. DEP_ID, err, 1, true)
    assert.matches("DEPLOYMENT_IN_PROGRESS", err)
    assert.equal("web ROLLBACK_COMPLETE\n", out)
  end)

  it("refuses a missing template file, two templates, no template, or a --var without '=' (exit 2)", function()
    local code, out, err, calls = rfs({ "create", "web", "--template", "/nonexistent/main.tf" })
    local _
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("--template", err, 1, true)
    assert.matches("/nonexistent/main.tf", err, 1, true)
    assert.equal(0, #calls)
    code, _, err = rfs({ "deploy", "web", "--template", tf, "--template-uri", "https://obs.example/main.tf" })
    assert.equal(2, code)
    assert.matches("--template-uri", err, 1, true)
    code, _, err = rfs({ "deploy", "web" })
    assert.equal(2, code)
    assert.matches("needs --template FILE or --template-uri URL", err, 1, true)
    code, _, err = rfs({ "create", "web", "--var", "novalue" })
    assert.equal(2, code)
    assert.matches("--var takes KEY=VALUE", err, 1, true)
  end)

  it("exits 3 on an API error and 4 when the wait times out", function()
    local code, out, err = rfs({ "deploy", "web", "--template", tf },
      { deploy = function()
          return nil, errors.new{ kind = "invalid_state", status = 403, message = "stack web is DEPLOYMENT_IN_PROGRESS" }
        end })
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("DEPLOYMENT_IN_PROGRESS", err)
    code = rfs({ "deploy", "web", "--template", tf, "--wait", "--quiet" },
      { deploy = function() return { deployment_id = DEP_ID } end,
        wait = function() return nil, errors.new{ kind = "timeout", message = "still DEPLOYMENT_IN_PROGRESS" } end })
    assert.equal(4, code)
  end)
end)

describe("rfs update / delete", function()
  it("sends only the switches named, --no-... as false", function()
    local code, _, _, calls = rfs({ "update", "web", "--no-auto-rollback", "--description", "d" },
                                  { update = function() return true end })
    assert.equal(0, code)
    assert.same({ enable_auto_rollback = false, description = "d" }, calls[2].args[1])
  end)

  it("refuses an update with nothing to change, naming the flags", function()
    local code, _, err = rfs({ "update", "web" })
    assert.equal(2, code)
    assert.matches("--description", err, 1, true)
    assert.matches("--no-auto-rollback", err, 1, true)
  end)

  it("deletes, keeping the resources with --retain-resources, and waits until the stack is gone", function()
    local code, out, _, calls = rfs({ "delete", "web", "--retain-resources", "--wait", "--quiet", "--output", "json",
                                      "--stack-id", STACK_ID },
      { delete = function() return true end,
        wait = function() return { ok = true, status = "DELETED", failures = {} } end })
    assert.equal(0, code)
    assert.same({ "web", { stack_id = STACK_ID } }, calls[1].args)
    assert.same({ retain_all_resources = true }, calls[2].args[1])
    local res = cjson.decode(out)
    assert.is_true(res.ok)
    assert.equal("DELETED", res.status)
  end)
end)

describe("rfs list / resources / outputs / variables / template", function()
  local stacks = {
    { name = "web", id = STACK_ID, status = "DEPLOYMENT_COMPLETE", update_time = "2026-11-24T01:00:00Z" },
    { name = "db-long-name", id = "2c26f116-cecc-4ce8-9f0c-b1b7785c5c24", status = "DEPLOYMENT_FAILED" },
  }

  it("prints lists as aligned columns, with a header row for --output table", function()
    local code, out = rfs({ "list", "--output", "table" }, { stacks = function() return stacks end })
    assert.equal(0, code)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(3, #lines)
    assert.matches("^STACK_NAME%s+STATUS%s+STACK_ID", lines[1])
    -- the status column starts at the same place on every row
    local col = lines[1]:find("STATUS", 1, true)
    assert.equal(col, lines[2]:find("DEPLOYMENT_COMPLETE", 1, true))
    assert.equal(col, lines[3]:find("DEPLOYMENT_FAILED", 1, true))
    local code2, text = rfs({ "list" }, { stacks = function() return stacks end })
    assert.equal(0, code2)
    assert.matches("^web%s+DEPLOYMENT_COMPLETE%s+" .. lit(STACK_ID), text)
  end)

  it("filters by --status and prints JSON arrays, [] when nothing matches", function()
    local code, out = rfs({ "list", "--status", "DEPLOYMENT_FAILED", "--output", "json" },
                          { stacks = function() return stacks end })
    assert.equal(0, code)
    local list = cjson.decode(out)
    assert.equal(1, #list)
    assert.equal("db-long-name", list[1].stack_name)
    local code2, out2 = rfs({ "list", "--status", "ROLLBACK_FAILED", "--output", "json" },
                            { stacks = function() return stacks end })
    assert.equal(0, code2)
    assert.equal("[]\n", out2)
    local _, out3 = rfs({ "outputs", "web", "--output", "json" }, { outputs = function() return {} end })
    assert.equal("[]\n", out3)
  end)

  it("keeps a server string on one line", function()
    local code, out = rfs({ "resources", "web" }, { resources = function()
      return { { logical_resource_name = "vpc\nFAKE ROW", logical_resource_type = "huaweicloud_vpc",
                 resource_status = "CREATION_COMPLETE" } }
    end })
    assert.equal(0, code)
    assert.equal(1, select(2, out:gsub("\n", "")))
    assert.matches("vpc\\nFAKE ROW", out, 1, true)
  end)

  it("parses a template's variables from --template FILE", function()
    local tf = tmpfile('variable "vpc_name" {\n  type = string\n}\n')
    local code, out, _, calls = rfs({ "variables", "--template", tf, "--output", "table" },
      { parse_variables = function()
          return { { name = "vpc_name", type = "string", sensitive = false, nullable = true } }
        end })
    os.remove(tf)
    assert.equal(0, code)
    assert.matches('variable "vpc_name"', calls[1].args[1].template_body, 1, true)
    assert.matches("^NAME%s+TYPE%s+DEFAULT%s+SENSITIVE%s+NULLABLE", out)
    assert.matches("\nvpc_name%s+string%s+false%s+true", out)
  end)

  it("prints the template's location, or its text with --download", function()
    local code, out = rfs({ "template", "web" },
                          { template = function() return { location = "https://obs.example/t?sig=x" } end })
    assert.equal(0, code)
    assert.matches("location%s+https://obs.example/t%?sig=x", out)
    local code2, out2, _, calls = rfs({ "template", "web", "--download" },
      { template = function() return { location = "https://obs.example/t", body = "resource {}\n" } end })
    assert.equal(0, code2)
    assert.same({ download = true }, calls[2].args[1])
    assert.equal("resource {}\n", out2)
  end)
end)

describe("--output table for the recovery commands", function()
  it("prints a continue as key/value rows", function()
    local code, out = rfs({ "continue-deploy", "web", "--output", "table" },
                          { continue_deploy = function() return { deployment_id = DEP_ID } end })
    assert.equal(0, code)
    assert.matches("operation%s+continue_deploy\ndeployment_id%s+" .. lit(DEP_ID), out)
  end)
end)

describe("rfs --help", function()
  -- argparse prints help and exits: run bin/rfs as a subprocess
  local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"
  local function help(args)
    local p = io.popen(LUA .. " bin/rfs " .. args .. " --help")
    local out = p:read("*a")
    p:close()
    return out
  end

  it("lists every command of the operation model, each with --help naming its flags", function()
    local api = require "rfs.api"
    local out = help("")
    local seen, helps = 0, { [""] = out }
    for _, op in ipairs(api.operations) do
      if op.cli then
        seen = seen + 1
        -- "stack-set instances create": "stack-set" is listed by `rfs --help`, "instances" by
        -- `rfs stack-set --help` and "create" by `rfs stack-set instances --help`
        local parent = ""
        for word in op.cli.command:gmatch("%S+") do
          helps[parent] = helps[parent] or help(parent)
          assert.matches("\n   " .. word:gsub("%-", "%%-") .. " ", helps[parent])
          parent = parent == "" and word or (parent .. " " .. word)
        end
      end
    end
    assert.is_true(seen >= 13)
    local publish = help("template-lib create")
    for _, flag in ipairs({ "<template>", "--template FILE", "--template-uri URL", "--description",
                            "--version-description" }) do
      assert.matches(flag, publish, 1, true)
    end
    assert.matches("<template>%s+<version>", help("template-lib version-download"))
    assert.matches("--template-id UUID", help("template-lib version-download"), 1, true)
    assert.not_matches("template:", publish .. helps["template-lib"], 1, true)
    local create = help("create")
    for _, flag in ipairs({ "--template FILE", "--template-uri URL", "--var KEY=VALUE", "--vars-file FILE",
                            "--description", "--auto-rollback", "--deletion-protection", "--wait", "--timeout" }) do
      assert.matches(flag, create, 1, true)
    end
    local delete = help("delete")
    assert.matches("--retain-resources", delete, 1, true)
    local list = help("list")
    assert.matches("--status STATUS", list, 1, true)
    assert.not_matches("stack:", create .. delete .. list, 1, true)
  end)
end)

describe("hints that fit the object the command acts on", function()
  -- a client whose client:template(name) is an object answering from `methods`
  local function template_rfs(argv, methods)
    return rfs(argv, { template = function(name) return setmetatable({ name = name }, { __index = function(_, k)
      return function() return methods[k]() end
    end }) end })
  end

  it("a template refused for its state points at the template, not at `rfs metadata STACK`", function()
    local code, out, err = template_rfs({ "template-lib", "delete", "base" },
      { delete = function()
          return nil, errors.new{ kind = "invalid_state", status = 403, message = "template base is in use" }
        end })
    assert.equal(3, code)
    assert.equal("", out)
    assert.matches("template base is in use (HTTP 403); run `rfs template-lib show base` and `rfs template-lib versions base` "
                   .. "and act on what they show", err, 1, true)
    assert.not_matches("rfs metadata", err, 1, true)
  end)

  it("a template name taken says the command that adds a version; a bad request, the command's own --help", function()
    local code, _, err = rfs({ "template-lib", "create", "base", "--template-uri", "https://obs.example/a.tf" },
      { create_template = function()
          return nil, errors.new{ kind = "conflict", status = 409, message = "a template named base already exists",
                                  hint = "a template of that name exists: pick another name, or add a version to that "
                                    .. "template" }
        end })
    assert.equal(3, code)
    assert.matches("or add a version to that template (`rfs template-lib version-create base --template FILE`)",
                   err, 1, true)
    code, _, err = template_rfs({ "template-lib", "version-show", "base", "V1" },
      { version_metadata = function()
          return nil, errors.new{ kind = "bad_request", status = 400, message = "version_id is malformed" }
        end })
    assert.equal(3, code)
    assert.matches("check the command's arguments (rfs template-lib version-show --help)", err, 1, true)
  end)
end)
