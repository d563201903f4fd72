-- core.json_decode: the decoder of every RFS answer. It must give what cjson.safe.decode
-- followed by dropping the nulls gave (checked on thousands of random documents), refuse
-- what RFC 8259 refuses, and say at which byte a body went wrong.
local core = require "rfs.core"
local cjson = require "cjson.safe"

local decode = core.json_decode
local math_type = rawget(math, "type") -- Lua 5.3+: integers and floats differ
local IS_54 = math_type ~= nil

-- What lua-rfs did before: cjson, then the nulls removed.
local function strip_nulls(v)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == cjson.null then v[k] = nil else strip_nulls(x) end
  end
  return v
end

local function same_number(a, b)
  if a ~= b then return false end
  if a == 0 and 1 / a ~= 1 / b then return false end -- -0.0 and 0.0
  return not IS_54 or math_type(a) == math_type(b)
end

-- nil when equal, else the path where they differ
local function difference(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    return not same_number(a, b) and (path .. ": " .. string.format("%.17g vs %.17g", a, b)) or nil
  end
  if type(a) ~= "table" then return a ~= b and (path .. ": values differ") or nil end
  for k, v in pairs(a) do
    local d = difference(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) .. ": missing on the left" end
  end
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

describe("core.json_decode", function()
  describe("values", function()
    it("decodes an object with its members", function()
      local v = assert(decode('{"stack_name":"my-stack","enable_auto_rollback":false,"n":3,"ok":true}'))
      assert.same({ stack_name = "my-stack", enable_auto_rollback = false, n = 3, ok = true }, v)
    end)

    it("leaves out the members whose value is null", function()
      local v = assert(decode('{"a":1,"b":null,"c":{"d":null,"e":"x"}}'))
      assert.same({ a = 1, c = { e = "x" } }, v)
      assert.equal(2, count(v))
    end)

    it("keeps the last of repeated member names, a later null removing the member", function()
      assert.same({ a = 2 }, decode('{"a":1,"a":2}'))
      assert.same({}, decode('{"a":1,"a":null}'))
      assert.same({ a = 1 }, decode('{"a":null,"a":1}'))
    end)

    it("gives arrays 1-based indices, a null element leaving a hole", function()
      local v = assert(decode('[10,null,"x",null]'))
      assert.equal(10, v[1])
      assert.is_nil(v[2])
      assert.equal("x", v[3])
      assert.is_nil(v[4])
      assert.equal(2, count(v))
      assert.same({}, decode("[null]"))
      assert.same({ {}, {} }, decode("[[],{}]"))
    end)

    it("decodes the top-level scalars", function()
      assert.equal("abc", decode('"abc"'))
      assert.is_true(decode("true"))
      assert.is_false(decode(" false "))
      assert.equal(-12.5, decode("-12.5"))
    end)

    it("refuses a top-level null with a message", function()
      local v, err = decode(" null ")
      assert.is_nil(v)
      assert.matches("null", err)
    end)

    it("accepts exactly space, tab, CR and LF as whitespace", function()
      assert.same({ a = { 1 } }, decode(' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n[ 1 \t\r\n] \t\r\n} \t\r\n'))
      for _, ws in ipairs{ "\f", "\v", "\0", "\194\160" } do
        assert.is_nil(decode(ws .. "{}"), string.format("%q", ws))
        assert.is_nil(decode("{}" .. ws), string.format("%q", ws))
      end
    end)
  end)

  describe("numbers", function()
    it("are floats, as cjson gives them", function()
      local v = assert(decode("[1,0,-7,123456789]"))
      assert.same({ 1, 0, -7, 123456789 }, v)
      if IS_54 then
        for i = 1, 4 do assert.equal("float", math_type(v[i])) end
        assert.equal("float", math_type(cjson.decode("[1]")[1])) -- what lua-rfs always had
      end
    end)

    it("read fractions and exponents exactly as strtod rounds them", function()
      local v = assert(decode("[0.1,-2.5e-3,1E2,1e+2,5e-324,1.7976931348623157e308,123456789012345678901234567890,"
                              .. "9007199254740993,0.30000000000000004,-0,-0.0]"))
      assert.equal(0.1, v[1])
      assert.equal(-2.5e-3, v[2])
      assert.equal(100, v[3])
      assert.equal(100, v[4])
      assert.equal(5e-324, v[5])
      assert.equal(1.7976931348623157e308, v[6])
      assert.equal(1.2345678901234568e29, v[7])
      assert.equal(9007199254740992, v[8]) -- 2^53 + 1 rounds to even
      assert.equal(0.30000000000000004, v[9])
      assert.equal(-math.huge, 1 / v[10])
      assert.equal(-math.huge, 1 / v[11])
    end)

    it("overflow to infinity and underflow to zero, as strtod gives", function()
      assert.same({ math.huge, -math.huge, 0 }, decode("[1e999,-1e999,1e-999]"))
    end)

    it("refuses what RFC 8259 refuses", function()
      for _, s in ipairs{ "01", "-01", "00", "1.", ".5", "-.5", "+1", "0x10", "1e", "1e+", "-", "NaN", "-NaN",
                          "Infinity", "-Infinity", "inf", "1.5.2", "1e5e5", "[01]", "[1.]", "[-]", "1_000" } do
        local v, err = decode(s)
        assert.is_nil(v, s)
        assert.matches("^invalid JSON at byte %d+: ", err, 1, false, s)
      end
    end)

    it("do not depend on the C locale's decimal point", function()
      local old = os.setlocale(nil, "numeric")
      local set
      for _, name in ipairs{ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8", "de_DE" } do
        set = os.setlocale(name, "numeric")
        if set then break end
      end
      if not set then
        pending("no locale with a decimal comma is installed")
        return
      end
      local ok, v = pcall(decode, "[1.5,0.25e1," .. "1." .. string.rep("5", 80) .. "]")
      os.setlocale(old, "numeric")
      assert.is_true(ok)
      assert.equal(1.5, v[1])
      assert.equal(2.5, v[2])
      assert.equal(1.5555555555555556, v[3])
    end)
  end)

  describe("strings", function()
    it("unescape every JSON escape", function()
      assert.equal('"\\/\b\f\n\r\t', decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"'))
    end)

    it("turn \\u escapes into UTF-8, joining surrogate pairs", function()
      assert.equal("A\195\169\226\130\172\240\159\152\128", decode('"\\u0041\\u00e9\\u20AC\\ud83d\\ude00"'))
      assert.equal("\244\143\191\191", decode('"\\uDBFF\\uDFFF"'))
    end)

    it("turn \\u0000 into a NUL byte", function()
      assert.equal("a\0b", decode('"a\\u0000b"'))
    end)

    it("refuse lone and reversed surrogates, as cjson does", function()
      for _, s in ipairs{ '"\\ud800"', '"\\ud800x"', '"\\udc00"', '"\\udc00\\ud800"', '"\\ud800\\u0041"',
                          '"\\ud800\\ud800"' } do
        local v, err = decode(s)
        assert.is_nil(v, s)
        assert.matches("surrogate", err, 1, true, s)
        assert.is_nil(cjson.decode(s), s)
      end
    end)

    it("refuse unknown escapes and short \\u escapes", function()
      for _, s in ipairs{ '"\\x41"', '"\\U0041"', '"\\u41"', '"\\u00G1"', '"\\', '"\\u', '"\\u123' } do
        assert.is_nil(decode(s), s)
      end
    end)

    it("copy raw bytes as they are, control characters included (they are data)", function()
      assert.equal("\255\254 caf\195\169", decode('"\255\254 caf\195\169"'))
      assert.equal("a\1b\31c\tend", decode('"a\1b\31c\tend"'))
      assert.equal("a\0b", decode('"a\0b"'))
    end)

    it("work as object keys, escapes included", function()
      assert.same({ ["a\nb"] = 1, ["\226\130\172"] = 2 }, decode('{"a\\nb":1,"\\u20ac":2}'))
    end)

    it("with escapes can be long (the buffer grows)", function()
      local long = string.rep("x\\n", 50000)
      assert.equal(string.rep("x\n", 50000), decode('"' .. long .. '"'))
    end)
  end)

  describe("structure", function()
    it("refuses trailing commas, trailing data and broken containers", function()
      for _, s in ipairs{ "[1,]", '{"a":1,}', "[1 2]", '{"a" 1}', '{"a":1 "b":2}', "{1:2}", "{a:1}", "[", "]", "{",
                          "}", "[1", '{"a":', '{"a"', "{}}", "[]]", "{} {}", "[] x", "", "   ", "tru", "nul",
                          "True", "nulll", "[,1]", "[1,,2]", "'a'" } do
        local v, err = decode(s)
        assert.is_nil(v, s)
        assert.matches("^invalid JSON at byte %d+: ", err, 1, false, s)
      end
    end)

    it("says at which byte the input went wrong, and what was expected", function()
      local _, err = decode('{"stack_name":"a"  x}')
      assert.equal("invalid JSON at byte 20: expected ',' or '}'", err)
      _, err = decode("[1,2;]")
      assert.equal("invalid JSON at byte 5: expected ',' or ']'", err)
      _, err = decode('{"a":1}  garbage')
      assert.equal("invalid JSON at byte 10: unexpected data after the JSON value", err)
      _, err = decode('{"a":"open')
      assert.equal("invalid JSON at byte 6: unterminated string", err)
      _, err = decode('{"a":')
      assert.equal("invalid JSON at byte 6: unexpected end of input", err)
      _, err = decode("[01]")
      assert.equal("invalid JSON at byte 2: invalid number", err)
    end)

    it("accepts 1000 levels of nesting and refuses 1001", function()
      local v = decode(string.rep("[", 1000) .. string.rep("]", 1000))
      assert.is_table(v)
      local depth = 0
      while v do depth, v = depth + 1, v[1] end
      assert.equal(1000, depth)
      assert.is_table(decode(string.rep('{"a":', 999) .. "{}" .. string.rep("}", 999)))
      local none, err = decode(string.rep("[", 1001) .. string.rep("]", 1001))
      assert.is_nil(none)
      assert.equal("invalid JSON at byte 1001: nested deeper than 1000 levels", err)
      assert.is_nil(decode(string.rep("[", 100000)))
    end)

    it("decodes arrays and objects far larger than a C function's stack (chunks)", function()
      local parts = {}
      for i = 1, 100000 do parts[i] = i % 10 == 0 and "null" or tostring(i) end
      local v = assert(decode("[" .. table.concat(parts, ",") .. "]"))
      assert.equal(90000, count(v))
      assert.equal(1, v[1])
      assert.is_nil(v[70000])
      assert.equal(70001, v[70001])
      assert.equal(99999, v[99999])
      local members = {}
      for i = 1, 30000 do members[i] = string.format('"k%d":%s', i, i % 3 == 0 and "null" or i) end
      local o = assert(decode("{" .. table.concat(members, ",") .. "}"))
      assert.equal(20000, count(o))
      assert.equal(29999, o.k29999)
      assert.is_nil(o.k30000)
    end)

    it("decodes a listing of 10,000 stacks", function()
      local one = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3","stack_name":"s%d","status":"DEPLOYMENT_COMPLETE",'
        .. '"description":null,"create_time":"2026-11-24T00:00:00Z","tags":[]}'
      local items = {}
      for i = 1, 10000 do items[i] = string.format(one, i) end
      local v = assert(decode('{"stacks":[' .. table.concat(items, ",") .. '],"page_info":{"next_marker":null}}'))
      assert.equal(10000, #v.stacks)
      assert.equal("s10000", v.stacks[10000].stack_name)
      assert.is_nil(v.stacks[1].description)
      assert.same({}, v.page_info)
    end)

    it("keeps working in deep nesting with large arrays at every level", function()
      local inner = "[" .. string.rep("1,", 5000) .. "1]"
      local s = string.rep("[" .. string.rep("2,", 3000), 50) .. inner .. string.rep("]", 50)
      local v = assert(decode(s))
      local level = v
      for _ = 1, 50 do
        assert.equal(3001, #level)
        level = level[3001]
      end
      assert.equal(5001, #level)
    end)

    it("raises only on misuse: the argument must be a string", function()
      assert.has_error(function() decode(nil) end)
      assert.has_error(function() decode(12) end)
      assert.has_error(function() decode({}) end)
    end)
  end)

  describe("against cjson.safe.decode with the nulls stripped", function()
    local random = math.random
    local function digits(n, first_nonzero)
      local t = {}
      for i = 1, n do t[i] = tostring(random(i == 1 and first_nonzero and 1 or 0, 9)) end
      return table.concat(t)
    end
    local function number()
      local r = random(8)
      local int = random(5) == 1 and "0" or digits(random(1, r == 1 and 25 or 17), true)
      local s = (random(3) == 1 and "-" or "") .. int
      if random(2) == 1 then s = s .. "." .. digits(random(1, r == 2 and 30 or 12)) end
      if random(3) == 1 then
        local e = r == 3 and random(0, 400) or random(0, 30)
        s = s .. (random(2) == 1 and "e" or "E") .. ({ "", "+", "-" })[random(3)] .. tostring(e)
      end
      return s
    end
    local SIMPLE = { '\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t" }
    local function str()
      local t = {}
      for i = 1, random(0, 12) do
        local r = random(14)
        if r == 1 then t[i] = SIMPLE[random(#SIMPLE)]
        elseif r == 2 then
          local cp = random(0, 0xFFFF)
          if cp >= 0xD800 and cp <= 0xDFFF then cp = cp - 0x1000 end
          t[i] = string.format(random(2) == 1 and "\\u%04x" or "\\u%04X", cp)
        elseif r == 3 then
          t[i] = string.format("\\u%04x\\u%04x", random(0xD800, 0xDBFF), random(0xDC00, 0xDFFF))
        elseif r == 4 then t[i] = string.char(random(0x80, 0xFF)) -- raw bytes, as they are
        elseif r == 5 then t[i] = string.char(random(1, 0x1F))    -- raw control characters
        else t[i] = string.char(random(0x20, 0x7E)):gsub('[\\"]', "x") end
      end
      return '"' .. table.concat(t) .. '"'
    end
    local WS = { "", "", "", " ", "\n", "\t", "\r\n  " }
    local function ws() return WS[random(#WS)] end
    local function value(depth)
      local r = random(depth > 6 and 6 or 9)
      if r == 1 then return "null"
      elseif r == 2 then return random(2) == 1 and "true" or "false"
      elseif r <= 4 then return number()
      elseif r <= 6 then return str()
      elseif r <= 8 then
        local keys, parts = {}, {}
        for i = 1, random(0, 8) do
          local k = (i > 1 and random(6) == 1) and keys[random(#keys)] or str() -- repeated names too
          keys[i] = k
          parts[i] = ws() .. k .. ws() .. ":" .. ws() .. value(depth + 1) .. ws()
        end
        return "{" .. table.concat(parts, ",") .. ws() .. "}"
      else
        local parts = {}
        for i = 1, random(0, 8) do parts[i] = ws() .. value(depth + 1) .. ws() end
        return "[" .. table.concat(parts, ",") .. ws() .. "]"
      end
    end

    it("gives deep-equal results on 5,000 random documents", function()
      math.randomseed(20261124)
      local checked = 0
      for i = 1, 5000 do
        local doc = ws() .. (i % 4 == 0 and value(0) or (random(2) == 1 and "{" .. str() .. ":" .. value(1) .. "}"
                                                        or "[" .. value(1) .. "]")) .. ws()
        local expected = cjson.decode(doc)
        assert(expected ~= nil, "the generator made invalid JSON: " .. doc)
        if expected ~= cjson.null then
          local got, err = decode(doc)
          assert.is_nil(err, doc)
          local d = difference(strip_nulls(expected), got)
          assert(d == nil, (d or "") .. " in " .. doc)
          checked = checked + 1
        end
      end
      assert.is_true(checked > 4500)
    end)

    it("agrees on 2,000 random numbers, digit for digit", function()
      math.randomseed(42)
      for _ = 1, 2000 do
        local s = "[" .. number() .. "]"
        local a, b = cjson.decode(s)[1], decode(s)[1]
        assert(same_number(a, b), string.format("%s: cjson %.17g, core %.17g", s, a, b))
      end
    end)
  end)
end)
