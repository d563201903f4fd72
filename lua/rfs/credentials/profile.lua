-- rfs.credentials.profile: the official SDKs' profile file, INI with a [basic] section:
--
--   [basic]
--   ak = ...
--   sk = ...
--   project_id = ...          ; security_token, iam_endpoint, idp_id, id_token_file too
--
-- A malformed file raises, naming the file and the line (never the line's text: it may
-- hold a key); nothing of it is used then. A file others can read gets a warning.

local core = require "rfs.core"

local profile = {}

profile.KEYS = { ak = true, sk = true, security_token = true, project_id = true, iam_endpoint = true,
                 idp_id = true, id_token_file = true, domain_id = true }

--- Where warnings go: nginx's error log inside OpenResty, stderr elsewhere. Replaceable.
function profile.warn(message)
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.log) == "function" then
    ngx.log(ngx.WARN, message)
  else
    io.stderr:write(message, "\n")
  end
end

local function malformed(path, n, what)
  error(("rfs.new: malformed credentials file %s, line %d: %s"):format(path, n, what), 0)
end

--- profile.parse(text, path) -> { section = { key = value } }; raises when malformed.
function profile.parse(text, path)
  local sections, current = {}, nil
  local n = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    line = line:gsub("\r$", "")
    if n == 1 then line = line:gsub("^\239\187\191", "") end -- a UTF-8 byte order mark
    local trimmed = line:match("^%s*(.-)%s*$")
    if trimmed == "" or trimmed:match("^[;#]") then -- luacheck: ignore 542
      -- blank or a comment
    elseif trimmed:match("^%[") then
      local name = trimmed:match("^%[%s*([%w_%-%.]+)%s*%]$")
      if not name then malformed(path, n, "a section header must look like [basic]") end
      if sections[name] then malformed(path, n, "section [" .. name .. "] appears twice") end
      sections[name] = {}
      current = sections[name]
    else
      local key, value = trimmed:match("^([%w_%-%.]+)%s*[=:]%s*(.-)$")
      if not key then malformed(path, n, "expected 'key = value', a [section] or a ; comment") end
      if not current then malformed(path, n, "'" .. key .. "' comes before any [section]") end
      if current[key] ~= nil then malformed(path, n, "'" .. key .. "' is set twice") end
      if value:find("[%z\1-\8\11-\31\127]") then
        malformed(path, n, "the value of '" .. key .. "' holds a control character")
      end
      current[key] = value
    end
  end
  return sections
end

--- profile.read(path) -> the [basic] keys (empty values dropped) | nil, why not.
--  Raises when the file exists but is malformed or unreadable.
function profile.read(path)
  local f, open_err = io.open(path, "rb")
  if not f then
    if core.file_mode(path) == nil then return nil, path .. " does not exist" end
    error("rfs.new: cannot read credentials file " .. path .. ": " .. tostring(open_err), 0)
  end
  local text, read_err = f:read("*a")
  f:close()
  if not text then
    error("rfs.new: cannot read credentials file " .. path .. ": " .. tostring(read_err), 0)
  end
  local sections = profile.parse(text, path)
  local mode = core.file_mode(path)
  if mode and mode % 64 ~= 0 then -- group or others may read (or write) it
    profile.warn(("rfs: warning: the credentials file %s can be read by other users (mode %04o); "
                  .. "run chmod 600 %s"):format(path, mode, path))
  end
  local basic = sections.basic
  if not basic then return nil, path .. " has no [basic] section" end
  local out = {}
  for k, v in pairs(basic) do
    if profile.KEYS[k] and v ~= "" then out[k] = v end
  end
  return out
end

return profile
