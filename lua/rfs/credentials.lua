-- rfs.credentials: AK/SK, security token and project from arguments or the environment.
--
-- Explicit arguments win; then the variables the official Huawei Cloud SDKs read.

local credentials = {}

credentials.ENV = {
  ak = "HUAWEICLOUD_SDK_AK",
  sk = "HUAWEICLOUD_SDK_SK",
  security_token = "HUAWEICLOUD_SDK_SECURITY_TOKEN",
  project_id = "HUAWEICLOUD_SDK_PROJECT_ID",
  region = "HUAWEICLOUD_SDK_REGION",
}

local function pick(opts, key, getenv)
  local v = opts[key]
  if v ~= nil then return v end
  v = getenv(credentials.ENV[key])
  if v == "" then return nil end
  return v
end

--- Resolves { ak, sk, security_token, project_id, region } or raises naming what to set.
function credentials.resolve(opts, getenv)
  getenv = getenv or os.getenv
  local c = {}
  for key in pairs(credentials.ENV) do c[key] = pick(opts, key, getenv) end
  if not c.ak or not c.sk then
    local missing = {}
    if not c.ak then missing[#missing + 1] = "HUAWEICLOUD_SDK_AK" end
    if not c.sk then missing[#missing + 1] = "HUAWEICLOUD_SDK_SK" end
    error("rfs.new: no credentials: pass ak and sk, or set " .. table.concat(missing, " and "), 3)
  end
  if not c.project_id then
    error("rfs.new: no project: pass project_id, or set HUAWEICLOUD_SDK_PROJECT_ID", 3)
  end
  return c
end

return credentials
