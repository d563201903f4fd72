-- rfs.credentials.fetch: the network side of the credentials chain, through the
-- client's transport (cosockets inside OpenResty, libcurl elsewhere):
--
--   metadata    PUT {base}/meta-data/latest/api/token, GET {base}/openstack/latest/securitykey
--   federation  POST {iam}/v3.0/OS-AUTH/id-token/tokens, POST {iam}/v3.0/OS-CREDENTIAL/securitytokens
--   project     signed GET {iam}/v3/projects?name={region}
--
-- Each returns its result or nil and one line saying why, never a key, token or signature.

local cjson = require "cjson.safe"
local core = require "rfs.core"
local errors = require "rfs.errors"

local fetch = {}

fetch.METADATA_TIMEOUT = 2          -- seconds per metadata call: off ECS, fail fast
fetch.IAM_TIMEOUT = 10
fetch.TOKEN_TTL = "21600"
fetch.NO_TOKEN_RETRY = 24 * 3600    -- token mode unsupported: ask again a day later
fetch.FEDERATION_SECONDS = 21600

-- The official SDKs' IAM endpoint table: https://iam.{region}.myhuaweicloud.com
fetch.IAM_REGIONS = {}
for _, r in ipairs{ "cn-north-1", "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-12", "cn-east-2", "cn-east-3",
                    "cn-east-4", "cn-east-5", "cn-south-1", "cn-south-2", "cn-southwest-2", "ap-southeast-1",
                    "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "af-south-1", "sa-brazil-1", "la-south-2",
                    "la-north-2", "na-mexico-1", "eu-west-0", "my-kualalumpur-1", "ru-moscow-1", "me-east-1",
                    "ae-ad-1", "tr-west-1" } do
  fetch.IAM_REGIONS[r] = true
end

local function host_of(url)
  return url:match("^https?://([^/?#]+)")
end

local function request(transport, method, url, headers, body, timeout)
  headers = headers or {}
  headers.Host = headers.Host or host_of(url)
  local res, kind, message = transport{
    method = method, url = url, headers = headers, body = body or "",
    timeout = timeout, connect_timeout = timeout, verify_tls = true,
  }
  if not res then
    return nil, ("%s %s: %s (%s)"):format(method, url, errors.printable(message or kind), kind or "network")
  end
  res.headers = res.headers or {}
  res.body = res.body or ""
  return res
end

-- One line from an error answer: status and the service's message, cut short.
local function answer_line(method, url, res)
  local t = cjson.decode(res.body)
  local msg
  if type(t) == "table" then
    local e = type(t.error) == "table" and t.error or t
    msg = e.error_msg or e.message or e.errorMsg
    if type(msg) ~= "string" then msg = nil end
  end
  msg = msg or res.body
  return ("%s %s answered HTTP %d: %s"):format(method, url, res.status, errors.printable(msg:sub(1, 200)))
end

--- "2020-01-08T03:50:07.574000Z" (fraction optional) -> epoch seconds, or nil.
function fetch.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, frac = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(%.?%d*)Z$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) + (tonumber("0" .. frac) or 0)
end

-- {"credential": {access, secret, securitytoken, expires_at}} (or the pod-identity names)
local function keys_from(body, what)
  local t = cjson.decode(body)
  local c = type(t) == "table" and (t.credential or t.credentials)
  if type(c) ~= "table" then return nil, what .. " did not answer with a credential object" end
  local keys = {
    ak = c.access or c.accessKeyId, sk = c.secret or c.secretAccessKey,
    security_token = c.securitytoken or c.securityToken,
    expires_at = fetch.parse_time(c.expires_at or c.expiration),
  }
  if type(keys.ak) ~= "string" or keys.ak == "" or type(keys.sk) ~= "string" or keys.sk == ""
     or (keys.security_token ~= nil and type(keys.security_token) ~= "string") then
    return nil, what .. " answered a credential without access and secret"
  end
  if not keys.expires_at then return nil, what .. " answered a credential without a readable expires_at" end
  return keys
end

--- The ECS/BMS metadata service. st keeps no_token_until between calls.
function fetch.metadata(base, transport, st)
  base = base:gsub("/+$", "")
  local token
  local function get_token()
    token = nil
    if st.no_token_until and st.clock() < st.no_token_until then return true end
    local url = base .. "/meta-data/latest/api/token"
    local res, why = request(transport, "PUT", url, { ["X-Metadata-Token-Ttl-Seconds"] = fetch.TOKEN_TTL }, "",
                             fetch.METADATA_TIMEOUT)
    if not res then return nil, why .. "; is this an ECS or BMS server?" end
    if res.status == 200 then
      token = res.body
      return true
    end
    if res.status == 404 or res.status == 405 or res.status == 503 then -- token mode unsupported
      st.no_token_until = st.clock() + fetch.NO_TOKEN_RETRY
      return true
    end
    return nil, answer_line("PUT", url, res)
  end
  local ok, why = get_token()
  if not ok then return nil, why end
  local url = base .. "/openstack/latest/securitykey"
  local res
  for attempt = 1, 2 do
    res, why = request(transport, "GET", url, { ["X-Metadata-Token"] = token }, "", fetch.METADATA_TIMEOUT)
    if not res then return nil, why end
    if res.status ~= 401 or attempt == 2 or res.body:find("Please configure Cloud Service Agency first", 1, true) then
      break
    end
    st.no_token_until = nil
    ok, why = get_token()
    if not ok then return nil, why end
  end
  if res.status >= 400 then
    local line = answer_line("GET", url, res)
    if res.body:find("Cloud Service Agency", 1, true) then
      line = line .. " (give this server an agency in the ECS console)"
    end
    return nil, line
  end
  return keys_from(res.body, "GET " .. url)
