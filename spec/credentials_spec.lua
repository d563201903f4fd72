-- The credentials chain: which source wins, the profile file, the ECS metadata service
-- (fetch, refresh at the 40-minute mark, during a wait, after a 401), federation and
-- the project lookup at IAM, against the emulator's identity stand-ins on a fake clock.
local rfs = require "rfs"
local credentials = require "rfs.credentials"
local profile = require "rfs.credentials.profile"
local inproc = require "inproc"
local fake = require "fake_transport"

local function tmpfile(text, mode)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  os.execute("chmod " .. (mode or "600") .. " " .. path)
  return path
end

local function env_of(t)
  return function(k) return t[k] end
end

local SECRET = "profile-secret-key-do-not-show"

describe("the credentials chain", function()
  local files = {}
  after_each(function()
    for _, p in ipairs(files) do os.remove(p) end
    files = {}
  end)
  local function file(text, mode)
    local p = tmpfile(text, mode)
    files[#files + 1] = p
    return p
  end

  -- Each source, set up so that it alone would be complete.
  local function sources()
    local token = file("eyJhbGciOi.id-token")
    return {
      options = { opts = { ak = "OPTAK", sk = "optsk" } },
      env = { env = { HUAWEICLOUD_SDK_AK = "ENVAK", HUAWEICLOUD_SDK_SK = "envsk" } },
      ["env:HW_ACCESS_KEY"] = { env = { HW_ACCESS_KEY = "HWAK", HW_SECRET_KEY = "hwsk" } },
      federation = { env = { HUAWEICLOUD_SDK_IDP_ID = "idp", HUAWEICLOUD_SDK_ID_TOKEN_FILE = token } },
      profile = { env = { HUAWEICLOUD_SDK_CREDENTIALS_FILE = file("[basic]\nak = PROFAK\nsk = " .. SECRET .. "\n") } },
    }
  end
  local ORDER = { "options", "env", "env:HW_ACCESS_KEY", "federation", "profile" }

  local function resolve_with(names)
    local all = sources()
    local opts, env = {}, { HOME = "/nonexistent" }
    for _, n in ipairs(names) do
      for k, v in pairs(all[n].opts or {}) do opts[k] = v end
      for k, v in pairs(all[n].env or {}) do env[k] = v end
    end
    return credentials.resolve(opts, env_of(env))
  end

  it("takes each source alone, and the metadata service when none is set", function()
    for _, n in ipairs(ORDER) do
      local plan = resolve_with({ n })
      assert.equal(n, (plan.source:gsub(":/.*", ""):gsub("^profile:.*", "profile")), n)
    end
    local plan = resolve_with({})
    assert.equal("metadata", plan.source)
    assert.equal("http://169.254.169.254", plan.metadata_endpoint)
    assert.equal(4, #plan.tried)
  end)

  it("takes the earlier source of every pair", function()
    for i = 1, #ORDER do
      for j = i + 1, #ORDER do
        local plan = resolve_with({ ORDER[j], ORDER[i] })
        assert.equal(ORDER[i], (plan.source:gsub("^profile:.*", "profile")), ORDER[i] .. " + " .. ORDER[j])
      end
    end
  end)

  it("never mixes a key pair across sources; project and region come from the first that has them", function()
    local plan = credentials.resolve({ ak = "OPTAK", sk = "optsk" }, env_of{
      HUAWEICLOUD_SDK_SECURITY_TOKEN = "envtoken", HW_PROJECT_ID = "hwproject", HW_REGION_NAME = "cn-east-3" })
    assert.is_nil(plan.security_token)
    assert.equal("hwproject", plan.project_id)
    assert.equal("cn-east-3", plan.region)
    assert.error_matches(function() credentials.resolve({}, env_of{ HW_ACCESS_KEY = "A" }) end,
                         "has HW_ACCESS_KEY but not HW_SECRET_KEY")
    assert.error_matches(function() credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_IDP_ID = "i" }) end,
                         "HUAWEICLOUD_SDK_ID_TOKEN_FILE is not set")
  end)

  it("reads every profile key, names the file in the source, and prefers its federation keys", function()
    local p = file("; lua-rfs\n[global]\nak = X\n\n[basic]\nak = PROFAK\r\nsk=" .. SECRET
                   .. "\nproject_id = proj-1\niam_endpoint = http://127.0.0.1:9\n")
    local plan = credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = p })
    assert.same({ "PROFAK", SECRET, "proj-1", "http://127.0.0.1:9", "profile:" .. p },
                { plan.ak, plan.sk, plan.project_id, plan.iam_endpoint, plan.source })
    local fed = file("[basic]\nak = PROFAK\nsk = s\nidp_id = idp\nid_token_file = /t\n")
    plan = credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = fed })
    assert.equal("federation", plan.kind)
    assert.is_nil(plan.ak)
  end)

  it("refuses every malformed profile file, naming the file and the line and never the text", function()
    local cases = {
      { "[basic]\nak = A\n" .. SECRET .. "\n", 3, "expected 'key = value'" },
      { "ak = A\n[basic]\n", 1, "'ak' comes before any %[section%]" },
      { "[basic]\nak = A\nsk = " .. SECRET .. "\nak = B\n", 4, "'ak' is set twice" },
      { "[basic\nak = A\n", 1, "a section header must look like %[basic%]" },
      { "[basic]\n[basic]\n", 2, "appears twice" },
      { "[basic]\nak = A\nsk = a\1b\n", 3, "control character" },
    }
    for _, case in ipairs(cases) do
      local p = file(case[1])
      local ok, msg = pcall(credentials.resolve, {}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = p })
      assert.is_false(ok)
      assert.matches("malformed credentials file " .. p:gsub("%p", "%%%0") .. ", line " .. case[2] .. ": .*" .. case[3], msg)
      assert.not_matches(SECRET, msg, 1, true)
    end
    local half = file("[basic]\nak = A\n")
    assert.error_matches(function() credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = half }) end,
                         "%[basic%] has ak but not sk")
    -- no [basic] section, or no file: the chain moves on to the metadata service
    local global = file("[global]\nak = A\nsk = B\n")
    local plan = credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = global })
    assert.equal("metadata", plan.source)
    assert.matches("has no %[basic%] section", plan.tried[4])
    plan = credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = global .. ".missing" })
    assert.matches("does not exist", plan.tried[4])
  end)

  it("warns when others can read the profile file, and only then", function()
    local warned = {}
    local saved = profile.warn
    profile.warn = function(m) warned[#warned + 1] = m end
    local open = file("[basic]\nak = A1\nsk = " .. SECRET .. "\n", "644")
    local closed = file("[basic]\nak = A1\nsk = " .. SECRET .. "\n", "600")
    credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = closed })
    assert.equal(0, #warned)
    credentials.resolve({}, env_of{ HUAWEICLOUD_SDK_CREDENTIALS_FILE = open })
    profile.warn = saved
    assert.equal(1, #warned)
    assert.matches("can be read by other users %(mode 0644%); run chmod 600", warned[1])
    assert.not_matches(SECRET, warned[1], 1, true)
  end)
end)

