//! The pipeline of one unified call (and of a Proxy API call, the same pipeline without
//! mappings): resolve the account and its mapping, plan the provider request, call, and
//! shape the answer in the requested format.
//!
//! ```text
//! handle / handle_proxy ─▶ account  (integrated_account_id → integration, fresh credentials)
//!                       ─▶ call     (Call: scopes, query mapping, side loads, one provider
//!                                    exchange with a refresh after a 401)
//!                       ─▶ get | list (+ stream) | write | delete   (one file per method flow)
//!                       ─▶ shape    (response mapping, remote_data from the provider's bytes,
//!                                    formats, exclusions)
//! ```
//!
//! Failures of mappings are classified in [`failure`]: a request-side mapping (query or
//! body) is the catalog's fault or the client's input, a reply-side one the provider's
//! answer not being what the definition expects.

mod account;
mod call;
mod delete;
mod failure;
mod filter;
pub mod format;
mod get;
mod list;
pub mod query;
mod request;
mod shape;
mod stream;
mod write;

use axum::response::Response;
use serde_json::{json, Value};

use crate::catalog::types::UnifiedMethod;
use crate::catalog::{Integration, UnifiedMapping};
use crate::error::ApiError;
use crate::state::AppState;
use call::Call;
use query::ResponseFormat;
pub use request::{ProxyRequest, UnifiedRequest};

pub async fn handle(state: &AppState, environment_id: &str, req: UnifiedRequest) -> Result<Response, ApiError> {
    let registry = state.registry();
    let model = registry
        .model(&req.category)
        .ok_or_else(|| ApiError::not_found(format!("There is no unified model named `{}`.", req.category)))?;
    let resource = model.resource(&req.resource).ok_or_else(|| {
        ApiError::not_found(format!(
            "The `{}` unified model has no resource `{}`.",
            req.category, req.resource
        ))
    })?;
    crate::metrics::note_resource(&req.resource);
    match &req.custom {
        Some(name) if !resource.custom_methods.contains_key(name) => {
            let offered: Vec<&String> = resource.custom_methods.keys().collect();
            return Err(ApiError::method_not_allowed(format!(
                "`{name}` is not a method of {}/{}{}.",
                req.category,
                req.resource,
                if offered.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (its custom methods: {})",
                        offered.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                    )
                }
            ))
            .with_details(json!({ "custom_methods": offered })));
        }
        Some(_) => {}
        None if !resource.methods.contains(&req.method) => {
            return Err(ApiError::method_not_allowed(format!(
                "`{}` is not a method of {}/{}.",
                req.method, req.category, req.resource
            )));
        }
        None => {}
    }
    let (integration, account, mapping) = account::resolve(
        state,
        environment_id,
        &req.query.integrated_account_id,
        |integration, overrides| {
            crate::metrics::note_integration(integration.name());
            let method_name = req.custom.as_deref().unwrap_or(req.method.as_str());
            let mapping = match overrides {
                None => integration
                    .unified_or_custom(&req.category, &req.resource, method_name)
                    .cloned(),
                Some(o) => state
                    .overrides
                    .mapping(o, integration, &req.category, &req.resource, method_name)
                    .map_err(|e| {
                        ApiError::unprocessable(format!(
                            "The mapping override of `{method_name}` on {}/{} for `{}` cannot be applied: {e}.",
                            req.category,
                            req.resource,
                            integration.name()
                        ))
                    })?,
            };
            mapping.ok_or_else(|| unsupported(integration, &req, method_name))
        },
    )
    .await?;
    Box::new(Call::new(state, integration, mapping, account, req)?)
        .run()
        .await
}

/// The 405 for a method the integration does not map, naming the ones it does.
fn unsupported(integration: &Integration, req: &UnifiedRequest, method_name: &str) -> ApiError {
    if req.custom.is_some() {
        let supported = integration.custom_methods(&req.category, &req.resource);
        return ApiError::method_not_allowed(format!(
            "The integration `{}` does not support `{method_name}` on {}/{}{}.",
            integration.name(),
            req.category,
            req.resource,
            if supported.is_empty() {
                String::new()
            } else {
                format!(
                    " (it supports: {})",
                    supported
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ))
        .with_details(json!({
            "integration": integration.name(), "method": method_name, "supported_methods": supported
        }));
    }
    let supported = integration.unified_methods(&req.category, &req.resource);
    ApiError::method_not_allowed(format!(
        "The integration `{}` does not support `{}` on {}/{}.",
        integration.name(),
        req.method,
        req.category,
        req.resource
    ))
    .with_details(json!({
        "integration": integration.name(), "method": req.method, "supported_methods": supported
    }))
}

pub async fn handle_proxy(state: &AppState, environment_id: &str, req: ProxyRequest) -> Result<Response, ApiError> {
    let ProxyRequest {
        resource,
        method,
        id,
        mut query,
        body,
    } = req;
    let key = format!("{resource}.{method}");
    let (integration, account, raw) =
        account::resolve(state, environment_id, &query.integrated_account_id, |integration, _| {
            crate::metrics::note_integration(integration.name());
            let raw = integration.resources.get(&key).cloned();
            if raw.is_some() {
                crate::metrics::note_resource(&resource);
            }
            raw.ok_or_else(|| {
                ApiError::not_found(format!(
                    "The integration `{}` has no resource method `{key}`.",
                    integration.name()
                ))
            })
        })
        .await?;
    // Everything but Unigate's own parameters goes to the provider as sent, then
    // `remote_query[...]` (which wins).
    query.rest.clear();
    let remote = std::mem::take(&mut query.remote_pairs);
    query.remote_pairs = query::passthrough_pairs(&query.raw);
    query.remote_pairs.extend(remote);
    query.format = ResponseFormat::Raw;
    let unified_method = match method.as_str() {
        "list" => UnifiedMethod::List,
        "get" => UnifiedMethod::Get,
        "delete" => UnifiedMethod::Delete,
        "create" => UnifiedMethod::Create,
        _ => UnifiedMethod::Update,
    };
    let writes = matches!(unified_method, UnifiedMethod::Create | UnifiedMethod::Update);
    let body = match body {
        None if writes => Some(Value::Object(serde_json::Map::new())),
        other => other,
    };
    let mapping = std::sync::Arc::new(UnifiedMapping::raw(raw));
    let req = UnifiedRequest {
        category: "proxy".into(),
        resource,
        method: unified_method,
        custom: None,
        id,
        query,
        body,
    };
    Box::new(Call::new(state, integration, mapping, account, req)?)
        .run()
        .await
}
