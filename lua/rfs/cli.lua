-- rfs.cli: the `rfs` command line. cli.main(argv, io_table) -> exit code.
--
--   rfs COMMAND [STACK] [options]   commands: metadata, continue-deploy, continue-rollback,
--                                   events, wait, repl, and the lifecycle commands built from
--                                   the operation model by rfs.cli_commands (list, create, ...)
-- Global options are accepted anywhere on the line. Credentials come only from the
-- environment (a command line shows in `ps`). Exit codes: 0 ok, 1 the operation ended in
-- a failure state, 2 usage, 3 API or auth error, 4 timeout, 70 internal error, 130 interrupted
-- (Ctrl-C; 128 + the signal's number).
--
-- Text from the server is shown, never obeyed: in text output every control character
-- (ESC, CR, LF...), C1 control, bidirectional override and invalid UTF-8 byte is written as
-- \xNN, so a status message cannot retitle the terminal, clear it or forge a line.

local argparse = require "argparse"
local cjson = require "cjson"
local core = require "rfs.core"
local rfs = require "rfs"
local retry = require "rfs.retry"
local stack_mod = require "rfs.stack"
local cli_commands = require "rfs.cli_commands"
local render = require "rfs.render"

local cli = {}

cli.EXIT = { ok = 0, failed = 1, usage = 2, api = 3, timeout = 4, internal = 70, interrupted = 130 }

-- Terminal-safe text ------------------------------------------------------------------------

local function escaped(c)
  return (c:gsub(".", function(b) return ("\\x%02x"):format(b:byte()) end))
end

-- Valid UTF-8 characters a terminal shows as they are; nil for a control or an invalid byte.
local function utf8_char(s, i)
  local b = s:byte(i)
  if b >= 0x20 and b < 0x7f then return s:sub(i, i) end
  local n = (b >= 0xc2 and b <= 0xdf and 2) or (b >= 0xe0 and b <= 0xef and 3) or (b >= 0xf0 and b <= 0xf4 and 4)
  if not n then return nil end
  local c = s:sub(i, i + n - 1)
  if #c < n or c:find("[^\128-\191]", 2) then return nil end -- a continuation byte missing
  local b2 = c:byte(2)
  if (b == 0xe0 and b2 < 0xa0) or (b == 0xed and b2 > 0x9f) or (b == 0xf0 and b2 < 0x90) or (b == 0xf4 and b2 > 0x8f) then
    return nil -- overlong, surrogate or past U+10FFFF
  end
  if b == 0xc2 and b2 <= 0x9f then return nil end -- C1 controls (U+0080-U+009F, CSI among them)
  if c:find("^\226\128[\168-\174]") or c:find("^\226\129[\166-\169]") then
    return nil -- line/paragraph separators and bidirectional overrides (U+2028-202E, U+2066-2069)
  end
  return c
end

--- s as one line a terminal shows and does not obey (see the top of this file).
function cli.printable(s)
  s = tostring(s)
  if not s:find("[%c\127-\255]") then return s end
  local out, i = {}, 1
  while i <= #s do
    local c = utf8_char(s, i)
    out[#out + 1] = c or escaped(s:sub(i, i))
    i = i + (c and #c or 1)
  end
  return table.concat(out)
end
local printable = cli.printable

-- JSON output (rfs.render): lists are arrays, NaN and infinities null, C1 controls and
-- bidirectional overrides \uXXXX.
local json_encode = render.json
cli.json_encode = json_encode

-- A response value as text: strings made printable, anything else as compact JSON.
local function text_value(v)
  if type(v) == "string" then return printable(v) end
  if type(v) == "table" then return printable(json_encode(v)) end
  if v == cjson.null then return "null" end
  return printable(tostring(v))
end

-- A response object for the text renderers: every field made a printable string (numbers
-- and booleans kept), so no renderer meets an odd type or a control character.
local function text_fields(t)
  local out = {}
  if type(t) ~= "table" then return out end
  for k, v in pairs(t) do
    -- (not `and v or`: false would become the string "false", which reads as true)
    if type(v) == "number" or type(v) == "boolean" then out[k] = v else out[k] = text_value(v) end
  end
  return out
end

local SECRET_FLAGS = { "--ak", "--sk", "--security-token", "--access-key", "--secret-key" }

local METADATA_ORDER = { "stack_name", "stack_id", "status", "status_message", "description", "create_time",
                         "update_time", "enable_auto_rollback", "enable_deletion_protection" }

-- Commands written here; every other command comes from the operation model (rfs.cli_commands).
local HANDWRITTEN = { metadata = true, ["continue-deploy"] = true, ["continue-rollback"] = true, events = true,
                      wait = true, repl = true }

local EVENT_COLUMNS = { "time", "event_type", "resource_name", "resource_type", "event_message" }

local GLOBALS = { "endpoint", "region", "project_id", "stack_id", "output", "quiet", "debug" }

-- The global options, on the main parser and on every command (so they may come before
-- or after the command); a command's copies land under "cmd_<name>" and are merged.
local function add_globals(p, prefix)
  prefix = prefix or ""
  p:option("--endpoint", "RFS endpoint URL, e.g. http://127.0.0.1:PORT (default: $RFS_ENDPOINT unless --region is given)")
    :target(prefix .. "endpoint")
  p:option("--region", "region, e.g. cn-north-4 (default: $HUAWEICLOUD_SDK_REGION)"):target(prefix .. "region")
  p:option("--project-id", "project id (default: $HUAWEICLOUD_SDK_PROJECT_ID)"):target(prefix .. "project_id")
  p:option("--stack-id", "the stack's UUID, checked by RFS against the named stack"):target(prefix .. "stack_id")
  p:option("--output", "output format"):choices({ "text", "json", "table" }):target(prefix .. "output")
  p:flag("--quiet", "no progress output"):target(prefix .. "quiet")
  p:flag("--debug", "one line per HTTP exchange and retry on stderr (secrets redacted)"):target(prefix .. "debug")
end

local function merge_globals(args)
  for _, k in ipairs(GLOBALS) do
    local v = args["cmd_" .. k]
    if v ~= nil and v ~= false then args[k] = v end
    args["cmd_" .. k] = nil
  end
  return args
end

-- Option values checked here, so that a bad one is a usage error (exit 2), not a raise
-- deep in the library.
local function seconds(v)
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == math.huge then
    return nil, "--timeout takes a number of seconds above 0, not " .. rfs.errors.display(v)
  end
  return n
end

local function deployment_id(v)
  if v == "" or #v > 128 or v:find("[%c%s]") then
    return nil, "--deployment-id takes 1 to 128 characters without spaces or control characters, not "
      .. rfs.errors.display(v)
  end
  return v
end

local function build_parser()
  local parser = argparse("rfs", "Create, deploy, inspect, recover and delete Huawei Cloud RFS stacks.")
    :epilog("Credentials come from HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and, for temporary ones, "
            .. "HUAWEICLOUD_SDK_SECURITY_TOKEN.\nExit codes: 0 ok, 1 ended in a failure state, 2 usage, "
            .. "3 API or auth error, 4 timeout, 70 internal error, 130 interrupted (Ctrl-C; the wait can be resumed).")
    :add_help_command(false)
  parser:command_target("command")
  add_globals(parser)
  parser:flag("--version", "print lua-rfs's version and exit"):action(function()
    io.stdout:write("rfs (lua-rfs) ", rfs.version, " on ", rawget(_G, "jit") and rawget(_G, "jit").version or _VERSION, "\n")
    os.exit(0)
  end)
  local function stack_command(name, description)
    local c = parser:command(name, description)
    c:argument("stack", "stack name")
    add_globals(c, "cmd_")
    return c
  end
  stack_command("metadata", "show a stack's metadata")
  for _, name in ipairs({ "continue-deploy", "continue-rollback" }) do
    local c = stack_command(name, name == "continue-deploy" and "continue a failed deployment (DEPLOYMENT_FAILED)"
                                  or "continue a failed rollback (ROLLBACK_FAILED)")
    c:flag("--wait", "wait until the stack settles, with progress on stderr")
    c:option("--timeout", "seconds to wait at most"):convert(seconds)
  end
  local ev = stack_command("events", "list a stack's events (oldest first)")
  ev:option("--deployment-id", "only this deployment's events"):convert(deployment_id)
  ev:option("--filter", "e.g. event_type==ERROR|event_type==CREATION_FAILED ('|' is OR and binds tighter than "
            .. "',' AND; names: event_type, resource_type, resource_name)"):convert(function(v)
    local why = stack_mod.filter_problem(v)
    if why then return nil, "--filter " .. rfs.errors.display(v) .. ": " .. why end
    return v
  end)
  ev:flag("--follow", "keep printing new events until the stack settles")
  local w = stack_command("wait", "wait until a stack settles after a continue, or until what it is busy with ends")
  w:option("--deployment-id", "the deployment to wait for (as printed by continue-*)"):convert(deployment_id)
  w:option("--operation", "what the deployment was (default: read from the deployment's events or the stack's state)")
    :choices({ "continue_deploy", "continue_rollback", "create", "deploy", "delete" })
  w:option("--timeout", "seconds to wait at most"):convert(seconds)
  cli_commands.add(parser, function(c) add_globals(c, "cmd_") end, HANDWRITTEN)
  add_globals(parser:command("whoami", "show which credentials source and project are used (no secrets)"), "cmd_")
  local repl = parser:command("repl", "an interactive Lua prompt with `client` built from the environment")
  add_globals(repl, "cmd_")
  parser:command("completion", "print the bash completion script: source <(rfs completion bash)")
    :argument("shell", "the shell"):choices({ "bash" })
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
  local function line(k, v) lines[#lines + 1] = ("%-" .. width .. "s  %s"):format(k, text_value(v)) end
  for _, k in ipairs(METADATA_ORDER) do
    if meta[k] ~= nil then line(k, meta[k]) end
  end
  local agencies = meta.agencies
  if type(agencies) == "table" and #agencies > 0 then
    for _, a in ipairs(agencies) do
      if type(a) == "table" then
        line("agency", ("%s -> %s"):format(text_value(a.provider_name), text_value(a.agency_name or a.agency_urn)))
      else
        line("agency", a)
      end
    end
  elseif agencies ~= nil and type(agencies) ~= "table" then
    line("agencies", agencies)
  end
  return table.concat(lines, "\n")
end

local function result_json(res)
  return { ok = res.ok, status = res.status, operation = res.operation, deployment_id = res.deployment_id,
           elapsed = res.elapsed, polls = res.polls, rolled_back = res.rolled_back,
           status_message = res.status_message, failures = render.array(json_value(res.failures or {})) }
end

-- A wait result shown as text: its own tostring, over fields made printable.
local function result_text(res)
  local shown = text_fields(res)
  shown.failures = {}
  for i, f in ipairs(type(res.failures) == "table" and res.failures or {}) do shown.failures[i] = text_fields(f) end
  return printable(tostring(setmetatable(shown, getmetatable(res))))
end

-- Interrupts ------------------------------------------------------------------------------
-- A waiting command watches SIGINT/SIGTERM (core.watch_signals) and sleeps in slices of
-- 0.1 s; on a signal the sleep raises INTERRUPTED, which unwinds the wait (it holds no
-- resources), and the command prints how to resume and exits 128 + the signal's number.

local INTERRUPTED = setmetatable({}, { __tostring = function() return "interrupted" end })
local SLICE = 0.1

local function interruptible_sleep(seconds_)
  local clock = retry.default_clock()
  local deadline = clock() + seconds_
  while true do
    if core.signalled() then error(INTERRUPTED, 0) end
    local left = deadline - clock()
    if left <= 0 then return end
    core.sleep(math.min(left, SLICE))
  end
end
cli.interruptible_sleep = interruptible_sleep

local function shell_word(v)
  v = tostring(v)
  if v:match("^[%w@%%+=:,./_-]+$") then return v end
  return "'" .. v:gsub("'", "'\\''") .. "'"
end

-- An endpoint as it may be shown: a password in it is masked.
local function shown_endpoint(url)
  return (url:gsub("^(%a[%w+.-]*://[^/@:]*):[^/@]*@", "%1:***@"))
end

-- Running a command ------------------------------------------------------------------------

local Run = { EXIT = cli.EXIT }
Run.__index = Run


-- A message of our own, its lines kept, each made printable (it may quote server text).
local function printable_lines(s)
  local lines = {}
  for line in (tostring(s) .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = printable(line) end
  return table.concat(lines, "\n")
end

-- stdout: a JSON document (safe as cjson writes it), or text whose lines are ours and whose
-- server values were made printable by the caller
function Run:out(s)
  self.io.stdout:write(self:json() and s or printable_lines(s), "\n")
end

-- stderr: one line per message
function Run:err(s)
  self.io.stderr:write(printable(s), "\n")
end

function Run:json() return self.args.output == "json" end
function Run:format() return self.args.output or "text" end

-- The command line that picks up an interrupted wait, with the global options it needs.
function Run:resume_command(stack, words)
  local a = self.args
  local cmd = { "rfs" }
  for _, w in ipairs(words) do cmd[#cmd + 1] = shell_word(w) end
  local function opt(flag, v) if v then cmd[#cmd + 1] = flag .. " " .. shell_word(v) end end
  opt("--endpoint", a.endpoint and shown_endpoint(a.endpoint))
  opt("--region", a.region)
  opt("--project-id", a.project_id)
  if stack then opt("--stack-id", a.stack_id or stack.id) end
  if self:json() then cmd[#cmd + 1] = "--output json" end
  if a.quiet then cmd[#cmd + 1] = "--quiet" end
  return table.concat(cmd, " ")
end

function Run:interrupted(stack, what, resume_words)
  local sig = core.signalled() or 2
  local resume = resume_words and self:resume_command(stack, resume_words)
  if self:json() then
    self.io.stderr:write(json_encode({ interrupted = true, signal = sig, stack = stack.name,
                                       deployment_id = self.deployment_id, operation = self.operation,
                                       resume = resume }), "\n")
  else
    self:err("rfs: interrupted " .. what .. (resume and ("; resume with: " .. resume) or ""))
  end
  return 128 + sig
end

-- Library advice (Lua calls, option names) said in the command line's words.
local CLI_WORDS = {
  { "^rfs%.new: ", "rfs: " },
  { "pass region %(e%.g%. 'cn%-north%-4'%) or endpoint, or set HUAWEICLOUD_SDK_REGION",
    "pass --region (e.g. cn-north-4) or --endpoint, or set HUAWEICLOUD_SDK_REGION or RFS_ENDPOINT" },
  { "pass project_id, set HUAWEICLOUD_SDK_PROJECT_ID, or pass region", "pass --project-id, set "
    .. "HUAWEICLOUD_SDK_PROJECT_ID, or pass --region" },
  { "pass project_id or region", "pass --project-id or --region" },
  { "or pass project_id %(or set HUAWEICLOUD_SDK_PROJECT_ID%)", "or pass --project-id (or set HUAWEICLOUD_SDK_PROJECT_ID)" },
  { "pass endpoint = 'https://%.%.%.'", "pass --endpoint https://..." },
  { "options: no ak and sk given; ", "" },
  { "stack:wait{} follows the stack's state", "`rfs wait STACK` follows the stack's state" },
  -- a stack's refusals (rfs.lifecycle) and an execution plan's (rfs.plans)
  { "%(stack:update{ enable_deletion_protection = false }%)", "(`rfs update STACK --no-deletion-protection`)" },
  { "%(stack:wait{}%), then ", "(`rfs wait STACK`), then " },
  { "%(plan:metadata%(%)%)", "(`rfs plan metadata STACK PLAN`)" },
  { "%(plan:wait{} / stack:wait{}%)", "(`rfs plan metadata STACK PLAN` / `rfs wait STACK`)" },
  { "plan:wait{} until it is AVAILABLE", "wait until it is AVAILABLE (`rfs plan metadata STACK PLAN`)" },
  -- a stack set's refusals (rfs.stack_sets)
  { "read ss:metadata%(%) and ss:operations{}, wait for the active operation %(ss:wait%)",
    "run `rfs stack-set show SET` and `rfs stack-set operations list SET`, wait for the active operation to end "
    .. "(`rfs stack-set operations show SET OPERATION_ID`)" },
  { "delete the instances %(ss:instances{}, ss:delete_instances{}%) and wait for that operation %(ss:wait%)",
    "delete the instances (`rfs stack-set instances list SET`, then `rfs stack-set instances delete SET "
    .. "--regions R1,R2 --accounts A1,A2 --wait`)" },
  { "deploy to that set %(ss:deploy%)", "deploy to that set (`rfs stack-set deploy SET ...`)" },
  -- the template library's (rfs.templates)
  { "add a version to that template$", "add a version to that template (`rfs template-lib version-create TEMPLATE "
    .. "--template FILE`)" },
}

-- What a refusal of the object's state says, for the objects whose errors carry no way out of
-- their own; a plan's and a stack set's refusals do (rfs.plans, rfs.stack_sets).
local STATE_HINTS = {
  ["template-lib"] = "run `rfs template-lib show TEMPLATE` and `rfs template-lib versions TEMPLATE` and act on "
    .. "what they show",
  ["stack-set"] = "run `rfs stack-set show SET` and `rfs stack-set operations list SET` and act on the state the "
    .. "stack set is in",
}

--- A library message in the command line's words (flags, commands, not Lua calls).
function cli.speak(msg)
  msg = tostring(msg)
  for _, w in ipairs(CLI_WORDS) do msg = msg:gsub(w[1], w[2]) end
  return msg
end

-- The hint an error gets on the command line: what to run or which flag to check.
function Run:hint(err)
  local hint = self:hint_words(err)
  -- the placeholders of the advice (STACK, PLAN, SET, TEMPLATE) become the names typed
  local a = self.args
  for placeholder, name in pairs({ STACK = a.stack, PLAN = a.arg_plan, SET = a.stack_set, TEMPLATE = a.template }) do
    if hint and type(name) == "string" then
      hint = hint:gsub("%f[%w]" .. placeholder .. "%f[%W]", (shell_word(name):gsub("%%", "%%%%")))
    end
  end
  return hint
end

function Run:hint_words(err)
  local name = self.stack and shell_word(self.stack.name) or "STACK"
  local group = self.args.command
  if err.code == "AOS.01.0404" then
    return "check --deployment-id: the stack has no deployment with that id (continue-deploy and continue-rollback "
      .. "print it)"
  elseif err.code == "AOS.01.0400" then
    return "the stack was deleted and recreated under the same name: run `rfs metadata " .. name
      .. "` for its new id and pass that as --stack-id (or leave --stack-id out)"
  elseif err.message == require("rfs.client").HTML_MESSAGE then
    return "check --endpoint (or --region)"
  elseif err.kind == "tls" and err.hint and err.hint:find("plain-HTTP", 1, true) then
    return "the endpoint does not speak TLS: if it is a plain-HTTP port (the emulator), use http:// in --endpoint"
  elseif err.kind == "invalid_state" and not err.hint then
    -- (a refusal that carries its way out keeps it: a busy stack's, to wait; a plan's, to
    -- create a new one or wait; a stack set's, to wait for its operation or delete its instances)
    return STATE_HINTS[group] or ("run `rfs metadata " .. name .. "` and act on the state the stack is in")
  elseif err.kind == "not_found" then
    return "check the name, --project-id and --region (or --endpoint)"
  elseif err.kind == "bad_request" and not err.hint then
    return "check the command's arguments (rfs " .. tostring(cli_commands.full_name(self.args)) .. " --help)"
  elseif err.kind == "network" and not err.hint then
    return "check --endpoint (or --region) and the network path to it"
  end
  return err.hint and cli.speak(err.hint) or nil
end

function Run:fail(err)
  if err.kind == "interrupted" then
    return self:interrupted(self.stack, "before the answer came; the request may have been applied: check with "
                            .. self:resume_command(self.stack, { "metadata", self.stack.name }))
  end
  if err.kind == "timeout" and err.operation == "wait" and self.stack then
    -- the wait gave up, the deployment goes on: the command that resumes it, not a Lua call
    local words = { "wait", self.stack.name }
    if self.deployment_id then
      words[#words + 1] = "--deployment-id"
      words[#words + 1] = self.deployment_id
    end
    if self.operation then
      words[#words + 1] = "--operation"
      words[#words + 1] = self.operation
    end
    err.message = (err.message:gsub("resume with .*$", "resume with: " .. self:resume_command(self.stack, words)))
    err.hint = "raise --timeout, or resume the wait later with the command above"
  else
    err.hint = self:hint(err)
  end
  self:err(cli.speak(tostring(err)))
  if err.kind == "timeout" then return cli.EXIT.timeout end
  return cli.EXIT.api
end

function Run:progress()
  if self.args.quiet then return nil end
  if self:json() then return rfs.progress.json{ out = self.io.stderr } end
  local human = rfs.progress.human{ out = self.io.stderr }
  return function(p)
    local shown = text_fields(p)
    if type(p.event) == "table" then shown.event = text_fields(p.event) end
    human(shown)
  end
end

-- stack:wait{} that stops on Ctrl-C: returns the wait's result and error, or nil, INTERRUPTED.
local function wait_interruptibly(stack, opts)
  core.watch_signals()
  opts.sleep = interruptible_sleep
  local ok, res, err = pcall(stack.wait, stack, opts)
  if not ok then
    if res == INTERRUPTED then return nil, INTERRUPTED end
    error(res, 0)
  end
  if not res and err and err.kind == "interrupted" then return nil, INTERRUPTED end
  return res, err
end

--- ss:wait{} (or any wait) that stops on Ctrl-C: the result and error, or nil, Run.INTERRUPTED.
Run.INTERRUPTED = INTERRUPTED
function Run.wait_interruptibly(_, obj, opts) return wait_interruptibly(obj, opts) end

-- Ctrl-C while following what goes on at RFS without us: says how to look at it.
-- what: "stack set S; the operation"; doc: the JSON fields naming it; words: the command.
local function interrupted_at_rfs(self, what, doc, words)
  local sig = core.signalled() or 2
  local check = self:resume_command(nil, words)
  if self:json() then
    doc.interrupted, doc.signal, doc.check = true, sig, check
    self.io.stderr:write(json_encode(doc), "\n")
  else
    self:err("rfs: interrupted while waiting for " .. what .. " goes on at RFS: check it with: " .. check)
  end
  return 128 + sig
end

--- Ctrl-C while following a stack set's operation: it goes on at RFS; says how to look at it.
function Run:interrupted_set(ss)
  return interrupted_at_rfs(self, "stack set " .. ss.name .. "; the operation",
                            { stack_set = ss.name, operation_id = ss.operation_id },
                            { "stack-set", "operations", "show", ss.name, ss.operation_id })
end

--- plan:wait{} for `rfs plan create --wait`. The plan's creation goes on at RFS when the wait
--  stops (Ctrl-C, --timeout): both say the command that looks at it.
function Run:follow_plan(plan)
  local stack = plan.stack
  local words = { "plan", "metadata", stack.name, plan.name }
  local res, err = wait_interruptibly(plan, { timeout = self.args.timeout, on_progress = self:progress() })
  if err == INTERRUPTED then
    return interrupted_at_rfs(self, "plan " .. plan.name .. " of stack " .. stack.name .. "; its creation",
                              { stack = stack.name, execution_plan_name = plan.name, execution_plan_id = plan.id },
                              words)
  end
  if not res and err.kind == "timeout" then
    err.message = err.message:gsub("resume with .*$", "check it with: " .. self:resume_command(nil, words))
    err.hint = "raise --timeout"
  end
  return self:finish_wait(plan, res, err)
end

function Run:finish_wait(stack, res, err)
  if err == INTERRUPTED then
    return self:interrupted(stack, "while waiting for " .. stack.name .. "; the deployment goes on at RFS",
                            self.deployment_id
                              and { "wait", stack.name, "--deployment-id", self.deployment_id, "--operation", self.operation }
                              or { "wait", stack.name, "--operation", self.operation })
  end
  if not res then return self:fail(err) end
  if self:json() then
    self:out(render.json(result_json(res)))
  elseif self:format() == "table" then
    self:out(render.object(result_json(res), { "ok", "status", "operation", "deployment_id" }, "table"))
  else
    self:out(result_text(res))
  end
  return res.ok and cli.EXIT.ok or cli.EXIT.failed
end

function Run:metadata(stack)
  local meta, err = stack:metadata()
  if not meta then return self:fail(err) end
  self:out(self:json() and json_encode(json_value(meta)) or metadata_text(meta))
  return cli.EXIT.ok
end

function Run:continue(stack, operation)
  if self.args.wait then core.watch_signals() end
  local dep, err = stack[operation](stack)
  if not dep then return self:fail(err) end
  if not self.args.wait then
    if self:json() then
      self:out(cjson.encode({ operation = operation, deployment_id = dep.deployment_id, recovered = dep.recovered }))
    elseif self:format() == "table" then
      self:out(render.object({ operation = operation, deployment_id = dep.deployment_id, recovered = dep.recovered },
                             { "operation", "deployment_id" }, "table"))
    else
      self:out(printable(tostring(dep)))
    end
    return cli.EXIT.ok
  end
  self.deployment_id, self.operation = dep.deployment_id, operation
  if not self.args.quiet and not self:json() then self:err(tostring(dep)) end
  return self:finish_wait(stack, wait_interruptibly(stack, { timeout = self.args.timeout,
                                                                  on_progress = self:progress() }))
end

-- Follows the stack's current deployment when no --deployment-id names one: its events so
-- far (those since the stack's update_time), then each new one, until the stack settles.
-- A stack at rest is watched FOLLOW_SETTLE seconds, for a continue that is still queued.
local FOLLOW_SETTLE = 10
function Run:follow_current(stack, printer)
  core.watch_signals()
  local shown, since, strict, pause, saw_running, waited, first_update = {}, nil, false, 1, false, 0, nil
  local ok, code = pcall(function()
    while true do
      local meta, err = stack:metadata()
      if not meta then return self:fail(err) end
      local running = meta.status:find("IN_PROGRESS", 1, true) ~= nil
      if not since then
        -- in progress: its update_time is when this deployment started; at rest, it is when
        -- the last one ended, and only what comes after belongs to the next
        since, strict = tostring(meta.update_time), not running
      end
      saw_running = saw_running or running
      local list, eerr = stack:events{}
      if not list then return self:fail(eerr) end
      for i = #list, 1, -1 do
        local e = list[i]
        local key = table.concat({ tostring(e.time), tostring(e.resource_name), tostring(e.event_type),
                                   tostring(e.event_message) }, "\0")
        local t = tostring(e.time)
        if not shown[key] and (t > since or (t == since and not strict)) then
          shown[key] = true
          printer(e)
        end
      end
      -- a continue just sent is queued and the old state still shows: give it time to start
      local settled = saw_running or waited >= FOLLOW_SETTLE or (first_update and meta.update_time ~= first_update)
      first_update = first_update or meta.update_time
      if not running and settled then
        return meta.status:find("FAILED", 1, true) and cli.EXIT.failed or cli.EXIT.ok
      end
      waited = waited + pause
      interruptible_sleep(pause)
      pause = math.min(pause * 1.5, 10)
    end
  end)
  if ok then return code end
  if code == INTERRUPTED then
    return self:interrupted(stack, "while following the events of " .. stack.name, { "events", stack.name, "--follow" })
  end
  error(code, 0)
end

function Run:events(stack)
  if self.args.follow and not self.args.deployment_id then
    return self:follow_current(stack, self:json() and function(e) self:out(json_encode(json_value(e))) end
      or function(e) self:out(stack_mod.event_line(text_fields(e))) end)
  end
  if self.args.follow then
    local printer = self:json() and function(e) self:out(json_encode(json_value(e))) end
      or function(e) self:out(stack_mod.event_line(text_fields(e))) end
    local res, err = wait_interruptibly(stack, { deployment_id = self.args.deployment_id, on_progress = function(p)
      if p.type == "event" then printer(p.event) end
    end })
    if err == INTERRUPTED then
      local words = { "events", stack.name, "--follow" }
      if self.args.deployment_id then
        words[#words + 1] = "--deployment-id"
        words[#words + 1] = self.args.deployment_id
      end
      return self:interrupted(stack, "while following the events of " .. stack.name, words)
    end
    if not res then return self:fail(err) end
    return res.ok and cli.EXIT.ok or cli.EXIT.failed
  end
  local list, err = stack:events{ deployment_id = self.args.deployment_id, filter = self.args.filter }
  if not list then return self:fail(err) end
  -- oldest first in every format, as --follow prints them
  local oldest_first = {}
  for i = #list, 1, -1 do oldest_first[#oldest_first + 1] = list[i] end
  if self:json() then
    self:out(render.json_list(oldest_first))
  elseif self:format() == "table" then
    self:out(render.list(oldest_first, EVENT_COLUMNS, "table"))
  else
    for i = #list, 1, -1 do self:out(stack_mod.event_line(text_fields(list[i]))) end
  end
  return cli.EXIT.ok
end

-- Which operation a deployment is, when `rfs wait` is not told: its first event says (a
-- rollback starts by rolling back), or, before it has any, the state the stack waits in.
local function infer_operation(stack, deployment)
  local events, err = stack:events{ deployment_id = deployment }
  if not events then return nil, err end
  local first = events[#events] -- newest first
  if first then
    local text = tostring(first.event_message or "")
    if text:find("[Rr]olling back") or text:find("^[Rr]ollback") then return "continue_rollback" end
    if text:find("^[Dd]elet") then return "delete" end
    return "continue_deploy"
  end
  local meta, merr = stack:metadata()
  if not meta then return nil, merr end
  if meta.status == "ROLLBACK_FAILED" or meta.status == "ROLLBACK_IN_PROGRESS" then return "continue_rollback" end
  if meta.status == "DELETION_IN_PROGRESS" or meta.status == "DELETION_FAILED" then return "delete" end
  return "continue_deploy"
end

-- The operation a stack in a *_IN_PROGRESS state is running, for `rfs wait STACK`.
local BUSY_OPERATIONS = { DEPLOYMENT_IN_PROGRESS = "deploy", ROLLBACK_IN_PROGRESS = "continue_rollback",
                          DELETION_IN_PROGRESS = "delete" }

function Run:wait(stack)
  local operation = self.args.operation
  if not operation and self.args.deployment_id then
    local err
    operation, err = infer_operation(stack, self.args.deployment_id)
    if not operation then return self:fail(err) end
  end
  local busy = false
  if not operation and not self.args.deployment_id then
    -- a busy stack (what a refused deploy, update or delete says to wait for): its operation
    -- is the one in progress, followed by state; nothing else tells a new process which it is
    local meta = stack:metadata()
    operation = meta and BUSY_OPERATIONS[meta.status]
    busy = operation ~= nil
  end
  operation = operation or "continue_deploy"
  if not self.args.deployment_id and operation ~= "delete" and not busy then
    self:err("rfs wait: the deployment to wait for is unknown in a new process; pass --deployment-id "
             .. "(printed by create, deploy, continue-deploy and continue-rollback), or --operation delete "
             .. "(a stack with an operation in progress needs neither)")
    return cli.EXIT.usage
  end
  self.deployment_id, self.operation = self.args.deployment_id, operation
  return self:finish_wait(stack, wait_interruptibly(stack, {
    deployment_id = self.args.deployment_id, operation = self.operation, timeout = self.args.timeout,
    on_progress = self:progress() }))
end

--- Follows the operation the stack just started (create, deploy, delete) with --wait.
function Run:follow(stack)
  self.deployment_id, self.operation = stack.deployment_id, stack.operation
  return self:finish_wait(stack, wait_interruptibly(stack, { timeout = self.args.timeout,
                                                             on_progress = self:progress() }))
end

--- $RFS_ENDPOINT, as the examples read it: the default for --endpoint (nil when unset or empty).
function cli.env_endpoint()
  local e = os.getenv("RFS_ENDPOINT")
  if e and e ~= "" then return e end
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
--- --debug: one line per HTTP exchange and per retry decision, for stderr. Only the method,
--  the path (no host, no user:password), status, time and request ids: never a header, so
--  never a signature, key or token.
function cli.debug_line(t)
  if t.type == "retry" then
    return ("rfs: debug: retry %d/%d in %.1fs after %s%s%s"):format(t.attempt + 1, t.attempts, t.delay,
      tostring(t.kind), t.status and (" (HTTP " .. t.status .. ")") or "",
      t.retry_after and (", Retry-After " .. t.retry_after .. "s") or "")
  end
  return ("rfs: debug: %s %s -> %s in %.3fs request %s%s"):format(t.method, printable(t.path),
    t.status and tostring(t.status) or (tostring(t.kind) .. " (" .. printable(t.message or "") .. ")"), t.elapsed,
    t.request_id, t.server_request_id and (" server request " .. printable(t.server_request_id)) or "")
end

function cli.client(args, new, stderr)
  local trace = nil
  if args.debug then
    stderr = stderr or io.stderr
    trace = function(t) stderr:write(cli.debug_line(t), "\n") end
  end
  local ok, client = pcall(new or rfs.new, { endpoint = args.endpoint or (not args.region and cli.env_endpoint()) or nil,
                                             region = args.region,
                                             project_id = args.project_id, sleep = interruptible_sleep,
                                             on_exchange = trace })
  if not ok then return nil, cli.speak((tostring(client):gsub("^[^:]+:%d+: ", ""))) end
  return client
end

--- The bash completion script for every command and option the parser knows (the
--  hand-written commands and those built from the operation model alike).
function cli.bash_completion(parser)
  return "# bash completion for rfs (lua-rfs " .. rfs.version .. "): generated by `rfs completion bash`\n"
    .. (parser or build_parser()):get_bash_complete()
end

local function main(argv, streams)
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
    io_.stderr:write(parser:get_usage(), "\nrfs: ", printable_lines(args), "\n")
    return cli.EXIT.usage
  end
  merge_globals(args)
  if args.command == "completion" then
    io_.stdout:write(cli.bash_completion(parser))
    return cli.EXIT.ok
  end
  local client, cerr = cli.client(args, streams.new, io_.stderr)
  if not client then
    io_.stderr:write(printable(cerr), "\n")
    return cli.EXIT.usage
  end
  if args.command == "repl" then return require("rfs.repl").run(client, io_) end
  if args.command == "whoami" then return require("rfs.whoami").run(client, args, io_) end
  local run = setmetatable({ args = args, io = io_ }, Run)
  local command = cli_commands.full_name(args)
  if cli_commands.handles(command) and not HANDWRITTEN[command] then
    return cli_commands.run(run, client, args)
  end
  local sok, stack = pcall(client.stack, client, args.stack, { stack_id = args.stack_id })
  if not sok then
    io_.stderr:write(printable((tostring(stack):gsub("^[^:]+:%d+: ", ""))), "\n")
    return cli.EXIT.usage
  end
  run.stack = stack
  local handlers = {
    metadata = function() return run:metadata(stack) end,
    ["continue-deploy"] = function() return run:continue(stack, "continue_deploy") end,
    ["continue-rollback"] = function() return run:continue(stack, "continue_rollback") end,
    events = function() return run:events(stack) end,
    wait = function() return run:wait(stack) end,
  }
  return handlers[args.command]()
end

--- cli.main(argv, { stdout =, stderr =, stdin =, new = rfs.new }) -> exit code.
--  No Lua traceback reaches a user: an unexpected error is one line
--  "rfs: internal error: ..." and exit code 70 (EX_SOFTWARE).
function cli.main(argv, streams)
  -- (a closure: PUC Lua 5.1's xpcall passes no arguments, and luarocks on Debian runs rfs with it)
  local ok, code = xpcall(function() return main(argv, streams) end, function(e) return e end)
  if ok then return code end
  local stderr = streams and streams.stderr or io.stderr
  pcall(stderr.write, stderr, "rfs: internal error: ", printable(tostring(code)),
        " (please report it with the command that caused it)\n")
  return cli.EXIT.internal
end

return cli
