-- rfs.whoami: `rfs whoami`, which credentials source and project the command line
-- found (the same chain as rfs.new{}), without any secret. Exit 0, or 3 when the
-- keys or the project could not be had.

local cjson = require "cjson"
local client_mod = require "rfs.client"

local whoami = {}

local function duration(s)
  if s < 0 then return "expired" end
  return ("%dh%02dm"):format(math.floor(s / 3600), math.floor(s % 3600 / 60))
end

--- whoami.run(client, args, io) -> exit code. io = { stdout, stderr }; args.output "json" or "text".
function whoami.run(client, args, io_)
  local info, err = client_mod.credentials_info(client)
  if not info then
    io_.stderr:write(tostring(err), "\n")
    return 3
  end
  if args.output == "json" then
    io_.stdout:write(cjson.encode(info), "\n")
    return 0
  end
  local rows = { { "source", info.source }, { "project_id", info.project_id }, { "region", info.region or "" },
                 { "endpoint", info.endpoint },
                 { "keys", info.temporary and ("temporary, valid for " .. duration(info.expires_in or 0)) or "long-lived" } }
  for _, r in ipairs(rows) do io_.stdout:write(("%-11s %s\n"):format(r[1], tostring(r[2]))) end
  return 0
end

return whoami
