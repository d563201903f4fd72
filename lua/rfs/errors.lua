-- rfs.errors: the one error type every run-time failure in lua-rfs returns.
--
-- A failure is returned as `nil, err`, never raised. `err` is a table with a
-- metatable so that `tostring(err)` is one line a person can act on.

local errors = {}

local KINDS = {
  auth = "check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and the security token) and that this machine's clock is right",
  forbidden = "grant the IAM permission for this RFS action to the user or agency",
  invalid_state = "read stack:metadata() and act on the state the stack is in",
  not_found = "check the stack name, project_id and region",
  conflict = "another request for this stack is being processed; wait for it, then try again",
  throttled = "too many requests; back off and try again later",
  server = "the service failed; try again later",
  bad_request = "check the arguments of the call",
  network = "check the endpoint and the network path to it",
  timeout = "the call took too long; check the network or raise the timeout",
  tls = "check the server certificate, ca_file, or the system CA bundle",
  decode = "the service sent a response lua-rfs could not read; try again",
  interrupted = "stopped by a signal (Ctrl-C); a continue may still have been applied: check stack:metadata()",
}
errors.kinds = KINDS

-- Hints for RFS error codes whose cause is narrower than their kind's.
local CODE_HINTS = {
  ["AOS.01.0404"] = "check the deployment_id: the stack has no deployment with that id",
  ["AOS.01.0400"] = "the stack_id does not match the named stack: it was deleted and recreated under the "
    .. "same name; read its metadata for the new id before acting on it",
}
errors.code_hints = CODE_HINTS

local Error = {}
Error.__index = Error
Error.__name = "rfs.error"

function Error.__tostring(e)
  local where = {}
  if e.status then where[#where + 1] = "HTTP " .. tostring(e.status) end
  if e.code and e.code ~= "" then where[#where + 1] = tostring(e.code) end
  if e.request_id then where[#where + 1] = "request " .. tostring(e.request_id) end
  if e.server_request_id then where[#where + 1] = "server request " .. tostring(e.server_request_id) end
  if e.attempts and e.attempts > 1 then where[#where + 1] = tostring(e.attempts) .. " attempts" end
  if type(e.retry_after) == "number" then where[#where + 1] = ("Retry-After %.0fs"):format(e.retry_after) end
  local line = "rfs " .. tostring(e.kind) .. " error: " .. tostring(e.message or "unknown error")
  if #where > 0 then line = line .. " (" .. table.concat(where, ", ") .. ")" end
  local hint = e.hint or CODE_HINTS[e.code] or KINDS[e.kind]
  if hint then line = line .. "; " .. hint end
  -- one line, whatever the server put in its message
  return errors.printable(line)
end

--- Build an error. `t.kind` must be one of errors.kinds; `t.message` says what happened.
function errors.new(t)
  assert(type(t) == "table" and KINDS[t.kind], "rfs.errors.new: unknown kind " .. tostring(t and t.kind))
  local e = {
    kind = t.kind,
    status = t.status,
    code = t.code,
    message = t.message or t.kind,
    details = t.details,
    request_id = t.request_id,
    server_request_id = t.server_request_id,
    retryable = t.retryable,
    retry_after = t.retry_after,
    operation = t.operation,
    hint = t.hint,
    attempts = t.attempts,
    sent = t.sent,
  }
  if e.retryable == nil then
    e.retryable = (t.kind == "throttled" or t.kind == "server" or t.kind == "network" or t.kind == "timeout")
  end
  return setmetatable(e, Error)
end

function errors.is(v)
  return getmetatable(v) == Error
end

--- Map an HTTP status to an error kind (403 is refined by the caller).
function errors.kind_for_status(status)
  if status == 401 then return "auth"
  elseif status == 403 then return "forbidden"
  elseif status == 404 then return "not_found"
  elseif status == 409 then return "conflict"
  elseif status == 429 then return "throttled"
  elseif status >= 500 then return "server"
  end
  return "bad_request"
end

--- A value quoted for an error message: one line, at most 40 bytes of it; control and
-- non-ASCII bytes, quote and backslash as \xNN, so that bad input never breaks a log line.
-- Chinese characters (U+4E00..U+9FA5, which names may hold) are shown as they are.
local function cjk_at(v, i)
  local b1, b2, b3 = v:byte(i, i + 2)
  if not (b1 and b3 and b1 >= 0xe4 and b1 <= 0xe9 and b2 >= 0x80 and b2 < 0xc0 and b3 >= 0x80 and b3 < 0xc0) then
    return false
  end
  local cp = (b1 - 0xe0) * 0x1000 + (b2 - 0x80) * 0x40 + (b3 - 0x80)
  return cp >= 0x4e00 and cp <= 0x9fa5
end

function errors.display(v)
  v = tostring(v)
  local out, i = {}, 1
  while i <= #v and i <= 40 do
    if cjk_at(v, i) then
      if i + 2 > 40 then break end -- never half a character
      out[#out + 1] = v:sub(i, i + 2)
      i = i + 3
    else
      local c = v:sub(i, i)
      local b = c:byte()
      -- the quote and the backslash are escaped too, so that what is shown reads back unambiguously
      out[#out + 1] = (b < 32 or b > 126 or c == "'" or c == "\\") and ("\\x%02x"):format(b) or c
      i = i + 1
    end
  end
  local shown = "'" .. table.concat(out) .. "'"
  if #v > 40 then shown = shown .. ("... (%d characters)"):format(#v) end
  return shown
end

--- Text that came from a server, made safe to print on one line: CR, LF and tab become a
--  space, other control characters (ESC, BEL, DEL, and the C1 controls U+0080..U+009F)
--  are shown as \xNN, so an answer can neither forge a line nor drive the terminal.
--  Printable text, UTF-8 included, is kept as it is.
function errors.printable(s)
  if s == nil then return "" end
  s = tostring(s)
  if not s:find("[%c\127\194]") then return s end -- the usual case: nothing to escape
  s = s:gsub("[\r\n\t]+", " ")
  s = s:gsub("%c", function(c) return ("\\x%02x"):format(c:byte()) end)
  s = s:gsub("\194([\128-\159])", function(c) return ("\\xc2\\x%02x"):format(c:byte()) end)
  return s
end

--- Checks a table of options against `known` ({ name = "lua type" }): a value that is not
--  a table, a name not known, or a value of another type raises "rfs: FNAME: ...", blamed
--  where error(message, level) called by the caller would blame. nil is returned as nil.
function errors.check_options(fname, opts, known, level)
  if opts == nil then return nil end
  level = level + 1
  if type(opts) ~= "table" then
    error("rfs: " .. fname .. ": expected a table of options, got " .. type(opts), level)
  end
  for k, v in pairs(opts) do
    local want = known[k]
    if not want then error("rfs: " .. fname .. ": unknown option " .. errors.display(k), level) end
    if type(v) ~= want then
      error("rfs: " .. fname .. ": option '" .. k .. "' must be a " .. want .. " (got " .. type(v) .. ")", level)
    end
  end
  return opts
end

return errors