-- A client on the in-process emulator whose keys come from its metadata stand-in.
local function metadata_world(settings)
  local w = inproc.new{ epoch = os.time(), queue_seconds = 2 }
  if settings then w:identity(settings) end
  local c
  -- no ak/sk anywhere: the chain ends at the metadata service (the emulator)
  local env = { HOME = "/nonexistent" }
  local old_resolve = credentials.resolve
  credentials.resolve = function(opts) return old_resolve(opts, env_of(env)) end
  local ok, err = pcall(function()
    c = rfs.new{ endpoint = "http://emulator.local", metadata_endpoint = "http://metadata.local",
                 project_id = inproc.PROJECT, transport = w.transport, sleep = w.sleep, clock = w.clock,
                 retry = { attempts = 3, base = 1, random = function() return 0.5 end } }
  end)
  credentials.resolve = old_resolve
  assert(ok, err)
  return w, c
end

local function count(w, path, status)
  local n = 0
  for _, r in ipairs(w:requests()) do
    if r.path == path and (status == nil or r.status == status) then n = n + 1 end
  end
  return n
end

describe("keys from the ECS metadata service", function()
  it("are fetched on the first request, not by rfs.new, and named in tostring without a secret", function()
    local w, c = metadata_world()
    assert.equal(0, w.calls)
    assert.matches("source=metadata", tostring(c))
    assert.matches("ak=%(fetched on the first request%)", tostring(c))
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local meta = assert(c:stack("web"):metadata())
    assert.equal("DEPLOYMENT_FAILED", meta.status)
    assert.equal(1, w:identity().token_requests)
    assert.equal(1, w:identity().metadata_fetches)
    assert.matches("ak=TMPA%.%.%., source=metadata%)$", tostring(c))
    for ak, rec in pairs(w.emu.identity.keys) do
      assert.not_matches(rec.sk, tostring(c), 1, true)
      assert.not_matches(rec.token, tostring(c), 1, true)
      assert.truthy(ak)
    end
  end)

  it("are fetched again before a request once fewer than 40 minutes are left", function()
    local w, c = metadata_world{ key_lifetime = 3600 }
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local stack = c:stack("web")
    assert(stack:metadata())
    w.t = w.t + 19 * 60 -- 41 minutes left
    assert(stack:metadata())
    assert.equal(1, w:identity().metadata_fetches)
    w.t = w.t + 2 * 60 -- 39 minutes left
    assert(stack:metadata())
    assert.equal(2, w:identity().metadata_fetches)
    assert(stack:metadata())
    assert.equal(2, w:identity().metadata_fetches)
    assert.equal(0, count(w, "/v1/" .. inproc.PROJECT .. "/stacks/web/metadata", 401))
  end)

  it("keep a six-hour wait signing with valid keys, across several refreshes", function()
    local w, c = metadata_world{ key_lifetime = 3600 }
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED", deploy_seconds = 6 * 3600 }
    local stack = c:stack("web")
    assert(stack:continue_deploy())
    local res = assert(stack:wait{ sleep = w.sleep, clock = w.clock, timeout = 7 * 3600 })
    assert.is_true(res.ok)
    assert.is_true(w:identity().metadata_fetches >= 6)
    local unauthorized = 0
    for _, r in ipairs(w:requests()) do
      if r.status == 401 then unauthorized = unauthorized + 1 end
    end
    assert.equal(0, unauthorized)
  end)

  it("are fetched again when RFS answers 401 for expired keys, and the call goes through", function()
    local w, c = metadata_world{ key_lifetime = 6 * 3600 }
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local stack = c:stack("web")
    assert(stack:metadata())
    w:identity{ expire_keys = true }
    assert(stack:continue_deploy())
    assert.equal(2, w:identity().metadata_fetches)
    assert.equal(1, count(w, "/v1/" .. inproc.PROJECT .. "/stacks/web/continuations", 401))
    assert.equal(1, w:applied("/continuations"))
  end)

  it("go on without a session token where the service has none (404)", function()
    local w, c = metadata_world{ token_mode = false }
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    assert(c:stack("web"):metadata())
    assert(c:stack("web"):metadata())
    assert.equal(1, w:identity().token_requests) -- asked once, not again for a day
  end)

  it("fail with every source tried and why when the server has no agency", function()
    local w, c = metadata_world{ agency = false }
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    local meta, err = c:stack("web"):metadata()
    assert.is_nil(meta)
    assert.equal("auth", err.kind)
    local text = tostring(err)
    for _, part in ipairs{ "options:", "environment:", "federation:", "profile:", "metadata:",
                           "Please configure Cloud Service Agency first" } do
      assert.matches(part, text, 1, true)
    end
    assert.equal(1, w:identity().metadata_fetches) -- not retried as a transient error
  end)
end)

