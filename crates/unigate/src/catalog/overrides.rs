//! Mapping overrides: an environment's or an account's changes to how one integration maps
//! one unified method, applied over the catalog's mapping at run time (Truto's "overriding
//! unified API mappings").
//!
//! An override is an object of some of the keys of a catalog mapping. How each merges over
//! the layer below (catalog, then environment, then account):
//! - `response_mapping`, `query_mapping`, `request_body_mapping`: both expressions run on
//!   the same input; when both give objects, the override's keys replace or add to the
//!   lower layer's (a shallow merge, Truto's rule), otherwise the override's result, when
//!   it gives one, replaces the lower one's.
//! - `query_params`: merged by parameter name.
//! - `resource`, `filters`, `unsupported_fields`, `partial`: replaced.
//!
//! Keys that would move where credentials go (`base_url`, `headers`, `authorization`, a
//! raw resource's `path`...) are refused, as is any key not listed above: an override can
//! change what a call reads and writes, never which host receives the account's
//! credentials. Every expression is compiled when the override is written, and evaluated
//! under the same limits as the catalog's ([`crate::mapping`]).
//!
//! Compiled mappings are cached by the environment's overrides version and the account's
//! `updated_at` ([`OverrideCache`]); a call whose account and environment have no
//! overrides never reaches this module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::registry::{Integration, Model, Registry, UnifiedMapping};
use super::types::{QueryParamConfig, UnifiedMethod};
use crate::mapping::Expr;
use crate::store::MappingOverrideRecord;

/// Where a key of the effective mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Catalog,
    Environment,
    Account,
}

/// Expressions: the override's result is merged over the lower layer's.
const LAYERED: [&str; 3] = ["response_mapping", "query_mapping", "request_body_mapping"];
/// Replaced as a whole.
const REPLACED: [&str; 4] = ["resource", "filters", "unsupported_fields", "partial"];
/// Merged by name.
const MERGED: [&str; 1] = ["query_params"];

/// Keys an override may never set, and why.
const FORBIDDEN: [(&str, &str); 9] = [
    ("base_url", "the base URL is the integration's"),
    ("host", "hosts are the integration's"),
    ("hosts", "hosts are the integration's"),
    (
        "path",
        "paths are the raw resource's; name another raw resource with `resource`",
    ),
    ("headers", "headers are the integration's and the raw resource's"),
    ("authorization", "where credentials go is the integration's"),
    ("credentials", "where credentials go is the integration's"),
    ("before", "side loads are the catalog's"),
    ("retry_on_conflict", "retries are the catalog's"),
];

/// One problem with an override, at a key (`response_mapping`, or a longer path for an
/// account's document: `user-directory.users.get.response_mapping`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OverrideError {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for OverrideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// Every key an override config may hold.
pub fn allowed_keys() -> impl Iterator<Item = &'static str> {
    LAYERED.into_iter().chain(REPLACED).chain(MERGED)
}

