-- An OpenResty control-plane endpoint for RFS stacks (see examples/nginx/nginx.conf).
--   GET  /stacks/NAME/metadata         -> the stack's metadata as JSON
--   POST /stacks/NAME/continue-deploy  -> 202 {deployment_id}; the wait runs in an ngx.timer job
--   GET  /stacks/NAME/job              -> the background job's progress and result
-- Credentials and the endpoint come from the environment (nginx `env` directives).
local cjson = require "cjson.safe"
local rfs = require "rfs"

local handler = {}

local client -- one per worker, made on first use (cosockets are pooled per worker)

local function get_client()
  if not client then
    client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT") }
  end
  return client
end

local function reply(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(body))
end

local function error_reply(err)
  local status = err.status or (err.kind == "timeout" and 504) or 502
  reply(status, { error = err.kind, message = err.message, code = err.code, request_id = err.request_id })
end

local function jobs() return ngx.shared.rfs_jobs end

local function record(name, t)
  local dict = jobs()
  if dict then dict:set(name, cjson.encode(t), 24 * 3600) end
end

-- The background job: wait for the deployment, recording progress and the result.
local function wait_job(premature, name, deployment_id, opts)
  if premature then return end
  local stack = get_client():stack(name)
  local last = { state = "waiting", deployment_id = deployment_id }
  local res, err = stack:wait{
    deployment_id = deployment_id, operation = "continue_deploy",
    interval = opts.interval, max_interval = opts.max_interval,
    on_progress = function(p)
      if p.type == "status" then
        last.status = p.status
        record(name, last)
        ngx.log(ngx.INFO, "rfs: ", name, " is ", p.status)
      end
    end,
  }
  if res then
    record(name, { state = "done", ok = res.ok, status = res.status, deployment_id = deployment_id,
                   polls = res.polls, summary = tostring(res) })
  else
    record(name, { state = "error", error = err.kind, message = err.message, deployment_id = deployment_id })
  end
end

function handler.metadata(name)
  local meta, err = get_client():stack(name):metadata()
  if not meta then return error_reply(err) end
  reply(200, meta)
end

function handler.continue_deploy(name, opts)
  local dep, err = get_client():stack(name):continue_deploy()
  if not dep then return error_reply(err) end
  record(name, { state = "queued", deployment_id = dep.deployment_id })
  local ok, terr = ngx.timer.at(0, wait_job, name, dep.deployment_id, opts or {})
  if not ok then ngx.log(ngx.ERR, "rfs: cannot start the wait job: ", terr) end
  reply(202, { deployment_id = dep.deployment_id, job = "/stacks/" .. name .. "/job" })
end

function handler.job(name)
  local dict = jobs()
  local v = dict and dict:get(name)
  if not v then return reply(404, { error = "not_found", message = "no job for " .. name }) end
  ngx.status = 200
  ngx.header["Content-Type"] = "application/json"
  ngx.say(v)
end

--- Routes /stacks/NAME/ACTION. Invalid stack names are refused before any request.
function handler.route(opts)
  local name, action = ngx.var.uri:match("^/stacks/([^/]+)/([%w-]+)$")
  if not name then return reply(404, { error = "not_found", message = "unknown path" }) end
  local ok, err = pcall(get_client().stack, get_client(), name)
  if not ok then return reply(400, { error = "bad_request", message = (tostring(err):gsub("^[^:]+:%d+: ", "")) }) end
  local method = ngx.req.get_method()
  if action == "metadata" and method == "GET" then return handler.metadata(name) end
  if action == "continue-deploy" and method == "POST" then return handler.continue_deploy(name, opts) end
  if action == "job" and method == "GET" then return handler.job(name) end
  reply(405, { error = "bad_request", message = method .. " " .. action .. " is not supported" })
end

return handler
