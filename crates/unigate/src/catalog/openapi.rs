//! The OpenAPI 3.1 document of the gateway, built from the live registry: every unified
//! model's resources and methods (standard and custom) with their query parameters and
//! schemas, the admin API and the proxy API. Built here, below the HTTP edge, so that
//! `GET /openapi.json` and `unigate openapi` print the same document and it can never
//! drift from the catalog the gateway runs. The admin API's paths are listed by hand
//! (their routes live in `http/`, which this layer may not import); each has a compact
//! schema.

use serde_json::{json, Map, Value};

use super::registry::Registry;
use super::types::{FilterKind, UnifiedMethod};

/// The document for `registry`; with `only`, the unified operations that integration
/// supports (the admin and proxy API stay, they do not depend on an integration).
pub fn document(registry: &Registry, only: Option<&str>) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    base_schemas(&mut schemas);
    // Which integrations fill each field: the same computation as `unigate coverage`.
    let coverage = super::coverage::Coverage::compute(registry);
    for (category, model) in &registry.models {
        for (resource, config) in &model.config.resources {
            let record = schema_name(category, resource);
            let mut schema = config.schema.clone();
            if let Some(obj) = schema.as_object_mut() {
                obj.entry("description").or_insert(json!(config.description));
            }
            let fields = coverage
                .models
                .iter()
                .filter(|m| &m.name == category)
                .flat_map(|m| &m.resources)
                .find(|r| &r.name == resource)
                .map(|r| r.fields.as_slice())
                .unwrap_or_default();
            if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                for f in fields.iter().filter(|f| !f.field.contains('.')) {
                    if let Some(p) = props.get_mut(&f.field).and_then(Value::as_object_mut) {
                        let names: Vec<&String> = f
                            .integrations
                            .iter()
                            .filter(|i| only.is_none_or(|o| o == i.as_str()))
                            .collect();
                        p.insert("x-unigate-integrations".into(), json!(names));
                    }
                }
            }
            let mut any = false;
            let base = format!("/unified/{category}/{resource}");
            let one = format!("{base}/{{id}}");
            for method in UnifiedMethod::ALL {
                if !config.methods.contains(&method) {
                    continue;
                }
                let supporters = supporters(registry, only, |i| i.unified(category, resource, method).is_some());
                if supporters.is_empty() && only.is_some() {
                    continue;
                }
                any = true;
                let mut params = vec![account_param()];
                params.extend(common_params(method));
                if method == UnifiedMethod::List {
                    params.extend(list_params());
                    for (name, f) in &config.filters {
                        params.extend(filter_params(name, f.kind, &f.description));
                    }
                }
                params.extend(integration_params(registry, only, |i| {
                    i.unified(category, resource, method).map(|m| m.query_params.clone())
                }));
                let (path, verb) = match method {
                    UnifiedMethod::List => (&base, "get"),
                    UnifiedMethod::Create => (&base, "post"),
                    UnifiedMethod::Get => (&one, "get"),
                    UnifiedMethod::Update => (&one, "patch"),
                    UnifiedMethod::Delete => (&one, "delete"),
                };
                if path == &one {
                    params.insert(0, id_param());
                }
                let ok = match method {
                    UnifiedMethod::List => json!({ "$ref": format!("#/components/schemas/{record}List") }),
                    _ => json!({ "$ref": format!("#/components/schemas/{record}") }),
                };
                let mut op = json!({
                    "operationId": format!("{category}.{resource}.{}", method.as_str()),
                    "summary": format!("{} {}", method.as_str(), resource),
                    "description": config.description,
                    "tags": [format!("{category}/{resource}")],
                    "parameters": params,
                    "responses": responses(ok),
                    "x-unigate-integrations": supporters,
                });
                if matches!(method, UnifiedMethod::Create | UnifiedMethod::Update) {
                    let unsupported: Map<String, Value> = registry
                        .integrations
                        .iter()
                        .filter(|(name, _)| supporters.contains(name))
                        .filter_map(|(name, i)| {
                            let m = i.unified(category, resource, method)?;
                            (!m.unsupported_fields.is_empty()).then(|| (name.clone(), json!(m.unsupported_fields)))
                        })
                        .collect();
                    if !unsupported.is_empty() {
                        op["x-unigate-unsupported-fields"] = Value::Object(unsupported);
                    }
                    op["requestBody"] = json!({
                        "required": true,
                        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{record}Write") } } },
                    });
                }
                paths
                    .entry(path.clone())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("a path item is an object")
                    .insert(verb.to_string(), op);
            }
            for (name, custom) in &config.custom_methods {
                let supporters = supporters(registry, only, |i| i.custom(category, resource, name).is_some());
                if supporters.is_empty() && only.is_some() {
                    continue;
                }
                let mut params = vec![account_param()];
                params.extend(common_params(UnifiedMethod::Create));
                params.extend(integration_params(registry, only, |i| {
                    i.custom(category, resource, name).map(|m| m.query_params.clone())
                }));
                let body = custom.body.clone().unwrap_or_else(|| json!({ "type": "object" }));
                let op = json!({
                    "operationId": format!("{category}.{resource}.{name}"),
                    "summary": format!("{name} ({resource}, custom method)"),
                    "description": custom.description,
                    "tags": [format!("{category}/{resource}")],
                    "parameters": params,
                    "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
                    "responses": responses(json!({ "type": "object" })),
                    "x-unigate-integrations": supporters,
                });
                paths.insert(format!("{base}/{name}"), json!({ "post": op }));
            }
            if any || only.is_none() {
                schemas.insert(format!("{record}List"), list_envelope(&record));
                // A create or update body: the record's fields, none required (the
                // provider assigns the id; an update sends what changes).
                let mut write = schema.clone();
                if let Some(obj) = write.as_object_mut() {
                    obj.remove("required");
                }
                schemas.insert(format!("{record}Write"), write);
                schemas.insert(record, schema);
            }
        }
    }
    admin_paths(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Unigate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": match only {
                Some(i) => format!("Unigate's API (wire-compatible with Truto's): the unified operations the `{i}` integration supports, the admin API and the proxy API. Generated from the catalog."),
                None => "Unigate's API (wire-compatible with Truto's): the unified API of every model in the catalog, the admin API and the proxy API. Generated from the catalog; `x-unigate-integrations` on each unified operation names the integrations that support it.".to_string(),
            },
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (`unigate token create`, or `POST /api-token`)." } },
            "schemas": schemas,
        },
    })
}

