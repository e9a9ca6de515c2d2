//! The coverage table: which integration supports which unified method and field,
//! computed from a compiled [`Registry`] so the docs can never drift from the catalog.
//!
//! Method support is read off the registry (a mapping exists or it does not). Field support
//! is read off the *parsed* response mapping, not by running it on sample data: a field is
//! supported when the mapping's result object has that key. [`object_keys`] walks the
//! JSONata AST to the object constructors an expression can evaluate to, through the shapes
//! our mappings use (`$removeEmpty(...)`, `$merge([...])`, conditionals, `?:`/`??`,
//! blocks with `$x := {...}` bindings, `x.{...}`, `$map(xs, function($x) {...})`). A key
//! built from a dynamic expression is not counted: the table only claims what it can prove.
//!
//! `unigate coverage` prints [`Coverage::to_markdown`] or [`Coverage::to_json`];
//! `docs/coverage.md` is that output, checked by the `coverage` test binary.

use std::collections::HashMap;

use indexmap::IndexMap;
use jsonata_core::ast::{AstNode, BinaryOp};
use serde::Serialize;
use serde_json::Value;

use super::types::{ModelResourceConfig, UnifiedMethod};
use super::{Integration, Registry};

/// The command that regenerates `docs/coverage.md`, for messages and the file's header.
pub const REGENERATE: &str = "cargo run -q -p unigate -- coverage > docs/coverage.md";

/// The unified field the gateway adds itself (the provider's raw record), so every
/// integration that answers the resource supports it.
const REMOTE_DATA: &str = "remote_data";

/// Functions whose result is (one of) their arguments or built from their arguments'
/// object keys, so the walk looks inside them. Any other function call is opaque.
const PASS_THROUGH_FUNCTIONS: &[&str] = &["removeEmpty", "merge", "map", "filter", "firstNonEmpty", "sift", "sort"];

/// How deep [`object_keys`] follows nested expressions and variable bindings.
const MAX_DEPTH: usize = 64;