/// Checks one method's override config against its integration and model resource: known
/// keys of the right types, expressions that compile, a raw resource that exists, filters
/// the model declares. `at` prefixes the keys of the errors.
pub fn check_config(
    integration: &Integration,
    model: &Model,
    resource: &str,
    method: &str,
    config: &Value,
    at: &str,
) -> Vec<OverrideError> {
    let key = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    let mut errors = Vec::new();
    let Some(map) = config.as_object() else {
        errors.push(OverrideError {
            key: if at.is_empty() { "config".into() } else { at.to_string() },
            message: "must be an object of mapping keys".into(),
        });
        return errors;
    };
    let Some(model_resource) = model.resource(resource) else {
        errors.push(OverrideError {
            key: key("resource_name"),
            message: format!("the `{}` model has no resource `{resource}`", model.config.name),
        });
        return errors;
    };
    let standard = UnifiedMethod::parse(method);
    let offered = match standard {
        Some(m) => model_resource.methods.contains(&m),
        None => model_resource.custom_methods.contains_key(method),
    };
    if !offered {
        errors.push(OverrideError {
            key: key("method_name"),
            message: format!(
                "`{resource}` of the `{}` model has no method `{method}`",
                model.config.name
            ),
        });
        return errors;
    }
    for (k, v) in map {
        let problem = if let Some((_, why)) = FORBIDDEN.iter().find(|(f, _)| f == k) {
            Some(format!("cannot be overridden: {why}"))
        } else if LAYERED.contains(&k.as_str()) {
            match v {
                Value::String(src) => Expr::compile(src).err().map(|e| e.to_string()),
                Value::Null => None,
                _ => Some("must be a JSONata expression (a string)".into()),
            }
        } else if k == "resource" {
            match v.as_str() {
                Some(r) if integration.resources.contains_key(r) => None,
                Some(r) => Some(format!(
                    "`{r}` is not a resource method of integration `{}` (write `resource.method`, as in its integration.yaml)",
                    integration.name()
                )),
                None => Some("must be a string (`resource.method`)".into()),
            }
        } else if k == "filters" || k == "unsupported_fields" {
            match serde_json::from_value::<Vec<String>>(v.clone()) {
                Err(_) => Some("must be an array of strings".into()),
                Ok(names) if k == "filters" => names
                    .iter()
                    .find(|f| !model_resource.filters.contains_key(*f))
                    .map(|f| format!("the model has no filter `{f}`")),
                Ok(_) => None,
            }
        } else if k == "partial" {
            (!v.is_boolean()).then(|| "must be true or false".into())
        } else if k == "query_params" {
            serde_json::from_value::<IndexMap<String, QueryParamConfig>>(v.clone())
                .err()
                .map(|e| format!("must map parameter names to {{description, required, example}}: {e}"))
        } else {
            Some(format!(
                "is not a key an override may set (it may set: {})",
                allowed_keys().collect::<Vec<_>>().join(", ")
            ))
        };
        if let Some(message) = problem {
            errors.push(OverrideError { key: key(k), message });
        }
    }
    if integration
        .unified_or_custom(&model.config.name, resource, method)
        .is_none()
        && !map.contains_key("resource")
    {
        errors.push(OverrideError {
            key: key("resource"),
            message: format!(
                "integration `{}` does not map `{method}` on `{resource}`: an override that adds it must name the raw resource to call",
                integration.name()
            ),
        });
    }
    errors
}

/// Checks an account's `unified_model_override` document, `{model: {resource: {method:
/// config}}}`, against its integration: every config as [`check_config`] checks one.
pub fn check_account_document(registry: &Registry, integration: &Integration, doc: &Value) -> Vec<OverrideError> {
    let mut errors = Vec::new();
    let not_object = |key: String, what: &str| OverrideError {
        key,
        message: format!("must be an object of {what}"),
    };
    let Some(models) = doc.as_object() else {
        return vec![not_object("unified_model_override".into(), "unified models")];
    };
    for (model_name, resources) in models {
        let Some(model) = registry.model(model_name) else {
            errors.push(OverrideError {
                key: model_name.clone(),
                message: format!("there is no unified model named `{model_name}`"),
            });
            continue;
        };
        let Some(resources) = resources.as_object() else {
            errors.push(not_object(model_name.clone(), "resources"));
            continue;
        };
        for (resource, methods) in resources {
            let Some(methods) = methods.as_object() else {
                errors.push(not_object(format!("{model_name}.{resource}"), "methods"));
                continue;
            };
            for (method, config) in methods {
                let at = format!("{model_name}.{resource}.{method}");
                errors.extend(check_config(integration, model, resource, method, config, &at));
            }
        }
    }
    errors
}