describe("off ECS", function()
  it("fails fast: 2 s per metadata call, no retries, every source listed", function()
    local t = fake.new()
    t:fail("timeout", "Connection timed out after 2000 milliseconds", false)
    local old_resolve = credentials.resolve
    credentials.resolve = function(opts) return old_resolve(opts, env_of{ HOME = "/nonexistent" }) end
    local ok, c = pcall(rfs.new, { endpoint = "https://rfs.test.example", project_id = fake.PROJECT,
                                   transport = t.transport })
    credentials.resolve = old_resolve
    assert(ok, c)
    local meta, err = c:stack("web"):metadata()
    assert.is_nil(meta)
    assert.equal(1, #t.requests)
    assert.equal(2, t.requests[1].timeout)
    assert.equal("PUT", t.requests[1].method)
    assert.equal("http://169.254.169.254/meta-data/latest/api/token", t.requests[1].url)
    assert.equal("auth", err.kind)
    assert.matches("unable to get credentials from any source: options: no ak and sk given; environment: .*"
                   .. "federation: .*profile: /nonexistent/.huaweicloud/credentials does not exist; "
                   .. "metadata: PUT http://169.254.169.254/meta%-data/latest/api/token: Connection timed out", err.message)
  end)

  it("through libcurl, a metadata endpoint that refuses connections is a clear auth error", function()
    local closed = require("emulator_process").closed_port()
    local old_resolve = credentials.resolve
    credentials.resolve = function(opts) return old_resolve(opts, env_of{ HOME = "/nonexistent" }) end
    local c = rfs.new{ endpoint = "http://127.0.0.1:" .. closed, project_id = fake.PROJECT,
                       metadata_endpoint = "http://127.0.0.1:" .. closed, transport = "curl" }
    credentials.resolve = old_resolve
    local meta, err = c:stack("web"):metadata()
    assert.is_nil(meta)
    assert.equal("auth", err.kind)
    assert.matches("metadata: PUT http://127.0.0.1:" .. closed .. "/meta%-data/latest/api/token: .*network", err.message)
  end)
end)

describe("federation", function()
  it("exchanges the id token at IAM for temporary keys on the first request", function()
    local w = inproc.new{ epoch = os.time() }
    local token = tmpfile("header.payload.signature\n")
    local old_resolve = credentials.resolve
    credentials.resolve = function(opts)
      return old_resolve(opts, env_of{ HOME = "/nonexistent", HUAWEICLOUD_SDK_IDP_ID = "idp-emulator",
                                       HUAWEICLOUD_SDK_ID_TOKEN_FILE = token })
    end
    local c = rfs.new{ endpoint = "http://emulator.local", iam_endpoint = "http://iam.local", project_id = inproc.PROJECT,
                       transport = w.transport, sleep = w.sleep, clock = w.clock }
    credentials.resolve = old_resolve
    finally(function() os.remove(token) end)
    assert.equal(0, w.calls)
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    assert(c:stack("web"):metadata())
    assert.equal(1, w:identity().federation_exchanges)
    assert.equal(1, count(w, "/v3.0/OS-CREDENTIAL/securitytokens", 201))
    assert.matches("source=federation%)", tostring(c))
    assert.not_matches("payload", tostring(c), 1, true)
  end)
end)

describe("the project looked up at IAM", function()
  local function client_for(w, ak, projects)
    if projects then w:identity{ projects = { ["cn-north-4"] = projects } } end
    return rfs.new{ endpoint = "http://emulator.local", region = "cn-north-4", iam_endpoint = "http://iam.local",
                    ak = ak, sk = inproc.SK, transport = w.transport, sleep = w.sleep, clock = w.clock, retry = false }
  end

  it("uses the one project of the region, in paths and X-Project-Id, and caches it per AK and region", function()
    local w = inproc.new{ epoch = os.time() }
    w.emu.ak = "AKLOOKUP0000000001"
    local c = client_for(w, "AKLOOKUP0000000001", { inproc.PROJECT })
    assert.matches("project=%(looked up on the first request%)", tostring(c))
    w:seed{ project_id = inproc.PROJECT, stack_name = "web", status = "DEPLOYMENT_FAILED" }
    assert(c:stack("web"):metadata())
    assert.equal(inproc.PROJECT, c.project_id)
    assert.equal(1, w:identity().project_lookups)
    assert.equal(1, count(w, "/v1/" .. inproc.PROJECT .. "/stacks/web/metadata", 200))
    local c2 = client_for(w, "AKLOOKUP0000000001")
    assert(c2:stack("web"):metadata())
    assert.equal(1, w:identity().project_lookups)
  end)

  it("fills a looked-up project into the lifecycle operations built from the model", function()
    local w = inproc.new{ epoch = os.time() }
    w.emu.ak = "AKLOOKUP0000000009"
    local c = client_for(w, "AKLOOKUP0000000009", { inproc.PROJECT })
    local list, err = c:stacks()
    assert.is_nil(err)
    assert.equal(0, #list)
    assert.equal(inproc.PROJECT, c.project_id)
    assert.equal(1, count(w, "/v1/" .. inproc.PROJECT .. "/stacks", 200))
    local stack = assert(c:create_stack("made-after-lookup", { description = "no template" }))
    assert.is_string(stack.id)
    assert.equal(1, w:identity().project_lookups)
  end)

  it("says so when the region has no project, or several", function()
    local w = inproc.new{ epoch = os.time() }
    w.emu.ak = "AKLOOKUP0000000002"
    local c = client_for(w, "AKLOOKUP0000000002", {})
    local meta, err = c:stack("web"):metadata()
    assert.is_nil(meta)
    assert.equal("not_found", err.kind)
    assert.matches("failed to get project id of region 'cn%-north%-4' automatically, X%-IAM%-Trace%-Id=[%x%-]+", err.message)
    assert.matches("set project id manually", err.message)
    w.emu.ak = "AKLOOKUP0000000003"
    c = client_for(w, "AKLOOKUP0000000003", { "p-one-0001", "p-two-0002" })
    meta, err = c:stack("web"):metadata()
    assert.is_nil(meta)
    assert.matches("multiple project ids found: %[p%-one%-0001,p%-two%-0002%], X%-IAM%-Trace%-Id=[%x%-]+, please select one",
                   err.message)
    assert.equal(0, count(w, "/v1/{project_id}/stacks/web/metadata"))
  end)

  it("raises at rfs.new when there is neither a project nor a region to look it up with", function()
    assert.error_matches(function()
      rfs.new{ endpoint = "http://emulator.local", ak = "AK123", sk = "s", transport = function() end }
    end, "no project: pass project_id, set HUAWEICLOUD_SDK_PROJECT_ID, or pass region")
  end)
end)
