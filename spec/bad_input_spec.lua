-- Generated bad input through the real C client and the emulator process: 200 invalid
-- stack names, project ids and stack ids each give a clear one-line error, and the
-- emulator's request log proves that nothing was sent.
local rfs = require "rfs"
local E = require "emulator_process"

local AK, SK, PROJECT = "AKBADINPUT0000001", "bad-input-secret", "0123456789abcdef0123456789abcdef"
local STACK_ID = "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"

-- The documented rules, written independently of the code under test, so that every
-- generated value is known to be invalid before it is tried.
-- A name: a letter or a Chinese character (U+4E00..U+9FA5) first, then letters, Chinese
-- characters, digits, '_' and '-', 1 to 128 characters. Each Chinese character is
-- replaced by "Z" and the rest is checked as ASCII.
local function valid_name(s)
  local bad = false
  local ascii = s:gsub("[\228-\233][\128-\191][\128-\191]", function(c)
    local b1, b2, b3 = c:byte(1, 3)
    local cp = (b1 % 16) * 4096 + (b2 % 64) * 64 + (b3 % 64)
    if cp < 0x4e00 or cp > 0x9fa5 then bad = true end
    return "Z"
  end)
  return not bad and #ascii >= 1 and #ascii <= 128 and ascii:match("^[A-Za-z][A-Za-z0-9_%-]*$") ~= nil
end
local function valid_project(s) return #s >= 3 and #s <= 64 and s:match("^[A-Za-z0-9_%-]+$") ~= nil end
local function valid_uuid(s)
  return s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

-- What people and attackers actually put in identifiers.
local ATOMS = { "", " ", "\t", "\0", "\r", "\n", "\r\n", "\r\nX-Injected: 1", "../", "..", "/", "%2F", "%2f", "%00",
                "?", "#", "&", "=", ";", ":", "@", ".", ",", "\\", "'", '"', "<", ">", "|", "*", "$", "+", "~",
                "é", "名前", "の", "〇", "\233\190\166", "\239\188\161", "\u{202e}", "\u{200b}", "\xff", "\xc3", "😀", "\x7f", "\x1b[31m" }

