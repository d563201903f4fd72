std = "min"
max_line_length = 140
files["spec/"] = { std = "+busted" }
files["lua/rfs/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["spec/support/hostile_http.lua"] = { read_globals = { "ngx" } } -- runs inside nginx
files["lua/rfs/emulator/ngx.lua"] = { globals = { "ngx" } } -- sets ngx.status and ngx.header
files["examples/nginx/"] = { globals = { "ngx" } } -- handlers set ngx.status and ngx.header
