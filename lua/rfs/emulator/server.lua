-- rfs.emulator.server: the luasocket front-end of the emulator. One process, many
-- keep-alive connections multiplexed with socket.select; a fault's delay holds that
-- response without stalling the other connections.
--
-- select() handles at most FD_SETSIZE (1024) descriptors, so the server keeps at most
-- max_connections (512): past that, a new connection takes the place of the one idle the
-- longest, or gets a 503 and is closed when every kept one is busy. A connection silent for
-- idle_timeout seconds is closed, and a client that half-closes after its request
-- (shutdown(SHUT_WR)) still gets its answer.

local socket = require "socket"
local http = require "rfs.emulator.http"

local server = {}

server.MAX_CONNECTIONS = 512
server.IDLE_TIMEOUT = 60
local ACCEPTS_PER_TURN = 64

local function new_conn(sock, id, now)
  sock:settimeout(0)
  local peer = sock:getpeername()
  return { sock = sock, buf = "", out = "", id = id, peer = peer, close_after = false, hold_until = nil,
           last_active = now }
end

local function flush(conn, now)
  if conn.out == "" then return true end
  local sent, err, partial = conn.sock:send(conn.out)
  local n = sent or partial or 0
  if n > 0 then conn.last_active = now end
  conn.out = conn.out:sub(n + 1)
  if err and err ~= "timeout" then return false end
  return true
end

-- Parses and answers every complete request in the connection's buffer.
local function serve_buffer(emu, conn, now)
  while conn.buf ~= "" and not conn.hold_until and not conn.close_after do
    local req, consumed, status, message = http.parse(conn.buf)
    if not req then
      if consumed == "more" then
        -- the peer will send nothing more: what is there is all there is
        if conn.eof then conn.close_after = true end
        return
      end
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
    local keep_alive = req.keep_alive and not conn.eof
    local bytes = http.serialize(resp, keep_alive)
    if resp.truncate then
      bytes = bytes:sub(1, #bytes - math.ceil(#(resp.body or "") / 2))
      conn.close_after = true
    end
    if resp.delay and resp.delay > 0 then
      conn.hold_until, conn.held = now + resp.delay, bytes
    else
      conn.out = conn.out .. bytes
    end
    if not keep_alive then conn.close_after = true end
  end
  if conn.eof and conn.buf == "" then conn.close_after = true end
end

-- Never lets one request take the server down: an error answers that request 500.
local function serve_safely(emu, conn, now)
  local ok = pcall(serve_buffer, emu, conn, now)
  if not ok then
    conn.buf, conn.hold_until, conn.held = "", nil, nil
    conn.out = conn.out .. http.serialize(emu:reject(500, "internal error"), false)
    conn.close_after = true
  end
end

local function idle(c)
  return c.buf == "" and c.out == "" and not c.hold_until
end

-- Reads what the peer sent, without waiting. Returns false when the connection is gone
-- (reset by the peer); a clean close of the peer's side only marks it eof (a half-close:
-- answer what was asked, then close).
local function receive(c, now)
  if c.eof then return true end
  local data, err, partial = c.sock:receive(8192)
  local chunk = data or partial
  if chunk and chunk ~= "" then
    c.buf = c.buf .. chunk
    c.last_active = now
  end
  if err == "closed" then
    c.eof = true
  elseif err and err ~= "timeout" then
    return false
  end
  return true
end

-- Room for one more connection: true when under the bound, or after closing the one idle
-- the longest (an idle keep-alive connection may be closed at any time); false when every
-- kept connection is in the middle of a request.
local function make_room(conns, max_conns, now)
  if #conns < max_conns then return true end
  while true do
    local best
    for i, c in ipairs(conns) do
      if idle(c) and not c.eof and (not best or c.last_active < conns[best].last_active) then best = i end
    end
    if not best then return false end
    local c = conns[best]
    -- a request may be waiting unread in the socket: then it is not idle
    if not receive(c, now) or c.buf == "" then
      table.remove(conns, best).sock:close()
      return true
    end
  end
end

local function refuse(emu, sock, max_conns)
  sock:settimeout(0)
  local resp = emu:reject(503, "the emulator keeps " .. max_conns .. " busy connections at most; try again")
  resp.headers["Retry-After"] = "1"
  sock:send(http.serialize(resp, false))
  -- read what the client sent, so that closing sends FIN, not a reset that could discard the answer
  sock:shutdown("send")
  sock:receive(64 * 1024)
  sock:close()
end

--- Serves until stop() returns true (checked about every 50 ms). opts: host, port, emulator,
--  on_listen(url), stop, max_connections (512), idle_timeout (60 seconds).
function server.run(opts)
  local emu = opts.emulator
  local max_conns = opts.max_connections or server.MAX_CONNECTIONS
  local idle_timeout = opts.idle_timeout or server.IDLE_TIMEOUT
  local listener = assert(socket.bind(opts.host or "127.0.0.1", opts.port or 0, 511))
  listener:settimeout(0)
  local host, port = listener:getsockname()
  if opts.on_listen then opts.on_listen(("http://%s:%d"):format(host, port)) end
  local conns, next_id = {}, 0
  local stop = opts.stop or function() return false end
  while not stop() do
    local readers = { listener }
    local writers = {}
    for _, c in ipairs(conns) do
      if not c.eof then readers[#readers + 1] = c.sock end
      if c.out ~= "" then writers[#writers + 1] = c.sock end
    end
    local readable = socket.select(readers, writers, 0.05)
    local now = socket.gettime()
    if readable and readable[listener] then
      for _ = 1, ACCEPTS_PER_TURN do
        local client = listener:accept()
        if not client then break end
        if make_room(conns, max_conns, now) then
          next_id = next_id + 1
          conns[#conns + 1] = new_conn(client, next_id, now)
        else
          refuse(emu, client, max_conns)
        end
      end
    end
    local alive = {}
    for _, c in ipairs(conns) do
      local gone = not receive(c, now)
      if c.hold_until and now >= c.hold_until then
        c.out, c.hold_until, c.held = c.out .. c.held, nil, nil
      end
      if not gone and not c.drop then serve_safely(emu, c, now) end
      gone = gone or c.drop or not flush(c, now)
        or (c.close_after and c.out == "" and not c.hold_until)
        or (not c.hold_until and now - c.last_active > idle_timeout)
      if gone then
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
