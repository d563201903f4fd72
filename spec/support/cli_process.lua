-- bin/rfs and the examples as subprocesses against an emulator process, for the command
-- line's specs: one runner, one start-up, and the check that nothing printed a secret.
--
--   local C = require "cli_process"
--   local cli = C.new{ ak = AK, sk = SK, token = TOKEN, project = PROJECT,
--                      env = "unset RFS_ENDPOINT;", endpoint = true }
--   setup(function() cli:start{ time_scale = 50 } end)   -- cli.em: the emulator (emulator_process)
--   teardown(function() cli:stop() end)                  -- stops it; asserts no SK or token was printed
--   cli:run(cmd, env_extra) -> code, stdout, stderr       -- a shell command, credentials (and
--                                                         -- env_extra: NAME=value words) exported
--   cli:rfs(args, env_extra) -> the same for `LUA bin/rfs ARGS` (with --endpoint when endpoint = true)
--   cli:seed{...}                                      -- a stack in the emulator, in this project
--   local h = cli:spawn(args); cli:finish(h, seconds)  -- rfs in the background, for a signal
--   C.LUA, C.slurp(path), C.tmpfile(text)
local socket = require "socket"
local luassert = require "luassert"
local E = require "emulator_process"

local C = {}
C.LUA = rawget(_G, "jit") and "luajit" or "lua5.4"

--- The text of the file at path, which is then removed.
function C.slurp(path)
  local f = io.open(path)
  local s = f:read("*a")
  f:close()
  os.remove(path)
  return s
end

--- A temporary file holding text; its path.
function C.tmpfile(text)
  local p = os.tmpname()
  local f = assert(io.open(p, "w"))
  f:write(text)
  f:close()
  return p
end

--- Runs a shell command line; its exit code, stdout and stderr.
function C.execute(cmd)
  local out, errf = os.tmpname(), os.tmpname()
  local ok, _, code = os.execute(("%s > %s 2> %s"):format(cmd, out, errf))
  if type(ok) == "number" then code = ok / 256 end -- LuaJIT: a wait status
  return code, C.slurp(out), C.slurp(errf)
end

local Cli = {}
Cli.__index = Cli

--- opts: ak, sk, project (exported as HUAWEICLOUD_SDK_*), token (the security token, if any),
--  env (shell words run before each command), endpoint (true: rfs() adds --endpoint URL).
function C.new(opts)
  return setmetatable({ opts = opts, output = {} }, Cli)
end

function Cli:start(emulator_opts)
  local o = { ak = self.opts.ak, sk = self.opts.sk }
  for k, v in pairs(emulator_opts or {}) do o[k] = v end
  self.em = E.start(o)
  self.output = {}
  return self.em
end

function Cli:stop()
  if self.em then self.em:stop() end
  -- no secret in anything any command printed
  local text = table.concat(self.output, "\n")
  luassert.not_matches(self.opts.sk, text, 1, true)
  if self.opts.token then luassert.not_matches(self.opts.token, text, 1, true) end
end

--- A shell command with the credentials in its environment: code, stdout, stderr (kept for stop()).
function Cli:run(cmd, env_extra)
  local o = self.opts
  local env = ("export HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s"):format(o.ak, o.sk,
                                                                                                         o.project)
  if o.token then env = env .. " HUAWEICLOUD_SDK_SECURITY_TOKEN=" .. o.token end
  -- env_extra: more NAME=value words for the export, after opts.env's own shell words
  local code, out, err = C.execute(("%s %s %s; (%s)"):format(o.env or "", env, env_extra or "", cmd))
  self.output[#self.output + 1] = out
  self.output[#self.output + 1] = err
  return code, out, err
end

--- `rfs ARGS` from the checkout, on this interpreter.
function Cli:rfs(args, env_extra)
  local endpoint = self.opts.endpoint and (" --endpoint " .. self.em.url) or ""
  return self:run(C.LUA .. " bin/rfs " .. args .. endpoint, env_extra)
end

--- Seeds a stack in the emulator, in this project.
function Cli:seed(t)
  t.project_id = self.opts.project
  return self.em:seed(t)
end

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

--- Starts `rfs ARGS` in the background (for a signal): a handle with its pid.
function Cli:spawn(args)
  local o = self.opts
  local base = os.tmpname()
  local env = ("export HUAWEICLOUD_SDK_AK=%s HUAWEICLOUD_SDK_SK=%s HUAWEICLOUD_SDK_PROJECT_ID=%s;")
    :format(o.ak, o.sk, o.project)
  assert(os.execute(("%s (%s bin/rfs %s > %s.out 2> %s.err & echo $! > %s.pid; wait $!; echo $? > %s.code) &")
                      :format(env, C.LUA, args, base, base, base, base)))
  local pid
  for _ = 1, 100 do
    pid = tonumber(read(base .. ".pid") or "")
    if pid then break end
    socket.sleep(0.02)
  end
  return { pid = pid, base = base }
end

--- Waits up to `seconds` for a spawned rfs to exit (then stops it): code, stdout, stderr.
function Cli:finish(h, seconds)
  local code
  for _ = 1, seconds * 20 do
    code = tonumber(read(h.base .. ".code") or "")
    if code then break end
    socket.sleep(0.05)
  end
  if not code then os.execute("kill -TERM " .. h.pid .. " 2>/dev/null") end
  local out, err = read(h.base .. ".out") or "", read(h.base .. ".err") or ""
  for _, ext in ipairs({ "", ".out", ".err", ".pid", ".code" }) do os.remove(h.base .. ext) end
  self.output[#self.output + 1] = out
  self.output[#self.output + 1] = err
  return code, out, err
end

return C
