-- rfs.api: the operation model. Every RFS operation lua-rfs knows is one entry of
-- api.operations; the Lua methods (rfs.operations), argument checks, paging, the CLI's
-- commands and rfs.help are all built from it, and spec/api_spec.lua holds each entry
-- against the official Go SDK (spec/fixtures/aos_meta.json).
--
-- Adding an operation is adding one entry below: its RFS name, method, path exactly as
-- the official SDK writes it, success status, the object its Lua method lives on, the Lua
-- method name, a one-line summary and its parameters. Nothing else needs to change for
-- `rfs.help` and the CLI to know it; a Lua method appears once its object kind is wired
-- (rfs.lifecycle: client and stack, rfs.plans: plan, rfs.templates: template, rfs.stack_sets:
-- stack_set).
--
-- Data only: no functions, so anything can walk it.
--
-- An entry:
--   name      RFS / official SDK operation name          method  HTTP method
--   path      path template, {project_id} and friends    status  the success status
--   on        "client" | "stack" | "plan" | "template" | "stack_set"
--   lua       Lua method name on that object              summary one line, for help
--   args      the Lua method's positional arguments, in order, when it has any: { "name" } for
--             client:create_stack(name, {...}), { "version_id" }, { "region", "domain_id" }
--   params    { name, ["in"] = "path"|"query"|"body", type, required, pattern (a Lua pattern),
--               format = "uuid" | "name" (a letter or a Chinese character, then letters, Chinese
--               characters, digits, '_', '-'; max_len counts characters), max_len, min_len, min, max, min_items, max_items,
--               from = "object" (the object or the client supplies it) or "args" (a positional
--               argument of the same name, or the arguments listed in `args` joined with '/';
--               checked by rfs.operations.check_args, `doc` completing "<argument> must be"),
--               wire = the JSON (body or query) name when it is not the Lua option's name,
--               enum = { allowed values }, items = the type of an array's items,
--               grammar = "filter" with keys = { ... } (the list filter grammar),
--               fields = { member = param } and fields_one_of for an object's members,
--               becomes = "vars_structure" (a convenience that is converted), doc }
--             types: "string" | "integer" | "number" | "boolean" | "array" | "object"
--   one_of    { { a, b } }: at most one of each group; required_one_of: exactly one
--   requires_any  at least one of these options (an update with nothing to change is misuse)
--   when      the option that selects this entry when two share one Lua method
--   list_key  list operations: the response key holding the list
--   paging    marker paging through page_info.next_marker
--   idempotent  reads (GET/HEAD): retried by the retry policy
--   retry_refused  not idempotent, but re-sent when RFS refused it (409, 429, 403 RF.10012519 busy)
--   result    "stack" | "deployment" | "true" | "list" | "location" | "table" | "template" (a
--             Template object) | "version" ({ version_id }) | "content" (text behind a 307) |
--             "stack_set" (a StackSet object) | "operation" ({ stack_set_operation_id }) |
--             "plan" (an ExecutionPlan) | "items" (a plan diff) | "prices"
--   cli       { command =, args = { ... } } or nil; also flags = { param = "--documented-name" }
--             where the derived flag is not the documented one, wait = true (--wait, --timeout),
--             filter = "status" (--status S, client side), targets = true (the stack set target
--             flags), summary = and help = { param = } for help text where the model's speaks
--             of Lua, hide = { keys } left out of text output (variable values; --output json
--             keeps them); see rfs.cli_commands. A command may have several words ("template-lib
--             create", "stack-set instances create"); cli.args names the object first (STACK,
--             TEMPLATE, STACK_SET; STACK PLAN for a plan), then the method's positional arguments
--             (VERSION, REGION..., PLAN for stack:create_plan)

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

-- Execution plans: the name in the path (or the create body), the id as a guard.
P.plan_name_path = { name = "execution_plan_name", ["in"] = "path", type = "string", required = true,
                     from = "object", format = "name", max_len = 128, doc = "the plan's name" }
P.plan_name_body = { name = "execution_plan_name", ["in"] = "body", type = "string", required = true,
                     from = "object", format = "name", max_len = 128, doc = "the new plan's name" }
