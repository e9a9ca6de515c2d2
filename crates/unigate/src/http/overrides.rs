//! Mapping overrides through the admin API, on Truto's paths: an environment's, one row per
//! (unified model, resource, integration, method) at `/environment-unified-model-resource-method`,
//! the same rows grouped by model at `/environment-unified-model`, and the effective
//! mapping of one method at `/unified/{model}/{resource}/{integration}/meta/{method}`.
//! An account's overrides are a field of the account (`http/admin.rs`). What each key does
//! and how layers merge: `catalog::overrides`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::admin::invalid_override;
use super::{object_body, string_field};
use crate::auth::Env;
use crate::catalog::overrides::{self, Layer};
use crate::catalog::{Integration, Model, Registry};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::MappingOverrideRecord;

const ROWS: &str = "/environment-unified-model-resource-method";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(ROWS, get(list).post(create))
        .route(&format!("{ROWS}/{{id}}"), get(get_one).patch(update).delete(delete))
        .route("/environment-unified-model", get(list_models))
        .route("/environment-unified-model/{id}", get(get_model).patch(update_model))
        .route("/unified/{model}/{resource}/{integration}/meta/{method}", get(meta))
}

fn time(t: &chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A row as Truto names its fields. The environment unified model of a row is its model's
/// name: Unigate's models are the catalog's, one per name in every environment.
fn view(r: &MappingOverrideRecord) -> Value {
    json!({
        "id": r.id,
        "environment_id": r.environment_id,
        "environment_unified_model_id": r.model,
        "unified_model_name": r.model,
        "resource_name": r.resource,
        "integration_name": r.integration,
        "method_name": r.method,
        "config": r.config,
        "created_at": time(&r.created_at),
        "updated_at": time(&r.updated_at),
    })
}

fn required(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    string_field(body, key)?.ok_or_else(|| ApiError::bad_request(format!("`{key}` is required.")))
}

fn integration<'a>(registry: &'a Registry, name: &str) -> Result<&'a std::sync::Arc<Integration>, ApiError> {
    registry
        .integration(name)
        .ok_or_else(|| ApiError::unprocessable(format!("There is no integration named `{name}`.")))
}

/// The model a row belongs to: named by `environment_unified_model_id` or
/// `unified_model_name`, or else the one model that has the resource.
fn model_of<'a>(registry: &'a Registry, body: &Map<String, Value>, resource: &str) -> Result<&'a Model, ApiError> {
    for key in ["environment_unified_model_id", "unified_model_name"] {
        if let Some(name) = body.get(key).and_then(Value::as_str) {
            return registry.model(name).ok_or_else(|| {
                ApiError::unprocessable(format!("There is no unified model named `{name}` (`{key}`)."))
            });
        }
    }
    let mut having = registry.models.values().filter(|m| m.resource(resource).is_some());
    match (having.next(), having.next()) {
        (Some(m), None) => Ok(m),
        (None, _) => Err(ApiError::unprocessable(format!(
            "No unified model has a resource `{resource}`."
        ))),
        (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
            "Several unified models have a resource `{resource}`: name one with `environment_unified_model_id`."
        ))),
    }
}

/// 422 unless `config` checks for this integration, model, resource and method.
fn check(
    integration: &Integration,
    model: &Model,
    resource: &str,
    method: &str,
    config: &Value,
) -> Result<(), ApiError> {
    let errors = overrides::check_config(integration, model, resource, method, config, "config");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(invalid_override(&errors))
    }
}

