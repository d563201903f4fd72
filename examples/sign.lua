-- Sign a GetStackMetadata request the way the official SDKs do, and show the headers.
--   lua5.4 examples/sign.lua
-- From a checkout (after `make`), use its modules; an installed lua-rfs needs none of this.
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/checkout.lua")

local rfs = require "rfs"

local headers = rfs.sign{
  method = "GET",
  url = "https://rfs.cn-north-4.myhuaweicloud.com/v1/0123456789abcdef0123456789abcdef/stacks/my-stack/metadata",
  headers = { ["Client-Request-Id"] = "3fef5d3e-27b6-44e8-9769-1d7262bd9430", ["Content-Type"] = "application/json" },
  ak = "EXAMPLEAK", sk = "example-secret", date = "20261124T000000Z",
}
for _, name in ipairs({ "Host", "X-Sdk-Date", "Authorization" }) do
  print(name .. ": " .. headers[name])
end
