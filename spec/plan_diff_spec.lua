-- The plan diff: how tostring(plan:items()) and `rfs plan show` print an execution plan.
local plan_diff = require "rfs.plan_diff"

local function item(t)
  t.resource_type = t.resource_type or "huaweicloud_vpc"
  t.resource_name = t.resource_name or "main"
  t.mode = t.mode or "RESOURCE"
  t.attributes = t.attributes or {}
  return t
end

local function attr(name, previous, target)
  return { name = name, previous_value = previous, target_value = target }
end

local function diff(items)
  return tostring(plan_diff.items(items))
end

describe("the plan diff", function()
  it("shows an add with its attributes, unknown values as (known after apply)", function()
    local text = diff{ item{ action = "ADD", resource_type = "huaweicloud_compute_instance", resource_name = "web",
                             index = "0", attributes = { attr("flavor_id", nil, "s6.small.1"),
                                                         attr("id", nil, "(known after apply)"),
                                                         attr("vpc_id", nil, "(will be generated after apply)") } } }
    assert.equal(table.concat({
      "+ huaweicloud_compute_instance.web[0]",
      '    + flavor_id = "s6.small.1"',
      "    + id        = (known after apply)",
      "    + vpc_id    = (known after apply)",
      "",
      "1 to add, 0 to change, 0 to delete.",
    }, "\n"), text)
  end)

  it("shows a delete, its values going to null, and a for_each key quoted", function()
    local text = diff{ item{ action = "DELETE", resource_type = "huaweicloud_obs_bucket", resource_name = "b",
                             index = "logs", attributes = { attr("bucket", "bkt-logs", nil) } } }
    assert.equal(table.concat({
      '- huaweicloud_obs_bucket.b["logs"]',
      '    - bucket = "bkt-logs" → null',
      "",
      "0 to add, 0 to change, 1 to delete.",
    }, "\n"), text)
  end)

  it("shows an update with only the attributes that change, previous → target", function()
    local text = diff{ item{ action = "UPDATE", attributes = { attr("name", "vpc-old", "vpc-new"),
                                                               attr("cidr", "10.0.0.0/16", "10.0.0.0/16"),
                                                               attr("tags", "a", "(known after apply)") } } }
    assert.equal(table.concat({
      "~ huaweicloud_vpc.main",
      '    ~ name = "vpc-old" → "vpc-new"',
      '    ~ tags = "a" → (known after apply)',
      "",
      "0 to add, 1 to change, 0 to delete.",
    }, "\n"), text)
  end)

  it("shows replacements as -/+ and +/-, each one add and one delete, with the reason", function()
    local items = plan_diff.items{
      item{ action = "DELETE_THEN_ADD", resource_name = "a", action_reason = "cidr cannot be changed in place",
            attributes = { attr("cidr", "10.0.0.0/16", "10.1.0.0/16") } },
      item{ action = "ADD_THEN_DELETE", resource_name = "b" },
    }
    local text = tostring(items)
    assert.matches("^%-/%+ huaweicloud_vpc%.a %(replace%)  # cidr cannot be changed in place\n", text)
    assert.matches('\n    ~ cidr = "10%.0%.0%.0/16" → "10%.1%.0%.0/16"\n', text)
    assert.matches("\n%+/%- huaweicloud_vpc%.b %(replace%)\n", text)
    assert.matches("\n2 to add, 0 to change, 2 to delete%.$", text)
    assert.same({ add = 2, change = 0, delete = 2, import = 0 }, items.summary)
  end)

  it("puts drift first, under its own heading, and does not count it", function()
    local text = diff{
      item{ action = "UPDATE", drifted = true, attributes = { attr("name", "vpc-a", "vpc-changed-by-hand") } },
      item{ action = "UPDATE", drifted = false, attributes = { attr("name", "vpc-changed-by-hand", "vpc-a") } },
      item{ action = "NO_OPERATION", drifted = true, resource_name = "kept" },
    }
    assert.equal(table.concat({
      "Changed outside RFS since the last deployment (drift):",
      "~ huaweicloud_vpc.main (drifted)",
      '    ~ name = "vpc-a" → "vpc-changed-by-hand"',
      "  huaweicloud_vpc.kept (drifted)",
      "",
      "~ huaweicloud_vpc.main",
      '    ~ name = "vpc-changed-by-hand" → "vpc-a"',
      "",
      "0 to add, 1 to change, 0 to delete.",
    }, "\n"), text)
  end)

  it("marks imports and counts them first", function()
    local text = diff{ item{ action = "ADD", imported = true, resource_id = "vpc-123" } }
    assert.matches("^%+ huaweicloud_vpc%.main %(import%)\n", text)
    assert.matches("\n1 to import, 1 to add, 0 to change, 0 to delete%.$", text)
  end)

  it("never shows a sensitive value, and still says it changes", function()
    local text = diff{
      item{ action = "ADD", resource_name = "n", attributes = { attr("admin_pass", nil, "<sensitive>") } },
      item{ action = "UPDATE", resource_name = "u", attributes = { attr("admin_pass", "<sensitive>", "<sensitive>"),
                                                                  attr("password", "(sensitive)", "(sensitive value)") } },
    }
    assert.matches("    %+ admin_pass = %(sensitive value%)\n", text)
    assert.matches("    ~ admin_pass = %(sensitive value%) → %(sensitive value%)\n", text)
    assert.matches("    ~ password   = %(sensitive value%) → %(sensitive value%)\n", text)
    assert.not_matches("<sensitive>", text, 1, true)
  end)

  it("hides unchanged resources and data sources, and says when nothing changes", function()
    local text = diff{ item{ action = "NO_OPERATION" }, item{ action = "NO_OPERATION", mode = "DATA" } }
    assert.equal("No changes: the stack already matches the template.\n\n0 to add, 0 to change, 0 to delete.", text)
  end)

  it("prints server text on one line each, never as terminal control", function()
    local text = diff{ item{ action = "ADD", resource_name = "x\n+ forged", index = "k\27[2J",
                             attributes = { attr("name\r\n", nil, "v\27]0;title\7") } } }
    assert.not_matches("[\27\7\r]", text)
    assert.not_matches("\n%+ forged", text)
    assert.equal(3, select(2, text:gsub("\n", "\n"))) -- the resource, its attribute, a blank line, the summary
  end)

  it("reads an item without attributes or with odd values without raising", function()
    local text = diff{ { action = "ADD" }, { action = "UPDATE", attributes = { { name = "n", previous_value = 1,
                                                                                target_value = {} } } }, "junk" }
    assert.matches("^%+ %?%.%?\n~ %?%.%?\n", text)
    assert.matches("1 to add, 1 to change, 0 to delete%.$", text)
  end)
end)
