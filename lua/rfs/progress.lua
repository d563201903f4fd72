-- rfs.progress: renderers for wait's on_progress. Only states and events are shown:
-- nothing a renderer prints comes from credentials.
--
--   stack:wait{ on_progress = rfs.progress.human() }          -- people (stderr)
--   stack:wait{ on_progress = rfs.progress.json{ out = io.stdout } } -- machines (JSON lines)

local progress = {}

local function clock_text(elapsed)
  elapsed = math.floor((elapsed or 0) + 0.5)
  local h, m, s = math.floor(elapsed / 3600), math.floor((elapsed % 3600) / 60), elapsed % 60
  if h > 0 then return ("%dh%02dm%02ds"):format(h, m, s) end
  return ("%2dm%02ds"):format(m, s)
end
progress.clock_text = clock_text

local printable = require("rfs.errors").printable

--- The text of one progress report, or nil for reports a person need not see.
function progress.format(p)
  local head = ("[%s] %s"):format(clock_text(p.elapsed), printable(p.stack))
  if p.type == "status" then
    return ("%s  %s"):format(head, printable(p.status))
  elseif p.type == "event" then
    local e = p.event
    local what = e.resource_name and printable(e.resource_name) or "stack"
    local line = ("%s  %-24s %s"):format(head, what, printable(e.event_type))
    if e.event_message and e.event_message ~= "" then line = line .. ": " .. printable(e.event_message) end
    return line
  elseif p.type == "instance" then -- a stack set instance (ss:wait)
    local line = ("%s  %-24s %s"):format(head, printable(tostring(p.region) .. "/" .. tostring(p.domain_id)),
                                         printable(p.status))
    if p.status_message and p.status_message ~= "" then line = line .. ": " .. printable(p.status_message) end
    return line
  elseif p.type == "done" then
    return ("%s  %s %s"):format(head, p.ok and "done:" or "ended:", printable(p.status))
  end
end

--- progress.human{ out = io.stderr, tty = false } -> on_progress. With tty = true the
--  current state is one line refreshed in place, and events scroll above it.
function progress.human(opts)
  opts = opts or {}
  local out = opts.out or io.stderr
  local tty = opts.tty == true
  local status_line
  return function(p)
    local text = progress.format(p)
    if not text then return end
    if tty then
      if p.type == "status" then
        status_line = text
        out:write("\r\27[K", text)
      else
        out:write("\r\27[K", text, "\n", status_line or "")
        if p.type == "done" then out:write("\r\27[K") end
      end
    else
      out:write(text, "\n")
    end
    if out.flush then out:flush() end
  end
end

-- An event as the server sent it, keeping the fields JSON can always carry (strings,
-- booleans, finite numbers): a sparse array or a 1e999 in an answer must not make the
-- encoder raise in the middle of a wait.
local function plain_fields(e)
  if type(e) ~= "table" then return nil end
  local out = {}
  for k, v in pairs(e) do
    local t = type(v)
    if type(k) == "string" and (t == "string" or t == "boolean"
                                or (t == "number" and v == v and v ~= math.huge and v ~= -math.huge)) then
      out[k] = v
    end
  end
  return out
end

--- progress.json{ out = io.stdout } -> on_progress writing one JSON object per line.
function progress.json(opts)
  opts = opts or {}
  local cjson = require "cjson"
  local out = opts.out or io.stdout
  return function(p)
    local record = { type = p.type, stack = p.stack, elapsed = p.elapsed, deployment_id = p.deployment_id,
                     status = p.status, previous = p.previous, ok = p.ok, event = plain_fields(p.event),
                     operation_id = p.operation_id, region = p.region, domain_id = p.domain_id,
                     status_message = p.status_message }
    out:write(cjson.encode(record), "\n")
    if out.flush then out:flush() end
  end
end

return progress
