-- rfs.emulator.server: the luasocket front-end of the emulator. One process, many
-- keep-alive connections multiplexed with socket.select; a fault's delay holds that
-- response without stalling the other connections.

local socket = require "socket"
local http = require "rfs.emulator.http"

local server = {}

local function new_conn(sock, id)
  sock:settimeout(0)
  local peer = sock:getpeername()
  return { sock = sock, buf = "", out = "", id = id, peer = peer, close_after = false, hold_until = nil }
end

local function flush(conn)
  if conn.out == "" then return true end
  local sent, err, partial = conn.sock:send(conn.out)
  local n = sent or partial or 0
  conn.out = conn.out:sub(n + 1)
  if err and err ~= "timeout" then return false end
  return true
end

-- Parses and answers every complete request in the connection's buffer.
local function serve_buffer(emu, conn, now)
  while conn.buf ~= "" and not conn.hold_until and not conn.close_after do
    local req, consumed, status, message = http.parse(conn.buf)
    if not req then
      if consumed == "more" then return end
      conn.out = conn.out .. http.serialize(emu:reject(status, message), false)
      conn.close_after = true
      return
    end
    conn.buf = conn.buf:sub(consumed + 1)
    req.peer, req.connection = conn.peer, conn.id
    local resp = emu:handle(req)
    if resp.drop == "before" or resp.drop == "after" then
      conn.close_after, conn.drop = true, true
      return
    end
    local bytes = http.serialize(resp, req.keep_alive)
    if resp.truncate then
      bytes = bytes:sub(1, #bytes - math.ceil(#(resp.body or "") / 2))
      conn.close_after = true
    end
    if resp.delay and resp.delay > 0 then
      conn.hold_until, conn.held = now + resp.delay, bytes
    else
      conn.out = conn.out .. bytes
    end
    if not req.keep_alive then conn.close_after = true end
  end
end

--- Serves until stop() returns true (checked about every 50 ms). opts: host, port, emulator,
--  on_listen(url), stop.
function server.run(opts)
  local emu = opts.emulator
  local listener = assert(socket.bind(opts.host or "127.0.0.1", opts.port or 0))
  listener:settimeout(0)
  local host, port = listener:getsockname()
  if opts.on_listen then opts.on_listen(("http://%s:%d"):format(host, port)) end
  local conns, next_id = {}, 0
  local stop = opts.stop or function() return false end
  while not stop() do
    local readers = { listener }
    local writers = {}
    for _, c in ipairs(conns) do
      readers[#readers + 1] = c.sock
      if c.out ~= "" then writers[#writers + 1] = c.sock end
    end
    local readable = socket.select(readers, writers, 0.05)
    local now = socket.gettime()
    for _, s in ipairs(readable or {}) do
      if s == listener then
        local client = listener:accept()
        if client then
          next_id = next_id + 1
          conns[#conns + 1] = new_conn(client, next_id)
        end
      end
    end
    local alive = {}
    for _, c in ipairs(conns) do
      local data, err, partial = c.sock:receive(8192)
      local chunk = data or partial
      if chunk and chunk ~= "" then c.buf = c.buf .. chunk end
      local closed = err == "closed"
      if c.hold_until and now >= c.hold_until then
        c.out, c.hold_until, c.held = c.out .. c.held, nil, nil
      end
      if not closed and not c.drop then serve_buffer(emu, c, now) end
      local ok = flush(c)
      if closed or c.drop or not ok or (c.close_after and c.out == "" and not c.hold_until) then
        c.sock:close()
      else
        alive[#alive + 1] = c
      end
    end
    conns = alive
    emu:tick()
  end
  for _, c in ipairs(conns) do c.sock:close() end
  listener:close()
end

return server