/// `user-directory`, `role_assignments` → `UserDirectoryRoleAssignments`: component names
/// must match `^[a-zA-Z0-9.\-_]+$`; this form also reads well in generated clients.
fn schema_name(category: &str, resource: &str) -> String {
    format!("{category}-{resource}")
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The integrations (all, or just `only`) for which `supports` holds, by name.
fn supporters(
    registry: &Registry,
    only: Option<&str>,
    supports: impl Fn(&super::registry::Integration) -> bool,
) -> Vec<String> {
    registry
        .integrations
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
        .filter(|(_, i)| supports(i))
        .map(|(name, _)| name.clone())
        .collect()
}

fn param(name: &str, description: &str, required: bool, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

fn account_param() -> Value {
    param(
        "integrated_account_id",
        "The integrated account to call.",
        true,
        json!({ "type": "string" }),
    )
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "The record's unified id.", "schema": { "type": "string" } })
}

fn common_params(method: UnifiedMethod) -> Vec<Value> {
    let mut out = vec![
        param(
            "truto_response_format",
            "`unified` (default): the unified record with `remote_data`; `normalized`: the model's fields only; `raw`: the provider's answer as it is (not described by the 200 schema); `stream` (list): every page in one streamed answer.",
            false,
            json!({ "type": "string", "enum": ["unified", "normalized", "raw", "stream"] }),
        ),
        param(
            "truto_ignore_remote_data",
            "Leave `remote_data` out of each record.",
            false,
            json!({ "type": "boolean" }),
        ),
        param(
            "truto_exclude_fields",
            "Fields to leave out of each record (comma separated, or repeated).",
            false,
            json!({ "type": "string" }),
        ),
        json!({
            "name": "remote_query",
            "in": "query",
            "required": false,
            "description": "Parameters passed to the provider as they are, as `remote_query[name]=value`.",
            "style": "deepObject",
            "explode": true,
            "schema": { "type": "object", "additionalProperties": { "type": "string" } },
        }),
    ];
    if method != UnifiedMethod::List {
        out[0]["schema"] = json!({ "type": "string", "enum": ["unified", "normalized", "raw"] });
    }
    out
}

