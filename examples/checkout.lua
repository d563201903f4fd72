-- Loaded first by every example run from a checkout (after `make`): lua-rfs's modules come
-- from lua/ and build/<interpreter>/ next to this directory, with no LUA_PATH or LUA_CPATH.
-- An installed lua-rfs needs none of this.
local root = (debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$") or ".") .. "/.."
local build = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/" .. build .. "/?.so;" .. package.cpath
