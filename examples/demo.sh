#!/bin/sh
# make demo: start a local RFS emulator, seed a stack whose deployment failed, recover it
# with examples/recover.lua (continue + wait with progress), then stop the emulator.
cd "$(dirname "$0")/.." || exit 2
export LUA_PATH="./lua/?.lua;./lua/?/init.lua;;"
export LUA_CPATH="./build/lua5.4/?.so;;"
export HUAWEICLOUD_SDK_AK=DEMOACCESSKEY0000001
export HUAWEICLOUD_SDK_SK=demo-secret-key-not-a-real-one
export HUAWEICLOUD_SDK_PROJECT_ID=0123456789abcdef0123456789abcdef
log=$(mktemp)
# 10x emulated time: a 60 s deployment takes 6 s
lua5.4 bin/rfs-emulator --port 0 --time-scale 10 --queue-seconds 2 > "$log" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; wait $emu 2>/dev/null; rm -f "$log"' EXIT INT TERM
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' "$log")
  [ -n "$url" ] && break
  sleep 0.05
done
[ -n "$url" ] || { echo "demo: the emulator did not start:"; cat "$log"; exit 1; }
echo "demo: emulator at $url"
curl -s -X POST "$url/_emulator/stacks" -H 'Content-Type: application/json' \
  -d "{\"project_id\":\"$HUAWEICLOUD_SDK_PROJECT_ID\",\"stack_name\":\"demo-stack\",\"status\":\"DEPLOYMENT_FAILED\",\"deploy_seconds\":60,\"outcome\":\"success\",\"resources\":[\"vpc\",\"subnet\",\"security-group\",\"ecs\"]}" > /dev/null ||
  { echo "demo: could not seed the stack"; exit 1; }
echo "demo: seeded demo-stack in DEPLOYMENT_FAILED; recovering it"
RFS_ENDPOINT="$url" lua5.4 examples/recover.lua demo-stack
rc=$?
echo "demo: examples/recover.lua exited $rc"
exit $rc