/// Coverage of every unified model in a registry.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub models: Vec<ModelCoverage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelCoverage {
    /// The category, e.g. `user-directory`.
    pub name: String,
    pub label: String,
    pub resources: Vec<ResourceCoverage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceCoverage {
    pub name: String,
    /// Integrations with at least one method on this resource, in catalog order.
    pub integrations: Vec<IntegrationRef>,
    pub methods: Vec<MethodCoverage>,
    pub fields: Vec<FieldCoverage>,
    /// Keys a response mapping produces that the model's schema does not declare (likely
    /// typos), by integration. Empty when every key is a model field.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub undeclared_fields: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IntegrationRef {
    pub name: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodCoverage {
    /// A standard method (`list`...) or a custom one (`add-user`).
    pub method: String,
    /// Whether the model offers this method on the resource at all.
    pub offered: bool,
    /// Integration names supporting it.
    pub integrations: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldCoverage {
    /// Dotted path: `licenses.id` is `id` inside each item of `licenses`.
    pub field: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Integration names whose response mapping produces the field.
    pub integrations: Vec<String>,
}

impl Coverage {
    /// Computes the coverage of every model and resource in `registry`.
    pub fn compute(registry: &Registry) -> Coverage {
        let models = registry
            .models
            .iter()
            .map(|(category, model)| ModelCoverage {
                name: category.clone(),
                label: model.config.label.clone(),
                resources: model
                    .config
                    .resources
                    .iter()
                    .map(|(resource, config)| resource_coverage(registry, category, resource, config))
                    .collect(),
            })
            .collect();
        Coverage { models }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The Markdown page committed as `docs/coverage.md`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Unified API coverage\n\n");
        out.push_str(&format!(
            "<!-- Generated from the catalog by `unigate coverage`; do not edit by hand. Regenerate with:\n     {REGENERATE} -->\n\n"
        ));
        out.push_str(
            "Which integration supports which unified method and which field, computed from the catalog:\n\
             a method is supported when the integration maps it; a field when the integration's `get`\n\
             response mapping (its `list` mapping when it has no `get`) builds that key. `remote_data`\n\
             (the provider's raw record) is added by the gateway for every integration.\n",
        );
        for model in &self.models {
            for resource in &model.resources {
                markdown_resource(&mut out, model, resource);
            }
        }
        out
    }
}

fn resource_coverage(
    registry: &Registry,
    category: &str,
    resource: &str,
    config: &ModelResourceConfig,
) -> ResourceCoverage {
    let (offered, schema) = (&config.methods, &config.schema);
    let integrations: Vec<&Integration> = registry
        .integrations
        .values()
        .map(AsRef::as_ref)
        .filter(|i| {
            !i.unified_methods(category, resource).is_empty() || !i.custom_methods(category, resource).is_empty()
        })
        .collect();
    let mut methods: Vec<MethodCoverage> = UnifiedMethod::ALL
        .into_iter()
        .map(|method| MethodCoverage {
            method: method.as_str().to_string(),
            offered: offered.contains(&method),
            integrations: integrations
                .iter()
                .filter(|i| i.unified(category, resource, method).is_some())
                .map(|i| i.name().to_string())
                .collect(),
        })
        .collect();
    methods.extend(config.custom_methods.keys().map(|name| {
        MethodCoverage {
            method: name.clone(),
            offered: true,
            integrations: integrations
                .iter()
                .filter(|i| i.custom(category, resource, name).is_some())
                .map(|i| i.name().to_string())
                .collect(),
        }
    }));

    // The fields each integration's read mapping produces.
    let produced: Vec<(&Integration, Vec<String>)> = integrations
        .iter()
        .map(|i| (*i, produced_fields(i, category, resource)))
        .collect();
    let declared = schema_fields(schema);
    let fields = declared
        .iter()
        .map(|d| FieldCoverage {
            integrations: produced
                .iter()
                .filter(|(_, fields)| d.path == REMOTE_DATA || fields.contains(&d.path))
                .map(|(i, _)| i.name().to_string())
                .collect(),
            field: d.path.clone(),
            type_: d.type_.clone(),
            format: d.format.clone(),
            required: d.required,
            description: d.description.clone(),
        })
        .collect();
    let mut undeclared_fields = IndexMap::new();
    for (integration, fields) in &produced {
        let extra: Vec<String> = fields
            .iter()
            .filter(|f| !declared.iter().any(|d| &d.path == *f))
            .cloned()
            .collect();
        if !extra.is_empty() {
            undeclared_fields.insert(integration.name().to_string(), extra);
        }
    }
    ResourceCoverage {
        name: resource.to_string(),
        integrations: integrations
            .iter()
            .map(|i| IntegrationRef {
                name: i.name().to_string(),
                label: i.config.label.clone(),
            })
            .collect(),
        methods,
        fields,
        undeclared_fields,
    }
}

/// Dotted field paths the integration's read mapping (`get`, else `list`) produces.
fn produced_fields(integration: &Integration, category: &str, resource: &str) -> Vec<String> {
    let mapping = integration
        .unified(category, resource, UnifiedMethod::Get)
        .or_else(|| integration.unified(category, resource, UnifiedMethod::List))
        .and_then(|m| m.response_mapping.as_ref());
    match mapping {
        Some(expr) => field_paths(expr.ast()),
        None => Vec::new(),
    }
}

/// Every dotted key path an expression's result object has: top-level keys, and one level
/// of nested keys below them (`licenses.id` for `"licenses": xs.{ "id": ... }`).
pub fn field_paths(node: &AstNode) -> Vec<String> {
    let mut out = Vec::new();
    for (key, values) in object_keys(node) {
        let mut nested: Vec<String> = Vec::new();
        for value in values {
            for sub in object_keys(value).into_keys() {
                let path = format!("{key}.{sub}");
                if !nested.contains(&path) {
                    nested.push(path);
                }
            }
        }
        out.push(key);
        out.extend(nested);
    }
    out
}

/// The literal keys of the objects `node` can evaluate to, in order of appearance, each
/// with the expressions that give its value. See the module docs for what is followed.
pub fn object_keys(node: &AstNode) -> IndexMap<String, Vec<&AstNode>> {
    let mut out = IndexMap::new();
    let scope = Scope::default();
    collect(node, &scope, 0, &mut out);
    out
}

/// Variables bound by `$x := expr` in enclosing blocks.
#[derive(Default)]
struct Scope<'a> {
    bindings: HashMap<&'a str, &'a AstNode>,
}

fn collect<'a>(node: &'a AstNode, scope: &Scope<'a>, depth: usize, out: &mut IndexMap<String, Vec<&'a AstNode>>) {
    if depth > MAX_DEPTH {
        return;
    }
    let next = depth + 1;
    match node {
        AstNode::Object(pairs) | AstNode::ObjectTransform { pattern: pairs, .. } => {
            for (key, value) in pairs {
                if let AstNode::String(key) = key {
                    out.entry(key.clone()).or_default().push(value);
                }
            }
        }
        AstNode::Function { name, args, .. } if PASS_THROUGH_FUNCTIONS.contains(&name.trim_start_matches('$')) => {
            for arg in args {
                collect(arg, scope, next, out);
            }
        }
        AstNode::Lambda { body, .. } => collect(body, scope, next, out),
        AstNode::Array(items) => {
            for item in items {
                collect(item, scope, next, out);
            }
        }
        AstNode::Conditional {
            then_branch,
            else_branch,
            ..
        } => {
            collect(then_branch, scope, next, out);
            if let Some(e) = else_branch {
                collect(e, scope, next, out);
            }
        }
        AstNode::Block(exprs) => {
            let mut inner = Scope {
                bindings: scope.bindings.clone(),
            };
            for e in exprs {
                if let AstNode::Binary {
                    op: BinaryOp::ColonEqual,
                    lhs,
                    rhs,
                } = e
                {
                    if let AstNode::Variable(name) = lhs.as_ref() {
                        inner.bindings.insert(name.as_str(), rhs.as_ref());
                    }
                }
            }
            if let Some(last) = exprs.last() {
                collect(last, &inner, next, out);
            }
        }
        AstNode::Variable(name) => {
            if let Some(bound) = scope.bindings.get(name.as_str()) {
                collect(bound, scope, next, out);
            }
        }
        AstNode::Binary { op, lhs, rhs } => match op {
            BinaryOp::Coalesce | BinaryOp::Default | BinaryOp::ChainPipe => {
                collect(lhs, scope, next, out);
                collect(rhs, scope, next, out);
            }
            BinaryOp::ColonEqual => collect(rhs, scope, next, out),
            _ => {}
        },
        AstNode::Path { steps } => {
            if let Some(last) = steps.last() {
                collect(&last.node, scope, next, out);
            }
        }
        AstNode::FunctionApplication(inner) => collect(inner, scope, next, out),
        _ => {}
    }
}

