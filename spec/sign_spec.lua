-- rfs.sign against vectors made by the official Huawei Cloud signer (spec/fixtures/).
local rfs = require "rfs"
local cjson = require "cjson"

local function load_vectors()
  local f = assert(io.open("spec/fixtures/sign_vectors.json"))
  local data = cjson.decode(f:read("*a"))
  f:close()
  return data.vectors
end

describe("rfs.sign", function()
  local vectors = load_vectors()

  it("has the official vectors to check against", function()
    assert.is_true(#vectors >= 20)
  end)

  for _, v in ipairs(vectors) do
    it("matches the official signer byte for byte: " .. v.name, function()
      local headers = rfs.sign{
        method = v.method, url = v.url, headers = v.headers, body = v.body, ak = v.ak, sk = v.sk,
        security_token = v.security_token ~= cjson.null and v.security_token or nil, date = v.date,
      }
      assert.equal(v.expected.Authorization, headers.Authorization)
      assert.equal(v.expected.Host, headers.Host)
      assert.equal(v.expected["X-Sdk-Date"], headers["X-Sdk-Date"])
      if v.expected["X-Security-Token"] then
        assert.equal(v.expected["X-Security-Token"], headers["X-Security-Token"])
      else
        assert.is_nil(headers["X-Security-Token"])
      end
    end)
  end

  it("changes the signature when any signed part changes", function()
    local v = vectors[4] -- a POST with a body
    local function sign(over)
      local t = { method = v.method, url = v.url, headers = v.headers, body = v.body, ak = v.ak, sk = v.sk,
                  date = v.date }
      for k, x in pairs(over) do t[k] = x end
      return rfs.sign(t).Authorization
    end
    local base = sign{}
    assert.equal(v.expected.Authorization, base)
    assert.are_not.equal(base, sign{ body = v.body .. " " })
    assert.are_not.equal(base, sign{ url = v.url .. "x" })
    assert.are_not.equal(base, sign{ sk = v.sk .. "x" })
    assert.are_not.equal(base, sign{ date = "20261124T000001Z" })
    assert.are_not.equal(base, sign{ method = "PUT" })
    assert.are_not.equal(base, sign{ headers = { ["Client-Request-Id"] = "other", ["Content-Type"] = "application/json" } })
  end)

  it("uses the current time when no date is given", function()
    local h = rfs.sign{ method = "GET", url = "https://h/x", ak = "a", sk = "b" }
    assert.matches("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$", h["X-Sdk-Date"])
    assert.equal(os.date("!%Y%m%d"), h["X-Sdk-Date"]:sub(1, 8))
  end)

  it("encodes the canonical query per RFC 3986 and sorts keys and repeated values", function()
    local core = require "rfs.core"
    local _, canonical = core.sign({ method = "GET", url = "https://h/a b/c?b=2&a=z&a=y&sp%20ace=%C3%A9%2F%26&k=&e",
                                     ak = "a", sk = "b", date = "20261124T000000Z" }, true)
    local lines = {}
    for line in (canonical .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
    assert.equal("/a%20b/c/", lines[2])
    assert.equal("a=y&a=z&b=2&e=&k=&sp%20ace=%C3%A9%2F%26", lines[3])
  end)

  it("signs an argument table that answers through __index exactly like a plain one", function()
    local v = vectors[4] -- a POST with a body and headers
    local plain = { method = v.method, url = v.url, headers = v.headers, body = v.body, ak = v.ak, sk = v.sk,
                    date = v.date }
    -- every string is handed out as a fresh copy nothing else holds, and the collector runs
    -- (and its memory is reused) between reads: a signer that kept a pointer to an earlier
    -- value would read freed memory
    local keep = {}
    local proxy = setmetatable({}, { __index = function(_, key)
      local x = plain[key]
      collectgarbage()
      collectgarbage()
      keep.junk = {}
      for i = 1, 200 do
        local n = #tostring(x)
        keep.junk[i] = ("#"):rep(n - #tostring(i)) .. i
      end
      if type(x) == "string" then return (x:reverse()):reverse() .. "" end
      return x
    end })
    for _ = 1, 20 do
      assert.equal(v.expected.Authorization, rfs.sign(proxy).Authorization)
    end
    assert.equal(200, #keep.junk)
  end)

  it("refuses a date that differs from the X-Sdk-Date header, and a malformed header date", function()
    local t = { method = "GET", url = "https://h/x", ak = "a", sk = "b", date = "20261124T000000Z",
                headers = { ["X-Sdk-Date"] = "20261124T000001Z" } }
    assert.error_matches(function() rfs.sign(t) end, "date and the X%-Sdk%-Date header differ")
    t.headers["X-Sdk-Date"] = "yesterday"
    t.date = nil
    assert.error_matches(function() rfs.sign(t) end, "X%-Sdk%-Date header must look like")
    -- the same date twice is one date
    t.headers["X-Sdk-Date"] = "20261124T000000Z"
    t.date = "20261124T000000Z"
    assert.equal("20261124T000000Z", rfs.sign(t)["X-Sdk-Date"])
  end)

  it("quotes a bad header name on one line, escaped", function()
    local ok, err = pcall(rfs.sign, { method = "GET", url = "https://h/x", ak = "a", sk = "b",
                                      headers = { ["X-A\r\nInjected"] = "v" } })
    assert.is_false(ok)
    assert.matches("header name 'X-A\\x0d\\x0aInjected' is not a valid HTTP token", err, 1, true)
    assert.is_nil(err:find("\n", 1, true))
  end)
end)
