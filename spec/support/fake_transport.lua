-- A scripted transport for unit specs: records every request, answers from a queue.
local cjson = require "cjson"

local fake = {}

--- fake.new() -> t; t.transport is the function to pass as rfs.new{transport = }.
--  t:push(status, body_table_or_string, headers) queues an answer;
--  t:fail(kind, message, sent) queues a transport failure.
function fake.new()
  local t = { requests = {}, answers = {} }
  function t:push(status, body, headers)
    if type(body) == "table" then body = cjson.encode(body) end
    self.answers[#self.answers + 1] = { status = status, body = body or "", headers = headers or {} }
    return self
  end
  function t:fail(kind, message, sent)
    self.answers[#self.answers + 1] = { fail = { kind, message, sent } }
    return self
  end
  t.transport = function(req)
    t.requests[#t.requests + 1] = req
    local a = table.remove(t.answers, 1)
    if not a then return nil, "network", "fake transport: no answer queued", false end
    if a.fail then return nil, a.fail[1], a.fail[2], a.fail[3] end
    return { status = a.status, headers = a.headers, body = a.body }
  end
  function t:last() return self.requests[#self.requests] end
  return t
end

fake.AK = "AKIDFAKE0123456789"
fake.SK = "fake-secret-key-0123456789abcdef"
fake.PROJECT = "0123456789abcdef0123456789abcdef"
fake.STACK_ID = "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"

--- A client on a fake transport; opts are merged over sane test defaults.
function fake.client(t, opts)
  local rfs = require "rfs"
  local o = { endpoint = "https://rfs.test.example", project_id = fake.PROJECT, ak = fake.AK, sk = fake.SK,
              transport = t.transport, retry = false }
  for k, v in pairs(opts or {}) do o[k] = v end
  return rfs.new(o)
end

function fake.metadata(overrides)
  local m = { stack_id = fake.STACK_ID, stack_name = "my-stack", description = "d",
              status = "DEPLOYMENT_FAILED", enable_auto_rollback = false, enable_deletion_protection = false,
              agencies = { { provider_name = "huaweicloud", agency_name = "rf_admin_trust" } },
              vars_structure = {}, create_time = "2026-11-24T00:00:00Z", update_time = "2026-11-24T01:00:00Z",
              status_message = "quota exceeded" }
  for k, v in pairs(overrides or {}) do m[k] = v end
  return m
end

return fake