/// One field declared by a model's JSON Schema.
struct DeclaredField {
    path: String,
    type_: Option<String>,
    format: Option<String>,
    required: bool,
    description: Option<String>,
}

/// The schema's properties, and the properties of object and array-of-object properties
/// one level down (`licenses.id`), in schema order.
fn schema_fields(schema: &Value) -> Vec<DeclaredField> {
    let mut out = Vec::new();
    push_properties(schema, "", &mut out, 0);
    out
}

fn push_properties(schema: &Value, prefix: &str, out: &mut Vec<DeclaredField>, depth: usize) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    // A write-only field (a password) is never in an answer: no integration "fills" it.
    for (name, prop) in props
        .iter()
        .filter(|(_, p)| p.get("writeOnly") != Some(&Value::Bool(true)))
    {
        let path = format!("{prefix}{name}");
        out.push(DeclaredField {
            path: path.clone(),
            type_: text(prop, "type"),
            format: text(prop, "format"),
            required: required.contains(&name.as_str()),
            description: text(prop, "description"),
        });
        if depth == 0 && name != REMOTE_DATA {
            let inner = match prop.get("type").and_then(Value::as_str) {
                Some("array") => prop.get("items"),
                Some("object") => Some(prop),
                _ => None,
            };
            if let Some(inner) = inner {
                push_properties(inner, &format!("{path}."), out, depth + 1);
            }
        }
    }
}