fn list_params() -> Vec<Value> {
    vec![
        param(
            "limit",
            "How many records a page holds at most (the provider's page size).",
            false,
            json!({ "type": "integer", "minimum": 1 }),
        ),
        param(
            "next_cursor",
            "The `next_cursor` of the previous page.",
            false,
            json!({ "type": "string" }),
        ),
        param(
            "truto_ignore_limit",
            "Return every page's records in one answer.",
            false,
            json!({ "type": "boolean" }),
        ),
        param(
            "truto_key_by",
            "Return `result` as an object keyed by this field of each record.",
            false,
            json!({ "type": "string" }),
        ),
    ]
}

fn filter_params(name: &str, kind: FilterKind, description: &str) -> Vec<Value> {
    match kind {
        FilterKind::String => vec![param(name, description, false, json!({ "type": "string" }))],
        FilterKind::DateTime => ["gt", "gte", "lt", "lte"]
            .into_iter()
            .map(|op| {
                param(
                    &format!("{name}[{op}]"),
                    description,
                    false,
                    json!({ "type": "string", "description": "An RFC 3339 time or a date (`2024-05-01`, midnight UTC)." }),
                )
            })
            .collect(),
    }
}

/// One parameter per name across the integrations' mappings, saying which integrations
/// take it and which require it; never `required` in the document, since a required one
/// is required by its integration only.
fn integration_params(
    registry: &Registry,
    only: Option<&str>,
    params_of: impl Fn(&super::registry::Integration) -> Option<indexmap::IndexMap<String, super::types::QueryParamConfig>>,
) -> Vec<Value> {
    let mut by_name: indexmap::IndexMap<String, (String, Vec<String>, Vec<String>)> = indexmap::IndexMap::new();
    for (iname, integration) in &registry.integrations {
        if only.is_some_and(|o| o != iname) {
            continue;
        }
        for (pname, p) in params_of(integration).unwrap_or_default() {
            let entry = by_name
                .entry(pname)
                .or_insert_with(|| (p.description.clone(), vec![], vec![]));
            entry.1.push(iname.clone());
            if p.required {
                entry.2.push(iname.clone());
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, (description, takes, requires))| {
            let mut text = format!("Integration-specific ({}): {description}", takes.join(", "));
            if !requires.is_empty() {
                text.push_str(&format!(" Required by: {}.", requires.join(", ")));
            }
            let mut p = param(
                &name,
                &text,
                only.is_some() && !requires.is_empty(),
                json!({ "type": "string" }),
            );
            p["x-unigate-integrations"] = json!(takes);
            p
        })
        .collect()
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn responses(ok: Value) -> Value {
    json!({
        "200": { "description": "OK", "content": { "application/json": { "schema": ok } } },
        "400": error_response("The request is not valid (a parameter, the body)."),
        "401": error_response("No valid API token."),
        "404": error_response("No such account, model, resource or record."),
        "422": error_response("The provider's answer could not be mapped."),
        "429": error_response("The provider's rate limit; `Retry-After` says when to retry."),
        "502": error_response("The provider failed or could not be reached."),
        "default": error_response("Any other failure, in the same shape."),
    })
}

fn list_envelope(record: &str) -> Value {
    json!({
        "type": "object",
        "required": ["result", "next_cursor", "result_count"],
        "properties": {
            "result": {
                "description": "The page's records (an object keyed by `truto_key_by` when given).",
                "oneOf": [
                    { "type": "array", "items": { "$ref": format!("#/components/schemas/{record}") } },
                    { "type": "object", "additionalProperties": { "$ref": format!("#/components/schemas/{record}") } },
                ],
            },
            "next_cursor": { "type": ["string", "null"], "description": "Pass as `next_cursor` for the next page; null on the last." },
            "prev_cursor": { "type": ["string", "null"] },
            "result_count": { "type": "integer", "minimum": 0 },
            "is_partial_response": { "type": "boolean", "description": "True when the provider left records out of a page." },
        },
    })
}

/// A string field that may be null.
fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}

fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// The admin API's records, field by field, as `http/` answers them (the tests check real
/// answers against these): `(name, description, required, properties)`.
fn admin_schemas(schemas: &mut Map<String, Value>) {
    let records: [(&str, &str, &[&str], Value); 13] = [
        (
            "IntegratedAccount",
            "An integrated account: one customer's connection to one integration. Never any credential.",
            &["id", "tenant_id", "integration", "status", "created_at", "updated_at"],
            json!({
                "id": { "type": "string" },
                "tenant_id": { "type": "string" },
                "environment_integration_id": { "type": "string" },
                "integration": { "type": "object", "properties": { "name": { "type": "string" }, "label": nullable_string() } },
                "authentication_method": nullable_string(),
                "context": { "type": "object", "description": "The context's public values (credentials are sealed and never returned)." },
                "status": { "type": "string", "enum": ["active", "connecting", "post_install_error", "validation_error", "needs_reauth"] },
                "last_error": nullable_string(),
                "is_sandbox": { "type": "boolean" },
                "unified_model_override": { "type": ["object", "null"] },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "Webhook",
            "An outbound webhook. Its secret is answered only when it is made or rotated (`secret`).",
            &[
                "id",
                "target_url",
                "is_active",
                "event_types",
                "created_at",
                "updated_at",
            ],
            json!({
                "id": { "type": "string" },
                "target_url": { "type": "string", "format": "uri" },
                "is_active": { "type": "boolean" },
                "event_types": { "type": "array", "items": { "type": "string" } },
                "environment_id": { "type": "string" },
                "previous_secret_expires_at": { "type": ["string", "null"], "format": "date-time" },
                "secret": { "type": "string", "description": "Only in the answer that makes or rotates it." },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "ApiToken",
            "An API token. The token itself is answered only when it is made (`token`).",
            &["id", "scope", "environment_id", "created_at"],
            json!({
                "id": { "type": "string" },
                "name": nullable_string(),
                "scope": { "type": "string", "enum": ["api", "admin"] },
                "environment_id": { "type": "string" },
                "created_by": { "type": "null" },
                "token": { "type": "string", "description": "Only in the answer that makes it." },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "Environment",
            "An environment: the accounts, tokens, webhooks and overrides it holds are its own.",
            &["id", "name", "created_at"],
            json!({
                "id": { "type": "string" },
                "name": { "type": "string" },
                "team_id": { "type": "null" },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "LinkToken",
            "A single-use link to the connect page.",
            &["link_token", "url", "tenant_id", "expires_at"],
            json!({
                "link_token": { "type": "string" },
                "url": { "type": "string", "format": "uri" },
                "tenant_id": { "type": "string" },
                "integration": nullable_string(),
                "redirect_uri": nullable_string(),
                "created_at": time(),
                "expires_at": time(),
            }),
        ),
        (
            "McpServer",
            "An MCP server of an integrated account. `token` and `url` only in the answer that makes it.",
            &["id", "name", "integrated_account_id", "config", "created_at"],
            json!({
                "id": { "type": "string" },
                "name": { "type": "string" },
                "integrated_account_id": { "type": "string" },
                "config": { "type": "object", "properties": {
                    "methods": { "type": "array", "items": { "type": "string" } },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "require_api_token_auth": { "type": "boolean" },
                } },
                "expires_at": { "type": ["string", "null"], "format": "date-time" },
                "token": { "type": "string" },
                "url": { "type": "string", "format": "uri" },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "RequestLogEntry",
            "One unified or proxy call: never a query string, body, header or credential.",
            &["id", "method", "path", "status", "duration_ms", "created_at"],
            json!({
                "id": { "type": "string" },
                "integrated_account_id": nullable_string(),
                "method": { "type": "string" },
                "path": { "type": "string" },
                "status": { "type": "integer" },
                "duration_ms": { "type": "integer" },
                "error": nullable_string(),
                "created_at": time(),
            }),
        ),
        (
            "LogEntry",
            "Truto's log shape over the request log (`GET /log`).",
            &["_id", "log_type", "timestamp", "metadata"],
            json!({
                "_id": { "type": "string" },
                "log_type": { "type": "string", "enum": ["unified_proxy_api"] },
                "timestamp": time(),
                "metadata": { "type": "object", "properties": {
                    "duration": { "type": "integer" },
                    "fetch_duration": { "type": "null" },
                    "message": { "type": "string" },
                    "method": nullable_string(),
                    "resource": nullable_string(),
                    "request_type": { "type": ["string", "null"], "enum": ["unified", "proxy", null] },
                    "environment_id": { "type": "string" },
                    "integrated_account_id": nullable_string(),
                    "integration": nullable_string(),
                    "status_code": { "type": "integer" },
                    "http_method": { "type": "string" },
                    "path": { "type": "string" },
                } },
            }),
        ),
        (
            "MappingOverride",
            "An environment's override of one method's mapping for one integration.",
            &["id", "resource_name", "integration_name", "method_name", "config"],
            json!({
                "id": { "type": "string" },
                "environment_id": { "type": "string" },
                "environment_unified_model_id": { "type": "string" },
                "unified_model_name": { "type": "string" },
                "resource_name": { "type": "string" },
                "integration_name": { "type": "string" },
                "method_name": { "type": "string" },
                "config": { "type": "object" },
                "created_at": time(),
                "updated_at": time(),
            }),
        ),
        (
            "Integration",
            "An integration of the catalog: its credential fields (never values), the unified methods it maps, its own query parameters, who applies each list filter, and its request budget.",
            &["name", "label", "base_url", "credentials", "unified"],
            json!({
                "name": { "type": "string" },
                "label": { "type": "string" },
                "docs": nullable_string(),
                "base_url": { "type": "string" },
                "credentials": { "type": "object", "required": ["format", "fields"], "properties": {
                    "format": { "type": "string" },
                    "fields": { "type": "array", "items": { "type": "object", "required": ["name"], "properties": {
                        "name": { "type": "string" },
                        "label": nullable_string(),
                        "help": nullable_string(),
                        "secret": { "type": "boolean" },
                        "required": { "type": "boolean" },
                    } } },
                } },
                "unified": {
                    "type": "object",
                    "description": "`{model: {resource: [method, ...]}}`, custom methods after the standard ones.",
                    "additionalProperties": { "type": "object", "additionalProperties": { "type": "array", "items": { "type": "string" } } },
                },
                "query_params": { "type": "object" },
                "filters": { "type": "object" },
                "limit_honoured": { "type": "object", "additionalProperties": { "type": "boolean" } },
                "request_budget": { "type": ["object", "null"], "properties": {
                    "requests": { "type": "integer" },
                    "per_ms": { "type": "integer" },
                } },
            }),
        ),
        (
            "UnifiedModel",
            "A unified model: its resources, their methods, JSON Schemas and list filters.",
            &["name", "label", "resources"],
            json!({
                "name": { "type": "string" },
                "label": { "type": "string" },
                "description": nullable_string(),
                "resources": {
                    "type": "object",
                    "additionalProperties": { "type": "object", "required": ["methods", "schema"], "properties": {
                        "description": { "type": "string" },
                        "methods": { "type": "array", "items": { "type": "string" } },
                        "schema": { "type": "object" },
                        "filters": { "type": "object" },
                        "custom_methods": {},
                    } },
                },
            }),
        ),
        (
            "Deleted",
            "What a delete of an account or an override answers: the id it deleted.",
            &["id"],
            json!({ "id": { "type": "string" } }),
        ),
        (
            "Object",
            "A record of the admin API (see Truto's API reference for its fields).",
            &[],
            json!({}),
        ),
    ];
    for (name, description, required, properties) in records {
        let mut schema = json!({ "type": "object", "description": description });
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if properties.as_object().is_some_and(|p| !p.is_empty()) {
            schema["properties"] = properties;
        }
        schemas.insert(name.into(), schema);
        schemas.insert(
            format!("{name}List"),
            json!({
                "type": "object",
                "required": ["result"],
                "properties": {
                    "result": { "type": "array", "items": { "$ref": format!("#/components/schemas/{name}") } },
                    "next_cursor": { "type": ["string", "null"] },
                    "limit": { "type": "integer" },
                },
            }),
        );
    }
}

/// The record an admin path answers, by its path (a prefix names a family).
fn admin_record(path: &str) -> &'static str {
    match path {
        "/integrated-account" | "/integrated-account/{id}" => "IntegratedAccount",
        p if p.starts_with("/integrated-account/{id}/mcp") => "McpServer",
        "/webhook" | "/webhook/{id}" | "/webhook/{id}/rotate-secret" => "Webhook",
        "/api-token" | "/api-token/{id}" => "ApiToken",
        "/environment" | "/environment/{id}" => "Environment",
        "/link-token" => "LinkToken",
        "/integration" | "/integration/{name}" => "Integration",
        "/unified-model" | "/unified-model/{name}" => "UnifiedModel",
        "/request-log" => "RequestLogEntry",
        "/log" => "LogEntry",
        "/environment-unified-model-resource-method" | "/environment-unified-model-resource-method/{id}" => {
            "MappingOverride"
        }
        _ => "Object",
    }
}

/// The request body an admin write takes, field by field where Unigate reads known fields.
fn admin_body(path: &str, verb: &str) -> Value {
    let object = |required: &[&str], properties: Value| {
        let mut s = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            s["required"] = json!(required);
        }
        s
    };
    match (path, verb) {
        ("/integrated-account", "post") => object(
            &["tenant_id", "context"],
            json!({
                "tenant_id": { "type": "string" },
                "integration_name": { "type": "string", "description": "Or `environment_integration_id`, or `integration: {name}`." },
                "environment_integration_id": { "type": "string" },
                "context": { "type": "object", "description": "The integration's credential fields (`GET /integration/{name}`) and any other values." },
                "is_sandbox": { "type": "boolean" },
            }),
        ),
        ("/integrated-account/{id}", "patch") => object(
            &[],
            json!({
                "tenant_id": { "type": "string" },
                "status": { "type": "string" },
                "context": { "type": "object", "description": "Merged into the account's context; `null` removes a key." },
                "unified_model_override": { "type": ["object", "null"], "description": "`{model: {resource: {method: config}}}`; see docs/overrides.md." },
            }),
        ),
        ("/link-token", "post") => object(
            &["tenant_id"],
            json!({
                "tenant_id": { "type": "string" },
                "integration": { "type": "string" },
                "redirect_uri": { "type": "string", "format": "uri" },
            }),
        ),
        ("/webhook", "post") | ("/webhook/{id}", "patch") => object(
            if verb == "post" { &["target_url"] } else { &[] },
            json!({
                "target_url": { "type": "string", "format": "uri" },
                "is_active": { "type": "boolean" },
                "event_types": { "type": "array", "items": { "type": "string" } },
            }),
        ),
        ("/api-token", "post") => object(
            &[],
            json!({
                "name": { "type": "string" },
                "scope": { "type": "string", "enum": ["api", "admin"] },
            }),
        ),
        ("/integrated-account/{id}/mcp", "post") | ("/integrated-account/{id}/mcp/{mcp_id}", "patch") => object(
            if verb == "post" { &["name"] } else { &[] },
            json!({
                "name": { "type": "string" },
                "config": { "type": "object", "properties": {
                    "methods": { "type": "array", "items": { "type": "string" } },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "require_api_token_auth": { "type": "boolean" },
                } },
                "expires_at": { "type": ["string", "null"], "format": "date-time" },
            }),
        ),
        ("/environment-unified-model-resource-method", "post")
        | ("/environment-unified-model-resource-method/{id}", "patch") => object(
            if verb == "post" {
                &["resource_name", "integration_name", "method_name", "config"]
            } else {
                &[]
            },
            json!({
                "environment_unified_model_id": { "type": "string" },
                "resource_name": { "type": "string" },
                "integration_name": { "type": "string" },
                "method_name": { "type": "string" },
                "config": { "type": "object", "description": "`response_mapping`, `query_mapping`, `request_body_mapping`, ...; PATCH deep-merges, `null` removes a key (docs/overrides.md)." },
            }),
        ),
        _ => json!({ "type": "object" }),
    }
}

fn base_schemas(schemas: &mut Map<String, Value>) {
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Truto's error shape; failures from the provider add `truto_is_remote_error` and the provider's `raw_response`.",
            "required": ["statusCode", "error", "message"],
            "properties": {
                "statusCode": { "type": "integer" },
                "error": { "type": "string", "description": "The status's reason phrase." },
                "message": { "type": "string" },
                "details": {},
                "truto_is_remote_error": { "type": "boolean" },
                "raw_response": {},
            },
        }),
    );
    admin_schemas(schemas);
}

/// The admin and proxy API, as routed in `http/`. Compact: each answers a JSON object (or
/// a list of them) in Truto's shapes, and errors as [`Error`].
fn admin_paths(paths: &mut Map<String, Value>) {
    const ROUTES: &[(&str, &[&str], &str)] = &[
        (
            "/integrated-account",
            &["get", "post"],
            "Integrated accounts: list, connect one with credentials.",
        ),
        (
            "/integrated-account/{id}",
            &["get", "patch", "delete"],
            "One integrated account.",
        ),
        (
            "/integrated-account/refresh-credentials",
            &["post"],
            "Refresh an account's OAuth credentials now.",
        ),
        (
            "/integrated-account/{id}/mcp",
            &["get", "post"],
            "An account's MCP servers (docs/mcp.md); a new server's token and URL are shown only once.",
        ),
        (
            "/integrated-account/{id}/mcp/{mcp_id}",
            &["get", "patch", "delete"],
            "One MCP server.",
        ),
        ("/integration", &["get"], "The integrations of the catalog."),
        (
            "/integration/{name}",
            &["get"],
            "One integration: its unified methods, filters and parameters.",
        ),
        ("/integration/reload", &["post"], "Load the catalog again (admin)."),
        ("/unified-model", &["get"], "The unified models."),
        ("/unified-model/{name}", &["get"], "One unified model with its schemas."),
        ("/link-token", &["post"], "A link token for the connect page."),
        ("/request-log", &["get"], "The environment's request log."),
        (
            "/log",
            &["get"],
            "The request log in Truto's logs shape (`log_type=unified_proxy_api`).",
        ),
        ("/environment", &["get"], "Environments."),
        ("/environment/{id}", &["get"], "One environment."),
        (
            "/api-token",
            &["get", "post"],
            "API tokens (admin); a new token is shown only once.",
        ),
        ("/api-token/{id}", &["get", "delete"], "One API token (admin)."),
        (
            "/webhook",
            &["get", "post"],
            "Outbound webhooks; a new webhook's secret is shown only once.",
        ),
        ("/webhook/test", &["post"], "Send a test event."),
        ("/webhook/{id}", &["get", "patch", "delete"], "One webhook."),
        (
            "/webhook/{id}/rotate-secret",
            &["post"],
            "A new signing secret, shown only once.",
        ),
        ("/webhook/{id}/deliveries", &["get"], "A webhook's deliveries."),
        (
            "/webhook/{id}/deliveries/{delivery_id}/retry",
            &["post"],
            "Deliver again.",
        ),
        (
            "/environment-unified-model",
            &["get"],
            "The environment's unified models.",
        ),
        (
            "/environment-unified-model/{id}",
            &["get", "patch"],
            "One environment unified model.",
        ),
        (
            "/environment-unified-model-resource-method",
            &["get", "post"],
            "The environment's mapping overrides.",
        ),
        (
            "/environment-unified-model-resource-method/{id}",
            &["get", "patch", "delete"],
            "One mapping override.",
        ),
        (
            "/unified/{model}/{resource}/{integration}/meta/{method}",
            &["get"],
            "A method's effective mapping for an integration.",
        ),
        (
            "/proxy/{resource}",
            &["get", "post"],
            "Proxy API: an integration's own resource, list or create, unmapped.",
        ),
        (
            "/proxy/{resource}/{id}",
            &["get", "patch", "put", "delete", "post"],
            "Proxy API: one record of an integration's own resource, unmapped.",
        ),
    ];
    for (path, verbs, summary) in ROUTES {
        let mut item = Map::new();
        let mut path_params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| json!({ "name": n, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if path.starts_with("/proxy/") {
            path_params.push(account_param());
        }
        let listing = !path.ends_with('}') && verbs.contains(&"get") && !path.contains("/meta/");
        for verb in *verbs {
            let record = match (*verb, *path) {
                (_, p) if p.starts_with("/proxy/") => "Object",
                ("delete", "/integrated-account/{id}" | "/environment-unified-model-resource-method/{id}") => "Deleted",
                _ => admin_record(path),
            };
            let ok = if *verb == "get" && listing {
                json!({ "$ref": format!("#/components/schemas/{record}List") })
            } else {
                json!({ "$ref": format!("#/components/schemas/{record}") })
            };
            let id = format!(
                "admin.{}.{verb}",
                path.trim_start_matches('/')
                    .replace(['/', '{', '}'], ".")
                    .replace("..", ".")
            );
            let mut op = json!({
                "operationId": id,
                "summary": summary,
                "tags": [if path.starts_with("/proxy/") { "proxy" } else { "admin" }],
                "parameters": path_params,
                "responses": responses(ok.clone()),
            });
            // The creates answer 201 Created (Truto's admin API does too).
            const CREATES: &[&str] = &[
                "/integrated-account",
                "/link-token",
                "/api-token",
                "/webhook",
                "/integrated-account/{id}/mcp",
                "/environment-unified-model-resource-method",
            ];
            if *verb == "post" && CREATES.contains(path) {
                let responses = op["responses"].as_object_mut().expect("responses is an object");
                responses.remove("200");
                responses.insert(
                    "201".into(),
                    json!({ "description": "Created", "content": { "application/json": { "schema": ok } } }),
                );
            }
            if matches!(*verb, "post" | "patch" | "put") {
                op["requestBody"] = json!({ "content": { "application/json": { "schema": admin_body(path, verb) } } });
            }
            item.insert(verb.to_string(), op);
        }
        paths.insert(path.to_string(), Value::Object(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_valid_component_names() {
        assert_eq!(
            schema_name("user-directory", "role_assignments"),
            "UserDirectoryRoleAssignments"
        );
    }
}
