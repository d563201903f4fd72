# lua-rfs: build, test, demo, bench, install.
#   make                 build rfs/core.so for LUA=lua5.4 (default), luajit, lua5.3 or lua5.1
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

VARIANT ?=
BUILD := build/$(LUA)$(VARIANT)
SRCS := src/buf.c src/sign.c src/headers.c src/http.c src/display.c src/client.c src/stack.c src/json.c src/core.c
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

.PHONY: all deps deps-check deps-bench test test-unit demo bench install lint clean check memcheck

all: $(CORE)

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Never link liblua into the module: the interpreter provides the Lua API.
$(CORE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(OBJS) $(LDFLAGS_SO)

# make demo and make test need only the base list; make check and make bench add their tools
deps:
	@sh .ci/deps

deps-check:
	@sh .ci/deps check

deps-bench:
	@sh .ci/deps bench

# spec/run also runs the C core and client specs on PUC Lua 5.1 and 5.3.
TEST_LUAS := lua5.4 luajit lua5.1 lua5.3
test: deps
	@for l in $(TEST_LUAS); do $(MAKE) --no-print-directory LUA=$$l all || exit 1; done
	@sh spec/run

demo: deps
	@$(MAKE) --no-print-directory LUA=lua5.4 all
	@sh examples/demo.sh

bench: deps-bench
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
	@# the commands run with the interpreter they were built for and find the installed modules
	@# from any directory, with no LUA_PATH
	@interp=$$(command -v $(LUA) || echo "/usr/bin/env $(LUA)"); install -d $(DESTDIR)$(PREFIX)/bin; \
	for f in bin/*; do \
	  sed -e "1s|.*|#!$$interp|" \
	      -e 's|^local LUA_DIR, LIB_DIR = nil, nil.*|local LUA_DIR, LIB_DIR = "$(PREFIX)/share/lua/$(LUA_ABI)", "$(PREFIX)/lib/lua/$(LUA_ABI)"|' \
	      $$f > $(DESTDIR)$(PREFIX)/bin/$$(basename $$f).tmp && chmod 0755 $(DESTDIR)$(PREFIX)/bin/$$(basename $$f).tmp && \
	  mv $(DESTDIR)$(PREFIX)/bin/$$(basename $$f).tmp $(DESTDIR)$(PREFIX)/bin/$$(basename $$f) || exit 1; \
	done
	@# bash completion, generated from the command line's own parser
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./$(BUILD)/?.so;;" \
	  $(LUA) bin/rfs completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rfs

clean:
	rm -rf build

# ---- reliability: sanitizers, valgrind, fuzzing (make check runs them all) ----
FUZZ_SECONDS ?= 60
FUZZ_DIR := build/fuzz
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: fuzz sanitize memcheck check load

$(FUZZ_DIR)/fuzz_sign: spec/fuzz/fuzz_sign.c src/sign.c src/buf.c $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags openssl) \
	  spec/fuzz/fuzz_sign.c src/sign.c src/buf.c -o $@ $(shell pkg-config --libs openssl)

$(FUZZ_DIR)/fuzz_headers: spec/fuzz/fuzz_headers.c src/headers.c $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	clang -g -O1 -fsanitize=fuzzer,address,undefined spec/fuzz/fuzz_headers.c src/headers.c -o $@

# The JSON decoder runs in a real lua_State: link liblua5.4 into the harness (never into the module).
$(FUZZ_DIR)/fuzz_json: spec/fuzz/fuzz_json.c src/json.c $(HDRS)
	@mkdir -p $(FUZZ_DIR)
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags lua5.4) \
	  spec/fuzz/fuzz_json.c src/json.c -o $@ $(shell pkg-config --libs lua5.4)

# Each harness gets FUZZ_SECONDS; the corpus grows in build/fuzz/<harness>-corpus.
fuzz: deps-check $(FUZZ_DIR)/fuzz_sign $(FUZZ_DIR)/fuzz_headers $(FUZZ_DIR)/fuzz_json
	@rc=0; for h in sign:corpus headers:headers_corpus json:json_corpus; do name=$${h%%:*}; seeds=spec/fuzz/$${h#*:}; \
	  mkdir -p $(FUZZ_DIR)/$$name-corpus; \
	  $(FUZZ_DIR)/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    $(FUZZ_DIR)/$$name-corpus $$seeds > $(FUZZ_DIR)/$$name.log 2>&1; r=$$?; \
	  grep -E '^(Done|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)' $(FUZZ_DIR)/$$name.log | sed "s/^/fuzz_$$name: /"; \
	  if [ $$r -eq 0 ]; then echo "fuzz_$$name: no crash in $(FUZZ_SECONDS) s"; \
	  else echo "fuzz_$$name: FAILED, see $(FUZZ_DIR)/$$name.log"; rc=1; fi; done; exit $$rc

# The C core with ASan+UBSan, loaded into the ordinary lua5.4 by preloading the runtimes.
SAN_SPECS ?= spec/client_spec.lua spec/sign_spec.lua spec/integration_spec.lua spec/bad_input_spec.lua \
  spec/faults_spec.lua spec/tls_spec.lua spec/curl_transport_spec.lua spec/json_spec.lua
sanitize: deps-check
	@$(MAKE) --no-print-directory LUA=lua5.4 VARIANT=-asan EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" all
	@LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  busted --lua=lua5.4 --cpath='./build/lua5.4-asan/?.so' $(wildcard $(SAN_SPECS)) \
	  && echo "sanitize: no AddressSanitizer/UBSan report"

# valgrind over MEMCHECK_CALLS metadata calls through the real libcurl path.
MEMCHECK_CALLS ?= 10000
memcheck: deps-check all
	@command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)"; exit 1; }
	@d=$$(mktemp -d); LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" lua5.4 spec/tools/fixed_server.lua $$d/port & spid=$$!; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do [ -s $$d/port ] && break; sleep 0.2; done; \
	  LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./build/lua5.4/?.so;;" \
	  valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=9 lua5.4 spec/tools/memcheck.lua $$(cat $$d/port) $(MEMCHECK_CALLS); rc=$$?; \
	  kill $$spid; rm -rf $$d; \
	  if [ $$rc -eq 0 ]; then echo "memcheck: no leak, no invalid access"; else echo "memcheck: FAILED ($$rc)"; fi; exit $$rc

# 20 client processes x 500 calls, ~10% of requests answered 429/503 (loopback, bounded).
load: deps all
	@lua5.4 spec/load/run.lua 20 500

# Everything that is too slow or too tool-heavy for make test.
check: deps-check
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory memcheck
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	@$(MAKE) --no-print-directory load