async fn create(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    env.require_admin("Changing an environment's mapping overrides")?;
    let body = object_body(body)?;
    let resource = required(&body, "resource_name")?;
    let integration_name = required(&body, "integration_name")?;
    let method = required(&body, "method_name")?;
    let config = match body.get("config") {
        Some(c @ Value::Object(_)) => c.clone(),
        None => return Err(ApiError::bad_request("`config` is required.")),
        Some(_) => return Err(ApiError::bad_request("`config` must be a JSON object.")),
    };
    let registry = state.registry();
    let model = model_of(&registry, &body, &resource)?;
    let integration = integration(&registry, &integration_name)?;
    check(integration, model, &resource, &method, &config)?;
    let now = Utc::now();
    let record = MappingOverrideRecord {
        id: uuid::Uuid::new_v4().to_string(),
        environment_id: env.id.clone(),
        model: model.config.name.clone(),
        resource,
        integration: integration_name,
        method,
        config,
        created_at: now,
        updated_at: now,
    };
    let events = model_event(&state, &env, model, &record.id, Some(&record)).await?;
    if !state.store.insert_mapping_override(&record, &events).await? {
        let existing = state
            .store
            .list_mapping_overrides(&env.id)
            .await?
            .into_iter()
            .find(|r| {
                (&r.model, &r.resource, &r.integration, &r.method)
                    == (&record.model, &record.resource, &record.integration, &record.method)
            });
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "This environment already overrides `{}` on {}/{} for `{}`: change that override (PATCH) instead.",
                record.method, record.model, record.resource, record.integration
            ),
        )
        .with_details(json!({ "id": existing.map(|r| r.id) })));
    }
    tracing::info!(override_id = %record.id, integration = %record.integration, resource = %record.resource,
        method = %record.method, "environment mapping override created");
    state.webhooks.poke();
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// The environment's rows, filtered by Truto's field names, oldest first, a page at a time
/// (`limit`, default 100, and the signed `next_cursor`, as `GET /webhook`).
///
/// Paged here rather than in the store: an environment has at most one row per overridden
/// method of the catalog, so reading them all is cheap, and the filters stay in one place.
async fn list(
    State(state): State<AppState>,
    env: Env,
    Query(filter): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut paging: Map<String, Value> = ["limit", "next_cursor"]
        .into_iter()
        .filter_map(|k| filter.get(k).map(|v| (k.to_string(), Value::String(v.clone()))))
        .collect();
    let limit = super::webhooks::page_limit(&mut paging)?;
    let scope = format!("overrides:{}", env.id);
    let after = super::webhooks::position(&state, &scope, &mut paging)?;
    let mut rows = state.store.list_mapping_overrides(&env.id).await?;
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let keep = |r: &MappingOverrideRecord| {
        [
            ("integration_name", &r.integration),
            ("resource_name", &r.resource),
            ("method_name", &r.method),
            ("environment_unified_model_id", &r.model),
            ("unified_model_name", &r.model),
            ("id", &r.id),
        ]
        .iter()
        .all(|(k, v)| filter.get(*k).is_none_or(|want| want == *v))
    };
    let after = |r: &MappingOverrideRecord| {
        after
            .as_ref()
            .is_none_or(|p| (r.created_at, r.id.as_str()) > (p.created_at, p.id.as_str()))
    };
    let mut page: Vec<&MappingOverrideRecord> = rows.iter().filter(|r| keep(r) && after(r)).collect();
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = super::webhooks::next_cursor(
        &state,
        &scope,
        page.last().filter(|_| more).map(|r| (&r.created_at, r.id.as_str())),
    );
    let result: Vec<Value> = page.into_iter().map(view).collect();
    Ok(Json(json!({ "result": result, "next_cursor": next, "limit": limit })))
}

async fn find(state: &AppState, env: &Env, id: &str) -> Result<MappingOverrideRecord, ApiError> {
    state
        .store
        .get_mapping_override(&env.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Environment unified model resource method `{id}` not found.")))
}

async fn get_one(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&find(&state, &env, &id).await?)))
}