fn markdown_resource(out: &mut String, model: &ModelCoverage, resource: &ResourceCoverage) {
    let label_of = |name: &str| {
        resource
            .integrations
            .iter()
            .find(|i| i.name == name)
            .map_or_else(|| name.to_string(), |i| i.label.clone())
    };
    let total = resource.integrations.len();
    out.push_str(&format!(
        "\n## {} / {} (`/unified/{}/{}`)\n\n{} integration(s).\n",
        model.label, resource.name, model.name, resource.name, total
    ));

    let methods: Vec<&MethodCoverage> = resource.methods.iter().filter(|m| m.offered).collect();
    out.push_str("\n### Methods\n\n| Integration |");
    for m in &methods {
        out.push_str(&format!(" {} |", m.method));
    }
    out.push_str("\n|---|");
    out.push_str(&":-:|".repeat(methods.len()));
    out.push('\n');
    for i in &resource.integrations {
        out.push_str(&format!("| {} (`{}`) |", i.label, i.name));
        for m in &methods {
            out.push_str(if m.integrations.contains(&i.name) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push('\n');
    }
    out.push_str("| **Supported** |");
    for m in &methods {
        out.push_str(&format!(" {} |", m.integrations.len()));
    }
    out.push('\n');

    out.push_str("\n### Fields\n\n| Integration |");
    for f in &resource.fields {
        out.push_str(&format!(" `{}` |", f.field));
    }
    out.push_str("\n|---|");
    out.push_str(&":-:|".repeat(resource.fields.len()));
    out.push('\n');
    for i in &resource.integrations {
        out.push_str(&format!("| {} (`{}`) |", i.label, i.name));
        for f in &resource.fields {
            out.push_str(if f.integrations.contains(&i.name) {
                " ✓ |"
            } else {
                " |"
            });
        }
        out.push('\n');
    }
    out.push_str("| **Supported** |");
    for f in &resource.fields {
        out.push_str(&format!(" {} |", f.integrations.len()));
    }
    out.push('\n');

    for m in &methods {
        out.push_str(&format!(
            "\n#### `{}` — {} supported\n\n{}",
            m.method,
            m.integrations.len(),
            name_list(&m.integrations, &label_of)
        ));
    }
    for f in &resource.fields {
        let mut kind = f.type_.clone().unwrap_or_else(|| "any".into());
        if let Some(format) = &f.format {
            kind = format!("{kind} · {format}");
        }
        if f.required {
            kind.push_str(" · required");
        }
        out.push_str(&format!(
            "\n#### `{}` ({kind}) — {} supported\n\n",
            f.field,
            f.integrations.len()
        ));
        if let Some(d) = &f.description {
            out.push_str(&format!("{d}\n\n"));
        }
        out.push_str(&name_list(&f.integrations, &label_of));
        out.push('\n');
    }
    if !resource.undeclared_fields.is_empty() {
        out.push_str("\n### Mapped keys the model does not declare\n\n");
        for (integration, fields) in &resource.undeclared_fields {
            let list: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            out.push_str(&format!(
                "- {} (`{integration}`): {}\n",
                label_of(integration),
                list.join(", ")
            ));
        }
    }
}

fn name_list(names: &[String], label_of: &dyn Fn(&str) -> String) -> String {
    if names.is_empty() {
        return "None yet.\n".to_string();
    }
    names.iter().map(|n| format!("- {}\n", label_of(n))).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn paths(src: &str) -> Vec<String> {
        field_paths(&jsonata_core::parser::parse(src).unwrap())
    }

    #[test]
    fn a_plain_object_constructor_gives_its_keys_in_order() {
        // GitHub's get mapping.
        let src = r#"{
            "id": response.login,
            "name": response.name ? response.name : response.login,
            "pricing_plan": response.plan.name,
            "created_at": response.created_at,
            "updated_at": response.updated_at
        }"#;
        assert_eq!(paths(src), ["id", "name", "pricing_plan", "created_at", "updated_at"]);
    }

    #[test]
    fn keys_inside_remove_empty_and_function_calls_on_values_count() {
        // Mist's get mapping: values are function calls; the object is what counts.
        let src = r#"$removeEmpty({
            "id": response.id,
            "name": response.name,
            "created_at": $epochToIso(response.created_time),
            "updated_at": $epochToIso(response.modified_time)
        })"#;
        assert_eq!(paths(src), ["id", "name", "created_at", "updated_at"]);
    }

    #[test]
    fn merge_and_conditional_branches_contribute_every_key() {
        let src = r#"$merge([
            { "id": $string(response._id) },
            response.displayName ? { "name": response.displayName } : { "name": response.name },
            $exists(response.created) ? { "created_at": response.created }
        ])"#;
        assert_eq!(paths(src), ["id", "name", "created_at"]);
    }

    #[test]
    fn a_block_with_a_bound_object_is_followed_through_the_variable() {
        let src = r#"(
            $org := response.organization;
            $out := { "id": $org.slug, "pricing_plan": $org.plan_id };
            $removeEmpty($out)
        )"#;
        assert_eq!(paths(src), ["id", "pricing_plan"]);
    }

    #[test]
    fn nested_license_keys_come_from_path_objects_and_map_lambdas() {
        let path_form = r#"{
            "id": response.id,
            "licenses": response.entitlement.entitlementProducts.{ "id": productCode, "name": name }
        }"#;
        assert_eq!(paths(path_form), ["id", "licenses", "licenses.id", "licenses.name"]);
        let map_form = r#"{
            "id": response.id,
            "licenses": $map(before.licenses, function($l) { { "id": $l.id, "name": $l.licenseType } })
        }"#;
        assert_eq!(paths(map_form), ["id", "licenses", "licenses.id", "licenses.name"]);
    }

    #[test]
    fn default_and_chain_operators_are_followed() {
        assert_eq!(paths(r#"response.x ?: { "id": "a" }"#), ["id"]);
        assert_eq!(paths(r#"{ "id": "a", "name": "" } ~> $removeEmpty()"#), ["id", "name"]);
    }

    #[test]
    fn dynamic_keys_and_opaque_functions_are_not_claimed() {
        assert!(paths(r#"{ response.key: 1 }"#).is_empty());
        assert!(paths(r#"$lookup({ "id": 1 }, "id")"#).is_empty());
        assert!(paths("response.name").is_empty());
    }

    #[test]
    fn the_shipped_catalog_covers_what_its_mappings_build() {
        let registry = crate::catalog::load_registry(None).unwrap();
        let coverage = Coverage::compute(&registry);
        let orgs = &coverage.models[0].resources[0];
        let field = |name: &str| orgs.fields.iter().find(|f| f.field == name).unwrap();
        assert!(field("id").integrations.contains(&"github".to_string()));
        assert!(field("pricing_plan").integrations.contains(&"github".to_string()));
        assert!(!field("pricing_plan").integrations.contains(&"krystal".to_string()));
        assert_eq!(field("remote_data").integrations.len(), orgs.integrations.len());
        let create = orgs.methods.iter().find(|m| m.method == "create").unwrap();
        assert!(create.integrations.contains(&"juniper-mist".to_string()));
        assert!(!create.integrations.contains(&"github".to_string()));
        let md = coverage.to_markdown();
        assert!(md.contains("#### `id` (string · required) —"), "{md}");
    }
}
