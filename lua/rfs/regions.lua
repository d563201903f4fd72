-- rfs.regions: where RFS answers, per region (the official SDKs' region table).

local regions = {}

local PUBLIC = {
  "cn-north-4", "cn-south-1", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-9", "cn-north-11",
  "cn-north-12", "cn-southwest-2", "cn-southwest-3", "ap-southeast-1", "ap-southeast-2",
  "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "my-kualalumpur-1", "me-east-1",
  "tr-west-1", "la-south-2", "la-north-2", "sa-brazil-1", "af-south-1", "af-north-1", "na-mexico-1",
}

local ENDPOINTS = {}
for _, id in ipairs(PUBLIC) do
  ENDPOINTS[id] = "https://rfs." .. id .. ".myhuaweicloud.com"
end
ENDPOINTS["eu-west-101"] = "https://aos.myhuaweicloud.eu"
regions.endpoints = ENDPOINTS

--- The env variable the official SDKs read to override one service's endpoint in a region.
function regions.override_variable(region)
  return "HUAWEICLOUD_SDK_REGION_AOS_" .. region:upper():gsub("-", "_")
end

--- endpoint, nil | nil, message
function regions.endpoint(region, getenv)
  getenv = getenv or os.getenv
  local override = getenv(regions.override_variable(region))
  if override and override ~= "" then return override end
  local url = ENDPOINTS[region]
  if url then return url end
  local known = {}
  for id in pairs(ENDPOINTS) do known[#known + 1] = id end
  table.sort(known)
  return nil, "unknown region '" .. region .. "': pass endpoint = 'https://...', set "
    .. regions.override_variable(region) .. ", or use one of " .. table.concat(known, ", ")
end

return regions
