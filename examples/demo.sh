#!/bin/sh
# make demo: sign a request with the C core and print the headers.
cd "$(dirname "$0")/.." || exit 2
LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./build/lua5.4/?.so;;" exec lua5.4 examples/sign.lua
