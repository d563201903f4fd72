-- Secrets: the SK and the security token never appear in anything a user, a log or a
-- terminal can see, and the C buffers that held them are wiped when a client is released.
local rfs = require "rfs"
local help = require "rfs.help"
local E = require "emulator_process"
local cjson = require "cjson"

local AK, SK, TOKEN = "AKSECRETSSPEC0001", "sk-9f2c41d7e5b3a8096c1f", "tok-3e8a5b1c7d9f2046a1b3"
local PROJECT = "0123456789abcdef0123456789abcdef"
local LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

local closed_port = E.closed_port

-- Every string reachable from v (table keys and values, tostring of userdata and tables
-- with metatables), so that a secret in any field is found, not only in tostring.
local function flatten(v, out, seen)
  out, seen = out or {}, seen or {}
  local t = type(v)
  if t == "table" then
    if seen[v] then return out end
    seen[v] = true
    if getmetatable(v) then out[#out + 1] = tostring(v) end
    for k, x in pairs(v) do
      flatten(k, out, seen)
      flatten(x, out, seen)
    end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

local function assert_clean(what, ...)
  local text = table.concat(flatten({ ... }), "\n")
  assert.is_nil(text:find(SK, 1, true), what .. " shows the SK")
  assert.is_nil(text:find(TOKEN, 1, true), what .. " shows the security token")
  -- a secret cut in half is still a leak
  assert.is_nil(text:find(SK:sub(4, 14), 1, true), what .. " shows part of the SK")
  assert.is_nil(text:find(TOKEN:sub(5, 15), 1, true), what .. " shows part of the token")
  return text
end

local function buffer()
  local b = { parts = {} }
  function b:write(...) for _, s in ipairs({ ... }) do self.parts[#self.parts + 1] = tostring(s) end end
  function b:text() return table.concat(self.parts) end
  return b
end

describe("secrets", function()
  local em

  setup(function() em = E.start{ ak = AK, sk = SK, time_scale = 200 } end)
  teardown(function() if em then em:stop() end end)
  before_each(function() em:reset() end)

  local function client(opts)
    local o = { endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, security_token = TOKEN, timeout = 5,
                retry = { attempts = 2, base = 0.01, cap = 0.02 } }
    for k, v in pairs(opts or {}) do o[k] = v end
    return rfs.new(o)
  end

  it("the check itself finds a secret in a nested field", function()
    assert.has_error(function() assert_clean("probe", { a = { b = "x" .. SK } }) end)
    assert.has_error(function() assert_clean("probe", setmetatable({}, { __tostring = function() return TOKEN end })) end)
  end)

  it("never appear in the objects of a whole recovery, its progress output or its results", function()
    em:seed{ project_id = PROJECT, stack_name = "s1", status = "DEPLOYMENT_FAILED", deploy_seconds = 20,
             outcome = "fail", resources = { "vpc", "ecs" } }
    local c = client()
    local stack = c:stack("s1")
    local meta = assert(stack:metadata())
    local dep = assert(stack:continue_deploy())
    local human, json = buffer(), buffer()
    local h, j = rfs.progress.human{ out = human }, rfs.progress.json{ out = json }
    local res = assert(stack:wait{ timeout = 30, interval = 0.1, max_interval = 0.2,
                                   on_progress = function(p) h(p) j(p) end })
    assert.is_false(res.ok)
    local events = assert(stack:events{ deployment_id = dep.deployment_id })
    assert.is_true(#events > 0)
    local text = assert_clean("the session", c, stack, meta, dep, res, events, human:text(), json:text(),
                              help.text(c), help.text(stack), help.text(meta), help.text(res))
    assert.matches("DEPLOYMENT_FAILED", text) -- it did look at real output
    assert.matches("AKSE", tostring(c), 1, true) -- the AK prefix is shown, as documented
    assert.is_nil(c.sk)
    assert.is_nil(c.security_token)
    assert.is_nil(stack.sk)
  end)

  it("never appear in errors of any kind", function()
    em:seed{ project_id = PROJECT, stack_name = "s1", status = "DEPLOYMENT_COMPLETE" }
    local errs = {}
    local function keep(_, err)
      assert.truthy(err)
      errs[#errs + 1] = err
    end
    keep(client():stack("s1"):continue_deploy())                                      -- invalid_state
    keep(client():stack("missing"):metadata())                                        -- not_found
    keep(client{ sk = "other-" .. SK }:stack("s1"):metadata())                         -- auth
    keep(client{ endpoint = "http://127.0.0.1:" .. closed_port() }:stack("s1"):metadata()) -- network
    em:fault{ status = 200, body = "<html>" .. SK .. "</html>", count = 1 }            -- decode
    keep(client():stack("s1"):metadata())
    em:fault{ status = 503, count = 2, body = '{"error_code":"AOS.00.0503","error_msg":"busy"}' }
    keep(client():stack("s1"):metadata())                                              -- server
    em:fault{ delay = 1, status = 200, count = 2 }
    keep(client{ timeout = 0.2 }:stack("s1"):metadata())                               -- timeout
    local kinds = {}
    for _, e in ipairs(errs) do kinds[#kinds + 1] = e.kind end
    assert.same({ "invalid_state", "not_found", "auth", "network", "decode", "server", "timeout" }, kinds)
    -- the decode error may quote the body it could not read, but the server put the SK
    -- there, so only the client-side strings are checked for that one
    table.remove(errs, 5)
    assert_clean("the errors", errs)
  end)

  it("never appear in misuse errors, even when the secret is the bad value", function()
    local msgs = {}
    local function catch(fn)
      local ok, e = pcall(fn)
      assert.is_false(ok)
      msgs[#msgs + 1] = tostring(e)
    end
    catch(function() rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, colour = SK } end)
    catch(function() rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = { SK } } end)
    catch(function() rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK .. "\r\n" } end)
    catch(function() rfs.new{ endpoint = em.url, project_id = PROJECT, ak = AK, sk = SK, security_token = TOKEN .. "\n" } end)
    catch(function() rfs.new{ endpoint = "https://" .. AK .. ":" .. SK .. "@rfs.example.com", project_id = PROJECT,
                              ak = AK, sk = SK } end)
    catch(function() rfs.new{ endpoint = em.url, project_id = SK .. "/", ak = AK, sk = SK } end)
    catch(function() client():stack(SK .. "!") end)
    catch(function() rfs.sign{ method = "GET", url = "https://h/x", ak = AK, sk = SK, headers = { ["X-A"] = TOKEN .. "\n" } } end)
    -- values the caller chose to pass as names are theirs to see; only the secret
    -- arguments are checked here
    assert.matches("https://***@rfs.example.com", msgs[5], 1, true) -- user:password@ is masked
    table.remove(msgs, 7)
    table.remove(msgs, 6)
    assert_clean("misuse errors", msgs)
    assert.equal(6, #msgs)
  end)

  it("never appear in the emulator's log or output", function()
    em:seed{ project_id = PROJECT, stack_name = "s1", status = "DEPLOYMENT_FAILED" }
    assert(client():stack("s1"):continue_deploy())
    local f = assert(io.open(em.outfile))
    local out = f:read("*a")
    f:close()
    local log = em:requests()
    assert.is_true(#log > 0)
    assert_clean("the emulator", cjson.encode(log), out)
  end)
end)

describe("C buffers that held a secret", function()
  local dir

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    assert(os.execute(("gcc -shared -fPIC -o %s/spy.so spec/tools/cleanse_spy.c"):format(dir)))
  end)
  teardown(function() os.execute("rm -rf " .. dir) end)

  it("are handed to OPENSSL_cleanse when a client is closed or collected, and the HMAC key after each signature",
     function()
    local script = dir .. "/child.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local rfs = require "rfs"
local function mark(s) io.stderr:write("mark: ", s, "\n") end
local function new()
  return rfs.new{ endpoint = "http://127.0.0.1:]] .. closed_port() .. [[", project_id = "proj123", ak = "AKSPY",
                  sk = os.getenv("RFS_SPY_SK"), security_token = os.getenv("RFS_SPY_TOKEN"),
                  timeout = 2, retry = { attempts = 1 } }
end
local c = new()
mark("made")
local _, err = c:stack("s1"):metadata()
mark("request " .. tostring(err and err.kind))
c:close()
mark("closed")
c:close()
mark("closed again")
do local _ = new() end
collectgarbage()
collectgarbage()
mark("collected")
]])
    f:close()
    local cmd = ("RFS_SPY_SK=%s RFS_SPY_TOKEN=%s LD_PRELOAD=%s/spy.so LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' "
                 .. "LUA_CPATH='./build/%s/?.so;;' %s %s 2>&1"):format(SK, TOKEN, dir, LUA, LUA, script)
    local p = assert(io.popen(cmd))
    local out = p:read("*a")
    p:close()
    assert.is_nil(out:find(SK, 1, true))
    local expected = table.concat({
      "mark: made",
      "cleanse-spy: sk hmac-key", -- the signature's key block
      "mark: request network",
      "cleanse-spy: sk buffer",
      "cleanse-spy: token buffer",
      "mark: closed",
      "mark: closed again", -- release is idempotent
      "cleanse-spy: sk buffer",
      "cleanse-spy: token buffer",
      "mark: collected",
    }, "\n") .. "\n"
    assert.equal(expected, out)
  end)
end)

describe("secrets from the profile file, the metadata service and federation", function()
  local credentials = require "rfs.credentials"
  local inproc = require "inproc"

  local function with_env(env, fn)
    local saved = credentials.resolve
    credentials.resolve = function(opts) return saved(opts, function(k) return env[k] end) end
    local ok, a, b = pcall(fn)
    credentials.resolve = saved
    assert(ok, a)
    return a, b
  end

  local function assert_none(what, text, secrets)
    for _, s in ipairs(secrets) do
      assert.is_nil(text:find(s, 1, true), what .. " shows a secret")
      assert.is_nil(text:find(s:sub(3, 14), 1, true), what .. " shows part of a secret")
    end
  end

  it("never appear in profile errors and warnings, even on the line that is malformed", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("[basic]\nak = ", AK, "\n", SK, "\nsecurity_token = ", TOKEN, "\n")
    f:close()
    os.execute("chmod 644 " .. path)
    local ok, msg = pcall(with_env, { HUAWEICLOUD_SDK_CREDENTIALS_FILE = path }, function()
      return rfs.new{ endpoint = "https://rfs.test.example", project_id = PROJECT }
    end)
    assert.is_false(ok)
    assert_clean("a malformed profile's error", msg)
    f = assert(io.open(path, "w"))
    f:write("[basic]\nak = ", AK, "\nsk = ", SK, "\nsecurity_token = ", TOKEN, "\n")
    f:close()
    local warned = {}
    local profile = require "rfs.credentials.profile"
    local saved = profile.warn
    profile.warn = function(m) warned[#warned + 1] = m end
    local c = with_env({ HUAWEICLOUD_SDK_CREDENTIALS_FILE = path }, function()
      return rfs.new{ endpoint = "https://rfs.test.example", project_id = PROJECT, transport = function() end }
    end)
    profile.warn = saved
    os.remove(path)
    assert.equal(1, #warned)
    assert_clean("a profile client and its warning", c, warned, help.text and help.text(c) or "")
  end)

  it("never appear in a metadata client, its errors, its wait or the emulator's log", function()
    local w = inproc.new{ epoch = os.time() }
    w:identity{ key_lifetime = 1800 } -- every request refreshes: many keys issued
    local c = with_env({ HOME = "/nonexistent" }, function()
      return rfs.new{ endpoint = "http://emulator.local", metadata_endpoint = "http://metadata.local",
                      project_id = PROJECT, transport = w.transport, sleep = w.sleep, clock = w.clock }
    end)
    w:seed{ project_id = PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED", deploy_seconds = 3600 }
    local stack = c:stack("web")
    local out = buffer()
    local dep = assert(stack:continue_deploy())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock, on_progress = rfs.progress.json{ out = out } })
    local _, err = stack:continue_deploy()
    w:identity{ expire_keys = true, agency = false }
    local _, err2 = stack:metadata()
    local secrets = {}
    for _, rec in pairs(w.emu.identity.keys) do
      secrets[#secrets + 1] = rec.sk
      secrets[#secrets + 1] = rec.token
    end
    for token in pairs(w.emu.identity.tokens) do secrets[#secrets + 1] = token end
    assert.is_true(#secrets >= 6)
    local log = cjson.encode(w:requests())
    local text = table.concat(flatten({ c, stack, dep, res, err, err2, out:text(), log }), "\n")
    assert.equal("auth", err2.kind)
    assert_none("a metadata client's objects, errors and log", text, secrets)
  end)

  it("never appear in a federated client or the errors of a failed exchange", function()
    local w = inproc.new{ epoch = os.time() }
    local jwt = "eyJhbGciOiJSUzI1NiJ9.secret-claims-0123456789.signature-abcdef"
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(jwt)
    f:close()
    local function client(idp)
      return with_env({ HOME = "/nonexistent", HUAWEICLOUD_SDK_IDP_ID = idp, HUAWEICLOUD_SDK_ID_TOKEN_FILE = path },
                      function()
        return rfs.new{ endpoint = "http://emulator.local", iam_endpoint = "http://iam.local", project_id = PROJECT,
                        transport = w.transport, sleep = w.sleep, clock = w.clock, retry = false }
      end)
    end
    w:seed{ project_id = PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local good = client("idp-emulator")
    local meta = assert(good:stack("web"):metadata())
    local _, err = client("idp-unknown"):stack("web"):metadata()
    os.remove(path)
    assert.equal("auth", err.kind)
    local secrets = { jwt }
    for _, rec in pairs(w.emu.identity.keys) do
      secrets[#secrets + 1] = rec.sk
      secrets[#secrets + 1] = rec.token
    end
    for subject in pairs(w.emu.identity.subjects) do secrets[#secrets + 1] = subject end
    local text = table.concat(flatten({ good, meta, err, cjson.encode(w:requests()) }), "\n")
    assert_none("a federated client, its errors and the log", text, secrets)
  end)
end)