P.plan_id_query = { name = "execution_plan_id", ["in"] = "query", type = "string", format = "uuid", from = "object",
                    doc = "guard: the request fails (400) when the named plan has another id" }
P.plan_id_body = { name = "execution_plan_id", ["in"] = "body", type = "string", format = "uuid", from = "object",
                   doc = "guard: the request fails (400) when the named plan has another id" }

-- The template library (ListTemplates ... DeleteTemplateVersion).
local TL = {
  template_name_path = { name = "template_name", ["in"] = "path", type = "string", required = true, from = "object",
                         format = "name", max_len = 128, doc = "the template's name" },
  template_id_query = { name = "template_id", ["in"] = "query", type = "string", format = "uuid", from = "object",
                        doc = "guard: the request fails (400) when the named template has another id" },
  template_id_body = { name = "template_id", ["in"] = "body", type = "string", format = "uuid", from = "object",
                       doc = "guard: the request fails (400) when the named template has another id" },
  version_id_path = { name = "version_id", ["in"] = "path", type = "string", required = true, from = "args",
                      pattern = "^V%d+$", min_len = 2, max_len = 11,
                      doc = "'V' and a number, 2-11 characters: V1, V2, ..." },
  description = { name = "description", wire = "template_description", ["in"] = "body", type = "string",
                  max_len = 1024, doc = "the template's description" },
  version_description = { name = "version_description", ["in"] = "body", type = "string", max_len = 1024,
                          doc = "what this version changes" },
}
TL.cli = function(command, args, more)
  local t = { command = "template-lib " .. command, args = args, flags = { template_body = "--template" } }
  for k, v in pairs(more or {}) do t[k] = v end
  return t
end

local TEMPLATE_VARS = { "template_body", "template_uri", "vars_body", "vars_uri", "vars_structure", "vars" }

