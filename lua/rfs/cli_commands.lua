-- rfs.cli_commands: the command line's lifecycle commands, built from the operation model
-- (rfs.api). Every entry with a `cli` field becomes a command (entries that share a command,
-- such as DeleteStack and DeleteStackEnhanced, share it); its parameters become flags:
--
--   enable_auto_rollback  -> --auto-rollback            (the "enable_" goes, "_" becomes "-")
--   template_body         -> --template FILE            (a *_body parameter is read from a file)
--   boolean on a PATCH    -> --x and --no-x              (an update changes only what is named)
--   cli.flags             the documented name where the derived one is not: { vars_body = "--vars-file" }
--   cli.wait              adds --wait and --timeout (follow the operation, progress on stderr)
--   cli.filter            a list field to filter on, client side: --status S
--   cli.summary, cli.help the command's help line and { param = flag help }, where the model's
--                         text speaks of Lua
--   cli.targets           adds the stack set target flags: --regions a,b --accounts x,y and the
--                         operation preferences (--failure-tolerance N, --max-concurrent N, ...)
--   cli.hide              keys of the answer text output leaves out (variable values; --output
--                         json keeps them)
--
-- A command of several words ("template-lib create", "stack-set instances create") is a
-- subcommand of its first words, each a group command. cli.args names the positional
-- arguments: first the object's name (STACK, TEMPLATE, STACK_SET; a plan's is STACK PLAN),
-- then the Lua method's positional arguments (entry.args) in order (VERSION, REGION,
-- DOMAIN_ID, OPERATION_ID; PLAN for stack:create_plan); a template's commands take
-- --template-id, its guard. Parameters the object supplies (project_id, stack_name,
-- stack_id), paging (marker, limit, all) and structured arrays without a flag mapping have
-- no flag. Messages name flags and arguments as typed.

local api = require "rfs.api"
local render = require "rfs.render"

local commands = {}

local unpack_args = table.unpack or rawget(_G, "unpack") -- luacheck: ignore 143

local PAGING = { marker = true, limit = true, all = true }

local STACK_STATUSES = { "CREATION_COMPLETE", "DEPLOYMENT_IN_PROGRESS", "DEPLOYMENT_FAILED", "DEPLOYMENT_COMPLETE",
                         "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "DELETION_IN_PROGRESS",
                         "DELETION_FAILED" }

-- Columns of each list, by the model's list_key: text and table output show these.
local COLUMNS = {
  stacks = { "stack_name", "status", "stack_id", "update_time", "description" },
  stack_resources = { "logical_resource_name", "logical_resource_type", "index_key", "resource_status",
                      "physical_resource_id" },
  outputs = { "name", "type", "value", "sensitive", "description" },
  variables = { "name", "type", "default", "sensitive", "nullable", "description" },
  templates = { "template_name", "latest_version_id", "template_id", "update_time", "template_description" },
  versions = { "version_id", "create_time", "version_description" },
  stack_sets = { "stack_set_name", "status", "permission_model", "stack_set_id", "stack_set_description" },
  stack_instances = { "region", "stack_domain_id", "status", "latest_stack_set_operation_id", "status_message" },
  stack_set_operations = { "operation_id", "action", "status", "create_time", "status_message" },
  execution_plans = { "execution_plan_name", "status", "execution_plan_id", "create_time", "apply_time",
                      "description" },
  execution_plan_items = { "action", "resource_type", "resource_name", "index", "drifted", "imported" },
}

