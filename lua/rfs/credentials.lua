-- rfs.credentials: where a client's keys and project come from, as the official Huawei
-- Cloud SDKs find them. The first complete source wins:
--
--   1. options ak, sk (security_token)
--   2. environment HUAWEICLOUD_SDK_AK/SK/SECURITY_TOKEN, then HW_ACCESS_KEY/HW_SECRET_KEY/HW_SECURITY_TOKEN
--   3. federation: HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE (temporary keys from IAM)
--   4. the profile file ($HUAWEICLOUD_SDK_CREDENTIALS_FILE or ~/.huaweicloud/credentials, [basic])
--   5. the ECS/BMS metadata service (temporary agency keys)
--
-- credentials.resolve runs inside rfs.new and does no network I/O: sources that need the
-- network (federation, metadata, the project lookup) are fetched by credentials.ensure
-- before the first request, and temporary keys again once fewer than 40 minutes are left.
-- Keys go straight into the C client (client:_set_keys); this module never keeps them.

local errors = require "rfs.errors"
local profile = require "rfs.credentials.profile"
local fetch = require "rfs.credentials.fetch"

local credentials = {}

credentials.ENV = {
  ak = "HUAWEICLOUD_SDK_AK",
  sk = "HUAWEICLOUD_SDK_SK",
  security_token = "HUAWEICLOUD_SDK_SECURITY_TOKEN",
  project_id = "HUAWEICLOUD_SDK_PROJECT_ID",
  region = "HUAWEICLOUD_SDK_REGION",
}
-- the Terraform provider's names, which many Huawei Cloud users already export
credentials.HW_ENV = {
  ak = "HW_ACCESS_KEY",
  sk = "HW_SECRET_KEY",
  security_token = "HW_SECURITY_TOKEN",
  project_id = "HW_PROJECT_ID",
  region = "HW_REGION_NAME",
}

credentials.METADATA_ENDPOINT = "http://169.254.169.254"
credentials.REFRESH_BEFORE = 40 * 60 -- seconds of validity left when new keys are fetched

local function env_value(getenv, name)
  local v = getenv(name)
  if v == "" then return nil end
  return v
end