-- A parameter list: names of shared parameters (P) or parameter tables, then more names.
local function with(list, more)
  local out = {}
  for _, p in ipairs(list) do out[#out + 1] = type(p) == "string" and P[p] or p end
  for _, name in ipairs(more or {}) do out[#out + 1] = P[name] end
  return out
end

-- Stack set parameters (rfs.operations reads `wire`: the JSON name when the Lua option's
-- differs; `enum`: the allowed values; `grammar = "filter"`: the list filter grammar with
-- `keys`; `fields`, `fields_one_of`: the members of an object option, checked the same way).
local CALL_IDENTITY = { "SELF", "DELEGATED_ADMIN" }
local SS_NAME = "^[A-Za-z][A-Za-z0-9_-]*$"
local SSP = {
  stack_set_name_path = { name = "stack_set_name", ["in"] = "path", type = "string", required = true,
                          from = "object", pattern = SS_NAME, max_len = 128, doc = "the stack set's name" },
  stack_set_id_query = { name = "stack_set_id", ["in"] = "query", type = "string", format = "uuid", from = "object",
                         doc = "guard: the request fails (400) when the named set has another id" },
  stack_set_id_body = { name = "stack_set_id", ["in"] = "body", type = "string", format = "uuid", from = "object",
                        doc = "guard: the request fails (400) when the named set has another id" },
  call_identity_query = { name = "call_identity", ["in"] = "query", type = "string", enum = CALL_IDENTITY,
                          doc = "SELF (default) or DELEGATED_ADMIN (SERVICE_MANAGED sets only)" },
  call_identity_body = { name = "call_identity", ["in"] = "body", type = "string", enum = CALL_IDENTITY,
                         doc = "SELF (default) or DELEGATED_ADMIN (SERVICE_MANAGED sets only)" },
  ss_description = { name = "description", wire = "stack_set_description", ["in"] = "body", type = "string",
                     max_len = 1024, doc = "the set's description" },
  initial_stack_description = { name = "initial_stack_description", ["in"] = "body", type = "string",
                                max_len = 1024, doc = "the description each instance's stack starts with" },
  permission_model = { name = "permission_model", ["in"] = "body", type = "string",
                       enum = { "SELF_MANAGED", "SERVICE_MANAGED" }, doc = "SELF_MANAGED (default) or SERVICE_MANAGED" },
  administration_agency_name = { name = "administration_agency_name", ["in"] = "body", type = "string",
                                 max_len = 64, doc = "the management account's agency (SELF_MANAGED)" },
  administration_agency_urn = { name = "administration_agency_urn", ["in"] = "body", type = "string",
                                max_len = 128, doc = "the management account's trust agency URN (SELF_MANAGED)" },
  managed_agency_name = { name = "managed_agency_name", ["in"] = "body", type = "string", max_len = 64,
                          doc = "the agency in each member account (SELF_MANAGED)" },
  managed_operation = { name = "managed_operation", ["in"] = "body", type = "object",
                        fields = { enable_parallel_operation = { type = "boolean" } },
                        doc = "{ enable_parallel_operation = } (false: one active operation at a time)" },
  sort_key = { name = "sort_key", ["in"] = "query", type = "array", max_items = 1, enum = { "create_time" },
               doc = "{ \"create_time\" }" },
  sort_dir = { name = "sort_dir", ["in"] = "query", type = "array", max_items = 1, enum = { "asc", "desc" },
               doc = "{ \"asc\" } or { \"desc\" } (default: create_time descending)" },
  ss_filter_sets = { name = "filter", ["in"] = "query", type = "string", max_len = 512, grammar = "filter",
                     keys = { "permission_model" }, doc = "key==value terms: ',' AND, '|' OR (permission_model)" },
  ss_filter_instances = { name = "filter", ["in"] = "query", type = "string", max_len = 512, grammar = "filter",
                          keys = { "region", "stack_domain_id", "status" },
                          doc = "key==value terms: ',' AND, '|' OR (region, stack_domain_id, status)" },
  ss_filter_operations = { name = "filter", ["in"] = "query", type = "string", max_len = 512, grammar = "filter",
                           keys = { "status", "action" }, doc = "key==value terms: ',' AND, '|' OR (status, action)" },
  deployment_targets = { name = "deployment_targets", ["in"] = "body", type = "object", required = true,
    fields = {
      regions = { type = "array", required = true, min_items = 1, max_items = 100, items = "string" },
      domain_ids = { type = "array", min_items = 1, max_items = 100, items = "string", pattern = "^[%w_%-]+$" },
      domain_ids_uri = { type = "string", max_len = 2048 },
      organizational_unit_ids = { type = "array", max_items = 100, items = "string" },
      domain_id_filter_type = { type = "string", enum = { "NONE", "INTERSECTION", "DIFFERENCE", "UNION" } },
    },
    fields_one_of = { { "domain_ids", "domain_ids_uri" } },
    doc = "{ regions = {...}, domain_ids = {...} | domain_ids_uri = url }: every region x every account" },
  operation_preferences = { name = "operation_preferences", ["in"] = "body", type = "object",
    fields = {
      region_concurrency_type = { type = "string", enum = { "SEQUENTIAL", "PARALLEL" } },
      region_order = { type = "array", max_items = 100, items = "string" },
      failure_tolerance_count = { type = "integer", min = 0, max = 10000 },
      failure_tolerance_percentage = { type = "integer", min = 0, max = 100 },
      max_concurrent_count = { type = "integer", min = 1, max = 10000 },
      max_concurrent_percentage = { type = "integer", min = 1, max = 100 },
      failure_tolerance_mode = { type = "string", enum = { "STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE" } },
    },
    fields_one_of = { { "failure_tolerance_count", "failure_tolerance_percentage" },
                      { "max_concurrent_count", "max_concurrent_percentage" } },
    doc = "{ region_concurrency_type, region_order, failure_tolerance_count | _percentage, "
          .. "max_concurrent_count | _percentage, failure_tolerance_mode }" },
  var_overrides = { name = "var_overrides", ["in"] = "body", type = "object",
    fields = { vars_body = { type = "string", max_len = 51200 }, vars_uri = { type = "string", max_len = 2048 },
               use_stack_set_vars = { type = "array", max_items = 100, items = "string" } },
    doc = "{ vars_body = tfvars text, vars_uri =, use_stack_set_vars = { names } }: only the set's variables" },
}

-- A stack set parameter list: names of SSP or P entries, or parameter tables.
local function SS(list)
  local out = {}
  for _, p in ipairs(list) do out[#out + 1] = type(p) == "string" and (SSP[p] or P[p]) or p end
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
    on = "client", lua = "create_stack", args = { "name" },
    summary = "Create a stack; with a template it also deploys it",
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

  -- execution plans ---------------------------------------------------------------------
  { name = "CreateExecutionPlan", method = "POST", path = "/v1/{project_id}/stacks/{stack_name}/execution-plans",
    status = 202, on = "stack", lua = "create_plan", args = { "name" },
    summary = "Plan a change: what a template would add, change and delete (an ExecutionPlan)",
    params = with({ "project_id", "stack_name_path", "stack_id_body", P.plan_name_body, "description" }, TEMPLATE_VARS),
    required_one_of = { { "template_body", "template_uri" } }, one_of = { { "vars", "vars_structure" } },
    idempotent = false, result = "plan",
    cli = { command = "plan create", args = { "STACK", "PLAN" }, wait = true,
            flags = { template_body = "--template", vars_body = "--vars-file", vars = "--var" },
            summary = "Plan a change from a template: what it would add, change and delete" } },

  { name = "ListExecutionPlans", method = "GET", path = "/v1/{project_id}/stacks/{stack_name}/execution-plans",
    status = 200, on = "stack", lua = "plans", summary = "The stack's execution plans, newest first, as ExecutionPlan objects",
    params = with({ "project_id", "stack_name_path", "stack_id_query", "marker", "limit", "all" }),
    list_key = "execution_plans", paging = true, idempotent = true, result = "list",
    cli = { command = "plan list", args = { "STACK" }, summary = "The stack's execution plans, newest first" } },

  { name = "GetExecutionPlanMetadata", method = "GET",
    path = "/v1/{project_id}/stacks/{stack_name}/execution-plans/{execution_plan_name}/metadata", status = 200,
    on = "plan", lua = "metadata", summary = "The plan's status, status_message, summary counts and apply_time",
    params = with({ "project_id", "stack_name_path", P.plan_name_path, "stack_id_query", P.plan_id_query }),
    idempotent = true, result = "table",
    cli = { command = "plan metadata", args = { "STACK", "PLAN" },
            hide = { "vars_structure", "vars_body", "vars_uri_content" } } },

  { name = "GetExecutionPlan", method = "GET",
    path = "/v1/{project_id}/stacks/{stack_name}/execution-plans/{execution_plan_name}", status = 200,
    on = "plan", lua = "items", summary = "The plan's items; tostring(items) reads like a plan diff",
    params = with({ "project_id", "stack_name_path", P.plan_name_path, "stack_id_query", P.plan_id_query }),
    list_key = "execution_plan_items", idempotent = true, result = "items",
    cli = { command = "plan show", args = { "STACK", "PLAN" },
            summary = "What the plan would add, change and delete, as a diff (--output json: the items)" } },

  { name = "EstimateExecutionPlanPrice", method = "GET",
    path = "/v1/{project_id}/stacks/{stack_name}/execution-plans/{execution_plan_name}/prices", status = 200,
    on = "plan", lua = "prices", summary = "What the resources the plan adds would cost: { currency, items }",
    params = with({ "project_id", "stack_name_path", P.plan_name_path, "stack_id_query", P.plan_id_query }),
    list_key = "items", idempotent = true, result = "prices",
    cli = { command = "plan prices", args = { "STACK", "PLAN" },
            summary = "What the resources the plan adds would cost, per resource" } },

  { name = "ApplyExecutionPlan", method = "POST",
    path = "/v1/{project_id}/stacks/{stack_name}/execution-plans/{execution_plan_name}", status = 202,
    on = "plan", lua = "apply", summary = "Deploy what the plan shows; stack:wait{} follows the deployment",
    params = with({ "project_id", "stack_name_path", P.plan_name_path, "stack_id_body", P.plan_id_body }),
    idempotent = false, result = "deployment",
    cli = { command = "plan apply", args = { "STACK", "PLAN" }, wait = true,
            summary = "Deploy what the plan shows (--wait follows the deployment)" } },

  { name = "DeleteExecutionPlan", method = "DELETE",
    path = "/v1/{project_id}/stacks/{stack_name}/execution-plans/{execution_plan_name}", status = 204,
    on = "plan", lua = "delete", summary = "Delete the plan (not while it is being created or applied)",
    params = with({ "project_id", "stack_name_path", P.plan_name_path, "stack_id_query", P.plan_id_query }),
    idempotent = false, retry_refused = true, result = "true",
    cli = { command = "plan delete", args = { "STACK", "PLAN" } } },

  -- templates (analysis) ----------------------------------------------------------------
  { name = "ParseTemplateVariables", method = "POST", path = "/v1/{project_id}/template-analyses/variables",
    status = 200, on = "client", lua = "parse_variables",
    summary = "The variables a template declares (name, type, default, sensitive, validations)",
    params = with({ "project_id", "template_body", "template_uri" }),
    required_one_of = { { "template_body", "template_uri" } },
    list_key = "variables", idempotent = false, result = "list",
    cli = { command = "variables", args = {}, flags = { template_body = "--template" } } },

  -- the private template library ----------------------------------------------------------
  { name = "CreateTemplate", method = "POST", path = "/v1/{project_id}/templates", status = 200,
    on = "client", lua = "create_template", args = { "name" },
    summary = "Publish a template to the library; it becomes version V1",
    params = with({ "project_id",
      { name = "template_name", ["in"] = "body", type = "string", required = true, from = "object",
        format = "name", max_len = 128,
        doc = "the new template's name: 1-128 letters, Chinese characters, digits, _ or -, a letter first" },
      TL.description, TL.version_description }, { "template_body", "template_uri" }),
    required_one_of = { { "template_body", "template_uri" } },
    idempotent = false, result = "template",
    cli = TL.cli("create", { "TEMPLATE" }) },

  { name = "ListTemplates", method = "GET", path = "/v1/{project_id}/templates", status = 200,
    on = "client", lua = "templates", summary = "Every template of the library, newest first, as Template objects",
    params = with({ "project_id", "marker", "limit", "all" }),
    list_key = "templates", paging = true, idempotent = true, result = "list",
    cli = TL.cli("list", {}, { summary = "Every template of the library, newest first" }) },

  { name = "ShowTemplateMetadata", method = "GET", path = "/v1/{project_id}/templates/{template_name}/metadata",
    status = 200, on = "template", lua = "metadata",
    summary = "The template's id, description and times; refreshes template.id",
    params = with({ "project_id", TL.template_name_path, TL.template_id_query }),
    idempotent = true, result = "table",
    cli = TL.cli("show", { "TEMPLATE" }, { summary = "The template's id, description and times" }) },

  { name = "UpdateTemplateMetadata", method = "PATCH", path = "/v1/{project_id}/templates/{template_name}/metadata",
    status = 204, on = "template", lua = "update", summary = "Change the template's description",
    params = with({ "project_id", TL.template_name_path, TL.template_id_body, TL.description }),
    requires_any = { "description" },
    idempotent = false, result = "true",
    cli = TL.cli("update", { "TEMPLATE" }) },

  { name = "DeleteTemplate", method = "DELETE", path = "/v1/{project_id}/templates/{template_name}", status = 204,
    on = "template", lua = "delete", summary = "Delete the template and every version of it",
    params = with({ "project_id", TL.template_name_path, TL.template_id_query }),
    idempotent = false, result = "true",
    cli = TL.cli("delete", { "TEMPLATE" }) },

  { name = "CreateTemplateVersion", method = "POST", path = "/v1/{project_id}/templates/{template_name}/versions",
    status = 200, on = "template", lua = "create_version", summary = "Add a version (the highest number + 1)",
    params = with({ "project_id", TL.template_name_path, TL.template_id_query, TL.version_description },
                  { "template_body", "template_uri" }),
    required_one_of = { { "template_body", "template_uri" } },
    idempotent = false, result = "version",
    cli = TL.cli("version-create", { "TEMPLATE" }) },

  { name = "ListTemplateVersions", method = "GET", path = "/v1/{project_id}/templates/{template_name}/versions",
    status = 200, on = "template", lua = "versions", summary = "The template's versions, newest first",
    params = with({ "project_id", TL.template_name_path, TL.template_id_query, "marker", "limit", "all" }),
    list_key = "versions", paging = true, idempotent = true, result = "list",
    cli = TL.cli("versions", { "TEMPLATE" }) },

  { name = "ShowTemplateVersionMetadata", method = "GET",
    path = "/v1/{project_id}/templates/{template_name}/versions/{version_id}/metadata", status = 200,
    on = "template", lua = "version_metadata", args = { "version_id" },
    summary = "One version's description and creation time",
    params = with({ "project_id", TL.template_name_path, TL.version_id_path, TL.template_id_query }),
    idempotent = true, result = "table",
    cli = TL.cli("version-show", { "TEMPLATE", "VERSION" }) },

  { name = "ShowTemplateVersionContent", method = "GET",
    path = "/v1/{project_id}/templates/{template_name}/versions/{version_id}", status = 307,
    on = "template", lua = "version_content", args = { "version_id" },
    summary = "One version's template text (fetched from RFS's pre-signed location, no credentials sent)",
    params = with({ "project_id", TL.template_name_path, TL.version_id_path, TL.template_id_query,
      { name = "access_control_source_ips", ["in"] = "query", type = "array", max_items = 8,
        doc = "IPv4 CIDRs allowed to download" },
      { name = "access_control_source_vpc_ids", ["in"] = "query", type = "array", max_items = 8,
        doc = "VPC ids allowed to download" } }),
    idempotent = true, result = "content",
    cli = TL.cli("version-download", { "TEMPLATE", "VERSION" },
                 { summary = "Print one version's template text (fetched with no credentials sent)" }) },

  { name = "DeleteTemplateVersion", method = "DELETE",
    path = "/v1/{project_id}/templates/{template_name}/versions/{version_id}", status = 204,
    on = "template", lua = "delete_version", args = { "version_id" },
    summary = "Delete one version (not the last: delete the template)",
    params = with({ "project_id", TL.template_name_path, TL.version_id_path, TL.template_id_query }),
    idempotent = false, result = "true",
    cli = TL.cli("version-delete", { "TEMPLATE", "VERSION" }) },

  -- stack sets (domain-level: no project_id in the path) ------------------------------------
  { name = "CreateStackSet", method = "POST", path = "/v1/stack-sets", status = 201,
    on = "client", lua = "create_stack_set", args = { "name" },
    summary = "Create an empty stack set (no instances yet) from a template; a StackSet with ss.id",
    params = SS({ { name = "stack_set_name", ["in"] = "body", type = "string", required = true, from = "object",
                    pattern = "^[A-Za-z][A-Za-z0-9_-]*$", max_len = 128, doc = "the new stack set's name" },
                  "ss_description", "initial_stack_description", "permission_model", "administration_agency_name",
                  "administration_agency_urn", "managed_agency_name", "template_body", "template_uri", "vars_body",
                  "vars_uri", "managed_operation", "call_identity_body" }),
    one_of = { { "template_body", "template_uri" }, { "administration_agency_name", "administration_agency_urn" } },
    idempotent = false, result = "stack_set",
    cli = { command = "stack-set create", args = { "STACK_SET" },
            flags = { template_body = "--template", vars_body = "--vars-file" } } },

  { name = "ListStackSets", method = "GET", path = "/v1/stack-sets", status = 200,
    on = "client", lua = "stack_sets", summary = "The domain's stack sets, newest first, as StackSet objects",
    params = SS({ "ss_filter_sets", "sort_key", "sort_dir", "call_identity_query", "marker", "limit", "all" }),
    list_key = "stack_sets", paging = true, idempotent = true, result = "list",
    cli = { command = "stack-set list", args = {} } },

  { name = "ShowStackSetMetadata", method = "GET", path = "/v1/stack-sets/{stack_set_name}/metadata", status = 200,
    on = "stack_set", lua = "metadata", summary = "Every field of the stack set; refreshes ss.id and ss.status",
    params = SS({ "stack_set_name_path", "stack_set_id_query", "call_identity_query" }),
    idempotent = true, result = "table",
    cli = { command = "stack-set show", args = { "STACK_SET" } } },

  { name = "UpdateStackSet", method = "PATCH", path = "/v1/stack-sets/{stack_set_name}", status = 204,
    on = "stack_set", lua = "update",
    summary = "Change the set's descriptions, agencies or parallel operations (not while an operation runs)",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "ss_description", "initial_stack_description",
                  "administration_agency_name", "administration_agency_urn", "managed_agency_name",
                  "managed_operation", "call_identity_body" }),
    one_of = { { "administration_agency_name", "administration_agency_urn" } },
    requires_any = { "description", "initial_stack_description", "administration_agency_name",
                     "administration_agency_urn", "managed_agency_name", "managed_operation" },
    idempotent = false, result = "true",
    cli = { command = "stack-set update", args = { "STACK_SET" } } },

  { name = "DeleteStackSet", method = "DELETE", path = "/v1/stack-sets/{stack_set_name}", status = 204,
    on = "stack_set", lua = "delete", summary = "Delete the stack set (only IDLE and with no instances left)",
    params = SS({ "stack_set_name_path", "stack_set_id_query", "call_identity_query" }),
    idempotent = false, result = "true",
    cli = { command = "stack-set delete", args = { "STACK_SET" } } },

  { name = "ShowStackSetTemplate", method = "GET", path = "/v1/stack-sets/{stack_set_name}/templates", status = 307,
    on = "stack_set", lua = "template", summary = "Where the set's template can be downloaded (5 minutes)",
    params = SS({ "stack_set_name_path", "stack_set_id_query",
      { name = "access_control_source_ips", ["in"] = "query", type = "array", max_items = 8,
        doc = "IPv4 CIDRs allowed to download" },
      { name = "access_control_source_vpc_ids", ["in"] = "query", type = "array", max_items = 8,
        doc = "VPC ids allowed to download" }, "call_identity_query",
      { name = "download", ["in"] = "local", type = "boolean",
        doc = "also fetch the template text (t.body), with no credentials sent" } }),
    idempotent = true, result = "location",
    cli = { command = "stack-set template", args = { "STACK_SET" },
            help = { download = "print the template text itself (fetched with no credentials sent)" } } },

  { name = "DeployStackSet", method = "POST", path = "/v1/stack-sets/{stack_set_name}/deployments", status = 202,
    on = "stack_set", lua = "deploy",
    summary = "Replace the set's template and vars, then deploy the chosen instances -> { stack_set_operation_id }",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "deployment_targets", "template_body", "template_uri",
                  "vars_body", "vars_uri", "operation_preferences", "call_identity_body" }),
    one_of = { { "template_body", "template_uri" } },
    idempotent = false, result = "operation",
    cli = { command = "stack-set deploy", args = { "STACK_SET" }, wait = true, targets = true,
            flags = { template_body = "--template", vars_body = "--vars-file" } } },

  { name = "CreateStackInstance", method = "POST", path = "/v1/stack-sets/{stack_set_name}/stack-instances",
    status = 202, on = "stack_set", lua = "create_instances",
    summary = "Add stack instances (regions x accounts) to the set -> { stack_set_operation_id }",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "deployment_targets", "var_overrides",
                  "operation_preferences", "call_identity_body" }),
    idempotent = false, result = "operation",
    cli = { command = "stack-set instances create", args = { "STACK_SET" }, wait = true, targets = true } },

  { name = "UpdateStackInstances", method = "PATCH", path = "/v1/stack-sets/{stack_set_name}/stack-instances",
    status = 202, on = "stack_set", lua = "update_instances",
    summary = "Redeploy existing instances with new var overrides -> { stack_set_operation_id }",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "deployment_targets", "var_overrides",
                  "operation_preferences", "call_identity_body" }),
    idempotent = false, result = "operation",
    cli = { command = "stack-set instances update", args = { "STACK_SET" }, wait = true, targets = true } },

  { name = "DeleteStackInstance", method = "POST", path = "/v1/stack-sets/{stack_set_name}/stack-instances/deletion",
    status = 202, on = "stack_set", lua = "delete_instances",
    summary = "Delete instances, their stacks and all their resources -> { stack_set_operation_id }",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "deployment_targets", "operation_preferences",
                  "call_identity_body" }),
    idempotent = false, result = "operation",
    cli = { command = "stack-set instances delete", args = { "STACK_SET" }, wait = true, targets = true } },

  { name = "DeleteStackInstanceDeprecated", method = "DELETE", path = "/v1/stack-sets/{stack_set_name}/stack-instances",
    status = 202, on = "stack_set", lua = "delete_instances", when = "legacy_delete",
    summary = "The older form of delete_instances: a DELETE with the same body",
    params = SS({ "stack_set_name_path", "stack_set_id_body", "deployment_targets", "operation_preferences",
                  "call_identity_body",
                  { name = "legacy_delete", ["in"] = "local", type = "boolean",
                    doc = "true: send the deprecated DELETE .../stack-instances (with a body)" } }),
    idempotent = false, result = "operation" },

  { name = "ListStackInstances", method = "GET", path = "/v1/stack-sets/{stack_set_name}/stack-instances",
    status = 200, on = "stack_set", lua = "instances", summary = "The set's stack instances and their status",
    params = SS({ "stack_set_name_path", "stack_set_id_query", "ss_filter_instances", "sort_key", "sort_dir",
                  "call_identity_query", "marker", "limit", "all" }),
    list_key = "stack_instances", paging = true, idempotent = true, result = "list",
    cli = { command = "stack-set instances list", args = { "STACK_SET" } } },

  { name = "ShowStackInstance", method = "GET",
    path = "/v1/stack-sets/{stack_set_name}/stack-instances/{stack_instance_addr}", status = 200,
    on = "stack_set", lua = "instance", args = { "region", "domain_id" },
    summary = "One instance, by region and account, with its var_overrides",
    params = SS({ "stack_set_name_path",
      -- region/domain_id, sent as one path segment (the / as %2F)
      { name = "stack_instance_addr", ["in"] = "path", type = "string", required = true, from = "args",
        args = { "region", "domain_id" }, pattern = "^[%w_%-]+$", max_len = 128,
        doc = "a string of letters, digits, '_' or '-'" },
      "stack_set_id_query", "call_identity_query" }),
    idempotent = true, result = "table",
    cli = { command = "stack-set instances show", args = { "STACK_SET", "REGION", "DOMAIN_ID" } } },

  { name = "ListStackSetOperations", method = "GET", path = "/v1/stack-sets/{stack_set_name}/operations",
    status = 200, on = "stack_set", lua = "operations", summary = "The set's operations, newest first",
    params = SS({ "stack_set_name_path", "stack_set_id_query", "ss_filter_operations", "sort_key", "sort_dir",
                  "call_identity_query", "marker", "limit", "all" }),
    list_key = "stack_set_operations", paging = true, idempotent = true, result = "list",
    cli = { command = "stack-set operations list", args = { "STACK_SET" } } },

  { name = "ShowStackSetOperationMetadata", method = "GET",
    path = "/v1/stack-sets/{stack_set_name}/operations/{stack_set_operation_id}/metadata", status = 200,
    on = "stack_set", lua = "operation_metadata", args = { "operation_id" },
    summary = "One operation: status, status_message, action, targets and preferences",
    params = SS({ "stack_set_name_path",
      { name = "stack_set_operation_id", ["in"] = "path", type = "string", required = true, from = "args",
        args = { "operation_id" }, format = "uuid", doc = "a 36-character UUID (the operation's stack_set_operation_id)" },
      "stack_set_id_query", "call_identity_query" }),
    idempotent = true, result = "table",
    cli = { command = "stack-set operations show", args = { "STACK_SET", "OPERATION_ID" } } },
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
