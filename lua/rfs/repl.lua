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

local function show(out, ok, ...)
  if not ok then
    out:write("error: ", tostring((...)), "\n")
    return
  end
  for i = 1, select("#", ...) do
    out:write(tostring((select(i, ...))), i < select("#", ...) and "\t" or "\n")
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
