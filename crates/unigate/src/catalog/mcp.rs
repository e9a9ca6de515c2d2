//! The MCP tools of one integration, generated from the registry (`http::mcp` serves them):
//! one tool per unified method the integration maps, named as Truto names its tools
//! (`list_all_okta_users`, `get_single_okta_user_by_id`, `create_a_okta_user`,
//! `update_a_okta_user_by_id`, `delete_a_okta_user_by_id`; a custom method as
//! `add_user_okta_group`), with an input schema from the model (the id, the body's fields,
//! the list's filters and paging, the integration's query parameters) and a description
//! from the model's docs. Pure: no I/O, so the same registry always gives the same tools.

use serde_json::{json, Map, Value};

use super::registry::{Integration, Registry};
use super::types::{FilterKind, QueryParamConfig, UnifiedMethod};

/// Which unified method a tool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMethod {
    Standard(UnifiedMethod),
    /// A custom method of the resource (`add-user`), run as `POST .../{name}`.
    Custom(String),
}

/// One MCP tool.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the tool's `arguments`.
    pub input_schema: Value,
    pub category: String,
    pub resource: String,
    pub method: ToolMethod,
    /// The arguments sent as query parameters (the rest of a write's arguments, except
    /// `id`, make its body).
    pub query_args: Vec<String>,
    /// What `config.tags` matches: the model's name and the resource's.
    pub tags: Vec<String>,
}

impl Tool {
    pub fn reads(&self) -> bool {
        matches!(
            self.method,
            ToolMethod::Standard(UnifiedMethod::List | UnifiedMethod::Get)
        )
    }

    /// Whether a server configured with `methods` (empty: all) and `tags` (empty: all)
    /// exposes this tool. The two combine with AND, as Truto's do; an entry of `methods` is
    /// `read` (list and get), `write` (create, update, delete), `custom`, a method's name
    /// (`list`, `add-user`) or a tool's name.
    pub fn allowed(&self, methods: &[String], tags: &[String]) -> bool {
        let method_ok = methods.is_empty() || methods.iter().any(|m| self.matches_method(m));
        let tag_ok = tags.is_empty() || tags.iter().any(|t| self.tags.iter().any(|own| own == t));
        method_ok && tag_ok
    }

    fn matches_method(&self, entry: &str) -> bool {
        if entry == self.name {
            return true;
        }
        match &self.method {
            ToolMethod::Standard(m) => match entry {
                "read" => matches!(m, UnifiedMethod::List | UnifiedMethod::Get),
                "write" => matches!(m, UnifiedMethod::Create | UnifiedMethod::Update | UnifiedMethod::Delete),
                other => other == m.as_str(),
            },
            ToolMethod::Custom(name) => entry == "custom" || entry == name,
        }
    }
}

/// Whether `entry` is something a `config.methods` list may hold for `tools`: a group,
/// a standard method, or a method or tool name one of them has.
pub fn known_method_entry(entry: &str, tools: &[Tool]) -> bool {
    ["read", "write", "custom"].contains(&entry)
        || UnifiedMethod::parse(entry).is_some()
        || tools.iter().any(|t| t.matches_method(entry))
}

/// `role_assignments` → `role_assignment`, `activities` → `activity`: the plain English
/// rules the catalog's resource names need (a dictionary-based inflector would be a
/// dependency for nine words).
pub fn singular(resource: &str) -> String {
    if let Some(stem) = resource.strip_suffix("ies") {
        format!("{stem}y")
    } else if resource.ends_with("sses") || resource.ends_with("ches") || resource.ends_with("shes") {
        resource[..resource.len() - 2].to_string()
    } else if let Some(stem) = resource.strip_suffix('s').filter(|s| !s.ends_with('s')) {
        stem.to_string()
    } else {
        resource.to_string()
    }
}

/// Tool names are snake case: `dynamics-365-sales` → `dynamics_365_sales`.
fn snake(name: &str) -> String {
    name.replace(['-', ' ', '.'], "_").to_ascii_lowercase()
}

