-- The emulator's template reader: what a stack's template_body declares.
local template = require "rfs.emulator.template"

local DIR = "spec/fixtures/templates/"

local function read(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local function parse(name)
  local doc, err = template.parse(read(name))
  assert(doc, err)
  return doc
end

local function names(list)
  local out = {}
  for i, r in ipairs(list) do
    out[i] = r.mode and (r.mode .. " " .. r.type .. "." .. r.name) or r.name
  end
  return out
end

describe("rfs.emulator.template", function()
  it("reads a VPC with a subnet, a variable with a validation and outputs", function()
    local doc = parse("basic_vpc.tf")
    assert.same({ "managed huaweicloud_vpc.main", "managed huaweicloud_vpc_subnet.sub" }, names(doc.resources))
    local vpc, sub = doc.resources[1], doc.resources[2]
    assert.equal(16, vpc.line)
    assert.equal("10.0.0.0/16", vpc.attributes.cidr.value)
    assert.equal('"vpc-${var.env}"', vpc.attributes.name.expr)
    assert.is_nil(vpc.attributes.name.value)
    assert.same({ "lifecycle" }, { vpc.blocks[1].type })
    assert.equal(3, sub.count)
    assert.same({ 0, 1, 2, n = 3 }, template.instances(sub))
    assert.same({ "huaweicloud_vpc.main" }, sub.depends_on)
    assert.same({ "vpc_id", "sub0" }, names(doc.outputs))
    assert.same({ mode = "managed", type = "huaweicloud_vpc", name = "main", attr = "id" }, doc.outputs[1].ref)
    assert.same({ mode = "managed", type = "huaweicloud_vpc_subnet", name = "sub", index = 0, attr = "id" },
      doc.outputs[2].ref)
    assert.is_true(doc.outputs[2].sensitive)
    local v = doc.variables[1]
    assert.same({ name = "vpc_name", line = 2, type = "string", description = "The VPC name", has_default = true,
                  default = "vpc-basic", sensitive = false, nullable = true,
                  validations = { { condition = "length(var.vpc_name) > 0",
                                    error_message = "The name must not be empty." } } }, v)
    assert.same({ { name = "huaweicloud", line = 12 } }, doc.providers)
  end)
end)
