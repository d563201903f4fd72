-- The private template library through the Lua API against the emulator (in-process, real
-- signing and verification): every operation, its status codes, the template_id guard, the
-- unsigned download of version content, paging, and each error the reference documents.
local cjson = require "cjson"
local inproc = require "inproc"

local NET = [[
resource "huaweicloud_vpc" "vpc" {
  name = "lib-vpc"
  cidr = "10.0.0.0/16"
}
]]
local NET_V2 = NET .. [[

resource "huaweicloud_vpc_subnet" "subnet" {
  name   = "lib-subnet"
  cidr   = "10.0.1.0/24"
  vpc_id = huaweicloud_vpc.vpc.id
}
]]
local OTHER_ID = "1b15e005-bdbb-4bd7-8f9a-a09b6774b4b3"

describe("the template library", function()
  local w, c, sent

  -- A client whose transport records every request it sends (method, url, headers).
  before_each(function()
    w = inproc.new{}
    sent = {}
    c = w:client{ security_token = "TOKEN-SECRET-123", transport = function(req)
      sent[#sent + 1] = { method = req.method, url = req.url, headers = req.headers }
      return w.transport(req)
    end }
  end)

  local function statuses()
    local out = {}
    for _, r in ipairs(w:requests()) do out[#out + 1] = ("%s %d"):format(r.method, r.status) end
    return out
  end

  it("publishes a template as V1 and hands back a Template with its id", function()
    local t, err = c:create_template("net", { template_body = NET, description = "the network",
                                              version_description = "first cut" })
    assert.is_nil(err)
    assert.matches("^rfs%.Template%(net, id=%x+%-", tostring(t))
    assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", t.id)
    assert.equal("V1", t.latest_version_id)
    assert.equal("the network", t.description)
    assert.same({ "POST 200" }, statuses()) -- CreateTemplate answers 200, not 201
  end)

  it("sends the Lua option description as template_description", function()
    local seen
    local c2 = w:client{ transport = function(req)
      if req.method == "POST" then seen = cjson.decode(req.body) end
      return w.transport(req)
    end }
    assert(c2:create_template("net", { template_body = NET, description = "d", version_description = "v" }))
    assert.same({ template_name = "net", template_body = NET, template_description = "d", version_description = "v" },
                seen)
  end)

  it("refuses a second template of the same name with 409", function()
    assert(c:create_template("net", { template_body = NET }))
    local t, err = c:create_template("net", { template_body = NET })
    assert.is_nil(t)
    assert.equal("conflict", err.kind)
    assert.equal(409, err.status)
    assert.matches("add a version to that template", tostring(err))
  end)

  it("raises on misuse before anything is sent, naming the option", function()
    assert.error_matches(function() c:create_template("net", {}) end, "exactly one of template_body or template_uri")
    assert.error_matches(function() c:create_template("net", { template_body = NET, template_uri = "https://x/a.tf" }) end,
                         "exactly one of template_body or template_uri %(got both%)")
    assert.error_matches(function() c:create_template("1net", { template_body = NET }) end, "invalid template name '1net'")
    assert.error_matches(function() c:create_template(nil, { template_body = NET }) end, "template name must be a string")
    assert.error_matches(function() c:create_template("net", { template_body = NET, description = ("d"):rep(1025) }) end,
                         "option 'description' is 1025 characters long; at most 1024")
    assert.error_matches(function() c:create_template("net", { template_body = NET, colour = "red" }) end,
                         "unknown option 'colour'")
    local t = c:template("net")
    assert.error_matches(function() t:update{} end, "nothing to change: pass at least one of description")
    assert.error_matches(function() t:version_metadata("v1") end, "version_id must be 'V' and a number")
    assert.error_matches(function() t:delete_version(nil) end, "version_id must be 'V' and a number")
    assert.error_matches(function() t:version_content("V123456789012") end, "version_id must be")
    assert.error_matches(function() t:version_content("V1", { access_control_source_ips = { 1, 2, 3, 4, 5, 6, 7, 8, 9 } }) end,
                         "at most 8")
    assert.error_matches(function() c:template("net", { template_id = "nope" }) end, "invalid template_id 'nope'")
    assert.error_matches(function() c:template("net", { stack_id = OTHER_ID }) end, "unknown option 'stack_id'")
    assert.same({}, w:requests())
  end)

  it("takes template names with Chinese characters over the wire", function()
    local t = assert(c:create_template("网络模板", { template_body = NET }))
    local meta = assert(t:metadata())
    assert.equal("网络模板", meta.template_name)
    assert.equal(t.id, meta.template_id)
  end)

  it("makes a Template without a request; metadata reads it and learns its id", function()
    local created = assert(c:create_template("net", { template_body = NET, description = "d1" }))
    local before = #w:requests()
    local t = c:template("net")
    assert.equal(before, #w:requests())
    assert.is_nil(t.id)
    local meta = assert(t:metadata())
    assert.equal(created.id, meta.template_id)
    assert.equal("d1", meta.template_description)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", meta.create_time)
    assert.is_nil(meta.latest_version_id)
    assert.equal(created.id, t.id) -- from now on it is the guard
    assert.is_falsy(sent[#sent].url:find("template_id=", 1, true))
    assert(t:versions())
    assert.is_truthy(sent[#sent].url:find("template_id=" .. t.id, 1, true))
  end)

  it("answers 400 through the guard when the named template was recreated meanwhile", function()
    local old = assert(c:create_template("net", { template_body = NET }))
    assert.is_true(assert(old:delete()))
    local new = assert(c:create_template("net", { template_body = NET })) -- a name may be reused
    assert.are_not.equal(old.id, new.id)
    for _, call in ipairs({ function() return old:metadata() end, function() return old:versions() end,
                            function() return old:update{ description = "x" } end,
                            function() return old:create_version{ template_body = NET } end,
                            function() return old:version_content("V1") end,
                            function() return old:delete() end }) do
      local v, err = call()
      assert.is_nil(v)
      assert.equal("bad_request", err.kind)
      assert.equal(400, err.status)
    end
    assert.is_table(assert(new:metadata()))
  end)

  it("updates the description (204) and deletes the template (204), then 404", function()
    local t = assert(c:create_template("net", { template_body = NET }))
    assert.is_true(t:update{ description = "reviewed" })
    assert.equal("reviewed", assert(t:metadata()).template_description)
    assert.is_true(t:delete())
    local meta, err = t:metadata()
    assert.is_nil(meta)
    assert.equal("not_found", err.kind)
    assert.equal(404, err.status)
    assert.matches("check the template name", tostring(err))
    assert.same({ "POST 200", "PATCH 204", "GET 200", "DELETE 204", "GET 404" }, statuses())
  end)

  it("adds versions V2, V3 and lists them newest first", function()
    local t = assert(c:create_template("net", { template_body = NET, version_description = "first" }))
    local v = assert(t:create_version{ template_body = NET_V2, version_description = "adds a subnet" })
    assert.same({ version_id = "V2" }, setmetatable(v, nil))
    assert.equal("V3", assert(t:create_version{ template_body = NET }).version_id)
    local list = assert(t:versions())
    assert.same({ "V3", "V2", "V1" }, { list[1].version_id, list[2].version_id, list[3].version_id })
    assert.equal("adds a subnet", list[2].version_description)
    assert.equal(t.id, list[2].template_id)
    assert.matches("^3 versions\n  V3", tostring(list))
    local meta = assert(t:version_metadata("V2"))
    assert.equal("adds a subnet", meta.version_description)
    assert.equal("V2", meta.version_id)
    assert.equal("V3", assert(c:templates())[1].latest_version_id)
  end)

  it("refuses a template the reader cannot parse, with 400", function()
    local t, err = c:create_template("net", { template_body = 'resource "x" {' })
    assert.is_nil(t)
    assert.equal("bad_request", err.kind)
    assert.equal("RF.10011073", err.code)
  end)

  it("downloads a version's text from the 307 location with no credentials sent", function()
    local t = assert(c:create_template("net", { template_body = NET }))
    assert(t:create_version{ template_body = NET_V2 })
    local text = assert(t:version_content("V2"))
    assert.equal(NET_V2, text)
    assert.equal(NET, assert(t:version_content("V1")))
    local api_call, download = sent[#sent - 1], sent[#sent]
    assert.matches("/templates/net/versions/V1%?template_id=", api_call.url)
    assert.is_string(api_call.headers.Authorization)
    assert.matches("/_obs/", download.url)
    for name in pairs(download.headers) do
      local lower = name:lower()
      assert.is_falsy(lower == "authorization" or lower == "x-sdk-date" or lower == "x-security-token"
                      or lower == "x-project-id", "the download sent " .. name)
    end
    -- the location is unsigned and expires after five minutes
    w.t = w.t + 301
    local late = w.transport{ method = "GET", url = download.url, headers = {}, body = "" }
    assert.equal(403, late.status)
  end)

  it("creates a template from a version's location as template_uri", function()
    local t = assert(c:create_template("net", { template_body = NET_V2 }))
    assert(t:version_content("V1"))
    local location = sent[#sent].url
    local copy = assert(c:create_template("net-copy", { template_uri = location }))
    assert.equal(NET_V2, assert(copy:version_content("V1")))
  end)

  it("answers 404 for a version that does not exist", function()
    local t = assert(c:create_template("net", { template_body = NET }))
    for _, call in ipairs({ function() return t:version_metadata("V9") end, function() return t:version_content("V9") end,
                            function() return t:delete_version("V9") end }) do
      local v, err = call()
      assert.is_nil(v)
      assert.equal("not_found", err.kind)
      assert.equal(404, err.status)
    end
    local v, err = c:template("ghost"):versions()
    assert.is_nil(v)
    assert.equal("not_found", err.kind)
  end)

  it("deletes versions (204) but never the last one", function()
    local t = assert(c:create_template("net", { template_body = NET }))
    assert(t:create_version{ template_body = NET_V2 })
    assert.is_true(t:delete_version("V1"))
    local list = assert(t:versions())
    assert.equal(1, #list)
    assert.equal("V2", list[1].version_id)
    local ok, err = t:delete_version("V2")
    assert.is_nil(ok)
    assert.equal("bad_request", err.kind)
    assert.matches("only version of template net; delete the template instead", err.message)
    assert.equal(NET_V2, assert(t:version_content("V2")))
  end)

  it("lists every template newest first, page by page, or one page and the next marker", function()
    for i = 1, 5 do assert(c:create_template("t" .. i, { template_body = NET, description = "n" .. i })) end
    local all = assert(c:templates())
    assert.equal(5, #all)
    assert.same({ "t5", "t4", "t3", "t2", "t1" }, { all[1].name, all[2].name, all[3].name, all[4].name, all[5].name })
    assert.equal("n5", all[1].description)
    assert.matches("^rfs%.Template%(t5, id=", tostring(all[1]))
    assert.matches("^5 templates\n  t5 ", tostring(all))
    local before = #w:requests()
    local paged = assert(c:templates{ limit = 2 })
    assert.equal(5, #paged)
    assert.equal(3, #w:requests() - before) -- three pages of 2, 2 and 1
    local page, marker = c:templates{ limit = 2, all = false }
    assert.equal(2, #page)
    assert.is_string(marker)
    local rest = assert(c:templates{ marker = marker })
    assert.equal("t3", rest[1].name)
    -- a listed Template carries its id: it is the guard of its next call
    assert.is_true(assert(all[5]:update{ description = "first one" }))
    local vpage, vmarker = all[5]:versions{ limit = 1, all = false }
    assert.equal(1, #vpage)
    assert.is_nil(vmarker)
  end)

  it("accepts a listing without page_info, as older RFS answers", function()
    w:fault{ match = { method = "GET", path = "/templates" }, status = 200,
             body = cjson.encode{ templates = { { template_id = OTHER_ID, template_name = "old", create_time = "x",
                                                  update_time = "x", latest_version_id = "V4",
                                                  latest_version_description = "" } } } }
    local list = assert(c:templates())
    assert.equal(1, #list)
    assert.equal("old", list[1].name)
    assert.equal(OTHER_ID, list[1].id)
    assert.equal("V4", list[1].latest_version_id)
  end)

  it("returns a decode error for an answer without the documented fields", function()
    w:fault{ match = { method = "POST", path = "/templates" }, status = 200, body = '{"version_id":"V1"}' }
    local t, err = c:create_template("net", { template_body = NET })
    assert.is_nil(t)
    assert.equal("decode", err.kind)
    assert.matches("template_id", err.message)
    w:fault{ match = { method = "GET", path = "/templates" }, status = 200,
             body = '{"templates":[{"template_name":"1bad","template_id":"x"}]}' }
    local list, lerr = c:templates()
    assert.is_nil(list)
    assert.equal("decode", lerr.kind)
  end)

  it("retries reads on 503 and says what a failed download answered", function()
    local t = assert(c:create_template("net", { template_body = NET }))
    w:fault{ match = { method = "GET", path = "/templates/net/versions" }, status = 503 }
    assert.equal(1, #assert(t:versions()))
    local c2 = w:client{ transport = function(req)
      if req.url:find("/_obs/", 1, true) then return { status = 404, headers = {}, body = "<Error/>" } end
      return w.transport(req)
    end }
    local text, err = c2:template("net"):version_content("V1")
    assert.is_nil(text)
    assert.equal("not_found", err.kind)
    assert.matches("downloading the template", err.message)
  end)
end)