/// Truto's tool name for a method of `resource` in `integration`.
pub fn tool_name(integration: &str, resource: &str, method: &ToolMethod) -> String {
    let i = snake(integration);
    let one = snake(&singular(resource));
    match method {
        ToolMethod::Standard(UnifiedMethod::List) => format!("list_all_{i}_{}", snake(resource)),
        ToolMethod::Standard(UnifiedMethod::Get) => format!("get_single_{i}_{one}_by_id"),
        ToolMethod::Standard(UnifiedMethod::Create) => format!("create_a_{i}_{one}"),
        ToolMethod::Standard(UnifiedMethod::Update) => format!("update_a_{i}_{one}_by_id"),
        ToolMethod::Standard(UnifiedMethod::Delete) => format!("delete_a_{i}_{one}_by_id"),
        ToolMethod::Custom(name) => format!("{}_{i}_{one}", snake(name)),
    }
}

/// Every tool of `integration`, in the model's order (resources, then list, get, create,
/// update, delete, then custom methods).
pub fn tools(registry: &Registry, integration: &Integration) -> Vec<Tool> {
    let mut out = Vec::new();
    let label = integration.config.label.clone();
    for (category, model) in &registry.models {
        for (resource, config) in &model.config.resources {
            let tags = vec![category.clone(), resource.clone()];
            for method in UnifiedMethod::ALL {
                if !config.methods.contains(&method) {
                    continue;
                }
                let Some(mapping) = integration.unified(category, resource, method) else {
                    continue;
                };
                let mut props = Map::new();
                let mut required: Vec<String> = Vec::new();
                let mut query_args: Vec<String> = Vec::new();
                if matches!(
                    method,
                    UnifiedMethod::Get | UnifiedMethod::Update | UnifiedMethod::Delete
                ) {
                    props.insert(
                        "id".into(),
                        json!({ "type": "string", "description": format!("The unified id of the {}.", singular(resource)) }),
                    );
                    required.push("id".into());
                }
                if method == UnifiedMethod::List {
                    props.insert(
                        "limit".into(),
                        json!({ "type": "integer", "minimum": 1, "description": "How many records the page holds at most." }),
                    );
                    props.insert(
                        "next_cursor".into(),
                        json!({ "type": "string", "description": "The `next_cursor` of the previous page, to get the page after it. Leave out for the first page." }),
                    );
                    query_args.extend(["limit".to_string(), "next_cursor".to_string()]);
                    for (name, f) in &config.filters {
                        match f.kind {
                            FilterKind::String => {
                                props.insert(name.clone(), json!({ "type": "string", "description": f.description }));
                                query_args.push(name.clone());
                            }
                            FilterKind::DateTime => {
                                for op in ["gt", "gte", "lt", "lte"] {
                                    let key = format!("{name}[{op}]");
                                    props.insert(
                                        key.clone(),
                                        json!({ "type": "string", "description": format!("{} ({op}; an RFC 3339 time or a date.)", f.description) }),
                                    );
                                    query_args.push(key);
                                }
                            }
                        }
                    }
                }
                if matches!(method, UnifiedMethod::Create | UnifiedMethod::Update) {
                    body_fields(&config.schema, &mapping.unsupported_fields, &mut props);
                }
                query_params(&mapping.query_params, &mut props, &mut required, &mut query_args);
                let what = describe(method, resource);
                let mut description = format!("{what} in {label}. {}", config.description);
                if method == UnifiedMethod::List {
                    description.push_str(
                        " Answers one page: `result` (the records) and `next_cursor`; while `next_cursor` is not null, call this tool again with it to get the next page.",
                    );
                }
                let method = ToolMethod::Standard(method);
                out.push(Tool {
                    name: tool_name(integration.name(), resource, &method),
                    description,
                    input_schema: schema(props, required),
                    category: category.clone(),
                    resource: resource.clone(),
                    method,
                    query_args,
                    tags: tags.clone(),
                });
            }
            for (name, custom) in &config.custom_methods {
                let Some(mapping) = integration.custom(category, resource, name) else {
                    continue;
                };
                let body = custom.body.clone().unwrap_or_else(|| json!({ "type": "object" }));
                let mut props = body
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let mut required: Vec<String> = body
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default();
                let mut query_args = Vec::new();
                query_params(&mapping.query_params, &mut props, &mut required, &mut query_args);
                let method = ToolMethod::Custom(name.clone());
                out.push(Tool {
                    name: tool_name(integration.name(), resource, &method),
                    description: format!(
                        "{} ({resource} in {label}, custom method `{name}`.)",
                        custom.description
                    ),
                    input_schema: schema(props, required),
                    category: category.clone(),
                    resource: resource.clone(),
                    method,
                    query_args,
                    tags: tags.clone(),
                });
            }
        }
    }
    out
}

