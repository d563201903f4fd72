-- rfs.plan_diff: an execution plan's items (GetExecutionPlan) as the plan diff a Terraform
-- user knows. tostring(plan:items()) and `rfs plan show` both print it:
--
--   + huaweicloud_compute_instance.web[0]
--       + flavor_id = "s6.small.1"
--       + id        = (known after apply)
--   ~ huaweicloud_vpc.main
--       ~ name = "vpc-old" → "vpc-new"
--   -/+ huaweicloud_vpc_subnet.sub (replace)
--   - huaweicloud_obs_bucket.logs
--       - bucket = "logs" → null
--
--   1 to add, 1 to change, 2 to delete.
--
-- Actions: + ADD, - DELETE, ~ UPDATE, -/+ DELETE_THEN_ADD, +/- ADD_THEN_DELETE (a replacement
-- counts as one add and one delete); NO_OPERATION items are not shown. Drifted items (what
-- was changed outside RFS) come first, under their own heading; imported ones are marked. Values RFS cannot know
-- before the apply read "(known after apply)"; sensitive values are never shown. Server text
-- is printed on one line each, never as terminal control.

local errors = require "rfs.errors"

local plan_diff = {}

local SYMBOL = { ADD = "+", DELETE = "-", UPDATE = "~", DELETE_THEN_ADD = "-/+", ADD_THEN_DELETE = "+/-" }
local REPLACES = { DELETE_THEN_ADD = true, ADD_THEN_DELETE = true }
plan_diff.SYMBOL = SYMBOL

-- What RFS (and the emulator) send for a value that exists only once applied.
local UNKNOWN = { ["(known after apply)"] = true, ["(will be generated after apply)"] = true }
-- What stands for a sensitive value.
local SENSITIVE = { ["<sensitive>"] = true, ["(sensitive)"] = true, ["(sensitive value)"] = true }

local printable = errors.printable

--- TYPE.NAME, TYPE.NAME[0] or TYPE.NAME["key"] (data sources: data.TYPE.NAME).
function plan_diff.address(item)
  local a = printable(item.resource_type or "?") .. "." .. printable(item.resource_name or "?")
  if item.mode == "DATA" then a = "data." .. a end
  local index = item.index
  if index ~= nil and index ~= "" then
    index = tostring(index)
    if index:match("^%d+$") then
      a = a .. "[" .. index .. "]"
    else
      a = a .. '["' .. printable(index) .. '"]'
    end
  end
  return a
end

local function value_text(v)
  if v == nil then return "null" end
  v = tostring(v)
  if UNKNOWN[v] then return "(known after apply)" end
  if SENSITIVE[v] then return "(sensitive value)" end
  return '"' .. printable(v) .. '"'
end

local function is_value(v)
  return type(v) == "string" or type(v) == "number" or type(v) == "boolean"
end

-- The lines of one item's changed attributes: { sign, name, text }.
local function attribute_lines(item)
  local out = {}
  local attrs = type(item.attributes) == "table" and item.attributes or {}
  for _, a in ipairs(attrs) do
    if type(a) == "table" and a.name ~= nil then
      local prev = is_value(a.previous_value) and a.previous_value or nil
      local target = is_value(a.target_value) and a.target_value or nil
      local name = printable(a.name)
      if item.action == "ADD" or (prev == nil and target ~= nil) then
        out[#out + 1] = { "+", name, value_text(target) }
      elseif item.action == "DELETE" or (target == nil and prev ~= nil) then
        out[#out + 1] = { "-", name, value_text(prev) .. " → null" }
      elseif tostring(prev) ~= tostring(target) or SENSITIVE[tostring(target)] then
        -- a sensitive value that RFS lists has changed, though neither side can be shown
        out[#out + 1] = { "~", name, value_text(prev) .. " → " .. value_text(target) }
      end
    end
  end
  return out
end

--- The counts a summary line shows: { add, change, delete, import }.
function plan_diff.counts(items)
  local c = { add = 0, change = 0, delete = 0, import = 0 }
  for _, item in ipairs(items) do
    if type(item) == "table" and not item.drifted then
      local a = item.action
      if a == "ADD" or REPLACES[a] then c.add = c.add + 1 end
      if a == "DELETE" or REPLACES[a] then c.delete = c.delete + 1 end
      if a == "UPDATE" then c.change = c.change + 1 end
      if item.imported then c.import = c.import + 1 end
    end
  end
  return c
end

--- The summary line: "N to add, N to change, N to delete." (and "N to import, " first when some are).
function plan_diff.summary_line(c)
  local s = ("%d to add, %d to change, %d to delete."):format(c.add, c.change, c.delete)
  if c.import > 0 then s = ("%d to import, "):format(c.import) .. s end
  return s
end

local function resource_line(item)
  local sym = SYMBOL[item.action]
  local line = sym .. " " .. plan_diff.address(item)
  local notes = {}
  if REPLACES[item.action] then notes[#notes + 1] = "replace" end
  if item.drifted then notes[#notes + 1] = "drifted" end
  if item.imported then notes[#notes + 1] = "import" end
  if #notes > 0 then line = line .. " (" .. table.concat(notes, "; ") .. ")" end
  -- why a resource is replaced is worth a line; why a new one is added is not
  if (REPLACES[item.action] or item.drifted) and type(item.action_reason) == "string" and item.action_reason ~= "" then
    line = line .. "  # " .. printable(item.action_reason)
  end
  return line
end

local function render_block(lines, item)
  lines[#lines + 1] = resource_line(item)
  local attrs = attribute_lines(item)
  local width = 0
  for _, a in ipairs(attrs) do width = math.max(width, #a[2]) end
  for _, a in ipairs(attrs) do
    lines[#lines + 1] = ("    %s %s%s = %s"):format(a[1], a[2], (" "):rep(width - #a[2]), a[3])
  end
end

--- The diff of a list of items: what changed outside RFS (drifted items) first, then one
--  block per resource the plan changes, then the summary line.
function plan_diff.render(items)
  local drift, changes = {}, {}
  for _, item in ipairs(items) do
    if type(item) == "table" and item.drifted then
      if SYMBOL[item.action] then
        render_block(drift, item)
      else
        drift[#drift + 1] = "  " .. plan_diff.address(item) .. " (drifted)"
      end
    elseif type(item) == "table" and SYMBOL[item.action] then
      render_block(changes, item)
    end
  end
  local lines = {}
  if #drift > 0 then
    lines[1] = "Changed outside RFS since the last deployment (drift):"
    for _, l in ipairs(drift) do lines[#lines + 1] = l end
    lines[#lines + 1] = ""
  end
  if #changes == 0 then changes[1] = "No changes: the stack already matches the template." end
  for _, l in ipairs(changes) do lines[#lines + 1] = l end
  lines[#lines + 1] = ""
  lines[#lines + 1] = plan_diff.summary_line(plan_diff.counts(items))
  return table.concat(lines, "\n")
end

local Items = { __name = "rfs.ExecutionPlanItems", __tostring = plan_diff.render }

--- Gives a list of items its diff text (tostring) and items.summary = { add, change, delete, import }.
function plan_diff.items(list)
  return setmetatable(list, { __name = Items.__name, __tostring = Items.__tostring,
                              __index = { summary = plan_diff.counts(list) } })
end

return plan_diff
