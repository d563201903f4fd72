-- 1,000 varied, realistic RFS requests (deterministic), shared by the signing benchmarks.
local requests = {}

local OPS = {
  { "GET", "/metadata" }, { "POST", "/continuations" }, { "POST", "/rollbacks" }, { "GET", "/events" },
}

local function hex(seed, n)
  local out, x = {}, seed
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    out[i] = ("0123456789abcdef"):sub(x % 16 + 1, x % 16 + 1)
  end
  return table.concat(out)
end

local function uuid(seed)
  local h = hex(seed, 32)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-a" .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end

function requests.make(n)
  local list = {}
  for i = 1, n or 1000 do
    local op = OPS[i % #OPS + 1]
    local project = hex(i, 32)
    local stack = "stack-" .. i .. "_" .. hex(i + 7, 6)
    local query, body = {}, ""
    if op[1] == "GET" and i % 3 == 0 then query[#query + 1] = "stack_id=" .. uuid(i) end
    if op[2] == "/events" then
      query[#query + 1] = "deployment_id=" .. uuid(i + 1)
      if i % 2 == 0 then query[#query + 1] = "filter=event_type%3D%3DERROR%7Cevent_type%3D%3DCREATION_FAILED" end
      if i % 5 == 0 then query[#query + 1] = "limit=" .. (i % 100 + 1) .. "&marker=" .. hex(i + 3, 16) end
    end
    if op[1] == "POST" and i % 2 == 0 then body = '{"stack_id":"' .. uuid(i + 2) .. '"}' end
    local url = "https://rfs.cn-north-4.myhuaweicloud.com/v1/" .. project .. "/stacks/" .. stack .. op[2]
    if #query > 0 then url = url .. "?" .. table.concat(query, "&") end
    list[i] = {
      method = op[1], url = url, body = body,
      headers = { ["Client-Request-Id"] = uuid(i + 5), ["Content-Type"] = "application/json", ["X-Project-Id"] = project },
      ak = "AK" .. hex(i + 11, 18):upper(), sk = hex(i + 13, 40), date = "20261124T000000Z",
    }
  end
  return list
end

return requests
