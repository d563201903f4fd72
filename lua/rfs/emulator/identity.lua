-- rfs.emulator.identity: the emulator's stand-ins for where temporary keys and project
-- ids come from, so specs exercise the credentials chain end to end:
--
--   PUT  /meta-data/latest/api/token           ECS metadata session token (IMDSv2-like)
--   GET  /openstack/latest/securitykey         temporary agency keys, expiring on a set schedule
--   POST /v3.0/OS-AUTH/id-token/tokens         federation: OIDC id token -> X-Subject-Token
--   POST /v3.0/OS-CREDENTIAL/securitytokens    federation: subject token -> temporary keys
--   GET  /v3/projects?name=REGION              IAM project lookup (signed)
--
-- Temporary keys are valid for RFS calls until their expires_at (emulated time); a call
-- signed with expired ones gets 401 APIG.0307. Control (loopback only):
--   POST /_emulator/identity {key_lifetime, token_mode, agency, idp_id, projects = {region = [ids]},
--                             expire_keys = true}
--   GET  /_emulator/identity  -> {metadata_fetches, token_requests, federation_exchanges, project_lookups, keys_issued}
-- Nothing secret is logged or echoed: answers name keys by nothing but their AK.

local cjson = require "cjson.safe"

local identity = {}

local PATHS = {
  ["/meta-data/latest/api/token"] = "token",
  ["/openstack/latest/securitykey"] = "securitykey",
  ["/v3.0/OS-AUTH/id-token/tokens"] = "id_token",
  ["/v3.0/OS-CREDENTIAL/securitytokens"] = "securitytokens",
  ["/v3/projects"] = "projects",
}

local DEFAULTS = { key_lifetime = 6 * 3600, token_mode = true, agency = true, idp_id = "idp-emulator" }

--- Whether a path is served here.
function identity.owns(path)
  return PATHS[path] ~= nil or path == "/_emulator/identity"
end

local function state(self)
  if not self.identity then
    self.identity = { keys = {}, tokens = {}, subjects = {}, settings = {}, counters = {
      metadata_fetches = 0, token_requests = 0, federation_exchanges = 0, project_lookups = 0, keys_issued = 0 } }
    for k, v in pairs(DEFAULTS) do self.identity.settings[k] = v end
  end
  return self.identity
end

local function json(status, body, headers)
  local h = { ["Content-Type"] = "application/json" }
  for k, v in pairs(headers or {}) do h[k] = v end
  return { status = status, headers = h, body = cjson.encode(body) }
end

local function iam_error(status, code, message)
  return json(status, { error = { code = code, message = message, title = "Emulated IAM" },
                        error_code = code, error_msg = message })
end