-- The flags of cli.targets: option name -> { where, key, how } (how: list, number, flag value).
local TARGET_FLAGS = {
  { "--regions", "deployment_targets", "regions", "list", "regions, comma-separated (required)" },
  { "--accounts", "deployment_targets", "domain_ids", "list", "account (domain) ids, comma-separated (required)" },
  { "--region-order", "operation_preferences", "region_order", "list", "the order regions run in, comma-separated" },
  { "--parallel-regions", "operation_preferences", "region_concurrency_type", "PARALLEL",
    "run every region at once (default: one region after the other)" },
  { "--failure-tolerance", "operation_preferences", "failure_tolerance_count", "number",
    "failed instances a region may have before the operation stops (default 0)" },
  { "--failure-tolerance-percent", "operation_preferences", "failure_tolerance_percentage", "number",
    "the same, as a percentage of the region's instances" },
  { "--max-concurrent", "operation_preferences", "max_concurrent_count", "number",
    "instances deployed at once per region (default 1; at most the tolerance + 1)" },
  { "--max-concurrent-percent", "operation_preferences", "max_concurrent_percentage", "number",
    "the same, as a percentage of the region's instances" },
  { "--soft-tolerance", "operation_preferences", "failure_tolerance_mode", "SOFT_FAILURE_TOLERANCE",
    "keep the concurrency up as failures accumulate (default: lower it)" },
}

-- The group commands (the first words of a command of several): their help line.
local GROUPS = {
  ["template-lib"] = "The private template library: publish templates and their numbered versions",
  ["stack-set"] = "stack sets: one template as stack instances across accounts and regions",
  ["stack-set instances"] = "a stack set's instances (one per region and account)",
  ["stack-set operations"] = "a stack set's operations",
  plan = "Execution plans: preview a change as a diff, then apply it",
}

-- Positional arguments (cli.args): their help line; the object's name lands in args.stack,
-- args.template or args.stack_set, a method's argument in args.arg_<name> (never a global's),
-- and so does a plan's name, PLAN: args.arg_plan (args.plan is the group command's).
local ARGUMENTS = { STACK = "stack name", TEMPLATE = "template name", STACK_SET = "stack set name",
                    PLAN = "plan name", VERSION = "version: V1, V2, ...", REGION = "the instance's region",
                    DOMAIN_ID = "the instance's account (domain) id", OPERATION_ID = "a stack_set_operation_id" }
local OBJECT_ARGS = { STACK = "stack", TEMPLATE = "template", STACK_SET = "stack_set" }

local function arg_target(a) return OBJECT_ARGS[a] or ("arg_" .. a:lower()) end

-- How many of cli.args name the object an entry is on: none for the client, STACK PLAN for
-- a plan, one for the others.
local OBJECT_ARG_COUNT = { client = 0, plan = 2 }

-- Keys shown first for a single object.
local OBJECT_KEYS = { "stack_name", "stack_id", "execution_plan_name", "execution_plan_id", "stack_set_name",
                      "stack_set_id", "template_name", "template_id", "operation", "deployment_id",
                      "stack_set_operation_id", "version_id", "status", "status_message", "location" }

-- The commands, in model order: { name =, entries = {...}, cli = merged cli table, flags = {...} }
local function derive_flag(entry, param)
  local mapped = entry.cli.flags and entry.cli.flags[param.name]
  if mapped then return mapped end
  if param.type == "array" or param.type == "object" then return nil end
  return "--" .. param.name:gsub("^enable_", ""):gsub("_", "-")
end

local function is_file(param) return param.name:match("_body$") ~= nil end

