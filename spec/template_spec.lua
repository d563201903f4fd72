-- The emulator's template reader: what a stack's template_body declares, as a reader of
-- the template would list it. Each file under spec/fixtures/templates/ is checked here.
local template = require "rfs.emulator.template"
local cjson = require "cjson"

local DIR = "spec/fixtures/templates/"

local function read(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local function parse(name)
  local doc, err = template.parse(read(name))
  assert(doc, err)
  return doc
end

local function names(list)
  local out = {}
  for i, r in ipairs(list) do
    out[i] = r.mode and (r.mode .. " " .. r.type .. "." .. r.name) or r.name
  end
  return out
end

local function by_name(list, name)
  for _, r in ipairs(list) do
    if r.name == name then return r end
  end
  error("no entry named " .. name)
end

local function refs(doc)
  local out = {}
  for _, o in ipairs(doc.outputs) do out[o.name] = o.ref or false end
  return out
end

describe("rfs.emulator.template", function()
  it("reads a VPC with a subnet, a variable with a validation and outputs", function()
    local doc = parse("basic_vpc.tf")
    assert.same({ "managed huaweicloud_vpc.main", "managed huaweicloud_vpc_subnet.sub" }, names(doc.resources))
    local vpc, sub = doc.resources[1], doc.resources[2]
    assert.equal(16, vpc.line)
    assert.equal("10.0.0.0/16", vpc.attributes.cidr.value)
    assert.equal('"vpc-${var.env}"', vpc.attributes.name.expr)
    assert.is_nil(vpc.attributes.name.value)
    assert.equal('"${lookup(var.m, "k", "}")}"', sub.attributes.name.expr)
    assert.equal("lifecycle", vpc.blocks[1].type)
    assert.equal("[tags]", vpc.blocks[1].attributes.ignore_changes.expr)
    assert.equal(3, sub.count)
    assert.same({ 0, 1, 2, n = 3 }, template.instances(sub))
    assert.same({ n = 1 }, template.instances(vpc))
    assert.same({ "huaweicloud_vpc.main" }, sub.depends_on)
    assert.same({ "vpc_id", "sub0" }, names(doc.outputs))
    assert.same({ mode = "managed", type = "huaweicloud_vpc", name = "main", attr = "id" }, doc.outputs[1].ref)
    assert.same({ mode = "managed", type = "huaweicloud_vpc_subnet", name = "sub", index = 0, attr = "id" },
      doc.outputs[2].ref)
    assert.is_false(doc.outputs[1].sensitive)
    assert.is_true(doc.outputs[2].sensitive)
    assert.same({ name = "vpc_name", line = 2, type = "string", description = "The VPC name", has_default = true,
                  default = "vpc-basic", sensitive = false, nullable = true,
                  validations = { { condition = "length(var.vpc_name) > 0",
                                    error_message = "The name must not be empty." } } }, doc.variables[1])
    assert.same({ { name = "huaweicloud", line = 12 } }, doc.providers)
  end)

  it("keeps each block's source text verbatim, so a changed block can be told apart", function()
    local text = read("basic_vpc.tf")
    local doc = assert(template.parse(text))
    local vpc = doc.resources[1]
    assert.equal('resource "huaweicloud_vpc" "main" {', vpc.text:match("^[^\n]*"))
    assert.equal("}", vpc.text:sub(-1))
    assert.truthy(text:find(vpc.text, 1, true))
    local changed = assert(template.parse((text:gsub('"10.0.0.0/16"', '"10.1.0.0/16"'))))
    assert.are_not.equal(vpc.text, changed.resources[1].text)
    assert.equal(doc.resources[2].text, changed.resources[2].text)
  end)

  it("reads an ECS with EIPs: data sources, count, nested blocks, indexed outputs", function()
    local doc = parse("ecs_eip.tf")
    assert.same({
      "data huaweicloud_availability_zones.az", "data huaweicloud_compute_flavors.flavor",
      "data huaweicloud_images_image.ubuntu", "managed huaweicloud_vpc.vpc", "managed huaweicloud_vpc_subnet.subnet",
      "managed huaweicloud_networking_secgroup.sg", "managed huaweicloud_compute_instance.web",
      "managed huaweicloud_vpc_eip.eip", "managed huaweicloud_compute_eip_associate.assoc",
    }, names(doc.resources))
    local web = by_name(doc.resources, "web")
    assert.equal(58, web.line)
    assert.equal(2, web.count)
    assert.same({ "network" }, { web.blocks[1].type })
    local eip = by_name(doc.resources, "eip")
    assert.same({ "publicip", "bandwidth" }, { eip.blocks[1].type, eip.blocks[2].type })
    assert.equal(5, eip.blocks[2].attributes.size.value)
    assert.same({ 0, 1, n = 2 }, template.instances(eip))
    assert.same({
      web0_ip = { mode = "managed", type = "huaweicloud_vpc_eip", name = "eip", index = 0, attr = "address" },
      web1_id = { mode = "managed", type = "huaweicloud_compute_instance", name = "web", index = 1, attr = "id" },
      all_ips = false, -- a splat is not one reference
      zone = false,    -- an attribute indexed further is not one reference
    }, refs(doc))
    assert.equal("The public address of the first server", doc.outputs[1].description)
    assert.same({ "region", "instance_count" }, names(doc.variables))
    assert.equal(2, doc.variables[2].default)
    assert.same({ { name = "huaweicloud", line = 13 } }, doc.providers)
  end)

  it("reads RDS: sensitive variables, several validations, ternaries, lifecycle", function()
    local doc = parse("rds_mysql.tf")
    assert.same({ "managed huaweicloud_rds_instance.mysql", "managed huaweicloud_rds_mysql_database.app" },
      names(doc.resources))
    local pw = doc.variables[1]
    assert.same({ name = "db_password", line = 1, type = "string", description = "Password of the root account",
                  has_default = false, sensitive = true, nullable = true, validations = {
                    { condition = "length(var.db_password) >= 8",
                      error_message = "The password must be at least 8 characters long." },
                    { condition = 'can(regex("[0-9]", var.db_password))',
                      error_message = "The password must hold a digit." },
                  } }, pw)
    local ha = doc.variables[2]
    assert.is_true(ha.has_default)
    assert.is_false(ha.default)
    assert.is_false(ha.nullable)
    local rds = doc.resources[1]
    assert.equal('var.high_availability ? "rds.mysql.n1.large.2.ha" : "rds.mysql.n1.large.2"',
      rds.attributes.flavor.expr)
    assert.is_nil(rds.attributes.flavor.value)
    assert.equal("names[0],\n  ]", rds.attributes.availability_zone.expr:sub(-13))
    local blocks = {}
    for i, b in ipairs(rds.blocks) do blocks[i] = b.type end
    assert.same({ "db", "volume", "backup_strategy", "lifecycle" }, blocks)
    assert.is_true(rds.blocks[4].attributes.prevent_destroy.value)
    assert.equal(3306, rds.blocks[1].attributes.port.value)
    assert.same({ "rds_address", "rds_id", "db_password" }, names(doc.outputs))
    assert.is_false(refs(doc).rds_address)
    assert.same({ mode = "managed", type = "huaweicloud_rds_instance", name = "mysql", attr = "id" }, refs(doc).rds_id)
    assert.is_true(doc.outputs[3].sensitive)
    assert.is_nil(doc.outputs[3].ref)
  end)

  it("reads OBS buckets: toset for_each keys, a heredoc policy, outputs by key", function()
    local doc = parse("obs_bucket.tf")
    assert.same({ "managed huaweicloud_obs_bucket.site", "managed huaweicloud_obs_bucket_policy.site",
                  "managed huaweicloud_obs_bucket_object.index" }, names(doc.resources))
    local site = doc.resources[1]
    assert.same({ "assets", "backups", "logs" }, site.for_each)
    assert.same({ "assets", "backups", "logs", n = 3 }, template.instances(site))
    assert.is_nil(site.count)
    assert.equal("lifecycle_rule", site.blocks[1].type)
    local policy = doc.resources[2].attributes.policy
    assert.equal("<<POLICY", policy.expr:match("^[^\n]*"))
    assert.equal("POLICY", policy.expr:match("[^\n]*$"))
    assert.is_nil(policy.value) -- it interpolates
    assert.same({ mode = "managed", type = "huaweicloud_obs_bucket", name = "site", index = "assets",
                  attr = "bucket_domain_name" }, refs(doc).assets_domain)
    assert.is_false(refs(doc).bucket_names)
    assert.equal("<html><body>hello</body></html>", doc.resources[3].attributes.content.value)
  end)

  it("reads security group rules: count from a function, for_each maps, count = 0, dynamic blocks", function()
    local doc = parse("secgroup_rules.tf")
    local from_cidr = by_name(doc.resources, "from_cidr")
    assert.is_nil(from_cidr.count)
    assert.equal("length(var.allowed_cidrs)", from_cidr.attributes.count.expr)
    assert.same({ n = 1, unknown = "count" }, template.instances(from_cidr))
    local named = by_name(doc.resources, "named")
    assert.same({ "https", "rdp", "ssh" }, named.for_each) -- keys known though a value is not
    local icmp = by_name(doc.resources, "icmp")
    assert.equal(0, icmp.count)
    assert.same({ n = 0 }, template.instances(icmp))
    local from_var = by_name(doc.resources, "from_var")
    assert.is_nil(from_var.for_each)
    assert.same({ n = 1, unknown = "for_each" }, template.instances(from_var))
    local dyn = by_name(doc.resources, "dynamic")
    assert.same({ type = "dynamic", labels = { "rules" } }, { type = dyn.blocks[1].type, labels = dyn.blocks[1].labels })
    assert.equal("content", dyn.blocks[1].blocks[1].type)
    local ingress = by_name(doc.variables, "ingress")
    assert.same({ ssh = { port = 22, protocol = "tcp" }, https = { port = 443, protocol = "tcp" } }, ingress.default)
    assert.equal("map(object({\n    port     = number\n    protocol = string\n  }))", ingress.type)
    assert.same({ "10.0.0.0/8", "172.16.0.0/12" }, by_name(doc.variables, "allowed_cidrs").default)
    assert.same({ mode = "managed", type = "huaweicloud_networking_secgroup_rule", name = "from_cidr", index = 0,
                  attr = "id" }, refs(doc).first_rule)
    assert.same({ mode = "managed", type = "huaweicloud_networking_secgroup_rule", name = "named", index = "ssh",
                  attr = "id" }, refs(doc).ssh_rule)
  end)

  it("reads provisioners with nested connection blocks and heredoc commands", function()
    local doc = parse("provisioner.tf")
    assert.same({ "managed huaweicloud_compute_instance.bastion", "managed null_resource.configure" },
      names(doc.resources))
    local bastion = doc.resources[1]
    local kinds = {}
    for i, b in ipairs(bastion.blocks) do kinds[i] = b.type .. (b.labels[1] and (" " .. b.labels[1]) or "") end
    assert.same({ "network", "provisioner remote-exec", "provisioner local-exec" }, kinds)
    assert.equal("connection", bastion.blocks[2].blocks[1].type)
    assert.equal(11, bastion.blocks[2].line)
    assert.equal("destroy", bastion.blocks[3].attributes.when.expr)
    assert.same({ "huaweicloud_compute_instance.bastion" }, doc.resources[2].depends_on)
    assert.same({ mode = "managed", type = "huaweicloud_compute_instance", name = "bastion", attr = "access_ip_v4" },
      doc.outputs[1].ref)
  end)

  it("skips terraform, locals and module blocks, and keeps provider aliases", function()
    local doc = parse("locals_module.tf")
    assert.same({ "managed huaweicloud_vpc.this" }, names(doc.resources))
    assert.equal(45, doc.resources[1].line)
    assert.same({ { name = "huaweicloud", line = 14 }, { name = "huaweicloud", line = 18, alias = "shanghai" } },
      doc.providers)
    assert.same({ env = false, network_id = false,
                  vpc_name = { mode = "managed", type = "huaweicloud_vpc", name = "this", attr = "name" } }, refs(doc))
    assert.same({}, doc.variables)
  end)

  it("reads heredocs: <<EOF with template directives, <<-EOF with indentation removed", function()
    local doc = parse("user_data_heredoc.tf")
    assert.same({ "managed huaweicloud_compute_instance.app" }, names(doc.resources))
    local app = doc.resources[1]
    assert.equal("<<EOF", app.attributes.user_data.expr:match("^[^\n]*"))
    assert.truthy(app.attributes.user_data.expr:find('echo "EOF is not the marker', 1, true))
    assert.equal(22, app.attributes.metadata.line)
    assert.same({ "network" }, { app.blocks[1].type })
    assert.equal("Hello,\n  world\n", by_name(doc.outputs, "banner").value)
    assert.equal("no interpolation here\n", by_name(doc.outputs, "plain_heredoc").value)
    assert.same({ "nginx", "jq" }, doc.variables[1].default)
  end)

  it("ignores comments and decodes escapes in strings", function()
    local doc = parse("comments_escapes.tf")
    assert.same({ "managed huaweicloud_vpc.escapes", "managed huaweicloud_vpc_subnet.bare_labels",
                  "managed huaweicloud_vpc_subnet.one_line" }, names(doc.resources))
    local vpc = doc.resources[1]
    assert.equal('quote " backslash \\ newline \n tab \t e-acute \195\169 done', vpc.attributes.name.value)
    assert.equal("a # and a // and a /* inside a string are not comments", vpc.attributes.description.value)
    assert.equal("10.1.0.0/16", vpc.attributes.cidr.value)
    local bare = doc.resources[2]
    assert.equal(19, bare.line)
    assert.equal("10.1.1.1", bare.attributes.gateway_ip.value)
    assert.equal("one-line", doc.resources[3].attributes.name.value)
    assert.equal('quote " and \195\169', doc.outputs[1].value)
  end)

  it("keeps arbitrary expressions as text and decodes literal numbers, bools and null", function()
    local doc = parse("expressions.tf")
    local x = doc.resources[1]
    local a = x.attributes
    assert.is_nil(x.count)
    assert.equal('var.env == "prod" ? 3 : 1', a.count.expr)
    assert.equal("(40 + 10) * 2 - 1 % 3", a.disk_size.expr)
    assert.equal(1.5, a.ratio.value)
    assert.equal(1000, a.big.value)
    assert.is_true(a.enabled.value)
    assert.is_false(a.disabled.value)
    assert.is_nil(a.nothing.value)
    assert.equal("null", a.nothing.expr)
    assert.equal(-1, a.neg.value)
    assert.equal("[for s in var.names : upper(s)]", a.names.expr)
    assert.equal("{ for k, v in var.map : k => v if v != null }", a.by_name.expr)
    assert.equal("aws_instance.x[*].id", a.ids.expr)
    assert.equal("!var.enabled && (var.count > 2 || var.count <= 0)", a.condition.expr)
    assert.equal(29, a.neg.line)
    assert.same({ "a", 1, true, cjson.null }, by_name(doc.outputs, "literal_list").value)
    assert.equal(42, by_name(doc.outputs, "literal_number").value)
    assert.same({ literal_list = false, literal_number = false, splat = false, conditional = false }, refs(doc))
  end)

  it("reads every kind of variable: no type, defaults of every type, null, nullable, sensitive", function()
    local doc = parse("variables_all.tf")
    assert.same({ "plain", "name", "count_of_nodes", "tags", "zones", "maybe", "required_strict", "secret_token",
                  "settings", "flavor" }, names(doc.variables))
    assert.same({ name = "plain", line = 1, has_default = false, sensitive = false, nullable = true,
                  validations = {} }, doc.variables[1])
    local v = {}
    for _, var in ipairs(doc.variables) do v[var.name] = var end
    assert.equal(3, v.count_of_nodes.default)
    assert.equal("number", v.count_of_nodes.type)
    assert.same({ owner = "ops", cost = "42" }, v.tags.default)
    assert.same({ "cn-north-4a", "cn-north-4b" }, v.zones.default)
    assert.is_true(v.maybe.has_default)
    assert.equal(cjson.null, v.maybe.default)
    assert.is_false(v.required_strict.nullable)
    assert.is_false(v.required_strict.has_default)
    assert.is_true(v.secret_token.sensitive)
    assert.same({ size = 10, enabled = false, labels = {} }, v.settings.default)
    assert.equal("Settings of the cluster.\n", v.settings.description)
    assert.truthy(v.settings.type:find("^object%(%{"))
    assert.same({ { condition = 'contains(["s6.small.1", "s6.medium.2"], var.flavor)',
                    error_message = "The flavor must be s6.small.1 or s6.medium.2." } }, v.flavor.validations)
  end)

  it("reads a template of only comments as declaring nothing", function()
    assert.same({ resources = {}, outputs = {}, variables = {}, providers = {} }, parse("empty_comments_only.tf"))
    assert.same({ resources = {}, outputs = {}, variables = {}, providers = {} }, assert(template.parse("")))
  end)

  describe("Terraform JSON syntax", function()
    it("reads resources, data sources, variables and outputs whose values are ${} references", function()
      local doc = parse("vpc_ecs.tf.json")
      assert.same({ "data huaweicloud_availability_zones.az", "managed huaweicloud_vpc.vpc",
                    "managed huaweicloud_vpc_subnet.subnet", "managed huaweicloud_compute_instance.web" },
        names(doc.resources))
      local web = doc.resources[4]
      assert.equal(43, web.line)
      assert.equal(2, web.count)
      assert.same({ 0, 1, n = 2 }, template.instances(web))
      assert.same({ "huaweicloud_vpc_subnet.subnet" }, web.depends_on)
      assert.equal("network", web.blocks[1] and web.blocks[1].type or web.attributes.network and "network")
      assert.equal("var.vpc_name", doc.resources[2].attributes.name.expr)
      assert.equal("192.168.0.0/16", doc.resources[2].attributes.cidr.value)
      assert.equal("{", web.text:sub(1, 1))
      assert.same({
        vpc_id = { mode = "managed", type = "huaweicloud_vpc", name = "vpc", attr = "id" },
        web1_ip = { mode = "managed", type = "huaweicloud_compute_instance", name = "web", index = 1,
                    attr = "access_ip_v4" },
        zones = { mode = "data", type = "huaweicloud_availability_zones", name = "az", attr = "names" },
      }, refs(doc))
      assert.equal("ID of the VPC", doc.outputs[1].description)
      assert.same({ name = "vpc_name", line = 12, type = "string", description = "Name of the VPC",
                    has_default = true, default = "vpc-json", sensitive = false, nullable = true,
                    validations = {} }, doc.variables[1])
      assert.same({ { name = "huaweicloud", line = 9 } }, doc.providers)
    end)

    it("reads arrays of blocks, lifecycle and provisioners, for_each lists and validations", function()
      local doc = parse("rds_lifecycle.tf.json")
      assert.same({ "managed huaweicloud_rds_instance.db", "managed huaweicloud_rds_read_replica_instance.replica" },
        names(doc.resources))
      local db = doc.resources[1]
      assert.same({ "large", "small" }, db.for_each)
      assert.equal("lifecycle", db.blocks[1].type)
      assert.is_true(db.blocks[1].attributes.prevent_destroy.value)
      assert.same({ "provisioner", "local-exec" }, { db.blocks[2].type, db.blocks[2].labels[1] })
      assert.same({ "huaweicloud_rds_instance.db" }, doc.resources[2].depends_on)
      local pw = doc.variables[1]
      assert.same({ name = "db_password", line = 3, type = "string", has_default = false, sensitive = true,
                    nullable = false, validations = { { condition = "length(var.db_password) >= 8",
                                                        error_message = "At least 8 characters." } } }, pw)
      assert.same({ small = "rds.mysql.n1.large.2", large = "rds.mysql.n1.xlarge.2" }, doc.variables[2].default)
      assert.equal(cjson.null, doc.variables[3].default)
      assert.same({ mode = "managed", type = "huaweicloud_rds_instance", name = "db", index = "large", attr = "id" },
        refs(doc).large_id)
      assert.is_true(by_name(doc.outputs, "password").sensitive)
      assert.equal("not a reference", by_name(doc.outputs, "fixed").value)
      assert.is_false(refs(doc).fixed)
      assert.equal(42, by_name(doc.outputs, "answer").value)
    end)
  end)

  describe("an unreadable template", function()
    local cases = {
      { "invalid_unclosed_block.tf", "line 5: unclosed '{'" },
      { "invalid_unterminated_string.tf", "line 2: unterminated string" },
      { "invalid_unterminated_heredoc.tf", "line 4: unterminated heredoc" },
      { "invalid_labels.tf", "line 3: a resource block needs 2 labels" },
      { "invalid_duplicate_resource.tf", "line 9: duplicate resource huaweicloud_vpc.main (first declared on line 1)" },
      { "invalid_garbage.tf", "line 5: 'this is not a template' is neither an attribute" },
      { "invalid_duplicate_output.tf.json", 'line 9: duplicate output "id"' },
      { "invalid_json_syntax.tf.json", "line 4: expected a JSON object key" },
    }
    for _, case in ipairs(cases) do
      it("answers " .. case[1] .. " with the line at fault", function()
        local doc, err = template.parse(read(case[1]))
        assert.is_nil(doc)
        assert.equal(case[2], err:sub(1, #case[2]))
        assert.is_nil(err:find("\n"))
      end)
    end

    local inline = {
      { 'variable "a" {}\nvariable "a" {}\n', 'line 2: duplicate variable "a"' },
      { 'output "o" {\n  description = "no value"\n}\n', 'line 1: output "o" has no value' },
      { 'resource "a" "b" {\n}\n}\n', "line 3: unexpected '}'" },
      { 'name = "top-level attribute"\n', "line 1: an attribute ('name') cannot be set outside a block" },
      { 'resource "a" "b" {\n  x = [1, 2\n}\n', "line 3: expected ']' to close '[' from line 2, found '}'" },
      { 'resource "a" "b" {\n  x = (1 + 2\n', "line 2: unclosed '('" },
      { 'resource "a" "b" {\n  x = "${var.y"\n}\n', "line 2: unterminated string" },
      { 'resource "a" "b" {\n  a = 1 b = 2\n}\n', "line 2: unexpected '='" },
      { 'resource "a" "b" {\n  a =\n}\n', "line 2: attribute 'a' has no value" },
      { 'resource "a" "b" {\n  a = 1\n  a = 2\n}\n', "line 3: attribute 'a' is set twice (first on line 2)" },
      { 'resource "a" "b" "c" {}\n', "line 1: a resource block needs 2 labels (a type and a name), found 3" },
      { 'resource "a" "b c" {}\n', "line 1: invalid resource name 'b c'" },
      { '\n\nresourcez "a" "b" {}\n', "line 3: unsupported block type 'resourcez'" },
      { 'resource "a" "b" {\n  /* never closed\n}\n', "line 2: unterminated comment" },
      { 'resource "a" "b" {\n  x = "\\q"\n}\n', "line 2: invalid escape sequence '\\q'" },
      { 'resource "a" "b" {\n  x = <<EOF x\nEOF\n}\n', "line 2: invalid heredoc" },
      { '{"resource": {"a": {"b": {}}}}\n{', "line 2: unexpected '{' after the JSON document" },
      { '{"variable": {"v": {}, "v": {}}}', 'line 1: duplicate variable "v"' },
      { '{\n"resource": {"a": {"b": {}}},\n"resource": {"a": {"b": {}}}}', "line 3: duplicate resource a.b" },
      { '{"bogus": {}}', "line 1: unsupported block type 'bogus'" },
      { '{"output": {"o": {"value": "x"}}', "line 1: expected ',' or '}' in a JSON object" },
      { "[1, 2]", "line 1: expected an attribute or a block, found '[1, 2]'" },
      { ' {"resource": []}', nil },
    }
    for _, case in ipairs(inline) do
      it("answers " .. string.format("%q", case[1]):gsub("\\\n", "\\n") .. (case[2] and " with an error" or ""),
        function()
          local doc, err = template.parse(case[1])
          if case[2] then
            assert.is_nil(doc)
            assert.equal(case[2], err and err:sub(1, #case[2]))
          else
            assert.is_table(doc, err)
          end
        end)
    end

    it("answers a value that is not a string without raising", function()
      local doc, err = template.parse(nil)
      assert.is_nil(doc)
      assert.equal("line 1: the template must be a string, got nil", err)
    end)
  end)
end)
