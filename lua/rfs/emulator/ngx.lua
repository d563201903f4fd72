-- rfs.emulator.ngx: the emulator as an nginx content handler (lua-nginx-module), for
-- OpenResty tests and benchmarks: the same state machine as bin/rfs-emulator, served by
-- nginx's own HTTP/1.1 (keep-alive, TLS if the server block has it).
--
--   worker_processes 1;     # the stacks live in the worker: one worker, one emulator
--   http {
--     init_worker_by_lua_block {
--       require("rfs.emulator.ngx").init{ ak = "AK", sk = "SK", time_scale = 10 }
--     }
--     server {
--       listen 127.0.0.1:8080;
--       client_max_body_size 2m;   # bodies over 1 MiB get the emulator's RFS-shaped 413
--       location / { content_by_lua_block { require("rfs.emulator.ngx").serve() } }
--     }
--   }
--
-- init{} takes what rfs.emulator.new takes (ak, sk, time_scale, queue_seconds, project_id);
-- AK and SK default to HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (declare them with `env`).
-- Faults work as with the luasocket server: delay (ngx.sleep, the worker keeps serving),
-- drop (the connection is closed without an answer), truncate (half the body, then close).

local emulator = require "rfs.emulator"
local http = require "rfs.emulator.http"

local ngx = ngx

local M = {}
local instance

local function clock()
  ngx.update_time()
  return ngx.now()
end

--- Makes this worker's emulator. Call it from init_worker_by_lua (or before the first serve()).
function M.init(opts)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.ak = o.ak or os.getenv("HUAWEICLOUD_SDK_AK")
  o.sk = o.sk or os.getenv("HUAWEICLOUD_SDK_SK")
  if not o.ak or not o.sk then
    error("rfs.emulator.ngx.init: pass ak and sk, or set HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK "
          .. "(and declare them with nginx's env directive)", 2)
  end
  o.clock = o.clock or clock
  instance = emulator.new(o)
  return instance
end

--- This worker's emulator (nil before init).
function M.emulator()
  return instance
end

-- The request body as the state machine wants it, or nil and a rejection. nginx keeps a
-- body in memory or, past client_body_buffer_size, in a file; the limit is the same.
local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  local file = not body and ngx.req.get_body_file()
  if file then
    local f = io.open(file, "rb")
    if not f then return nil, 500, "the request body could not be read" end
    body = f:read(http.MAX_BODY_BYTES + 1)
    f:close()
  end
  body = body or ""
  if #body > http.MAX_BODY_BYTES then return nil, 413, "the request body is larger than 1 MiB" end
  return body
end

local function request_headers()
  local headers = {}
  for name, value in pairs(ngx.req.get_headers(100)) do
    headers[name:lower()] = type(value) == "table" and table.concat(value, ", ") or value
  end
  return headers
end

local function respond(resp)
  if resp.delay and resp.delay > 0 then ngx.sleep(resp.delay) end
  if resp.drop then return ngx.exit(444) end -- nginx closes the connection, says nothing
  local body = resp.body or ""
  ngx.status = resp.status
  for k, v in pairs(resp.headers or {}) do ngx.header[k] = v end
  if resp.status ~= 204 then ngx.header["Content-Length"] = #body end
  if resp.truncate then
    ngx.print(body:sub(1, #body - math.ceil(#body / 2)))
    ngx.flush(true)
    return ngx.exit(444)
  end
  ngx.print(body)
end

--- The content handler: answers the current request from this worker's emulator.
function M.serve()
  if not instance then
    error("rfs.emulator.ngx.serve: call rfs.emulator.ngx.init{ ak =, sk = } first (init_worker_by_lua)", 2)
  end
  instance:tick()
  local body, status, message = read_body()
  if not body then return respond(instance:reject(status, message)) end
  local target = ngx.var.request_uri
  local path, query = target:match("^([^?#]*)%??([^#]*)")
  local req = {
    method = ngx.req.get_method(), target = target, path = path, query = query or "",
    version = ("%.1f"):format(ngx.req.http_version() or 1.1), headers = request_headers(), body = body,
    peer = ngx.var.remote_addr, connection = tonumber(ngx.var.connection), scheme = ngx.var.scheme,
  }
  -- an error in the emulator answers this request 500 (RFS-shaped), as the luasocket server does
  local ok, resp = pcall(instance.handle, instance, req)
  return respond(ok and resp or instance:reject(500, "internal error"))
end

return M
