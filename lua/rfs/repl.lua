-- rfs.repl: a small read-eval-print loop with `rfs`, `client` and `stack(name)` ready.

local repl = {}

local function compile(line, env)
  local chunk = "return " .. line
  for _, src in ipairs({ chunk, line }) do
    local f
    if setfenv then -- luacheck: ignore 113 (Lua 5.1 / LuaJIT)
      f = loadstring(src, "=repl") -- luacheck: ignore 113
      if f then setfenv(f, env) end -- luacheck: ignore 113
    else
      f = load(src, "=repl", "t", env)
    end
    if f then return f end
  end
  local _, err = load(line, "=repl")
  return nil, err
end

-- Objects whose text is one line: a line break in it came from the server.
local ONE_LINE = { ["rfs.Metadata"] = true, ["rfs.WaitResult"] = true, ["rfs.error"] = true,
                   ["rfs.Deployment"] = true }

-- What a value shows, with server text in it made printable (no ESC reaches the terminal),
-- as the command line does; the lines of a multi-line rendering (help, events) are kept.
local function shown(v)
  local printable = require("rfs.cli").printable
  local mt = getmetatable(v)
  if type(v) ~= "table" or (type(mt) == "table" and ONE_LINE[rawget(mt, "__name")]) then return printable(v) end
  local lines = {}
  for line in (tostring(v) .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = printable(line) end
  return table.concat(lines, "\n")
end

local function show(out, ok, ...)
  if not ok then
    out:write("error: ", shown((...)), "\n")
    return
  end
  for i = 1, select("#", ...) do
    out:write(shown((select(i, ...))), i < select("#", ...) and "\t" or "\n")
  end
end

--- repl.run(client, { stdin =, stdout =, stderr = }) -> exit code. Ends at EOF or `exit`.
function repl.run(client, streams)
  local rfs = require "rfs"
  local out = streams.stdout
  local env = setmetatable({ rfs = rfs, client = client,
                             stack = function(name, opts) return client:stack(name, opts) end,
                             help = rfs.help }, { __index = _G })
  out:write("lua-rfs ", rfs.version, " - ", tostring(client), "\n",
            "`stack(\"name\")` makes a stack; `help(obj)` says what you can do; `exit` or Ctrl-D leaves.\n")
  while true do
    out:write("rfs> ")
    if out.flush then out:flush() end
    local line = streams.stdin:read("*l")
    if not line or line == "exit" or line == "quit" then break end
    if line:match("%S") then
      local f, err = compile(line, env)
      if not f then out:write("syntax error: ", tostring(err), "\n") else show(out, pcall(f)) end
    end
  end
  out:write("\n")
  return 0
end

return repl
