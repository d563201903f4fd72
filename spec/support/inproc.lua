-- The emulator's state machine in-process with a fake clock, behind a transport that
-- rfs.new{} uses: real signing and verification, no sockets, no sleeping. sleep() moves
-- the fake clock, so a six-hour deployment takes milliseconds.
--   local w = require("inproc").new{ queue_seconds = 2 }
--   w.emu, w.clock, w.sleeps, w:client(opts), w:seed{...}, w:fault{...}, w:applied(path)
local rfs = require "rfs"
local emulator = require "rfs.emulator"
local cjson = require "cjson"

local M = {}
local World = {}
World.__index = World

M.AK, M.SK, M.PROJECT = "AKINPROC00000001", "inproc-secret-key", "0123456789abcdef0123456789abcdef"

local function lower_keys(t)
  local out = {}
  for k, v in pairs(t) do out[k:lower()] = v end
  return out
end

function M.new(opts)
  opts = opts or {}
  local w = setmetatable({ t = 0, sleeps = {}, calls = 0 }, World)
  w.clock = function() return w.t end
  w.sleep = function(s)
    w.sleeps[#w.sleeps + 1] = s
    if s > 0 then w.t = w.t + s end
  end
  w.emu = emulator.new{ ak = M.AK, sk = M.SK, clock = w.clock, epoch = opts.epoch or 1795478400,
                        queue_seconds = opts.queue_seconds or 2, project_id = M.PROJECT,
                        wall_clock = os.time } -- the client signs with the real clock
  w.transport = function(req)
    w.calls = w.calls + 1
    local path, query = req.url:match("^https?://[^/]+([^?]*)%??(.*)$")
    local resp = w.emu:handle{ method = req.method, path = path, query = query, headers = lower_keys(req.headers),
                               body = req.body, peer = "127.0.0.1" }
    if resp.delay then w.t = w.t + resp.delay end
    if resp.drop == "after" then return nil, "timeout", "operation timed out (the answer was lost)", true end
    if resp.drop == "before" then return nil, "network", "connection reset by peer", true end
    if resp.delay and resp.delay >= (req.timeout or 30) then
      return nil, "timeout", "operation timed out", true
    end
    return { status = resp.status, headers = lower_keys(resp.headers), body = resp.body }
  end
  return w
end

function World:client(opts)
  local o = { endpoint = "http://emulator.local", project_id = M.PROJECT, ak = M.AK, sk = M.SK,
              transport = self.transport, sleep = self.sleep, clock = self.clock,
              retry = { attempts = 5, base = 1, cap = 20, random = function() return 0.5 end } }
  for k, v in pairs(opts or {}) do o[k] = v end
  return rfs.new(o)
end

local function control(self, path, body)
  local resp = self.emu:handle{ method = body and "POST" or "GET", path = path, query = "",
                                headers = { ["content-type"] = "application/json" },
                                body = body and cjson.encode(body) or "", peer = "127.0.0.1" }
  assert(resp.status < 300, resp.body)
  return cjson.decode(resp.body)
end

function World:seed(t) return control(self, "/_emulator/stacks", t) end
function World:fault(t) return control(self, "/_emulator/faults", t) end
function World:requests() return control(self, "/_emulator/requests").requests end
--- The identity stand-ins (metadata, federation, IAM): settings, or the counters when body is nil.
function World:identity(body) return control(self, "/_emulator/identity", body) end

--- How many continues to a path suffix started a deployment at the emulator.
function World:applied(suffix)
  local n = 0
  for _, r in ipairs(self:requests()) do
    if r.path:sub(-#suffix) == suffix and r.applied then n = n + 1 end
  end
  return n
end

return M
