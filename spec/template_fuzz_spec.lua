-- A fuzz round for the emulator's template reader: every corpus template cut at every
-- length, and each with random byte changes (a fixed seed, so a failure repeats). The
-- reader must never raise and must answer either a document or nil and one "line N: ..."
-- line. Its time stays linear by construction (forward scans, capped nesting); the specs
-- below feed it the shapes that would expose a quadratic or deep-recursion path, and only
-- check the answers, never the clock.
local template = require "rfs.emulator.template"

local DIR = "spec/fixtures/templates/"
local FILES = {
  "basic_vpc.tf", "ecs_eip.tf", "rds_mysql.tf", "obs_bucket.tf", "secgroup_rules.tf", "provisioner.tf",
  "locals_module.tf", "user_data_heredoc.tf", "comments_escapes.tf", "expressions.tf", "variables_all.tf",
  "empty_comments_only.tf", "vpc_ecs.tf.json", "rds_lifecycle.tf.json",
  "invalid_unclosed_block.tf", "invalid_unterminated_string.tf", "invalid_unterminated_heredoc.tf",
  "invalid_labels.tf", "invalid_duplicate_resource.tf", "invalid_garbage.tf", "invalid_duplicate_output.tf.json",
  "invalid_json_syntax.tf.json",
}

local function read(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- Park-Miller: exact in integers and in doubles, so Lua 5.4 and LuaJIT draw the same bytes.
local function prng(seed)
  local x = seed
  return function(n)
    x = x * 16807 % 2147483647
    return x % n + 1
  end
end

--- nil when the answer has the promised shape, else what is wrong with it.
local function bad_answer(text, ok, doc, err)
  if not ok then return "raised: " .. tostring(doc) end
  if doc ~= nil then
    if type(doc) ~= "table" or err ~= nil then return "a document and an error" end
    for _, k in ipairs({ "resources", "outputs", "variables", "providers" }) do
      if type(doc[k]) ~= "table" then return "no " .. k end
    end
    for _, r in ipairs(doc.resources) do
      if type(r.type) ~= "string" or type(r.name) ~= "string" or type(r.line) ~= "number"
        or type(r.text) ~= "string" or not text:find(r.text, 1, true) then
        return "a malformed resource"
      end
      local ok_inst, keys = pcall(template.instances, r)
      if not ok_inst or type(keys.n) ~= "number" then return "instances raised" end
    end
    return nil
  end
  if type(err) ~= "string" then return "no error message" end
  if not err:match("^line %d+: .") then return "an error without its line: " .. err end
  if err:find("[\r\n]") then return "an error over several lines" end
  if err:find("internal error", 1, true) then return err end
  return nil
end

local function check(text, what)
  local ok, doc, err = pcall(template.parse, text)
  local bad = bad_answer(text, ok, doc, err)
  if bad then
    error(("%s: %s\n--- input (%d bytes) ---\n%s"):format(what, bad, #text, text:sub(1, 400)), 0)
  end
  return doc
end

local MUTATION_BYTES = '{}[]()"\\$%<-#/*\n=,:.\0\255 aEOF'

describe("rfs.emulator.template fuzz round", function()
  it("answers every prefix of every corpus template", function()
    local parses = 0
    for _, name in ipairs(FILES) do
      local text = read(name)
      local stride = math.max(1, math.ceil(#text / 4096))
      for len = 0, #text, stride do
        check(text:sub(1, len), name .. " cut at " .. len)
        parses = parses + 1
      end
    end
    assert.is_true(parses > 10000)
  end)

  it("answers random byte changes to every corpus template", function()
    local rand = prng(20261127)
    local docs, errs = 0, 0
    for _, name in ipairs(FILES) do
      local text = read(name)
      for round = 1, 100 do
        local bytes = {}
        for i = 1, #text do bytes[i] = text:sub(i, i) end
        for _ = 1, rand(4) do
          local at = rand(#bytes + 1)
          local b = rand(3) == 1 and string.char(rand(256) - 1) or MUTATION_BYTES:sub(rand(#MUTATION_BYTES)):sub(1, 1)
          local op = rand(3)
          if op == 1 then table.insert(bytes, at, b)
          elseif op == 2 and at <= #bytes then table.remove(bytes, at)
          else bytes[at] = b end
        end
        if check(table.concat(bytes), name .. " mutation " .. round) then docs = docs + 1 else errs = errs + 1 end
      end
    end
    -- both answers occur: the changes are neither all harmless nor all fatal
    assert.is_true(docs > 100 and errs > 100, docs .. " documents, " .. errs .. " errors")
  end)

  it("reads a 200 KiB template with 2,000 resources", function()
    local parts = {}
    for i = 1, 2000 do
      parts[i] = ([[
resource "huaweicloud_vpc" "vpc_%d" {
  name = "vpc-%d-${var.env}"
  cidr = "10.%d.0.0/16"
  tags = { index = "%d" }
}
]]):format(i, i, i % 256, i)
    end
    local text = table.concat(parts, "\n")
    assert.is_true(#text >= 200 * 1024)
    local doc = check(text, "2,000 resources")
    assert.equal(2000, #doc.resources)
    assert.equal("vpc_2000", doc.resources[2000].name)
    assert.equal(6 * 1999 + 1, doc.resources[2000].line)
  end)

  it("answers deep nesting and long runs of openers without running out of stack", function()
    local n = 20000
    local cases = {
      ["brackets"] = 'resource "a" "b" {\n  x = ' .. ("["):rep(n) .. ("]"):rep(n) .. "\n}\n",
      ["unclosed brackets"] = 'resource "a" "b" {\n  x = ' .. ("(["):rep(n) .. "\n}\n",
      ["blocks"] = ("a {\n"):rep(n) .. ("}\n"):rep(n),
      ["interpolations"] = 'resource "a" "b" {\n  x = ' .. ('"${'):rep(n) .. ('}"'):rep(n) .. "\n}\n",
      ["json arrays"] = '{"variable": {"v": {"default": ' .. ("["):rep(n) .. ("]"):rep(n) .. "}}}",
      ["heredoc openers"] = 'resource "a" "b" {\n' .. ("  x = <<EOF\n"):rep(n) .. "}\n",
      ["comment openers"] = ("/*"):rep(n),
      ["quotes"] = ('"'):rep(n),
      ["labels"] = "resource" .. (' "a"'):rep(n) .. " {}\n",
      ["long line"] = 'resource "a" "b" {\n  x = "' .. ("x"):rep(10 * n) .. '"\n}\n',
      ["many attributes"] = (function()
        local attrs = {}
        for i = 1, n do attrs[i] = ("  x%d = %d\n"):format(i, i) end
        return 'resource "a" "b" {\n' .. table.concat(attrs) .. "}\n"
      end)(),
    }
    local literal_deep = 'variable "v" {\n  default = ' .. ("["):rep(1000) .. ("]"):rep(1000) .. "\n}\n"
    for what, text in pairs(cases) do check(text, what) end
    local doc = check(literal_deep, "deep literal")
    assert.is_true(doc.variables[1].has_default)
    assert.equal(("["):rep(1000) .. ("]"):rep(1000), doc.variables[1].default_expr)
  end)
end)