/// `{config}` deep-merges into the stored config (`null` removes a key); the result is
/// checked whole before it is written.
async fn update(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Changing an environment's mapping overrides")?;
    let body = object_body(body)?;
    let mut record = find(&state, &env, &id).await?;
    for key in [
        "resource_name",
        "integration_name",
        "method_name",
        "environment_unified_model_id",
    ] {
        if body.get(key).is_some_and(|v| v.as_str() != Some(field(&record, key))) {
            return Err(ApiError::bad_request(format!(
                "`{key}` of an override cannot change: delete it and create another."
            )));
        }
    }
    let patch = match body.get("config") {
        Some(c @ Value::Object(_)) => c,
        None => return Ok(Json(view(&record))),
        Some(_) => return Err(ApiError::bad_request("`config` must be a JSON object.")),
    };
    overrides::merge_patch(&mut record.config, patch);
    let registry = state.registry();
    let model = registry
        .model(&record.model)
        .ok_or_else(|| ApiError::unprocessable(format!("There is no unified model named `{}`.", record.model)))?;
    check(
        integration(&registry, &record.integration)?,
        model,
        &record.resource,
        &record.method,
        &record.config,
    )?;
    record.updated_at = Utc::now();
    let events = model_event(&state, &env, model, &record.id, Some(&record)).await?;
    if !state.store.update_mapping_override(&record, &events).await? {
        return Err(ApiError::not_found(format!(
            "Environment unified model resource method `{id}` not found."
        )));
    }
    tracing::info!(override_id = %id, "environment mapping override changed");
    state.webhooks.poke();
    Ok(Json(view(&record)))
}

fn field<'a>(r: &'a MappingOverrideRecord, key: &str) -> &'a str {
    match key {
        "resource_name" => &r.resource,
        "integration_name" => &r.integration,
        "method_name" => &r.method,
        _ => &r.model,
    }
}

async fn delete(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Changing an environment's mapping overrides")?;
    let Some(existing) = state.store.get_mapping_override(&env.id, &id).await? else {
        return Err(ApiError::not_found(format!(
            "Environment unified model resource method `{id}` not found."
        )));
    };
    let registry = state.registry();
    let events = match registry.model(&existing.model) {
        Some(model) => model_event(&state, &env, model, &id, None).await?,
        None => Vec::new(),
    };
    if !state.store.delete_mapping_override(&env.id, &id, &events).await? {
        return Err(ApiError::not_found(format!(
            "Environment unified model resource method `{id}` not found."
        )));
    }
    tracing::info!(override_id = %id, "environment mapping override deleted");
    state.webhooks.poke();
    Ok(Json(json!({ "id": id })))
}

/// `environment_unified_model:updated` with the model as it is once `rows` (the
/// environment's override rows) are changed by `change`: `Some(row)` written, `None` for the
/// row `id` removed.
async fn model_event(
    state: &AppState,
    env: &Env,
    model: &Model,
    id: &str,
    change: Option<&MappingOverrideRecord>,
) -> Result<Vec<crate::store::NewEvent>, ApiError> {
    let mut rows = state.store.list_mapping_overrides(&env.id).await?;
    rows.retain(|r| r.id != id);
    rows.extend(change.cloned());
    let view = model_view(env, model, &rows);
    Ok(vec![crate::webhooks::event(
        &env.id,
        "environment_unified_model:updated",
        view,
        &model.config.name,
    )])
}

/// A model as installed in the environment, Truto's shape: its overrides grouped as
/// `override.resources.<resource>.integration_mapping.<integration>.<method>`.
fn model_view(env: &Env, model: &Model, rows: &[MappingOverrideRecord]) -> Value {
    let mut resources = Map::new();
    for r in rows.iter().filter(|r| r.model == model.config.name) {
        let entry = resources
            .entry(r.resource.clone())
            .or_insert_with(|| json!({ "integration_mapping": {} }));
        if let Some(m) = entry["integration_mapping"].as_object_mut() {
            m.entry(r.integration.clone()).or_insert_with(|| json!({}))[r.method.as_str()] = r.config.clone();
        }
    }
    let mine = rows.iter().filter(|r| r.model == model.config.name);
    json!({
        "id": model.config.name,
        "unified_model_id": model.config.name,
        "environment_id": env.id,
        "override": { "resources": resources },
        "created_at": mine.clone().map(|r| r.created_at).min().map(|t| time(&t)),
        "updated_at": mine.map(|r| r.updated_at).max().map(|t| time(&t)),
        "unified_model": { "name": model.config.name, "label": model.config.label, "description": model.config.description },
    })
}

