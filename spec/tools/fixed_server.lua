-- A minimal keep-alive HTTP/1.1 server on loopback that answers every request with
-- one fixed JSON body (a stack's metadata). For memcheck and memory measurements,
-- where the emulator's own work would only add noise.
--   lua5.4 spec/tools/fixed_server.lua PORTFILE
-- writes the port it listens on to PORTFILE, then serves until killed.
local socket = require "socket"
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")

local BODY = '{"stack_id":"1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3","stack_name":"my-stack",'
  .. '"status":"DEPLOYMENT_COMPLETE","description":"fixed","enable_auto_rollback":false,'
  .. '"enable_deletion_protection":false,"agencies":[],"create_time":"2026-11-24T00:00:00Z",'
  .. '"update_time":"2026-11-24T00:00:00Z"}'
local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #BODY
  .. "\r\nX-Request-Id: fixed\r\n\r\n" .. BODY

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
local f = assert(io.open(assert(arg[1], "usage: fixed_server.lua PORTFILE"), "w"))
f:write(port, "\n")
f:close()
server:settimeout(0)

local clients = {}
local function serve(c)
  -- read one request: headers, then Content-Length bytes
  local length = 0
  while true do
    local line, err = c:receive("*l")
    if not line then return err ~= "timeout" end
    if line == "" then break end
    local n = line:lower():match("^content%-length:%s*(%d+)")
    if n then length = tonumber(n) end
  end
  if length > 0 and not c:receive(length) then return true end
  c:send(RESPONSE)
  return false
end

while true do
  local readable = socket.select({ server, unpack(clients) }, nil, 1)
  for _, s in ipairs(readable or {}) do
    if s == server then
      local c = server:accept()
      if c then c:settimeout(1) clients[#clients + 1] = c end
    else
      if serve(s) then
        s:close()
        for i, c in ipairs(clients) do if c == s then table.remove(clients, i) break end end
      end
    end
  end
end