-- As the service sends it: UTC with microseconds (Python's SDK requires the fraction).
local function expires_text(t)
  local whole = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. (".%06dZ"):format(math.floor((t - whole) * 1e6 + 0.5) % 1000000)
end

local function random_text(self, n)
  return (self.uuid():gsub("-", "") .. self.uuid():gsub("-", "")):sub(1, n)
end

local function issue(self, id, t, lifetime)
  local n = id.counters.keys_issued + 1
  id.counters.keys_issued = n
  local ak = ("TMPAK%011d"):format(n)
  local rec = { sk = random_text(self, 40), token = "emu-sts-" .. random_text(self, 48), expires = t + lifetime }
  id.keys[ak] = rec
  return { credential = { access = ak, secret = rec.sk, securitytoken = rec.token,
                          expires_at = expires_text(rec.expires) } }
end

--- The secret of a temporary AK, for the signature check: sk | nil, why, error code.
function identity.secret_for(self, req, ak, t)
  local rec = self.identity and self.identity.keys[ak]
  if not rec then return nil, "unknown access key" end
  if req.headers["x-security-token"] ~= rec.token then
    return nil, "the security token does not belong to this access key"
  end
  if t >= rec.expires then return nil, "the security token has expired", "APIG.0307" end
  return rec.sk
end

local function control(req, id)
  if req.method == "GET" then return json(200, id.counters) end
  local body = cjson.decode(req.body or "")
  if type(body) ~= "table" then return iam_error(400, "AOS.00.0400", "the body is not a JSON object") end
  for k, v in pairs(body) do
    if k == "expire_keys" then
      for _, rec in pairs(id.keys) do rec.expires = -1 end
    elseif k == "projects" and type(v) == "table" then
      id.settings.projects = v
    elseif DEFAULTS[k] ~= nil and type(v) == type(DEFAULTS[k]) then
      id.settings[k] = v
    else
      return iam_error(400, "AOS.00.0400", "identity field " .. tostring(k) .. " is unknown or mistyped")
    end
  end
  return json(200, { ok = true })
end

local function projects(self, req, id)
  id.counters.project_lookups = id.counters.project_lookups + 1
  local why = self.verify(self, req)
  if why then return iam_error(401, "APIG.0301", "Incorrect IAM authentication information: " .. why) end
  local region = (req.query or ""):match("^name=([%w%-_]+)$") or (req.query or ""):match("[?&]name=([%w%-_]+)")
  if not region then return iam_error(400, "IAM.0001", "the query must be name={region}") end
  local ids = id.settings.projects and id.settings.projects[region]
  if ids == nil then ids = { self.project_id or "0123456789abcdef0123456789abcdef" } end
  local list = setmetatable({}, cjson.array_mt)
  for i, pid in ipairs(ids) do list[i] = { id = pid, name = region, enabled = true } end
  return json(200, { projects = list, links = { self = "emulated" } }, { ["X-IAM-Trace-Id"] = self.uuid() })
end

--- emu:handle for the identity paths. t: the emulated time (epoch seconds).
function identity.handle(self, req, t)
  local id = state(self)
  if req.path == "/_emulator/identity" then return control(req, id) end
  local what = PATHS[req.path]
  local s = id.settings
  if what == "token" and req.method == "PUT" then
    id.counters.token_requests = id.counters.token_requests + 1
    if not s.token_mode then return { status = 404, headers = {}, body = "Not Found" } end
    local ttl = tonumber(req.headers["x-metadata-token-ttl-seconds"] or "")
    if not ttl or ttl < 1 or ttl > 21600 then return { status = 400, headers = {}, body = "bad token TTL" } end
    local token = "emu-session-" .. random_text(self, 32)
    id.tokens[token] = t + ttl
    return { status = 200, headers = { ["Content-Type"] = "text/plain" }, body = token }
  elseif what == "securitykey" and req.method == "GET" then
    id.counters.metadata_fetches = id.counters.metadata_fetches + 1
    if s.token_mode then
      local until_t = id.tokens[req.headers["x-metadata-token"] or ""]
      if not until_t or until_t < t then return { status = 401, headers = {}, body = "Unauthorized" } end
    end
    if not s.agency then
      return iam_error(404, "ECS.0001", "Please configure Cloud Service Agency first")
    end
    return json(200, issue(self, id, t, s.key_lifetime))
  elseif what == "id_token" and req.method == "POST" then
    id.counters.federation_exchanges = id.counters.federation_exchanges + 1
    local body = cjson.decode(req.body or "")
    local jwt = type(body) == "table" and type(body.auth) == "table" and type(body.auth.id_token) == "table"
                and body.auth.id_token.id
    if req.headers["x-idp-id"] ~= s.idp_id then return iam_error(404, "IAM.1201", "the identity provider does not exist") end
    if type(jwt) ~= "string" or jwt == "" then return iam_error(400, "IAM.1202", "the id token is missing") end
    local subject = "emu-subject-" .. random_text(self, 32)
    id.subjects[subject] = t + 3600
    return json(201, { token = { expires_at = expires_text(t + 3600), methods = { "mapped" } } },
                { ["X-Subject-Token"] = subject })
  elseif what == "securitytokens" and req.method == "POST" then
    local body = cjson.decode(req.body or "")
    local tok = type(body) == "table" and type(body.auth) == "table" and type(body.auth.identity) == "table"
                and type(body.auth.identity.token) == "table" and body.auth.identity.token
    local until_t = tok and id.subjects[tok.id or ""]
    if not until_t or until_t < t then return iam_error(401, "IAM.0001", "the subject token is invalid or expired") end
    local lifetime = math.min(tonumber(tok.duration_seconds) or 900, s.key_lifetime)
    return json(201, issue(self, id, t, lifetime))
  elseif what == "projects" and req.method == "GET" then
    return projects(self, req, id)
  end
  return iam_error(405, "AOS.00.0400", "method not allowed on " .. req.path)
end

return identity