-- A small deterministic generator (same values on every run and every Lua).
local function generator(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
end

local function generate(count, base, valid, extra)
  local rand, out, seen = generator(#base * 7919 + count), {}, {}
  local function add(v)
    if not seen[v] and not valid(v) then
      seen[v] = true
      out[#out + 1] = v
    end
  end
  for _, v in ipairs(extra) do add(v) end
  for _, a in ipairs(ATOMS) do add(a) end
  while #out < count do
    local a, b = ATOMS[rand(#ATOMS)], ATOMS[rand(#ATOMS)]
    local cut = rand(#base + 1) - 1
    local shape = rand(5)
    if shape == 1 then add(a .. base)
    elseif shape == 2 then add(base .. a)
    elseif shape == 3 then add(base:sub(1, cut) .. a .. base:sub(cut + 1))
    elseif shape == 4 then add(base:sub(1, cut) .. a .. b .. base:sub(cut + 1))
    else add(base:sub(1, cut) .. a .. base:sub(cut + 1, -2)) -- same length, one part replaced
    end
  end
  return out
end

local NAMES = generate(200, "my-stack_1", valid_name, { ("a"):rep(129), ("a"):rep(100000), "1stack", "-stack",
                                                        "_stack", "stack.name", "stack name" })
local PROJECTS = generate(200, "0123456789abcdef", valid_project, { "ab", ("p"):rep(65), "p/../q", "p%2Fq" })
local IDS = generate(200, STACK_ID, valid_uuid, { STACK_ID .. "0", STACK_ID:sub(2), (STACK_ID:gsub("%-", "_")),
                                                  ("g"):rep(36), (STACK_ID:upper():gsub("%-", "")) })

local function one_line_error(fn, pattern)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  err = tostring(err)
  assert.matches(pattern, err)
  assert.is_nil(err:find("[%z\r\n]"), "a multi-line or NUL error: " .. ("%q"):format(err))
  assert.is_true(#err < 400, "an error of " .. #err .. " bytes")
  return err
end

describe("bad input against the emulator", function()
  local em, client

  setup(function()
    em = E.start{ ak = AK, sk = SK }
    client = rfs.new{ endpoint = em.url, ak = AK, sk = SK, project_id = PROJECT }
  end)
  teardown(function()
    if client then client:close() end
    if em then em:stop() end
  end)
  before_each(function()
    em:reset() -- forgets the log too
    em:seed{ project_id = PROJECT, stack_name = "good", stack_id = STACK_ID, status = "DEPLOYMENT_FAILED" }
  end)

  it("generates 200 distinct values of each kind, none of them valid", function()
    for _, set in ipairs({ NAMES, PROJECTS, IDS }) do
      assert.equal(200, #set)
    end
    assert.is_true(valid_name("my-stack_1") and valid_project("0123456789abcdef") and valid_uuid(STACK_ID))
  end)

  it("refuses 200 invalid stack names, each with a clear error, and sends nothing", function()
    for _, name in ipairs(NAMES) do
      one_line_error(function() return client:stack(name) end,
                     "^[^\n]*invalid stack name .*must start with a letter or a Chinese character")
    end
    assert.same({}, em:requests())
  end)

  it("refuses 200 invalid project ids when the client is made, and sends nothing", function()
    for _, project in ipairs(PROJECTS) do
      one_line_error(function() return rfs.new{ endpoint = em.url, ak = AK, sk = SK, project_id = project } end,
                     "invalid project_id .*3%-64 letters, digits")
    end
    assert.same({}, em:requests())
  end)

  it("refuses 200 invalid stack ids, and sends nothing", function()
    for _, id in ipairs(IDS) do
      one_line_error(function() return client:stack("good", { stack_id = id }) end,
                     "invalid stack_id .*36%-character UUID")
    end
    assert.same({}, em:requests())
  end)

  it("refuses wrong types and bad deployment ids, and sends nothing", function()
    for _, v in ipairs({ 42, true, {}, function() end }) do
      one_line_error(function() return client:stack(v) end, "stack name must be a string %(got " .. type(v))
      one_line_error(function() return client:stack("good", { stack_id = v }) end, "stack_id")
    end
    local stack = client:stack("good")
    for _, v in ipairs({ "a b", "a\r\nb", "\0", ("d"):rep(129) }) do
      one_line_error(function() return stack:events{ deployment_id = v } end, "invalid deployment_id")
    end
    assert.same({}, em:requests())
  end)

  it("shows the bad value escaped and cut short, so it can be found in the input", function()
    local err = one_line_error(function() return client:stack("bad\r\nX-Injected: 1") end, "invalid stack name")
    assert.matches("'bad\\x0d\\x0aX-Injected: 1'", err, 1, true)
    err = one_line_error(function() return client:stack(("a"):rep(100000)) end, "invalid stack name")
    assert.matches("... (100000 characters)", err, 1, true)
    -- a quote or a backslash in the value is escaped too: what is shown reads back one way
    err = one_line_error(function() return client:stack("it's\\x0d") end, "invalid stack name")
    assert.matches("'it\\x27s\\x5cx0d'", err, 1, true)
    err = one_line_error(function()
      return rfs.new{ endpoint = em.url, ak = AK, sk = SK, project_id = "p'\\\r" }
    end, "invalid project_id")
    assert.matches("'p\\x27\\x5c\\x0d'", err, 1, true)
  end)

  it("accepts Chinese names (UTF-8) in the C core, the model and the emulator, and quotes them readably", function()
    local name = "测试栈-生产_1"
    em:seed{ project_id = PROJECT, stack_name = name, status = "DEPLOYMENT_FAILED" }
    local md = assert(client:stack(name):metadata())
    assert.equal(name, md.stack_name)
    assert.equal(name, client:stack(name).name)
    assert.equal(128, #client:stack(("栈"):rep(128)).name / 3)
    one_line_error(function() return client:stack(("栈"):rep(129)) end, "invalid stack name")
    -- a name the model checks (CreateStack) follows the same rule
    local err = one_line_error(function() return client:create_stack("栈!", {}) end, "Chinese character")
    assert.matches("'栈!'", err, 1, true)
    err = one_line_error(function() return client:stack("1栈") end, "invalid stack name")
    assert.matches("'1栈'", err, 1, true)
    -- other scripts stay refused, shown as bytes
    err = one_line_error(function() return client:stack("stackの") end, "invalid stack name")
    assert.matches("'stack\\xe3\\x81\\xae'", err, 1, true)
    assert.equal(1, #em:requests())
  end)

  it("still works afterwards, and the log does record what is sent", function()
    local md = assert(client:stack("good"):metadata())
    assert.equal("DEPLOYMENT_FAILED", md.status)
    assert.equal(1, #em:requests())
  end)
end)