end

--- Federation: the OIDC id token exchanged at IAM for temporary keys.
function fetch.federation(iam, idp_id, token_file, transport)
  local f, open_err = io.open(token_file, "rb")
  if not f then return nil, "cannot read the id token file: " .. tostring(open_err) end
  local id_token = (f:read("*a") or ""):gsub("^%s+", ""):gsub("%s+$", "")
  f:close()
  if id_token == "" then return nil, "the id token file " .. token_file .. " is empty" end
  local url = iam .. "/v3.0/OS-AUTH/id-token/tokens"
  local res, why = request(transport, "POST", url, { ["X-Idp-Id"] = idp_id, ["Content-Type"] = "application/json" },
                           cjson.encode{ auth = { id_token = { id = id_token } } }, fetch.IAM_TIMEOUT)
  id_token = nil -- luacheck: ignore 311
  if not res then return nil, why end
  if res.status >= 300 then return nil, answer_line("POST", url, res) end
  local subject = res.headers["x-subject-token"]
  if not subject or subject == "" then return nil, "POST " .. url .. " answered no X-Subject-Token" end
  url = iam .. "/v3.0/OS-CREDENTIAL/securitytokens"
  res, why = request(transport, "POST", url, { ["Content-Type"] = "application/json" }, cjson.encode{
    auth = { identity = { methods = { "token" }, token = { id = subject, duration_seconds = fetch.FEDERATION_SECONDS } } },
  }, fetch.IAM_TIMEOUT)
  if not res then return nil, why end
  if res.status >= 300 then return nil, answer_line("POST", url, res) end
  return keys_from(res.body, "POST " .. url)
end

--- The project of a region, looked up at IAM with the client's own keys.
--  -> id | nil, err (an rfs error of kind auth, not_found or as the transport failed)
function fetch.project(c, iam, region, transport)
  local url = iam .. "/v3/projects?name=" .. core.uri_encode(region)
  local headers = c:_sign("GET", url, { ["Content-Type"] = "application/json" }, "")
  local res, kind, message = transport{ method = "GET", url = url, headers = headers, body = "",
                                        timeout = fetch.IAM_TIMEOUT, connect_timeout = fetch.IAM_TIMEOUT,
                                        verify_tls = true }
  local function fail(k, text, status)
    return nil, errors.new{ kind = k, status = status, message = text, retryable = k == "network" or k == "timeout"
                            or k == "server" or k == "throttled",
                            hint = "or pass project_id (or set HUAWEICLOUD_SDK_PROJECT_ID) to skip the lookup" }
  end
  if not res then
    return fail(errors.kinds[kind] and kind or "network",
                ("failed to get project id of region '%s' automatically: GET %s: %s"):format(region, url,
                 errors.printable(message or kind)))
  end
  local trace = (res.headers or {})["x-iam-trace-id"] or "none"
  if res.status >= 300 then
    return fail(errors.kind_for_status(res.status),
                ("failed to get project id of region '%s' automatically, X-IAM-Trace-Id=%s: %s")
                  :format(region, trace, answer_line("GET", url, { status = res.status, body = res.body or "" })),
                res.status)
  end
  local t = cjson.decode(res.body or "")
  local projects = type(t) == "table" and t.projects
  if type(projects) ~= "table" then
    return fail("decode", ("failed to get project id of region '%s' automatically, X-IAM-Trace-Id=%s: "
                           .. "IAM answered no projects list"):format(region, trace))
  end
  local ids = {}
  for _, p in ipairs(projects) do
    if type(p) == "table" and type(p.id) == "string" then ids[#ids + 1] = p.id end
  end
  if #ids == 0 then
    return fail("not_found", ("failed to get project id of region '%s' automatically, X-IAM-Trace-Id=%s, "
                              .. "confirm that the project exists in your account, or set project id manually")
                              :format(region, trace))
  end
  if #ids > 1 then
    return fail("bad_request", ("multiple project ids found: [%s], X-IAM-Trace-Id=%s, please select one")
                                 :format(table.concat(ids, ","), trace))
  end
  if #ids[1] < 3 or #ids[1] > 64 or not ids[1]:match("^[%w_%-]+$") then
    return fail("decode", ("IAM answered a project id for region '%s' that is not 3-64 letters, digits, '_' or '-'")
                            :format(region))
  end
  return ids[1]
end

return fetch