fn describe(method: UnifiedMethod, resource: &str) -> String {
    let one = singular(resource).replace('_', " ");
    let many = resource.replace('_', " ");
    match method {
        UnifiedMethod::List => format!("Lists {many}"),
        UnifiedMethod::Get => format!("Gets one {one} by its id"),
        UnifiedMethod::Create => format!("Creates a {one}"),
        UnifiedMethod::Update => format!("Updates a {one} by its id (only the fields given change)"),
        UnifiedMethod::Delete => format!("Deletes a {one} by its id"),
    }
}

/// The record's fields a write may send: all but the id, `remote_data` and the
/// provider's timestamps, and those the integration cannot write.
fn body_fields(record: &Value, unsupported: &[String], props: &mut Map<String, Value>) {
    let Some(fields) = record.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, field) in fields {
        if ["id", "remote_data", "created_at", "updated_at"].contains(&name.as_str())
            || unsupported.iter().any(|u| u == name)
        {
            continue;
        }
        props.insert(name.clone(), field.clone());
    }
}

fn query_params(
    params: &indexmap::IndexMap<String, QueryParamConfig>,
    props: &mut Map<String, Value>,
    required: &mut Vec<String>,
    query_args: &mut Vec<String>,
) {
    for (name, p) in params {
        let mut prop = json!({ "type": "string", "description": p.description });
        if let Some(example) = &p.example {
            prop["examples"] = json!([example]);
        }
        props.insert(name.clone(), prop);
        if p.required && !required.contains(name) {
            required.push(name.clone());
        }
        query_args.push(name.clone());
    }
}

fn schema(props: Map<String, Value>, required: Vec<String>) -> Value {
    let mut s = json!({ "type": "object", "properties": props });
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_forms_of_the_catalogs_resources() {
        for (many, one) in [
            ("users", "user"),
            ("role_assignments", "role_assignment"),
            ("activities", "activity"),
            ("me", "me"),
            ("licenses", "license"),
            ("address", "address"),
        ] {
            assert_eq!(singular(many), one);
        }
    }

    #[test]
    fn names_follow_trutos_pattern() {
        let list = ToolMethod::Standard(UnifiedMethod::List);
        assert_eq!(tool_name("okta", "users", &list), "list_all_okta_users");
        assert_eq!(
            tool_name(
                "dynamics-365-sales",
                "role_assignments",
                &ToolMethod::Standard(UnifiedMethod::Update)
            ),
            "update_a_dynamics_365_sales_role_assignment_by_id"
        );
        assert_eq!(
            tool_name("okta", "groups", &ToolMethod::Custom("add-user".into())),
            "add_user_okta_group"
        );
    }

    #[test]
    fn every_tool_of_the_catalog_has_a_valid_unique_name() {
        let registry = crate::catalog::load_registry(None).expect("the built-in catalog loads");
        for integration in registry.integrations.values() {
            let tools = tools(&registry, integration);
            let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            for n in &names {
                assert!(
                    n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{n}"
                );
            }
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", integration.name());
        }
    }
}
