# lua-rfs: build, test, demo, bench, install.
#   make                 build rfs/core.so for LUA=lua5.4 (default) or LUA=luajit
#   make test            everything, on Lua 5.4 and LuaJIT; ends with "N passed, N failed"
#   make demo            start the emulator, recover a failed stack, stop it
#   make install PREFIX=DIR
LUA ?= lua5.4
PREFIX ?= /usr/local
CC ?= cc

ifeq ($(LUA),luajit)
  LUA_PC := luajit
  LUA_ABI := 5.1
else
  LUA_PC := $(LUA)
  LUA_ABI := $(patsubst lua%,%,$(LUA))
endif

BUILD := build/$(LUA)
SRCS := src/buf.c src/sign.c src/http.c src/client.c src/stack.c src/core.c
OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
HDRS := $(wildcard src/*.h)
CORE := $(BUILD)/rfs/core.so

PKG_CFLAGS = $(shell pkg-config --cflags $(LUA_PC) libcurl openssl 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs libcurl openssl 2>/dev/null)
WARN ?= -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) $(WARN) -std=gnu99 -fPIC $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_SO = -shared $(PKG_LIBS) $(EXTRA_LDFLAGS)

LUA_MODULES := $(shell find lua/rfs -name '*.lua' | sort)

.PHONY: all deps test test-unit demo bench install lint clean check memcheck

all: $(CORE)

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Never link liblua into the module: the interpreter provides the Lua API.
$(CORE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(OBJS) $(LDFLAGS_SO)

deps:
	@sh .ci/deps

test: deps
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@$(MAKE) --no-print-directory LUA=luajit all
	@sh spec/run

demo: deps
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@sh examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@$(MAKE) --no-print-directory LUA=luajit all
	@sh bench/run

lint:
	luacheck -q lua spec bin examples bench

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/rfs
	install -m 0755 $(CORE) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_ABI)/rfs/core.so
	@for f in $(LUA_MODULES); do \
	  d=$(DESTDIR)$(PREFIX)/share/lua/$(LUA_ABI)/$$(dirname $${f#lua/}); \
	  install -d $$d && install -m 0644 $$f $$d/ || exit 1; \
	done
	@for f in bin/*; do [ -f "$$f" ] && install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/bin/$$(basename $$f); done; true

clean:
	rm -rf build
