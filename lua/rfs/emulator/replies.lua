-- rfs.emulator.replies: what the emulator's route modules (stacks, plans, template_lib,
-- stack_sets) answer with alike: an empty response, a JSON array, one page of a list, the
-- unsigned download locations they hand out (as OBS pre-signed URLs are), and a template read
-- without raising.

local cjson = require "cjson"

local replies = {}

--- t (or a new table) encoded as a JSON array, even when empty.
function replies.array(t)
  return setmetatable(t or {}, cjson.array_mt)
end

--- A response with no body: status, a fresh X-Request-Id and the extra headers.
function replies.empty(self, status, extra)
  local headers = { ["X-Request-Id"] = self.uuid() }
  for k, v in pairs(extra or {}) do headers[k] = v end
  return { status = status, headers = headers, body = "" }
end

--- One page of list for the query's marker (a position this list handed out) and limit
--  (min_limit to 1000, default 1000): page, page_info; or nil and the message of a 400
--  RF.10011027.
function replies.page(list, q, min_limit)
  local limit = 1000
  if q.limit then
    limit = tonumber(q.limit)
    if not limit or limit ~= math.floor(limit) or limit < min_limit or limit > 1000 then
      return nil, ("limit must be an integer from %d to 1000"):format(min_limit)
    end
  end
  local first = 1
  if q.marker then
    first = q.marker:match("^%d+$") and tonumber(q.marker)
    if not first or first < 1 or #q.marker > 512 then
      return nil, "marker is not one this list handed out"
    end
  end
  local page = replies.array()
  for i = first, math.min(#list, first + limit - 1) do page[#page + 1] = list[i] end
  local info = { current_count = #page }
  if first + limit <= #list then info.next_marker = tostring(first + limit) end
  if first > 1 then info.previous_marker = tostring(math.max(1, first - limit)) end
  return page, info
end

--- Hands out an unsigned location for text, valid for `seconds` of emulated time from t;
--  forgets the expired ones. Returns the token (the location's Signature) and the expiry.
function replies.issue_download(self, text, t, seconds)
  self.downloads = self.downloads or {}
  for token, d in pairs(self.downloads) do
    if t > d.expires then self.downloads[token] = nil end
  end
  local token = self.uuid():gsub("%-", "")
  local expires = t + seconds
  self.downloads[token] = { text = text, expires = expires }
  return token, expires
end

--- The text behind a template_uri: one of this emulator's locations, still valid at t; or nil
--  and the message of a 400 RF.10011035.
function replies.download_text(self, uri, t)
  local token = uri:match("[?&]Signature=([%w]+)")
  local d = token and (self.downloads or {})[token]
  if not d or t > d.expires then
    return nil, "template_uri cannot be read: the emulator reads only the template locations it hands out, "
      .. "while they are valid"
  end
  return d.text
end

--- A template read by rfs.emulator.template: the document, or nil and the message of a 400
--  RF.10011073 (the reader is required here, not at load time, so routes that take no template
--  work without it).
function replies.parse_template(text)
  local ok, doc, err = pcall(function() return require("rfs.emulator.template").parse(text) end)
  if ok and doc then return doc end
  return nil, "the template is invalid: " .. tostring(ok and err or doc)
end

return replies
