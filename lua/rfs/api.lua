-- rfs.api: the operation model. Every RFS operation lua-rfs knows is one entry of
-- api.operations; the Lua methods (rfs.operations), argument checks, paging, the CLI's
-- commands and rfs.help are all built from it, and spec/api_spec.lua holds each entry
-- against the official Go SDK (spec/fixtures/aos_meta.json).
--
-- Adding an operation is adding one entry below: its RFS name, method, path exactly as
-- the official SDK writes it, success status, the object its Lua method lives on, the Lua
-- method name, a one-line summary and its parameters. Nothing else needs to change for
-- `rfs.help` and the CLI to know it; a Lua method appears once its object kind is wired
-- in rfs.operations (today: client and stack).
--
-- Data only: no functions, so anything can walk it.
--
-- An entry:
--   name      RFS / official SDK operation name          method  HTTP method
--   path      path template, {project_id} and friends    status  the success status
--   on        "client" | "stack" | "plan" | "template" | "stack_set"
--   lua       Lua method name on that object              summary one line, for help
--   params    { name, ["in"] = "path"|"query"|"body", type, required, pattern (a Lua pattern),
--               format = "uuid" | "name" (a letter or a Chinese character, then letters, Chinese
--               characters, digits, '_', '-'; max_len counts characters), max_len, min_len, min, max, max_items, from = "object",
--               becomes = "vars_structure" (a convenience that is converted), doc }
--             types: "string" | "integer" | "number" | "boolean" | "array" | "object"
--   one_of    { { a, b } }: at most one of each group; required_one_of: exactly one
--   requires_any  at least one of these options (an update with nothing to change is misuse)
--   when      the option that selects this entry when two share one Lua method
--   list_key  list operations: the response key holding the list
--   paging    marker paging through page_info.next_marker
--   idempotent  reads (GET/HEAD): retried by the retry policy
--   retry_refused  not idempotent, but re-sent when RFS refused it (409, 429, 403 RF.10012519 busy)
--   result    "stack" | "deployment" | "true" | "list" | "location" | "table"
--   cli       { command =, args = { ... } } or nil; also flags = { param = "--documented-name" }
--             where the derived flag is not the documented one, wait = true (--wait, --timeout),
--             filter = "status" (--status S, client side), summary = and help = { param = }
--             for help text where the model's speaks of Lua; see rfs.cli_commands

local api = {}

-- Parameters shared by many operations (the same table may appear in several entries).
local P = {
  project_id = { name = "project_id", ["in"] = "path", type = "string", required = true, from = "object",
                 pattern = "^[%w_%-]+$", min_len = 3, max_len = 64, doc = "the client's project" },
  stack_name_path = { name = "stack_name", ["in"] = "path", type = "string", required = true, from = "object",
                      format = "name", max_len = 128, doc = "the stack's name" },
  stack_id_query = { name = "stack_id", ["in"] = "query", type = "string", format = "uuid", from = "object",
                     doc = "guard: the request fails (400) when the named stack has another id" },
  stack_id_body = { name = "stack_id", ["in"] = "body", type = "string", format = "uuid", from = "object",
                    doc = "guard: the request fails (400) when the named stack has another id" },
  marker = { name = "marker", ["in"] = "query", type = "string", min_len = 1, max_len = 512,
             doc = "start after this page marker (page_info.next_marker of the previous page)" },
  limit = { name = "limit", ["in"] = "query", type = "integer", min = 1, max = 1000,
            doc = "items per page: a page size, not a total (every page is read unless all = false)" },
  all = { name = "all", ["in"] = "local", type = "boolean",
          doc = "false: return one page and the next marker (default: every page)" },
  template_body = { name = "template_body", ["in"] = "body", type = "string", max_len = 51200,
                    doc = "the template text: HCL or tf.json" },
  template_uri = { name = "template_uri", ["in"] = "body", type = "string", max_len = 2048,
                   doc = "OBS URL of a .tf, .tf.json or .zip template" },
  vars_body = { name = "vars_body", ["in"] = "body", type = "string", max_len = 51200,
                doc = "tfvars text" },
  vars_uri = { name = "vars_uri", ["in"] = "body", type = "string", max_len = 2048,
               doc = "OBS pre-signed URL of a .tfvars file" },
  vars_structure = { name = "vars_structure", ["in"] = "body", type = "array", max_items = 100,
                     doc = "{ { var_key =, var_value = (string), encryption = } ...}" },
  vars = { name = "vars", ["in"] = "body", type = "object", max_items = 100, becomes = "vars_structure",
           doc = "{ name = value }: becomes vars_structure (numbers and booleans as text, tables as JSON)" },
  description = { name = "description", ["in"] = "body", type = "string", max_len = 1024,
                  doc = "free text" },
  enable_auto_rollback = { name = "enable_auto_rollback", ["in"] = "body", type = "boolean",
                           doc = "roll back by itself when a deployment fails" },
  enable_deletion_protection = { name = "enable_deletion_protection", ["in"] = "body", type = "boolean",
                                 doc = "refuse deletion while on" },
  agencies = { name = "agencies", ["in"] = "body", type = "array", max_items = 100,
               doc = "{ { provider_name =, agency_name = | agency_urn = } ...}" },
}

