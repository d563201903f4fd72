-- Reads the official Go SDK's services/aos/v1/aos_meta.go and writes, for every
-- operation in it, its name, method, path and query parameter names as JSON
-- (spec/fixtures/aos_meta.json). spec/api_spec.lua holds rfs.api against it.
--
--   lua5.4 spec/tools/gen_aos_meta.lua path/to/aos_meta.go COMMIT > spec/fixtures/aos_meta.json

local cjson = require "cjson"

local file, commit = arg[1], arg[2]
if not file or not commit or not commit:match("^%x+$") then
  io.stderr:write("usage: gen_aos_meta.lua aos_meta.go SDK_COMMIT\n")
  os.exit(2)
end
local text = assert(io.open(file)):read("a")

-- cjson escapes "/" as "\/": write strings the way a person reads them
local function quote(s) return (cjson.encode(s):gsub("\\/", "/")) end

local operations = {}
-- each operation is one function: GenReqDefForNAME() ... requestDef := reqDefBuilder.Build()
for name, body in text:gmatch("func GenReqDefFor(%w+)%(%) %*def%.HttpRequestDef {(.-)\n%s*return requestDef") do
  local method = assert(body:match("WithMethod%(http%.Method(%a+)%)"), name .. ": no method"):upper()
  local path = assert(body:match('WithPath%("([^"]+)"%)'), name .. ": no path")
  local query = {}
  for field in body:gmatch("WithRequestField%((.-)%)%)") do
    local tag = field:match('WithJsonTag%("([^"]+)"%)')
    if field:find("WithLocationType%(def%.Query$") or field:find("WithLocationType%(def%.Query%)") then
      query[#query + 1] = tag
    end
  end
  table.sort(query)
  operations[#operations + 1] = { name = name, method = method, path = path, query = query }
end
table.sort(operations, function(a, b) return a.name < b.name end)
assert(#operations > 0, "no GenReqDefFor functions found in " .. file)

-- a stable, line-per-operation layout so a regenerated file diffs readably
local lines = {}
for i, op in ipairs(operations) do
  local query = {}
  for j, q in ipairs(op.query) do query[j] = quote(q) end
  lines[i] = string.format('    {"name": %s, "method": %s, "path": %s, "query": [%s]}', quote(op.name),
                           quote(op.method), quote(op.path), table.concat(query, ", "))
end
io.write('{\n  "source": "huaweicloud/huaweicloud-sdk-go-v3 services/aos/v1/aos_meta.go",\n',
         '  "commit": ', quote(commit), ',\n',
         '  "operations": [\n', table.concat(lines, ",\n"), "\n  ]\n}\n")