async fn list_models(State(state): State<AppState>, env: Env) -> Result<Json<Value>, ApiError> {
    let rows = state.store.list_mapping_overrides(&env.id).await?;
    let result: Vec<Value> = state
        .registry()
        .models
        .values()
        .map(|m| model_view(&env, m, &rows))
        .collect();
    Ok(Json(json!({ "result": result, "next_cursor": null })))
}

async fn get_model(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let registry = state.registry();
    let model = registry
        .model(&id)
        .ok_or_else(|| ApiError::not_found(format!("Environment unified model `{id}` not found.")))?;
    let rows = state.store.list_mapping_overrides(&env.id).await?;
    Ok(Json(model_view(&env, model, &rows)))
}

/// `{override: {resources: {<resource>: {integration_mapping: {<integration>: {<method>:
/// config}}}}}}`: each method's config merges into its row (created if missing; `null`
/// deletes it). Every config is checked before any is written.
async fn update_model(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Changing an environment's mapping overrides")?;
    let body = object_body(body)?;
    let registry = state.registry();
    let model = registry
        .model(&id)
        .ok_or_else(|| ApiError::not_found(format!("Environment unified model `{id}` not found.")))?;
    let resources = match body.get("override").map(|o| o.get("resources")) {
        None | Some(None) => return get_model(State(state), env, Path(id)).await,
        Some(Some(Value::Object(r))) => r.clone(),
        Some(Some(_)) => return Err(ApiError::bad_request("`override.resources` must be a JSON object.")),
    };
    let rows = state.store.list_mapping_overrides(&env.id).await?;
    // (existing row or new one, its new config; None to delete)
    let mut planned: Vec<(Option<MappingOverrideRecord>, MappingOverrideRecord, Option<Value>)> = Vec::new();
    let mut errors = Vec::new();
    let now = Utc::now();
    for (resource, r) in &resources {
        let Some(integrations) = r.get("integration_mapping").and_then(Value::as_object) else {
            return Err(ApiError::bad_request(format!(
                "`override.resources.{resource}.integration_mapping` must be a JSON object."
            )));
        };
        for (integration_name, methods) in integrations {
            let Some(methods) = methods.as_object() else {
                return Err(ApiError::bad_request(format!(
                    "`override.resources.{resource}.integration_mapping.{integration_name}` must be a JSON object."
                )));
            };
            let integration = integration(&registry, integration_name)?;
            for (method, patch) in methods {
                let existing = rows.iter().find(|x| {
                    x.model == model.config.name
                        && &x.resource == resource
                        && &x.integration == integration_name
                        && &x.method == method
                });
                let mut record = existing.cloned().unwrap_or_else(|| MappingOverrideRecord {
                    id: uuid::Uuid::new_v4().to_string(),
                    environment_id: env.id.clone(),
                    model: model.config.name.clone(),
                    resource: resource.clone(),
                    integration: integration_name.clone(),
                    method: method.clone(),
                    config: json!({}),
                    created_at: now,
                    updated_at: now,
                });
                if patch.is_null() {
                    planned.push((existing.cloned(), record, None));
                    continue;
                }
                overrides::merge_patch(&mut record.config, patch);
                let at = format!("override.resources.{resource}.integration_mapping.{integration_name}.{method}");
                errors.extend(overrides::check_config(
                    integration,
                    model,
                    resource,
                    method,
                    &record.config,
                    &at,
                ));
                record.updated_at = now;
                let config = record.config.clone();
                planned.push((existing.cloned(), record, Some(config)));
            }
        }
    }
    if !errors.is_empty() {
        return Err(invalid_override(&errors));
    }
    for (existing, record, config) in planned {
        match (existing, config) {
            (Some(_), None) => {
                let events = model_event(&state, &env, model, &record.id, None).await?;
                state
                    .store
                    .delete_mapping_override(&env.id, &record.id, &events)
                    .await?;
            }
            (None, None) => {}
            (Some(_), Some(_)) => {
                let events = model_event(&state, &env, model, &record.id, Some(&record)).await?;
                state.store.update_mapping_override(&record, &events).await?;
            }
            (None, Some(_)) => {
                let events = model_event(&state, &env, model, &record.id, Some(&record)).await?;
                state.store.insert_mapping_override(&record, &events).await?;
            }
        }
    }
    tracing::info!(model = %id, "environment unified model overrides changed");
    state.webhooks.poke();
    get_model(State(state), env, Path(id)).await
}