/// Applies a JSON merge patch (RFC 7396): objects merge key by key, `null` removes a key,
/// anything else replaces. Written here because it is ten lines; the `json-patch` crate
/// would be a dependency for this one function.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (k, v) in changes {
            if v.is_null() {
                map.remove(k);
            } else {
                merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Removes the empty objects a merge patch leaves behind (`{"users": {}}` once its last
/// method is removed), so an emptied document is no document.
pub fn prune_empty(v: &mut Value) -> bool {
    if let Value::Object(map) = v {
        map.retain(|_, x| !prune_empty(x));
        return map.is_empty();
    }
    false
}

/// The overrides that may apply to one call: its environment's and its account's.
#[derive(Debug, Clone)]
pub struct AccountOverrides {
    pub environment_id: String,
    pub environment_version: i64,
    pub environment: Arc<Vec<MappingOverrideRecord>>,
    pub account_id: String,
    pub account_version: DateTime<Utc>,
    /// `{model: {resource: {method: config}}}`.
    pub account: Option<Value>,
}

impl AccountOverrides {
    /// The environment's and the account's config for one method, in that order.
    pub fn layers(
        &self,
        integration: &str,
        model: &str,
        resource: &str,
        method: &str,
    ) -> Vec<(Layer, &Map<String, Value>)> {
        layers(
            &self.environment,
            self.account.as_ref(),
            integration,
            model,
            resource,
            method,
        )
    }
}

/// An environment's override rows, as read at one version.
type EnvironmentRows = Arc<Vec<MappingOverrideRecord>>;

/// The configs that override one method, bottom first: the environment's row for it, then
/// the account's document's entry.
pub fn layers<'a>(
    environment: &'a [MappingOverrideRecord],
    account: Option<&'a Value>,
    integration: &str,
    model: &str,
    resource: &str,
    method: &str,
) -> Vec<(Layer, &'a Map<String, Value>)> {
    let row = environment
        .iter()
        .find(|r| r.integration == integration && r.model == model && r.resource == resource && r.method == method);
    let environment = row.and_then(|r| r.config.as_object()).map(|m| (Layer::Environment, m));
    let account = account
        .and_then(|a| a.get(model)?.get(resource)?.get(method)?.as_object())
        .map(|m| (Layer::Account, m));
    environment.into_iter().chain(account).collect()
}

/// Compiled effective mappings, by environment version and account version, so an
/// override is compiled once per change, never per call. Bounded: cleared when full.
#[derive(Default)]
pub struct OverrideCache {
    environments: Mutex<HashMap<String, (i64, EnvironmentRows)>>,
    mappings: Mutex<HashMap<String, Option<Arc<UnifiedMapping>>>>,
}

const CACHED_MAPPINGS: usize = 10_000;

impl OverrideCache {
    /// Forgets every compiled mapping (the catalog they were built on was replaced).
    pub fn clear(&self) {
        self.mappings.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The environment's rows at `version`, if cached.
    pub fn environment(&self, environment_id: &str, version: i64) -> Option<Arc<Vec<MappingOverrideRecord>>> {
        let cache = self.environments.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(environment_id)
            .filter(|(v, _)| *v == version)
            .map(|(_, rows)| rows.clone())
    }

    pub fn put_environment(&self, environment_id: &str, version: i64, rows: Arc<Vec<MappingOverrideRecord>>) {
        let mut cache = self.environments.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_MAPPINGS {
            cache.clear();
        }
        cache.insert(environment_id.to_string(), (version, rows));
    }

    /// The effective mapping of one method for these overrides: `base` itself when no layer
    /// touches the method, `None` when neither the catalog nor an override maps it.
    pub fn mapping(
        &self,
        overrides: &AccountOverrides,
        integration: &Integration,
        model: &str,
        resource: &str,
        method: &str,
    ) -> Result<Option<Arc<UnifiedMapping>>, OverrideError> {
        let base = integration.unified_or_custom(model, resource, method);
        let layers = overrides.layers(integration.name(), model, resource, method);
        if layers.is_empty() {
            return Ok(base.cloned());
        }
        let key = format!(
            "{}\u{1}{}\u{1}{}\u{1}{}\u{1}{}\u{1}{model}\u{1}{resource}\u{1}{method}",
            overrides.environment_id,
            overrides.environment_version,
            overrides.account_id,
            overrides.account_version.timestamp_micros(),
            integration.name(),
        );
        if let Some(found) = self.mappings.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let built = effective(integration, base.map(Arc::as_ref), &layers)?.map(|(m, _)| Arc::new(m));
        let mut cache = self.mappings.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED_MAPPINGS {
            cache.clear();
        }
        cache.insert(key, built.clone());
        Ok(built)
    }
}

/// Which layers set each key of an effective mapping, bottom first.
pub type Provenance = IndexMap<String, Vec<Layer>>;

/// The mapping `layers` make of `base` (the catalog's, if the integration maps the
/// method), and where each key came from; `None` if there is no base and no layer names a
/// raw resource.
pub fn effective(
    integration: &Integration,
    base: Option<&UnifiedMapping>,
    layers: &[(Layer, &Map<String, Value>)],
) -> Result<Option<(UnifiedMapping, Provenance)>, OverrideError> {
    let mut provenance = Provenance::new();
    let mut mapping = match base {
        Some(b) => {
            provenance.insert("resource".into(), vec![Layer::Catalog]);
            for (name, present) in [
                ("response_mapping", b.response_mapping.is_some()),
                ("query_mapping", b.query_mapping.is_some()),
                ("request_body_mapping", b.request_body_mapping.is_some()),
                ("query_params", !b.query_params.is_empty()),
                ("filters", !b.provider_filters.is_empty()),
                ("unsupported_fields", !b.unsupported_fields.is_empty()),
                ("partial", b.partial),
            ] {
                if present {
                    provenance.insert(name.into(), vec![Layer::Catalog]);
                }
            }
            b.clone()
        }
        None => {
            let Some(name) = layers.iter().rev().find_map(|(_, m)| m.get("resource")?.as_str()) else {
                return Ok(None);
            };
            let raw = integration.resources.get(name).cloned().ok_or_else(|| OverrideError {
                key: "resource".into(),
                message: format!(
                    "`{name}` is not a resource method of integration `{}`",
                    integration.name()
                ),
            })?;
            UnifiedMapping::raw(raw)
        }
    };
    for (layer, config) in layers {
        for (k, v) in config.iter() {
            if v.is_null() {
                continue;
            }
            let invalid = |message: String| OverrideError {
                key: k.clone(),
                message,
            };
            match k.as_str() {
                "response_mapping" | "query_mapping" | "request_body_mapping" => {
                    let src = v.as_str().ok_or_else(|| invalid("must be a string".into()))?;
                    let slot = match k.as_str() {
                        "response_mapping" => &mut mapping.response_mapping,
                        "query_mapping" => &mut mapping.query_mapping,
                        _ => &mut mapping.request_body_mapping,
                    };
                    let upper = Expr::compile(src).map_err(|e| invalid(e.to_string()))?;
                    *slot = Some(match slot.as_ref() {
                        Some(lower) => Expr::layered(lower, &upper).map_err(|e| invalid(e.to_string()))?,
                        None => upper,
                    });
                }
                "resource" => {
                    let name = v.as_str().ok_or_else(|| invalid("must be a string".into()))?;
                    mapping.resource = integration
                        .resources
                        .get(name)
                        .cloned()
                        .ok_or_else(|| invalid(format!("`{name}` is not a resource method of this integration")))?;
                }
                "filters" => {
                    mapping.provider_filters = serde_json::from_value(v.clone()).map_err(|e| invalid(e.to_string()))?;
                }
                "unsupported_fields" => {
                    mapping.unsupported_fields =
                        serde_json::from_value(v.clone()).map_err(|e| invalid(e.to_string()))?;
                }
                "partial" => mapping.partial = v.as_bool().ok_or_else(|| invalid("must be a boolean".into()))?,
                "query_params" => {
                    let params: IndexMap<String, QueryParamConfig> =
                        serde_json::from_value(v.clone()).map_err(|e| invalid(e.to_string()))?;
                    mapping.query_params.extend(params);
                }
                _ => return Err(invalid("is not a key an override may set".into())),
            }
            provenance.entry(k.clone()).or_default().push(*layer);
        }
    }
    Ok(Some((mapping, provenance)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// `upper` over `lower`, evaluated on `input` both ways: each layer apart and merged
    /// (what calls run), and the combined JSONata source (the reference); they must agree.
    fn layered(lower: &str, upper: &str, input: &Value) -> Option<Value> {
        let e = Expr::layered(&Expr::compile(lower).unwrap(), &Expr::compile(upper).unwrap()).unwrap();
        let out = e.eval(input).unwrap();
        assert_eq!(out, e.eval_reference(input).unwrap(), "{lower} / {upper} on {input}");
        let fields = e
            .eval_fields(input.as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v)))
            .unwrap();
        assert_eq!(out, fields);
        out
    }

    #[test]
    fn a_layer_adds_and_replaces_keys_of_the_lower_result() {
        let out = layered(
            r#"{"id": response.id, "name": response.name}"#,
            r#"{"name": $uppercase(response.name), "dob": response.dob}"#,
            &json!({"response": {"id": 1, "name": "ada", "dob": "1815-12-10"}}),
        );
        assert_eq!(out, Some(json!({"id": 1, "name": "ADA", "dob": "1815-12-10"})));
        // The replaced key keeps its place, as `$merge` keeps it.
        let keys: Vec<String> = out.unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["id", "name", "dob"]);
    }

    #[test]
    fn an_undefined_layer_keeps_the_lower_result_and_a_scalar_replaces_it() {
        let input = json!({"response": {}});
        assert_eq!(
            layered(r#"{"a": 1}"#, "response.missing", &input),
            Some(json!({"a": 1}))
        );
        assert_eq!(layered(r#"{"a": 1}"#, r#""x""#, &input), Some(json!("x")));
        assert_eq!(layered(r#"{"a": 1}"#, "null", &input), Some(json!(null)));
        assert_eq!(
            layered("response.missing", r#"{"b": 2}"#, &input),
            Some(json!({"b": 2}))
        );
        assert_eq!(layered("response.missing", "response.none", &input), None);
        assert_eq!(layered(r#"[1, 2]"#, r#"{"b": 2}"#, &input), Some(json!({"b": 2})));
    }

    #[test]
    fn three_layers_merge_bottom_up_and_each_keeps_its_direct_form() {
        let catalog = Expr::compile(r#"{"id": response.id, "name": response.name}"#).unwrap();
        let env = Expr::compile(r#"{"name": $uppercase(response.name)}"#).unwrap();
        let account = Expr::compile(r#"{"title": response.title}"#).unwrap();
        let e = Expr::layered(&Expr::layered(&catalog, &env).unwrap(), &account).unwrap();
        let input = json!({"response": {"id": 1, "name": "ada", "title": "Countess"}});
        let out = e.eval(&input).unwrap();
        assert_eq!(out, Some(json!({"id": 1, "name": "ADA", "title": "Countess"})));
        assert_eq!(out, e.eval_reference(&input).unwrap());
        assert_eq!(e.is_fast(), catalog.is_fast() && env.is_fast() && account.is_fast());
    }

    #[test]
    fn a_merge_patch_merges_objects_and_null_removes() {
        let mut doc = json!({"m": {"users": {"get": {"response_mapping": "a"}, "list": {"x": 1}}}});
        merge_patch(&mut doc, &json!({"m": {"users": {"get": null, "list": {"y": 2}}}}));
        assert_eq!(doc, json!({"m": {"users": {"list": {"x": 1, "y": 2}}}}));
        merge_patch(&mut doc, &json!({"m": {"users": {"list": null}}}));
        assert!(prune_empty(&mut doc), "{doc}");
    }

    #[test]
    fn variables_of_one_layer_do_not_leak_into_the_other() {
        let out = layered(r#"($v := 1; {"a": $v})"#, r#"{"b": $v}"#, &json!({}));
        assert_eq!(out, Some(json!({"a": 1})));
    }
}
