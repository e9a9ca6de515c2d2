//! Checks of mappings against the unified model, beyond what compiling checks: a response
//! mapping that builds a key the model does not have (a typo like `nam`), and a request
//! mapping that reads a body field the model does not have (it can never be set by a
//! client). Warnings for `unigate validate`, errors with `--strict` (CI runs the shipped
//! catalog so). Custom fields belong in overrides (docs/overrides.md), where they are meant.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compile::find_path_line;
use super::coverage::object_keys;
use super::registry::{CatalogError, Registry, UnifiedMapping};
use crate::mapping::reads::Reads;

/// The warnings of every integration's mappings, by file and line. `texts` are the catalog's
/// files by path (`integrations/okta/user-directory.yaml`), for the lines.
pub fn lint(registry: &Registry, texts: &BTreeMap<String, String>) -> Vec<CatalogError> {
    let mut out = Vec::new();
    for integration in registry.integrations.values() {
        let name = integration.name();
        let mut mappings: Vec<(&str, &str, String, &UnifiedMapping, bool)> = integration
            .unified
            .iter()
            .map(|((c, r, m), x)| (c.as_str(), r.as_str(), m.as_str().to_string(), &**x, false))
            .chain(
                integration
                    .custom
                    .iter()
                    .map(|((c, r, m), x)| (c.as_str(), r.as_str(), m.clone(), &**x, true)),
            )
            .collect();
        mappings.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        for (category, resource, method, mapping, custom) in mappings {
            let Some(model_resource) = registry.model(category).and_then(|m| m.resource(resource)) else {
                continue;
            };
            let file = format!("integrations/{name}/{category}.yaml");
            let line = |key: &str| {
                texts
                    .get(&file)
                    .and_then(|t| find_path_line(t, &[resource, method.as_str(), key]))
            };
            let fields = properties(&model_resource.schema);
            // A custom method answers what its provider answers; its body has its own schema.
            if let (Some(expr), false) = (&mapping.response_mapping, custom) {
                for key in object_keys(expr.ast()).keys() {
                    if key != "remote_data" && !fields.contains(&key.as_str()) {
                        out.push(CatalogError {
                            file: file.clone(),
                            line: line("response_mapping"),
                            message: format!(
                                "{resource}.{method}.response_mapping builds `{key}`, which `{resource}` of the `{category}` model does not have (a typo? a customer's custom field belongs in an override)"
                            ),
                        });
                    }
                }
            }
            if let Some(expr) = &mapping.request_body_mapping {
                let body_fields = if custom {
                    model_resource
                        .custom_methods
                        .get(&method)
                        .and_then(|c| c.body.as_ref())
                        .map(properties)
                        .unwrap_or_default()
                } else {
                    fields.clone()
                };
                if let Some(Reads::Fields(read)) = expr.reads_of("body") {
                    for key in read.keys() {
                        if !body_fields.contains(&key.as_str()) {
                            out.push(CatalogError {
                                file: file.clone(),
                                line: line("request_body_mapping"),
                                message: format!(
                                    "{resource}.{method}.request_body_mapping reads `body.{key}`, which the unified body of `{resource}` does not have (a client can never set it)"
                                ),
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// The property names of a JSON Schema object.
fn properties(schema: &Value) -> Vec<&str> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}