local TEMPLATE_VARS = { "template_body", "template_uri", "vars_body", "vars_uri", "vars_structure", "vars" }

-- A parameter list: names of shared parameters (P) or parameter tables, then more names.
local function with(list, more)
  local out = {}
  for _, p in ipairs(list) do out[#out + 1] = type(p) == "string" and P[p] or p end
  for _, name in ipairs(more or {}) do out[#out + 1] = P[name] end
  return out
end

api.operations = {
  -- stacks ----------------------------------------------------------------------------
  { name = "ListStacks", method = "GET", path = "/v1/{project_id}/stacks", status = 200,
    on = "client", lua = "stacks", summary = "Every stack of the project, newest first, as Stack objects",
    params = with({ "project_id", "marker", "limit", "all" }),
    list_key = "stacks", paging = true, idempotent = true, result = "list",
    cli = { command = "list", args = {}, filter = "status", summary = "Every stack of the project, newest first" } },

  { name = "CreateStack", method = "POST", path = "/v1/{project_id}/stacks", status = 201,
    on = "client", lua = "create_stack", summary = "Create a stack; with a template it also deploys it",
    params = with({ "project_id",
      { name = "stack_name", ["in"] = "body", type = "string", required = true, from = "object",
        format = "name", max_len = 128, doc = "the new stack's name" },
      "description", "enable_auto_rollback", "enable_deletion_protection", "agencies" }, TEMPLATE_VARS),
    one_of = { { "template_body", "template_uri" }, { "vars", "vars_structure" } },
    idempotent = false, result = "stack",
    cli = { command = "create", args = { "STACK" }, wait = true,
            flags = { template_body = "--template", vars_body = "--vars-file", vars = "--var" } } },

  { name = "DeployStack", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/deployments", status = 202,
    on = "stack", lua = "deploy", summary = "Deploy a full template and vars to the stack (a full replacement)",
    params = with({ "project_id", "stack_name_path", "stack_id_body" }, TEMPLATE_VARS),
    required_one_of = { { "template_body", "template_uri" } }, one_of = { { "vars", "vars_structure" } },
    idempotent = false, result = "deployment",
    cli = { command = "deploy", args = { "STACK" }, wait = true,
            flags = { template_body = "--template", vars_body = "--vars-file", vars = "--var" } } },

  { name = "UpdateStack", method = "PATCH", path = "/v1/{project_id}/stacks/{stack_name}", status = 204,
    on = "stack", lua = "update", summary = "Change the stack's description, auto-rollback, protection or agencies",
    params = with({ "project_id", "stack_name_path", "stack_id_body", "description", "enable_auto_rollback",
                    "enable_deletion_protection", "agencies" }),
    requires_any = { "description", "enable_auto_rollback", "enable_deletion_protection", "agencies" },
    idempotent = false, retry_refused = true, result = "true",
    cli = { command = "update", args = { "STACK" } } },

  { name = "DeleteStack", method = "DELETE", path = "/v1/{project_id}/stacks/{stack_name}", status = 202,
    on = "stack", lua = "delete", summary = "Delete the stack and its cloud resources",
    params = with({ "project_id", "stack_name_path", "stack_id_query" }),
    idempotent = false, retry_refused = true, result = "true",
    cli = { command = "delete", args = { "STACK" }, wait = true,
            flags = { retain_all_resources = "--retain-resources" } } },

  { name = "DeleteStackEnhanced", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/deletion",
    status = 202, on = "stack", lua = "delete", when = "retain_all_resources",
    summary = "Delete the stack; retain_all_resources = true keeps its cloud resources",
    params = with({ "project_id", "stack_name_path", "stack_id_body",
      { name = "retain_all_resources", ["in"] = "body", type = "boolean",
        doc = "true: only the stack record goes, the cloud resources stay" } }),
    idempotent = false, retry_refused = true, result = "true",
    cli = { command = "delete", args = { "STACK" }, wait = true,
            flags = { retain_all_resources = "--retain-resources" } } },

  { name = "GetStackMetadata", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/metadata", status = 200,
    on = "stack", lua = "metadata", summary = "Every field of the stack; refreshes stack.id and stack.status",
    params = with({ "project_id", "stack_name_path", "stack_id_query" }),
    idempotent = true, result = "table",
    cli = { command = "metadata", args = { "STACK" } } },

  { name = "GetStackTemplate", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/templates", status = 307,
    on = "stack", lua = "template", summary = "Where the last deployed template can be downloaded (5 minutes)",
    params = with({ "project_id", "stack_name_path", "stack_id_query",
      { name = "access_control_source_ips", ["in"] = "query", type = "array", max_items = 100,
        doc = "IPv4 CIDRs allowed to download" },
      { name = "access_control_source_vpc_ids", ["in"] = "query", type = "array", max_items = 100,
        doc = "VPC ids allowed to download" },
      { name = "download", ["in"] = "local", type = "boolean",
        doc = "also fetch the template text (t.body), with no credentials sent" } }),
    idempotent = true, result = "location",
    cli = { command = "template", args = { "STACK" },
            help = { download = "print the template text itself (fetched with no credentials sent)" } } },

  { name = "ListStackResources", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/resources",
    status = 200, on = "stack", lua = "resources", summary = "The stack's cloud resources and their status",
    params = with({ "project_id", "stack_name_path", "stack_id_query", "marker", "limit", "all" }),
    list_key = "stack_resources", paging = true, idempotent = true, result = "list",
    cli = { command = "resources", args = { "STACK" } } },

  { name = "ListStackOutputs", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/outputs", status = 200,
    on = "stack", lua = "outputs", summary = "The stack's outputs; outs.by_name[name].decoded is the JSON value",
    params = with({ "project_id", "stack_name_path", "stack_id_query", "marker", "limit", "all" }),
    list_key = "outputs", paging = true, idempotent = true, result = "list",
    cli = { command = "outputs", args = { "STACK" }, summary = "The stack's outputs (values are JSON text)" } },

  { name = "ListStackEvents", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/events", status = 200,
    on = "stack", lua = "events", summary = "The stack's events, newest first",
    params = with({ "project_id", "stack_name_path", "stack_id_query",
      { name = "deployment_id", ["in"] = "query", type = "string", max_len = 128, pattern = "^[^%c%s]*$",
        doc = "only this deployment's events" },
      { name = "filter", ["in"] = "query", type = "string", max_len = 512,
        doc = "name==value terms: ',' AND, '|' OR (event_type, resource_type, resource_name)" },
      { name = "field", ["in"] = "query", type = "string", max_len = 128,
        doc = "comma list of the attributes to return" }, "marker", "limit", "all" }),
    list_key = "stack_events", paging = true, idempotent = true, result = "list",
    cli = { command = "events", args = { "STACK" } } },

  { name = "ContinueDeployStack", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/continuations",
    status = 202, on = "stack", lua = "continue_deploy",
    summary = "Retry a failed deployment (needs DEPLOYMENT_FAILED)",
    params = with({ "project_id", "stack_name_path", "stack_id_body" }),
    idempotent = false, result = "deployment",
    cli = { command = "continue-deploy", args = { "STACK" } } },

  { name = "ContinueRollbackStack", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/rollbacks",
    status = 202, on = "stack", lua = "continue_rollback",
    summary = "Retry a failed rollback (needs ROLLBACK_FAILED)",
    params = with({ "project_id", "stack_name_path", "stack_id_body" }),
    idempotent = false, result = "deployment",
    cli = { command = "continue-rollback", args = { "STACK" } } },

  -- templates (analysis) ----------------------------------------------------------------
  { name = "ParseTemplateVariables", method = "POST", path = "/v1/{project_id}/template-analyses/variables",
    status = 200, on = "client", lua = "parse_variables",
    summary = "The variables a template declares (name, type, default, sensitive, validations)",
    params = with({ "project_id", "template_body", "template_uri" }),
    required_one_of = { { "template_body", "template_uri" } },
    list_key = "variables", idempotent = false, result = "list",
    cli = { command = "variables", args = {}, flags = { template_body = "--template" } } },
}

-- Lookups: api.by_name.CreateStack, api.by_method.stack.deploy (for two entries that share a
-- method, such as stack:delete, the one without `when`).
api.by_name, api.by_method = {}, {}
for _, op in ipairs(api.operations) do
  api.by_name[op.name] = op
  api.by_method[op.on] = api.by_method[op.on] or {}
  if not op.when or not api.by_method[op.on][op.lua] then api.by_method[op.on][op.lua] = op end
end

return api
