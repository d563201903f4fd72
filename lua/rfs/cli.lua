-- rfs.cli: the `rfs` command line. cli.main(argv, io_table) -> exit code.
--
--   rfs COMMAND [STACK] [options]   commands: metadata, continue-deploy, continue-rollback,
--                                   events, wait, repl, and the lifecycle commands built from
--                                   the operation model by rfs.cli_commands (list, create, ...)
-- Global options are accepted anywhere on the line. Credentials come only from the
-- environment (a command line shows in `ps`). Exit codes: 0 ok, 1 the operation ended in
-- a failure state, 2 usage, 3 API or auth error, 4 timeout.

local argparse = require "argparse"
local cjson = require "cjson"
local rfs = require "rfs"
local stack_mod = require "rfs.stack"
local cli_commands = require "rfs.cli_commands"
local render = require "rfs.render"

local cli = {}

cli.EXIT = { ok = 0, failed = 1, usage = 2, api = 3, timeout = 4 }

local SECRET_FLAGS = { "--ak", "--sk", "--security-token", "--access-key", "--secret-key" }

local METADATA_ORDER = { "stack_name", "stack_id", "status", "status_message", "description", "create_time",
                         "update_time", "enable_auto_rollback", "enable_deletion_protection" }

-- Commands written here; every other command comes from the operation model (rfs.cli_commands).
local HANDWRITTEN = { metadata = true, ["continue-deploy"] = true, ["continue-rollback"] = true, events = true,
                      wait = true, repl = true }

local EVENT_COLUMNS = { "time", "event_type", "resource_name", "resource_type", "event_message" }

local GLOBALS = { "endpoint", "region", "project_id", "stack_id", "output", "quiet" }

-- The global options, on the main parser and on every command (so they may come before
-- or after the command); a command's copies land under "cmd_<name>" and are merged.
local function add_globals(p, prefix)
  prefix = prefix or ""
  p:option("--endpoint", "RFS endpoint URL (overrides --region), e.g. http://127.0.0.1:PORT"):target(prefix .. "endpoint")
  p:option("--region", "region, e.g. cn-north-4 (default: $HUAWEICLOUD_SDK_REGION)"):target(prefix .. "region")
  p:option("--project-id", "project id (default: $HUAWEICLOUD_SDK_PROJECT_ID)"):target(prefix .. "project_id")
  p:option("--stack-id", "the stack's UUID, checked by RFS against the named stack"):target(prefix .. "stack_id")
  p:option("--output", "output format"):choices({ "text", "json", "table" }):target(prefix .. "output")
  p:flag("--quiet", "no progress output"):target(prefix .. "quiet")
end

local function merge_globals(args)
  for _, k in ipairs(GLOBALS) do
    local v = args["cmd_" .. k]
    if v ~= nil and v ~= false then args[k] = v end
    args["cmd_" .. k] = nil
  end
  return args
end

local function build_parser()
  local parser = argparse("rfs", "Create, deploy, inspect, recover and delete Huawei Cloud RFS stacks.")
    :epilog("Credentials come from HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and, for temporary ones, "
            .. "HUAWEICLOUD_SDK_SECURITY_TOKEN.\nExit codes: 0 ok, 1 ended in a failure state, 2 usage, "
            .. "3 API or auth error, 4 timeout.")
    :add_help_command(false)
  parser:command_target("command")
  add_globals(parser)
  local function stack_command(name, description)
    local c = parser:command(name, description)
    c:argument("stack", "stack name")
    add_globals(c, "cmd_")
    return c
  end
  -- stack:wait refuses a timeout that is not a finite number > 0: say so as a usage error
  local function seconds(text)
    local n = tonumber(text)
    if n and n > 0 and n < math.huge then return n end
    return nil, "--timeout must be a number of seconds > 0 (got " .. text .. ")"
  end
  stack_command("metadata", "show a stack's metadata")
  for _, name in ipairs({ "continue-deploy", "continue-rollback" }) do
    local c = stack_command(name, name == "continue-deploy" and "continue a failed deployment (DEPLOYMENT_FAILED)"
                                  or "continue a failed rollback (ROLLBACK_FAILED)")
    c:flag("--wait", "wait until the stack settles, with progress on stderr")
    c:option("--timeout", "seconds to wait at most"):convert(seconds)
  end
  local ev = stack_command("events", "list a stack's events (oldest first)")
  ev:option("--deployment-id", "only this deployment's events")
  ev:option("--filter", "e.g. event_type==ERROR (',' is AND, '|' is OR)")
  ev:flag("--follow", "keep printing new events until the stack settles")
  local w = stack_command("wait", "wait until a stack settles after a continue")
  w:option("--deployment-id", "the deployment to wait for (as printed by continue-*)")
  w:option("--operation", "what the deployment was"):choices({ "continue_deploy", "continue_rollback" })
  w:option("--timeout", "seconds to wait at most"):convert(seconds)
  cli_commands.add(parser, function(c) add_globals(c, "cmd_") end, HANDWRITTEN)
  add_globals(parser:command("whoami", "show which credentials source and project are used (no secrets)"), "cmd_")
  local repl = parser:command("repl", "an interactive Lua prompt with `client` built from the environment")
  add_globals(repl, "cmd_")
  return parser