local function flag_params(entry)
  local out = {}
  for _, p in ipairs(entry.params) do
    if p.from ~= "object" and p["in"] ~= "path" and not PAGING[p.name] then
      local flag = derive_flag(entry, p)
      if flag then out[#out + 1] = { param = p, flag = flag, negatable = p.type == "boolean" and entry.method == "PATCH" } end
    end
  end
  return out
end

local function build_list()
  local list, by_command = {}, {}
  for _, entry in ipairs(api.operations) do
    local c = entry.cli and entry.cli.command
    if c then
      local cmd = by_command[c]
      if not cmd then
        cmd = { name = c, entries = {}, flags = {}, by_param = {}, args = entry.cli.args or {}, cli = {},
                positional = {} }
        -- the Lua method's positional arguments (entry.args), from the command's: on the client
        -- all of them (create NAME), on an object those after its name (version-show TEMPLATE VERSION,
        -- plan create STACK PLAN)
        local first = OBJECT_ARG_COUNT[entry.on] or 1
        for i, lua in ipairs(entry.args or {}) do
          local a = cmd.args[first + i]
          cmd.positional[i] = { lua = lua, arg = a, target = a and arg_target(a) }
        end
        by_command[c] = cmd
        list[#list + 1] = cmd
      end
      cmd.entries[#cmd.entries + 1] = entry
      for k, v in pairs(entry.cli) do if cmd.cli[k] == nil then cmd.cli[k] = v end end
      for _, f in ipairs(flag_params(entry)) do
        if not cmd.by_param[f.param.name] then
          cmd.by_param[f.param.name] = f
          cmd.flags[#cmd.flags + 1] = f
        end
      end
    end
  end
  return list, by_command
end

local LIST, BY_COMMAND = build_list()
commands.list = LIST

local function target(name) return "p_" .. name end

-- stack:wait refuses a timeout that is not a finite number > 0: a usage error here
local function seconds(text)
  local n = tonumber(text)
  if n and n > 0 and n < math.huge then return n end
  return nil, "--timeout must be a number of seconds > 0 (got " .. text .. ")"
end

local function flag_help(f, cmd)
  local doc = cmd.cli.help and cmd.cli.help[f.param.name] or f.param.doc or ""
  if f.param.type == "boolean" then return (doc:gsub("^true: ", "")) end
  if is_file(f.param) then return "read from FILE: " .. doc end
  if f.param.type == "object" then return "KEY=VALUE; repeat the flag for more (values are sent as text)" end
  if f.param.max_len then return ("%s (at most %d characters)"):format(doc, f.param.max_len) end
  return doc
end

local function one_of_groups(cmd)
  local groups = {}
  for _, entry in ipairs(cmd.entries) do
    for _, g in ipairs(entry.one_of or {}) do groups[#groups + 1] = { names = g } end
    for _, g in ipairs(entry.required_one_of or {}) do groups[#groups + 1] = { names = g, required = true } end
  end
  return groups
end

-- The parser of a command's first words ("stack-set instances"), made once.
local function group_parser(parser, groups, words)
  local p, path = parser, nil
  for i = 1, #words - 1 do
    path = path and (path .. " " .. words[i]) or words[i]
    if not groups[path] then
      groups[path] = p:command(words[i], GROUPS[path] or path):command_target("sub" .. i)
    end
    p = groups[path]
  end
  return p
end

--- Adds the model's commands to an argparse parser; `skip` names commands already there,
--  `add_globals(command)` adds the global options to each.
function commands.add(parser, add_globals, skip)
  local groups = {}
  for _, cmd in ipairs(LIST) do
    if not (skip and skip[cmd.name]) then
      local words = {}
      for w in cmd.name:gmatch("%S+") do words[#words + 1] = w end
      local c = group_parser(parser, groups, words):command(words[#words], cmd.cli.summary or cmd.entries[1].summary)
      for _, a in ipairs(cmd.args) do c:argument(a:lower(), ARGUMENTS[a] or a):target(arg_target(a)) end
      if cmd.entries[1].on == "template" then
        c:option("--template-id", "the template's UUID, checked by RFS against the named template"):argname("UUID")
          :target("template_id")
      end
      if cmd.cli.targets then
        for _, t in ipairs(TARGET_FLAGS) do
          local flag, how = t[1], t[4]
          if how == "list" or how == "number" then
            local o = c:option(flag, t[5]):target("t_" .. t[3])
            if how == "number" then o:convert(tonumber) end
          else
            c:flag(flag, t[5]):target("t_" .. t[3])
          end
        end
        if cmd.by_param.var_overrides == nil and cmd.entries[1].lua:match("instances$")
           and cmd.entries[1].lua ~= "delete_instances" then
          c:option("--vars-override", "read from FILE: tfvars for these instances (only the set's variables)")
            :argname("FILE"):target("t_vars_override")
        end
      end
      local options = {}
      for _, f in ipairs(cmd.flags) do
        local p = f.param
        local o
        if p.type == "boolean" then
          o = c:flag(f.flag, flag_help(f, cmd)):target(target(p.name))
          if f.negatable then
            local no = c:flag("--no-" .. f.flag:sub(3), "turn " .. f.flag:sub(3):gsub("-", " ") .. " off"):target(target("no_" .. p.name))
            c:mutex(o, no)
          end
        elseif p.type == "object" then
          o = c:option(f.flag, flag_help(f, cmd)):argname("KEY=VALUE"):count("*"):target(target(p.name))
        else
          o = c:option(f.flag, flag_help(f, cmd)):target(target(p.name))
          if is_file(p) then o:argname("FILE") elseif p.name:match("_uri$") then o:argname("URL") end
          if p.type == "integer" or p.type == "number" then o:convert(tonumber) end
        end
        options[p.name] = o
      end
      for _, g in ipairs(one_of_groups(cmd)) do
        local elements = {}
        for _, name in ipairs(g.names) do elements[#elements + 1] = options[name] end
        -- argparse reads the elements with ipairs: a group is two or three flags
        if #elements > 1 then c:mutex(elements[1], elements[2], elements[3]) end
      end
      if cmd.cli.filter == "status" then
        c:option("--status", "only stacks in this status: " .. table.concat(STACK_STATUSES, ", "))
          :argname("STATUS"):choices(STACK_STATUSES):target("filter_status")
      end
      if cmd.cli.wait then
        c:flag("--wait", "wait until the operation ends, with progress on stderr")
        c:option("--timeout", "seconds to wait at most"):convert(seconds)
      end
      add_globals(c)
    end
  end
end

--- True when the command is one of the model's (and not handled elsewhere).
function commands.handles(name) return BY_COMMAND[name] ~= nil end

--- The whole name of the command parsed ("stack-set instances create"), from argparse's
--  targets: command, then sub1, sub2 for the words of a subcommand.
function commands.full_name(args)
  local name = args.command
  local i = 1
  while name and args["sub" .. i] do
    name = name .. " " .. args["sub" .. i]
    i = i + 1
  end
  return name
end

-- Arguments -> the Lua options ------------------------------------------------------------

local function usage(run, cmd, msg)
  run:err("rfs " .. cmd.name .. ": " .. msg)
  return nil
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  if not s then return nil, path .. ": could not be read" end
  return s
end

local function flag_text(f)
  if is_file(f.param) then return f.flag .. " FILE" end
  if f.param.type == "object" then return f.flag .. " KEY=VALUE" end
  if f.param.name:match("_uri$") then return f.flag .. " URL" end
  return f.flag
end

-- The options table for the Lua method; nil after printing a usage message.
local function collect(run, cmd, args)
  local opts, n = {}, 0
  for _, f in ipairs(cmd.flags) do
    local p, v = f.param, args[target(f.param.name)]
    if p.type == "boolean" then
      if v then v = true elseif args[target("no_" .. p.name)] then v = false else v = nil end
    elseif p.type == "object" then
      if #v == 0 then v = nil else
        local t = {}
        for _, kv in ipairs(v) do
          local k, val = kv:match("^([^=]+)=(.*)$")
          if not k then return usage(run, cmd, f.flag .. " takes KEY=VALUE, got " .. render.cell(kv)) end
          t[k] = val
        end
        v = t
      end
    elseif v ~= nil and is_file(p) then
      local text, err = read_file(v)
      if not text then return usage(run, cmd, f.flag .. ": cannot read " .. render.cell(err)) end
      v = text
    end
    if v ~= nil then
      if p.max_len and type(v) == "string" and #v > p.max_len then
        return usage(run, cmd, ("%s: %d characters, at most %d"):format(f.flag, #v, p.max_len))
      end
      if p.min and type(v) == "number" and (v < p.min or v > (p.max or math.huge)) then
        return usage(run, cmd, ("%s must be %d..%d"):format(f.flag, p.min, p.max))
      end
      opts[p.name] = v
      n = n + 1
    end
  end
  if cmd.cli.targets then
    local ok, msg = pcall(function()
      for _, t in ipairs(TARGET_FLAGS) do
        local v = args["t_" .. t[3]]
        if v ~= nil and v ~= false then
          if t[4] == "list" then
            local list = {}
            for x in v:gmatch("[^,%s]+") do list[#list + 1] = x end
            v = list
          elseif t[4] ~= "number" then
            v = t[4]
          end
          opts[t[2]] = opts[t[2]] or {}
          opts[t[2]][t[3]] = v
        end
      end
    end)
    if not ok then return usage(run, cmd, msg) end
    local dt = opts.deployment_targets or {}
    if not dt.regions or not dt.domain_ids then return usage(run, cmd, "needs --regions R1,R2 and --accounts A1,A2") end
    if args.t_vars_override then
      local text, err = read_file(args.t_vars_override)
      if not text then return usage(run, cmd, "--vars-override: cannot read " .. render.cell(err)) end
      opts.var_overrides = { vars_body = text }
    end
    n = n + 1
  end
  if n == 0 and cmd.entries[1].method == "PATCH" then
    local names = {}
    for _, f in ipairs(cmd.flags) do
      names[#names + 1] = f.negatable and f.flag .. "|--no-" .. f.flag:sub(3) or flag_text(f)
    end
    return usage(run, cmd, "nothing to change; give " .. table.concat(names, ", "))
  end
  for _, g in ipairs(one_of_groups(cmd)) do
    if g.required then
      local given, names = false, {}
      for _, name in ipairs(g.names) do
        local f = cmd.by_param[name]
        if f then names[#names + 1] = flag_text(f) end
        if opts[name] ~= nil then given = true end
      end
      if not given then return usage(run, cmd, "needs " .. table.concat(names, " or ")) end
    end
  end
  return opts, n
end

-- A Lua misuse message names Lua parameters; the user typed flags.
local function flags_in(cmd, msg)
  msg = tostring(msg):gsub("^[^:]+:%d+: ", ""):gsub("^rfs: ", "")
  for _, f in ipairs(cmd.flags) do
    msg = msg:gsub("'" .. f.param.name .. "'", "'" .. f.flag .. "'")
  end
  if cmd.cli.targets then
    for _, t in ipairs(TARGET_FLAGS) do
      msg = msg:gsub("'" .. t[2] .. "%." .. t[3] .. "'", "'" .. t[1] .. "'")
    end
    msg = msg:gsub("'deployment_targets%.domain_ids'", "'--accounts'")
  end
  -- a positional argument, as the usage line names it: "template:version_metadata: version_id must
  -- be ..." -> "VERSION must be ..."
  for _, p in ipairs(cmd.positional) do
    msg = msg:gsub("^[%w_]+:[%w_]+: " .. p.lua .. " ", p.arg .. " ")
  end
  return msg
end

-- Results --------------------------------------------------------------------------------

-- A Stack object (ListStacks) as the row RFS would show: stack_name, stack_id, status, ...
local STACK_FIELDS = { stack_name = "name", stack_id = "id", status = "status", description = "description",
                       create_time = "create_time", update_time = "update_time", status_message = "status_message" }

local SET_FIELDS = { stack_set_name = "name", stack_set_id = "id", status = "status",
                     stack_set_description = "stack_set_description", permission_model = "permission_model",
                     create_time = "create_time", update_time = "update_time" }

-- A Template object (ListTemplates) as RFS's row: template_name, template_id, ...
local TEMPLATE_FIELDS = { template_name = "name", template_id = "id", template_description = "description",
                          create_time = "create_time", update_time = "update_time",
                          latest_version_id = "latest_version_id", latest_version_description = "latest_version_description" }

-- An ExecutionPlan object (ListExecutionPlans) as RFS's row: execution_plan_name, status, ...
local PLAN_FIELDS = { execution_plan_name = "name", execution_plan_id = "id", status = "status",
                      description = "description", create_time = "create_time", apply_time = "apply_time",
                      status_message = "status_message" }

-- An object of a listing (Stack, StackSet, Template, ExecutionPlan) as the row RFS would show.
local function object_row(s, fields)
  local row = {}
  for key, field in pairs(fields) do
    local ok, v = pcall(function() return s[field] end)
    if ok and type(v) ~= "function" then row[key] = v end
  end
  return row
end

local LIST_FIELDS = { stacks = STACK_FIELDS, stack_sets = SET_FIELDS, templates = TEMPLATE_FIELDS,
                      execution_plans = PLAN_FIELDS }

local function print_list(run, entry, list, args)
  local rows = {}
  for _, item in ipairs(list) do
    local fields = LIST_FIELDS[entry.list_key]
    local row = fields and object_row(item, fields) or item
    if not args.filter_status or row.status == args.filter_status then rows[#rows + 1] = row end
  end
  local text = render.list(rows, COLUMNS[entry.list_key] or { "name" }, run:format())
  if text then run:out(text) end
  return run.EXIT.ok
end

local function print_object(run, obj)
  run:out(render.object(obj, OBJECT_KEYS, run:format()))
  return run.EXIT.ok
end

-- The line a person reads when an operation was accepted; JSON gets the object.
local function accepted(run, cmd, obj, waiting)
  if run:format() == "json" then
    if not waiting then return print_object(run, obj) end
    return run.EXIT.ok
  end
  local who = render.cell(obj.stack_name)
  if obj.execution_plan_name then who = who .. "/" .. render.cell(obj.execution_plan_name) end
  local what = ("%s %s accepted"):format(cmd.name, who)
  if obj.deployment_id then what = what .. ": deployment_id " .. render.cell(obj.deployment_id) end
  if obj.execution_plan_id then what = what .. ": execution_plan_id " .. render.cell(obj.execution_plan_id) end
  if waiting then
    if not run.args.quiet then run:err(what) end
  elseif run:format() == "table" then
    return print_object(run, obj)
  else
    run:out(what)
  end
  return run.EXIT.ok
end

-- The answers of the template library's commands (lists are printed by print_list).
local function template_result(run, cmd, entry, value, args)
  local name = args.template
  if entry.result == "template" then
    return print_object(run, { template_name = value.name, template_id = value.id,
                               version_id = value.latest_version_id })
  end
  if entry.result == "version" then
    return print_object(run, { template_name = name, version_id = value.version_id })
  end
  if entry.result == "content" then
    if run:format() == "json" then
      return print_object(run, { template_name = name, version_id = args.arg_version, template_body = value })
    end
    run.io.stdout:write(value)
    return run.EXIT.ok
  end
  if entry.result == "true" then
    if run:format() ~= "text" then
      return print_object(run, { template_name = name, version_id = args.arg_version, ok = true })
    end
    local version = args.arg_version and (" " .. render.cell(args.arg_version)) or ""
    run:out(("%s %s%s: done"):format(cmd.name, render.cell(name), version))
    return run.EXIT.ok
  end
  return print_object(run, value)
end

local function follow(run, stack)
  return run:follow(stack)
end

-- ss:wait's result: text (one line per region), or JSON. Ctrl-C stops the wait at once.
local function follow_set(run, ss)
  local res, err = run:wait_interruptibly(ss, { timeout = run.args.timeout, on_progress = run:progress() })
  if err == run.INTERRUPTED then return run:interrupted_set(ss) end
  if not res then return run:fail(err) end
  if run:format() == "text" then
    run:out(tostring(res))
  else
    local regions = {}
    for i, r in ipairs(res.regions) do
      regions[i] = { region = r.region, total = r.total, counts = r.counts, failures = render.array(r.failures) }
    end
    local doc = { ok = res.ok, status = res.status, status_message = res.status_message, action = res.action,
                  operation_id = res.operation_id, stack_set = res.stack_set, elapsed = res.elapsed, polls = res.polls,
                  regions = render.array(regions), failures = render.array(res.failures) }
    run:out(run:format() == "json" and render.json(doc)
            or render.object(doc, { "ok", "status", "action", "operation_id" }, "table"))
  end
  return res.ok and run.EXIT.ok or run.EXIT.failed
end

-- Running --------------------------------------------------------------------------------

--- Runs a model command. run: the CLI's run (args, out, err, fail, format, progress,
--  finish_wait, EXIT); client: the client. Returns the exit code.
function commands.run(run, client, args)
  local cmd = BY_COMMAND[commands.full_name(args)]
  local opts, n = collect(run, cmd, args)
  if not opts then return run.EXIT.usage end
  local entry = cmd.entries[1]
  local stack, plan
  local ok, a, b = pcall(function()
    local obj = client
    if entry.on == "stack_set" then
      obj = client:stack_set(args.stack_set)
    elseif entry.on == "template" then
      obj = client:template(args.template, { template_id = args.template_id })
    elseif entry.on ~= "client" then
      obj = client:stack(args.stack, { stack_id = args.stack_id })
      -- a plan is named by its stack and PLAN: stack:plan(PLAN)
      if entry.on == "plan" then
        plan = obj:plan(args.arg_plan)
        obj = plan
      end
    end
    stack = plan and plan.stack or obj
    -- obj:method(positional arguments..., opts)
    local call = {}
    for i, p in ipairs(cmd.positional) do call[i] = args[p.target] end
    call[#cmd.positional + 1] = n > 0 and opts or nil
    return obj[entry.lua](obj, unpack_args(call, 1, #cmd.positional + 1))
  end)
  if not ok then
    run:err("rfs " .. cmd.name .. ": " .. flags_in(cmd, a))
    return run.EXIT.usage
  end
  local value, err = a, b
  if value == nil then return run:fail(err) end

  local result = entry.result
  if result == "list" then return print_list(run, entry, value, args) end
  if result == "stack_set" then
    return print_object(run, { stack_set_name = value.name, stack_set_id = value.id, status = value.status })
  end
  if result == "operation" then
    local what = { stack_set_name = args.stack_set, operation = entry.lua,
                   stack_set_operation_id = value.stack_set_operation_id }
    if run:format() == "json" then
      if not args.wait then return print_object(run, what) end
    elseif args.wait then
      if not run.args.quiet then run:err(tostring(value)) end
    else
      run:out(run:format() == "table" and render.object(what, OBJECT_KEYS, "table") or tostring(value))
    end
    if args.wait then return follow_set(run, stack) end
    return run.EXIT.ok
  end
  if entry.on == "template" or result == "template" then return template_result(run, cmd, entry, value, args) end
  if result == "location" then
    if args[target("download")] and run:format() == "text" then
      run.io.stdout:write(value.body or "")
      return run.EXIT.ok
    end
    return print_object(run, { stack_name = args.stack, stack_set_name = args.stack_set, location = value.location,
                               body = value.body })
  end
  if result == "stack" then
    stack = value
    local obj = { stack_name = stack.name, stack_id = stack.id, deployment_id = stack.deployment_id,
                  operation = "create" }
    accepted(run, cmd, obj, args.wait and obj.deployment_id)
    if args.wait and obj.deployment_id then return follow(run, stack) end
    return run.EXIT.ok
  end
  if result == "plan" then
    local o = { stack_name = args.stack, execution_plan_name = value.name, execution_plan_id = value.id,
                operation = cmd.name }
    accepted(run, cmd, o, args.wait)
    if args.wait then return run:follow_plan(value) end
    return run.EXIT.ok
  end
  if result == "items" then
    if run:format() == "text" then
      run:out(tostring(value))
      return run.EXIT.ok
    end
    return print_list(run, entry, value, args)
  end
  if result == "prices" then
    if run:format() == "text" then
      run:out(tostring(value))
      return run.EXIT.ok
    end
    return print_object(run, { currency = value.currency, items = render.array(value.items) })
  end
  local plan_name = plan and plan.name
  if result == "deployment" then
    accepted(run, cmd, { stack_name = args.stack, execution_plan_name = plan_name, operation = cmd.name,
                         deployment_id = value.deployment_id }, args.wait)
    if args.wait then return follow(run, stack) end
    return run.EXIT.ok
  end
  if result == "true" then
    accepted(run, cmd, { stack_name = args.stack, execution_plan_name = plan_name, operation = cmd.name,
                         accepted = true }, args.wait)
    if args.wait then return follow(run, stack) end
    return run.EXIT.ok
  end
  if cmd.cli.hide and run:format() ~= "json" then
    local shown = {}
    for k, v in pairs(value) do shown[k] = v end
    for _, k in ipairs(cmd.cli.hide) do shown[k] = nil end
    value = shown
  end
  return print_object(run, value)
end

return commands