#[derive(serde::Deserialize)]
struct MetaQuery {
    integrated_account_id: Option<String>,
}

/// The effective mapping of one method: the catalog's, then the environment's override,
/// then the account's (with `integrated_account_id`), and which layer set each key.
async fn meta(
    State(state): State<AppState>,
    env: Env,
    Path((model_name, resource, integration_name, method)): Path<(String, String, String, String)>,
    Query(q): Query<MetaQuery>,
) -> Result<Json<Value>, ApiError> {
    let registry = state.registry();
    let model = registry
        .model(&model_name)
        .ok_or_else(|| ApiError::not_found(format!("There is no unified model named `{model_name}`.")))?;
    let model_resource = model.resource(&resource).ok_or_else(|| {
        ApiError::not_found(format!(
            "The `{model_name}` unified model has no resource `{resource}`."
        ))
    })?;
    let registry = state.registry();
    let integration = registry
        .integration(&integration_name)
        .ok_or_else(|| ApiError::not_found(format!("There is no integration named `{integration_name}`.")))?;
    let rows = state.store.list_mapping_overrides(&env.id).await?;
    let account = match &q.integrated_account_id {
        None => None,
        Some(id) => {
            let record = state
                .store
                .get_account(&env.id, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("Integrated account `{id}` not found.")))?;
            if record.integration != integration_name {
                return Err(ApiError::bad_request(format!(
                    "Integrated account `{id}` is a `{}` account, not `{integration_name}`.",
                    record.integration
                )));
            }
            Some(record)
        }
    };
    let account_doc = account.and_then(|a| a.unified_model_override);
    let layers = overrides::layers(
        &rows,
        account_doc.as_ref(),
        &integration_name,
        &model_name,
        &resource,
        &method,
    );
    let base = integration.unified_or_custom(&model_name, &resource, &method);
    let built = overrides::effective(integration, base.map(AsRef::as_ref), &layers)
        .map_err(|e| invalid_override(std::slice::from_ref(&e)))?;
    let Some((mapping, provenance)) = built else {
        return Err(ApiError::not_found(format!(
            "The integration `{integration_name}` does not support `{method}` on {model_name}/{resource}."
        )));
    };
    let expr = |e: &Option<crate::mapping::Expr>| e.as_ref().map(|e| e.source().to_string());
    let layer_configs: Vec<Value> = layers
        .iter()
        .map(|(layer, config)| json!({ "layer": layer, "config": config }))
        .collect();
    Ok(Json(json!({
        "integration_name": integration_name,
        "unified_model_name": model_name,
        "resource_name": resource,
        "method": method,
        "config": {
            "resource": mapping.resource.key,
            "response_mapping": expr(&mapping.response_mapping),
            "query_mapping": expr(&mapping.query_mapping),
            "request_body_mapping": expr(&mapping.request_body_mapping),
            "query_params": mapping.query_params,
            "filters": mapping.provider_filters,
            "unsupported_fields": mapping.unsupported_fields,
            "partial": mapping.partial,
        },
        "sources": provenance,
        "overrides": layer_configs,
        "has_catalog_mapping": base.is_some(),
        "schema": model_resource.schema,
        "layers": [Layer::Catalog, Layer::Environment, Layer::Account],
    })))
}
