-- rfs.help: what you can do next, for people at a prompt (lua5.4 -i -l rfs, bin/rfs repl).

local help = {}

local TEXT = {
  module = [[
rfs.new{ region =, endpoint =, project_id =, ... }  -> client   (AK/SK from HUAWEICLOUD_SDK_AK/SK)
rfs.sign{ method, url, headers, body, ak, sk, date } -> the signing headers
rfs.wait_all(stacks, opts)                          -> a result per stack
rfs.progress.human() / rfs.progress.json()          -> on_progress renderers
rfs.help(obj)                                       -> what you can do with obj]],
  client = [[
client:stack(name [, { stack_id = uuid }])  -> stack (no request yet)
client:close()                               release the connection (also on collection)
client.endpoint, client.project_id, client.region]],
  stack = [[
stack:metadata()                  -> every field; refreshes stack.id and stack.status
stack:continue_deploy()           -> { deployment_id }   (needs DEPLOYMENT_FAILED)
stack:continue_rollback()         -> { deployment_id }   (needs ROLLBACK_FAILED)
stack:events{ deployment_id = }   -> events, newest first
stack:wait{ on_progress = rfs.progress.human() }  -> { ok, status, elapsed, polls, failures }
stack.name, stack.id, stack.status, stack.deployment_id]],
  error = [[
err.kind     auth forbidden invalid_state not_found conflict throttled server bad_request
             network timeout tls decode
err.status, err.code, err.message, err.details
err.request_id (sent Client-Request-Id), err.server_request_id (X-Request-Id)
err.retryable, err.retry_after; tostring(err) says what to do]],
  metadata = [[
meta.status, meta.status_message, meta.stack_id, meta.update_time, meta.enable_auto_rollback, ...
if meta.status == "DEPLOYMENT_FAILED" then stack:continue_deploy() end
if meta.status == "ROLLBACK_FAILED"   then stack:continue_rollback() end]],
  result = [[
res.ok, res.status, res.rolled_back, res.elapsed, res.polls
res.failures: { resource_name, event_type, event_message, time } for each failure event]],
}

local function kind_of(obj)
  if obj == nil then return "module" end
  local ok, name = pcall(function()
    local mt = getmetatable(obj)
    if type(mt) == "string" then
      return tostring(obj):match("^rfs%.Client") and "client" or (tostring(obj):match("^rfs%.Stack") and "stack")
    end
    return mt and mt.__name
  end)
  name = ok and name or nil
  if name == "client" or name == "stack" then return name end
  if name == "rfs.error" then return "error" end
  if name == "rfs.Metadata" then return "metadata" end
  if name == "rfs.WaitResult" then return "result" end
  return nil
end

--- The help text for obj (or the module); nil for things rfs does not know.
function help.text(obj)
  local k = kind_of(obj)
  return k and TEXT[k]
end

--- rfs.help([obj]) prints what you can do next.
function help.print(obj, out)
  local t = help.text(obj) or ("rfs.help: nothing to say about a " .. type(obj) .. "\n" .. TEXT.module)
  ;(out or io.stdout):write(t, "\n")
end

return help
