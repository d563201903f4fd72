-- OpenResty: requests per second of an nginx endpoint that calls stack:metadata() through
-- the cosocket transport (signed, keep-alive pool to an upstream serving fixed metadata),
-- vs the same nginx endpoint serving that JSON directly. wrk drives both over loopback.
--   lua5.4 bench/openresty_bench.lua SECONDS [ROUNDS]
-- The three endpoints run in turns, ROUNDS times (default 3), and each keeps its best round.
-- Prints one line: "openresty (luajit): ours X req/s, baseline Y req/s (...), ratio R".
local nginx = require "nginx"

local seconds = tonumber(arg[1]) or 3
local rounds = tonumber(arg[2]) or 3
local ok, why = nginx.available()
if not ok then
  print("openresty: skipped, " .. why)
  return
end
if not nginx.shell_ok("command -v wrk >/dev/null 2>&1") then
  print("openresty: skipped, wrk is not installed (apt-get install wrk)")
  return
end

local JSON = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3","stack_name":"my-stack","status":"DEPLOYMENT_COMPLETE",'
  .. '"description":"fixed","enable_auto_rollback":false,"enable_deletion_protection":false,"agencies":[],'
  .. '"create_time":"2026-11-24T00:00:00Z","update_time":"2026-11-24T00:00:00Z"}'
local root = io.popen("pwd"):read("*l")

-- the service side: fixed metadata, its own worker
local upstream = nginx.start{ http = ([[
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$PORT; location / { default_type application/json; return 200 '%s'; } }]]):format(JSON) }

-- the endpoint under test, one worker
local front = nginx.start{ http = ([[
  keepalive_requests 10000000;
  upstream rfs_upstream { server 127.0.0.1:%d; keepalive 16; }
  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;;";
  lua_package_cpath "%s/build/luajit/?.so;;";
  init_worker_by_lua_block {
    local rfs = require "rfs"
    STACK = rfs.new{ endpoint = "http://127.0.0.1:%d", project_id = "proj123", ak = "AKBENCH",
                     sk = "bench-secret", retry = false }:stack("my-stack")
  }
  server {
    listen 127.0.0.1:$PORT;
    location = /meta {
      default_type application/json;
      content_by_lua_block {
        local meta, err = STACK:metadata()
        if not meta then ngx.status = 502 ngx.say(tostring(err)) return end
        ngx.print(require("cjson").encode(meta))
      }
    }
    location = /fixed { default_type application/json; return 200 '%s'; }
    location = /proxy {
      proxy_pass http://rfs_upstream/v1/proj123/stacks/my-stack/metadata;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }]]):format(upstream.port, root, root, root, upstream.port, JSON) }

local function rps(path)
  local p = io.popen(("wrk -t1 -c16 -d%ds http://127.0.0.1:%d%s 2>&1"):format(seconds, front.port, path))
  local out = p:read("*a")
  p:close()
  local non2xx = out:match("Non%-2xx or 3xx responses: (%d+)")
  if non2xx then error("wrk: " .. non2xx .. " failed responses on " .. path .. ":\n" .. front:log()) end
  local socket_errors = out:match("Socket errors:([^\n]*)")
  if socket_errors and socket_errors:find("[1-9]") then
    error("wrk: socket errors on " .. path .. ":" .. socket_errors .. "\n" .. front:log())
  end
  return tonumber(out:match("Requests/sec:%s*([%d%.]+)")) or error("wrk printed no rate:\n" .. out)
end

local good, res = pcall(function()
  local sanity = io.popen(("curl -s http://127.0.0.1:%d/meta"):format(front.port)):read("*a")
  assert(sanity:find('"DEPLOYMENT_COMPLETE"', 1, true), "the /meta endpoint answered: " .. sanity .. front:log())
  rps("/meta") -- warm up both workers and the connection pool
  local best = { ours = 0, base = 0, proxy = 0 }
  for _ = 1, rounds do
    best.ours = math.max(best.ours, rps("/meta"))
    best.base = math.max(best.base, rps("/fixed"))
    best.proxy = math.max(best.proxy, rps("/proxy"))
  end
  return best
end)
front:stop()
upstream:stop()
if not good then
  print("openresty: failed, " .. tostring(res):gsub("\n", " "):sub(1, 300))
  os.exit(1)
end
print(("openresty (luajit): ours %.0f req/s (endpoint calling stack:metadata() over cosockets), baseline %.0f req/s "
       .. "(the same nginx endpoint serving the fixed JSON, best of %d), ratio %.2f"):format(res.ours, res.base, rounds,
                                                                                    res.ours / res.base))
-- The practical limit for an endpoint that makes one upstream request per request:
-- nginx's own proxy_pass over a keep-alive upstream pool to the same fixed metadata.
print(("openresty vs proxy_pass (luajit): ours %.0f req/s, baseline %.0f req/s (nginx proxy_pass to the same "
       .. "upstream, keep-alive, no signing, best of %d), ratio %.2f (target 0.50)"):format(res.ours, res.proxy, rounds,
                                                                                      res.ours / res.proxy))
