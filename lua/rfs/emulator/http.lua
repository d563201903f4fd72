-- rfs.emulator.http: HTTP/1.1 request parsing and response writing for the emulator's
-- front-ends. Pure functions over strings: a front-end feeds the bytes it has read.

local http = {}

http.MAX_HEADER_BYTES = 16 * 1024
http.MAX_BODY_BYTES = 1024 * 1024

local REASONS = {
  [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content", [307] = "Temporary Redirect",
  [400] = "Bad Request", [401] = "Unauthorized",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict",
  [413] = "Payload Too Large", [415] = "Unsupported Media Type", [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable",
  [504] = "Gateway Timeout",
}

--- Parses one request from the start of buf.
--  Returns request, consumed_bytes | nil, "more" (incomplete) | nil, "error", status, message
function http.parse(buf)
  -- a TLS ClientHello (a handshake record, 0x16 0x03): answered at once, as a plain-HTTP
  -- server does, so that an https:// client fails fast instead of waiting for its timeout
  if buf:find("^\22\3") then return nil, "error", 400, "a TLS handshake on a plain-HTTP port: use http://" end
  local head_end = buf:find("\r\n\r\n", 1, true)
  if not head_end then
    if #buf > http.MAX_HEADER_BYTES then
      return nil, "error", 431, "the request headers are larger than 16 KiB"
    end
    return nil, "more"
  end
  if head_end > http.MAX_HEADER_BYTES then
    return nil, "error", 431, "the request headers are larger than 16 KiB"
  end
  local head = buf:sub(1, head_end - 1)
  local line, rest = head:match("^([^\r\n]*)\r?\n?(.*)$")
  local method, target, version = line:match("^(%u+) (%S+) HTTP/(1%.[01])$")
  if not method then return nil, "error", 400, "malformed request line" end
  local headers = {}
  for hline in (rest .. "\r\n"):gmatch("([^\r\n]*)\r\n") do
    if hline ~= "" then
      local name, value = hline:match("^([%w!#$%%&'*+%-.^_`|~]+):[ \t]*(.-)[ \t]*$")
      if not name then return nil, "error", 400, "malformed header line" end
      name = name:lower()
      if headers[name] and name ~= "content-length" then
        headers[name] = headers[name] .. ", " .. value
      elseif headers[name] and headers[name] ~= value then
        return nil, "error", 400, "conflicting Content-Length headers"
      else
        headers[name] = value
      end
    end
  end
  if headers["transfer-encoding"] then
    return nil, "error", 400, "chunked request bodies are not supported; send Content-Length"
  end
  local length = 0
  if headers["content-length"] then
    if not headers["content-length"]:match("^%d+$") then
      return nil, "error", 400, "malformed Content-Length"
    end
    length = tonumber(headers["content-length"])
    if length > http.MAX_BODY_BYTES then
      return nil, "error", 413, "the request body is larger than 1 MiB"
    end
  end
  local body_start = head_end + 4
  if #buf < body_start + length - 1 then return nil, "more" end
  local path, query = target:match("^([^?#]*)%??([^#]*)")
  return {
    method = method, target = target, path = path, query = query or "", version = version,
    headers = headers, body = buf:sub(body_start, body_start + length - 1),
    keep_alive = (version == "1.1" and (headers.connection or ""):lower() ~= "close")
      or (headers.connection or ""):lower() == "keep-alive",
  }, body_start + length - 1
end

--- The bytes of a response. resp = { status, headers = {}, body = "" }.
function http.serialize(resp, keep_alive)
  local body = resp.body or ""
  local lines = { ("HTTP/1.1 %d %s"):format(resp.status, REASONS[resp.status] or "Status") }
  local names = {}
  for k in pairs(resp.headers or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do lines[#lines + 1] = k .. ": " .. tostring(resp.headers[k]) end
  if resp.status ~= 204 then lines[#lines + 1] = "Content-Length: " .. #body end -- RFC 9110: none on a 204
  lines[#lines + 1] = "Connection: " .. (keep_alive and "keep-alive" or "close")
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

return http
