-- .ci/deps on a machine without the tools of make check and make bench: make demo and make
-- test go on; make check and make bench, run as a user, print one apt-get line for what is
-- missing. dpkg-query and id are stand-ins on PATH, so nothing is installed or looked up.

local function run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  return tonumber(out:match("exit=(%d+)%s*$")), (out:gsub("exit=%d+%s*$", ""))
end

describe(".ci/deps", function()
  local bin

  setup(function()
    bin = os.tmpname()
    os.remove(bin)
    assert(os.execute("mkdir -p " .. bin))
    -- every package installed but the tools of make check and make bench; a user, not root
    local f = assert(io.open(bin .. "/dpkg-query", "w"))
    f:write('#!/bin/sh\nfor a; do p=$a; done\ncase "$p" in valgrind|clang|libclang-rt-14-dev|wrk) exit 1;; esac\n',
            'printf "install ok installed"\n')
    f:close()
    f = assert(io.open(bin .. "/id", "w"))
    f:write("#!/bin/sh\necho 1000\n")
    f:close()
    assert(os.execute("chmod +x " .. bin .. "/dpkg-query " .. bin .. "/id"))
  end)

  teardown(function() os.execute("rm -rf " .. bin) end)

  local function deps(args)
    return run(("PATH=%s:$PATH sh .ci/deps %s"):format(bin, args))
  end

  it("lets make demo and make test go on without valgrind, clang, libclang-rt or wrk", function()
    local code, out = deps("")
    assert.equal(0, code, out)
    assert.equal("", out)
    for _, target in ipairs({ "test", "demo" }) do
      local makefile = io.open("Makefile"):read("*a")
      assert.matches("\n" .. target .. ": deps\n", makefile, 1, true)
    end
  end)

  it("prints one apt-get line for what make check and make bench lack", function()
    local code, out = deps("check")
    assert.equal(1, code)
    assert.equal("lua-rfs: missing Debian packages; install them with: sudo apt-get install valgrind clang "
                 .. "libclang-rt-14-dev\n", out)
    code, out = deps("bench")
    assert.equal(1, code)
    assert.equal("lua-rfs: missing Debian packages; install them with: sudo apt-get install wrk\n", out)
  end)
end)
