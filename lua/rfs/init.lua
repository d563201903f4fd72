-- rfs: a Lua client for the Huawei Cloud Resource Formation Service stack API.
--
--   local rfs = require "rfs"
--   local client = assert(rfs.new{ region = "cn-north-4" })
--   local stack = client:stack("my-stack")
--   local dep = assert(stack:continue_deploy())
--   local res = assert(stack:wait{ on_progress = rfs.progress.human() })

local core = require "rfs.core"
local client = require "rfs.client"
require "rfs.stack" -- installs the Stack methods
require "rfs.lifecycle" -- create_stack, stacks, deploy, update, delete, resources, outputs, template
require "rfs.plans" -- create_plan, plan, plans and the ExecutionPlan methods
require "rfs.stack_sets" -- create_stack_set, stack_sets, stack_set and the StackSet methods
require "rfs.templates" -- create_template, templates, template and the Template methods

local rfs = {
  version = core.version,
  errors = require "rfs.errors",
  api = require "rfs.api",
  new = client.new,
}

--- rfs.sign{method, url, headers, body, ak, sk, security_token, date} -> the headers to send:
--  X-Sdk-Date, Authorization, Host (and X-Security-Token when a token is given).
--  Misuse (unknown key, wrong type, CR/LF in a header) raises, naming the argument.
local core_sign = core.sign
function rfs.sign(t)
  if type(t) ~= "table" then error("rfs.sign: expected a table, got " .. type(t), 2) end
  return (core_sign(t))
end

--- Waits on many stacks at once with one shared budget; see rfs.wait.
function rfs.wait_all(stacks, opts)
  return require("rfs.wait").wait_all(stacks, opts)
end

--- rfs.help([obj]): what you can do next with the module, a client, a stack, an error or a result.
function rfs.help(obj, out)
  return require("rfs.help").print(obj, out)
end

setmetatable(rfs, {
  __index = function(_, key)
    if key == "progress" then return require "rfs.progress" end
    if key == "retry" then return require "rfs.retry" end
  end,
})

return rfs