end

-- Output --------------------------------------------------------------------------------

local function json_value(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = json_value(x) end
  if #v > 0 then setmetatable(out, cjson.array_mt) end
  return out
end

local function metadata_text(meta)
  local lines, width = {}, 0
  for _, k in ipairs(METADATA_ORDER) do width = math.max(width, #k) end
  local function line(k, v) lines[#lines + 1] = ("%-" .. width .. "s  %s"):format(k, tostring(v)) end
  for _, k in ipairs(METADATA_ORDER) do
    if meta[k] ~= nil then line(k, meta[k]) end
  end
  for _, a in ipairs(meta.agencies or {}) do
    line("agency", ("%s -> %s"):format(tostring(a.provider_name), tostring(a.agency_name or a.agency_urn)))
  end
  return table.concat(lines, "\n")
end

local function result_json(res)
  return { ok = res.ok, status = res.status, operation = res.operation, deployment_id = res.deployment_id,
           elapsed = res.elapsed, polls = res.polls, rolled_back = res.rolled_back,
           status_message = res.status_message, failures = render.array(json_value(res.failures or {})) }
end

-- Running a command ------------------------------------------------------------------------

local Run = { EXIT = cli.EXIT }
Run.__index = Run

function Run:out(s) self.io.stdout:write(s, "\n") end
function Run:err(s) self.io.stderr:write(s, "\n") end

function Run:json() return self.args.output == "json" end
function Run:format() return self.args.output or "text" end

function Run:fail(err)
  self:err(tostring(err))
  if err.kind == "timeout" then return cli.EXIT.timeout end
  return cli.EXIT.api
end

function Run:progress()
  if self.args.quiet then return nil end
  if self:json() then return rfs.progress.json{ out = self.io.stderr } end
  return rfs.progress.human{ out = self.io.stderr }
end

function Run:finish_wait(res, err)
  if not res then return self:fail(err) end
  if self:json() then
    self:out(render.json(result_json(res)))
  elseif self:format() == "table" then
    self:out(render.object(result_json(res), { "ok", "status", "operation", "deployment_id" }, "table"))
  else
    self:out(tostring(res))
  end
  return res.ok and cli.EXIT.ok or cli.EXIT.failed
end

function Run:metadata(stack)
  local meta, err = stack:metadata()
  if not meta then return self:fail(err) end
  self:out(self:json() and cjson.encode(json_value(meta)) or metadata_text(meta))
  return cli.EXIT.ok
end

function Run:continue(stack, operation)
  local dep, err = stack[operation](stack)
  if not dep then return self:fail(err) end
  if not self.args.wait then
    if self:json() then
      self:out(cjson.encode({ operation = operation, deployment_id = dep.deployment_id, recovered = dep.recovered }))
    elseif self:format() == "table" then
      self:out(render.object({ operation = operation, deployment_id = dep.deployment_id, recovered = dep.recovered },
                             { "operation", "deployment_id" }, "table"))
    else
      self:out(tostring(dep))
    end
    return cli.EXIT.ok
  end
  if not self.args.quiet and not self:json() then self:err(tostring(dep)) end
  return self:finish_wait(stack:wait{ timeout = self.args.timeout, on_progress = self:progress() })
end

function Run:events(stack)
  if self.args.follow then
    local printer = self:json() and function(e) self:out(cjson.encode(json_value(e))) end
      or function(e) self:out(stack_mod.event_line(e)) end
    local res, err = stack:wait{ deployment_id = self.args.deployment_id, on_progress = function(p)
      if p.type == "event" then printer(p.event) end
    end }
    if not res then return self:fail(err) end
    return res.ok and cli.EXIT.ok or cli.EXIT.failed
  end
  local list, err = stack:events{ deployment_id = self.args.deployment_id, filter = self.args.filter }
  if not list then return self:fail(err) end
  if self:json() then
    self:out(render.json_list(list))
  elseif self:format() == "table" then
    local oldest_first = {}
    for i = #list, 1, -1 do oldest_first[#oldest_first + 1] = list[i] end
    self:out(render.list(oldest_first, EVENT_COLUMNS, "table"))
  else
    for i = #list, 1, -1 do self:out(stack_mod.event_line(list[i])) end
  end
  return cli.EXIT.ok
end

function Run:wait(stack)
  if not self.args.deployment_id then
    self:err("rfs wait: the deployment to wait for is unknown in a new process; pass --deployment-id "
             .. "(printed by continue-deploy / continue-rollback)")
    return cli.EXIT.usage
  end
  return self:finish_wait(stack:wait{ deployment_id = self.args.deployment_id, operation = self.args.operation,
                                      timeout = self.args.timeout, on_progress = self:progress() })
end

local function refuse_secret_flags(argv, stderr)
  for _, a in ipairs(argv) do
    for _, flag in ipairs(SECRET_FLAGS) do
      if a == flag or a:sub(1, #flag + 1) == flag .. "=" then
        stderr:write("rfs: credentials are not taken from the command line (it shows in `ps`): set ",
                     "HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN) instead\n")
        return true
      end
    end
  end
  return false
end

--- The client the arguments describe; nil and a message on a configuration error.
function cli.client(args, new)
  local ok, client = pcall(new or rfs.new, { endpoint = args.endpoint, region = args.region,
                                             project_id = args.project_id })
  if not ok then return nil, (tostring(client):gsub("^[^:]+:%d+: ", "")) end
  return client
end

--- cli.main(argv, { stdout =, stderr =, stdin =, new = rfs.new }) -> exit code
function cli.main(argv, streams)
  streams = streams or {}
  local io_ = { stdout = streams.stdout or io.stdout, stderr = streams.stderr or io.stderr,
                stdin = streams.stdin or io.stdin }
  if refuse_secret_flags(argv, io_.stderr) then return cli.EXIT.usage end
  local parser = build_parser()
  if #argv == 0 then
    io_.stderr:write(parser:get_usage(), "\n")
    return cli.EXIT.usage
  end
  local ok, args = parser:pparse(argv)
  if not ok then
    io_.stderr:write(parser:get_usage(), "\nrfs: ", args, "\n")
    return cli.EXIT.usage
  end
  merge_globals(args)
  local client, cerr = cli.client(args, streams.new)
  if not client then
    io_.stderr:write(cerr, "\n")
    return cli.EXIT.usage
  end
  local run = setmetatable({ args = args, io = io_ }, Run)
  if args.command == "repl" then return require("rfs.repl").run(client, io_) end
  if args.command == "whoami" then return require("rfs.whoami").run(client, args, io_) end
  if cli_commands.handles(args.command) and not HANDWRITTEN[args.command] then
    return cli_commands.run(run, client, args)
  end
  local sok, stack = pcall(client.stack, client, args.stack, { stack_id = args.stack_id })
  if not sok then
    io_.stderr:write((tostring(stack):gsub("^[^:]+:%d+: ", "")), "\n")
    return cli.EXIT.usage
  end
  local handlers = {
    metadata = function() return run:metadata(stack) end,
    ["continue-deploy"] = function() return run:continue(stack, "continue_deploy") end,
    ["continue-rollback"] = function() return run:continue(stack, "continue_rollback") end,
    events = function() return run:events(stack) end,
    wait = function() return run:wait(stack) end,
  }
  return handlers[args.command]()
end

return cli
