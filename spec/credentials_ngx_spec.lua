-- Metadata keys inside a real nginx: the client is built in init_worker (no I/O there),
-- keys are fetched and refreshed through cosockets on requests, and a 401 for expired
-- keys is answered by a refresh, against the emulator standing in for RFS and the metadata service.
local socket = require "socket"
local cjson = require "cjson"
local nginx = require "nginx"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKNGINXCREDS00001", "nginx-creds-secret", "0123456789abcdef0123456789abcdef"
local ROOT = io.popen("pwd"):read("*l")

local function get(port, path)
  local c = assert(socket.connect("127.0.0.1", port))
  c:settimeout(20)
  assert(c:send(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n"):format(path)))
  local status = tonumber(assert(c:receive("*l")):match("^HTTP/1%.%d (%d+)"))
  repeat local line = assert(c:receive("*l")) until line == ""
  local body = c:receive("*a")
  c:close()
  return status, body
end

if nginx.missing("metadata keys in OpenResty", "credentials over cosockets") then return end

describe("metadata keys inside nginx", function()
  local em, server

  local function identity(body)
    local status, data = E.request(em.url .. "/_emulator/identity", body and "POST" or "GET",
                                   body and cjson.encode(body) or nil)
    assert(status == 200, data)
    return cjson.decode(data)
  end

  local function statuses(path)
    local list = {}
    for _, r in ipairs(em:requests()) do
      if r.path == path then list[#list + 1] = r.status end
    end
    return list
  end

  setup(function()
    em = E.start{ ak = AK, sk = SK }
    em:seed{ project_id = PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local lua_path = ("%s/lua/?.lua;%s/lua/?/init.lua;;"):format(ROOT, ROOT)
    server = nginx.start{
      env = { RFS_ENDPOINT = em.url, RFS_METADATA_ENDPOINT = em.url },
      main = "env RFS_ENDPOINT; env RFS_METADATA_ENDPOINT;",
      http = ([[
        lua_package_path "%s";
        lua_package_cpath "%s/build/luajit/?.so;;";
        init_worker_by_lua_block {
          local rfs = require "rfs"
          package.loaded.spec_client = rfs.new{ endpoint = os.getenv("RFS_ENDPOINT"), project_id = "%s" }
        }
        server {
          listen 127.0.0.1:$PORT;
          location = /client { content_by_lua_block { ngx.say(tostring(package.loaded.spec_client)) } }
          location = /meta {
            content_by_lua_block {
              local meta, err = package.loaded.spec_client:stack("web"):metadata()
              ngx.say(require("cjson").encode(meta and { status = meta.status } or { error = tostring(err) }))
            }
          }
        }
      ]]):format(lua_path, ROOT, PROJECT),
    }
  end)

  teardown(function()
    if server then server:stop() end
    if em then em:stop() end
  end)

  it("builds the client in init_worker without fetching anything", function()
    local _, body = get(server.ports[1], "/client")
    assert.matches("ak=%(fetched on the first request%), source=metadata%)", body)
    assert.equal(0, identity().metadata_fetches)
  end)

  it("fetches keys on the first request and again once fewer than 40 minutes are left", function()
    identity{ key_lifetime = 1800 } -- 30 minutes: every request must renew them first
    for _ = 1, 3 do
      local status, body = get(server.ports[1], "/meta")
      assert.equal(200, status)
      assert.equal("DEPLOYMENT_FAILED", cjson.decode(body).status, body)
    end
    local counters = identity()
    assert.equal(3, counters.metadata_fetches)
    assert.equal(3, counters.token_requests)
    assert.same({ 200, 200, 200 }, statuses("/v1/" .. PROJECT .. "/stacks/web/metadata"))
  end)

  it("answers a 401 for expired keys by fetching new ones, and the call goes through", function()
    identity{ key_lifetime = 6 * 3600 }
    assert.equal(200, (get(server.ports[1], "/meta"))) -- renews (the last keys had 30 minutes)
    local before = identity().metadata_fetches
    assert.equal(200, (get(server.ports[1], "/meta"))) -- six hours left: no fetch
    assert.equal(before, identity().metadata_fetches)
    identity{ expire_keys = true }
    local status, body = get(server.ports[1], "/meta")
    assert.equal(200, status)
    assert.equal("DEPLOYMENT_FAILED", cjson.decode(body).status, body)
    assert.equal(before + 1, identity().metadata_fetches)
    local seen = statuses("/v1/" .. PROJECT .. "/stacks/web/metadata")
    assert.same({ 401, 200 }, { seen[#seen - 1], seen[#seen] })
    assert.not_matches(SK, body, 1, true)
  end)
end)