local function first(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil then return v end
  end
end

-- A key pair from one source, or nil and why not. Half a pair is misuse: raise.
local function pair(values, names, where)
  if values.ak and values.sk then return true end
  if values.ak or values.sk then
    error(("rfs.new: %s has %s but not %s: set both, or neither"):format(where,
          values.ak and names.ak or names.sk, values.ak and names.sk or names.ak), 4)
  end
  return false
end

local function home_path(path, getenv)
  local home = env_value(getenv, "HOME")
  if home and path:sub(1, #home + 1) == home .. "/" then return "~" .. path:sub(#home + 1) end
  return path
end

--- credentials.resolve(opts, getenv) -> plan. Raises on misuse (half a key pair, a
--  malformed profile file, no project and no region to look it up with).
--  plan = { source, kind = "static" | "federation" | "metadata", ak, sk, security_token,
--           project_id, region, iam_endpoint, idp_id, id_token_file, metadata_endpoint, tried }
function credentials.resolve(opts, getenv)
  getenv = getenv or os.getenv
  opts = opts or {}
  local tried = {}
  local plan = {
    region = first(opts.region, env_value(getenv, credentials.ENV.region), env_value(getenv, credentials.HW_ENV.region)),
    metadata_endpoint = opts.metadata_endpoint or env_value(getenv, "RFS_METADATA_ENDPOINT")
                        or credentials.METADATA_ENDPOINT,
    tried = tried,
  }
  local env_project = first(env_value(getenv, credentials.ENV.project_id), env_value(getenv, credentials.HW_ENV.project_id))
  local iam_env = env_value(getenv, "HUAWEICLOUD_SDK_IAM_ENDPOINT")

  local function take(kind, source, t)
    plan.kind, plan.source = kind, source
    for k, v in pairs(t) do plan[k] = v end
    plan.project_id = first(opts.project_id, env_project, t.project_id)
    plan.iam_endpoint = first(opts.iam_endpoint, iam_env, t.iam_endpoint)
    return plan
  end

  -- 1. options
  if pair(opts, { ak = "ak", sk = "sk" }, "rfs.new{}") then
    return take("static", "options", { ak = opts.ak, sk = opts.sk, security_token = opts.security_token })
  end
  tried[#tried + 1] = "options: no ak and sk given"

  -- 2. environment, the SDKs' names and then the Terraform provider's
  for _, names in ipairs({ credentials.ENV, credentials.HW_ENV }) do
    local v = { ak = env_value(getenv, names.ak), sk = env_value(getenv, names.sk) }
    if pair(v, names, "the environment") then
      return take("static", names == credentials.ENV and "env" or "env:HW_ACCESS_KEY",
                  { ak = v.ak, sk = v.sk, security_token = env_value(getenv, names.security_token) })
    end
  end
  tried[#tried + 1] = "environment: HUAWEICLOUD_SDK_AK/SK and HW_ACCESS_KEY/HW_SECRET_KEY are not set"

  -- 3. federation
  local idp, token_file = env_value(getenv, "HUAWEICLOUD_SDK_IDP_ID"), env_value(getenv, "HUAWEICLOUD_SDK_ID_TOKEN_FILE")
  if idp and token_file then
    return take("federation", "federation", { idp_id = idp, id_token_file = token_file })
  elseif idp or token_file then
    error("rfs.new: federation needs both HUAWEICLOUD_SDK_IDP_ID and HUAWEICLOUD_SDK_ID_TOKEN_FILE; "
          .. (idp and "HUAWEICLOUD_SDK_ID_TOKEN_FILE" or "HUAWEICLOUD_SDK_IDP_ID") .. " is not set", 3)
  end
  tried[#tried + 1] = "federation: HUAWEICLOUD_SDK_IDP_ID and HUAWEICLOUD_SDK_ID_TOKEN_FILE are not set"

  -- 4. the profile file
  local path = env_value(getenv, "HUAWEICLOUD_SDK_CREDENTIALS_FILE")
  if not path then
    local home = env_value(getenv, "HOME")
    path = home and (home .. "/.huaweicloud/credentials")
  end
  if path then
    local basic, why = profile.read(path)
    if basic then
      local shown = "profile:" .. home_path(path, getenv)
      if basic.idp_id or basic.id_token_file then
        if not (basic.idp_id and basic.id_token_file) then
          error(("rfs.new: %s: [basic] has %s but not %s"):format(path, basic.idp_id and "idp_id" or "id_token_file",
                basic.idp_id and "id_token_file" or "idp_id"), 3)
        end
        basic.ak, basic.sk, basic.security_token = nil, nil, nil
        return take("federation", "federation (" .. shown .. ")", basic)
      end
      if pair(basic, { ak = "ak", sk = "sk" }, path .. " [basic]") then
        return take("static", shown, basic)
      end
      why = home_path(path, getenv) .. " has no ak and sk in [basic]"
    end
    tried[#tried + 1] = "profile: " .. why
  else
    tried[#tried + 1] = "profile: HOME is not set and neither is HUAWEICLOUD_SDK_CREDENTIALS_FILE"
  end

  -- 5. the metadata service, on the first request
  return take("metadata", "metadata", {})
end

--- The IAM base URL for the project lookup and federation.
function credentials.iam_endpoint(plan, for_federation)
  if plan.iam_endpoint then return (plan.iam_endpoint:gsub("/+$", "")) end
  if plan.region and not for_federation and fetch.IAM_REGIONS[plan.region] then
    return "https://iam." .. plan.region .. ".myhuaweicloud.com"
  end
  return "https://iam.myhuaweicloud.com"
end

-- Runtime: fetching, refreshing, looking the project up --------------------------------

local function auth_error(message, retryable, extra)
  local e = errors.new{ kind = "auth", message = message, retryable = retryable or false,
                        hint = "see the Credentials section of the lua-rfs README" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

--- credentials.state(plan, clock) -> the per-client state credentials.ensure works on, or
--  nil when the keys and project are all known already (nothing to do on any request).
function credentials.state(plan, clock)
  local keys_later = plan.kind ~= "static"
  if not keys_later and plan.project_id then return nil end
  local now = clock()
  return {
    plan = plan, clock = clock, keys_pending = keys_later, project_pending = plan.project_id == nil,
    refreshable = keys_later, wall0 = os.time(), mono0 = now,
  }
end

local function wall_now(cr)
  return cr.wall0 + (cr.clock() - cr.mono0)
end

-- One fetch at a time per nginx worker: others wait for it (never blocking the worker).
local fetching = false
local function with_lock(fn)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.sleep) == "function" then
    local waited = 0
    while fetching and waited < 10 do
      ngx.sleep(0.01)
      waited = waited + 0.01
    end
  end
  fetching = true
  local ok, a, b = pcall(fn)
  fetching = false
  if not ok then error(a, 0) end
  return a, b
end

local function fetch_keys(cr, io)
  local plan = cr.plan
  if plan.kind == "metadata" then
    return fetch.metadata(plan.metadata_endpoint, io.metadata_transport(), cr)
  end
  return fetch.federation(credentials.iam_endpoint(plan, true), plan.idp_id, plan.id_token_file, io.transport)
end

local function refresh_keys(c, cr, io)
  local keys, why = with_lock(function() return fetch_keys(cr, io) end)
  local now = cr.clock()
  if not keys then
    if cr.expires_mono and now < cr.expires_mono then return true end -- the old keys still work
    local message
    if cr.plan.kind == "metadata" and not cr.expires_mono then
      local tried = {}
      for i, t in ipairs(cr.plan.tried) do tried[i] = t end
      tried[#tried + 1] = "metadata: " .. why
      message = "unable to get credentials from any source: " .. table.concat(tried, "; ")
    else
      message = "could not get temporary keys (" .. cr.plan.source .. "): " .. why
    end
    return nil, auth_error(message, cr.expires_mono ~= nil)
  end
  local left = keys.expires_at and (keys.expires_at - wall_now(cr)) or 3600
  c:_set_keys(keys.ak, keys.sk, keys.security_token, cr.plan.source)
  cr.expires_mono = now + left
  cr.refresh_at = now + left - credentials.REFRESH_BEFORE
  cr.keys_pending = false
  return true
end

-- Looked-up project ids, per AK (or IdP) and region, for the life of the process.
local project_cache = {}

local function lookup_project(c, cr, io)
  local plan = cr.plan
  if not plan.region then
    return nil, auth_error("no project id and no region to look it up with: pass project_id or region")
  end
  local key = (plan.ak or plan.idp_id or plan.metadata_endpoint) .. "\0" .. plan.region
  local id = project_cache[key]
  if not id then
    local why
    id, why = fetch.project(c, credentials.iam_endpoint(plan), plan.region, io.transport)
    if not id then return nil, why end
    project_cache[key] = id
  end
  c:_set_project(id)
  cr.project_pending = false
  if io.on_project then io.on_project(id) end
  return true
end

--- Before a request: keys fetched or refreshed, the project looked up. io = { transport,
--  metadata_transport = function() -> transport, on_project = function(id) }.
--  force: the service answered 401 for expired keys; fetch new ones now.
--  Returns true | nil, err.
function credentials.ensure(c, cr, io, force)
  if cr.keys_pending or force or (cr.refresh_at and cr.clock() >= cr.refresh_at) then
    if force then cr.expires_mono = nil end
    local ok, err = refresh_keys(c, cr, io)
    if not ok then return nil, err end
  end
  if cr.project_pending then
    local ok, err = lookup_project(c, cr, io)
    if not ok then return nil, err end
  end
  return true
end

--- Whether a 401 says the keys (or their security token) expired.
function credentials.expired_answer(err)
  if not err or err.status ~= 401 then return false end
  if err.code == "APIG.0307" or err.code == "APIGW.0307" then return true end
  local m = (err.message or ""):lower()
  return m:find("expire", 1, true) ~= nil
end

return credentials
