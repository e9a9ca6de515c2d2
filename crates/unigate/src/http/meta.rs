//! Health, the unified model and the integration catalog.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::Env;
use indexmap::IndexMap;

use crate::catalog::types::UnifiedMethod;
use crate::catalog::{Integration, Model, Registry};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ping", get(ping))
        .route("/ready", get(ready))
        .route("/unified-model", get(models))
        .route("/unified-model/{name}", get(model))
        .route("/integration", get(integrations))
        .route("/integration/{name}", get(integration))
        .route("/integration/reload", axum::routing::post(reload))
        .route("/openapi.json", get(openapi))
}

/// `GET /openapi.json`: the OpenAPI 3.1 document of the running catalog. Public, like
/// the API description of most services: it holds only what the catalog (itself public,
/// shipped in the binary) says, never an account, token or environment.
async fn openapi(State(state): State<AppState>) -> Response {
    let described = described(&state);
    ([(header::CONTENT_TYPE, "application/json")], described.json.clone()).into_response()
}

/// The OpenAPI document of one catalog and what is made from it (`/docs`'s page, built on
/// first use), kept beside the registry it was built from.
pub(super) struct Described {
    registry: Arc<Registry>,
    pub doc: Value,
    pub json: Bytes,
    pub html: std::sync::OnceLock<Bytes>,
}

/// The running catalog's [`Described`]: built once per catalog, and built again when a
/// reload swaps the registry (compared by pointer; holding the `Arc` keeps the address
/// from being reused). `/openapi.json` and `/docs` read the same one, so the page always
/// shows the document that is served.
pub(super) fn described(state: &AppState) -> Arc<Described> {
    static CACHE: Mutex<Option<Arc<Described>>> = Mutex::new(None);
    let registry = state.registry();
    let cached = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.as_ref().filter(|d| Arc::ptr_eq(&d.registry, &registry)).cloned()
    };
    if let Some(described) = cached {
        return described;
    }
    let doc = crate::catalog::openapi::document(&registry, None);
    let json = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    let described = Arc::new(Described {
        registry,
        doc,
        json,
        html: std::sync::OnceLock::new(),
    });
    *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = Some(described.clone());
    described
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.first_environment().await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// Readiness, for load balancers and orchestrators (no token): 200 when the store answers and
/// a catalog is loaded; 503 once a shutdown has begun (see `shutdown_delay_ms`) or when the
/// store does not answer.
/// `GET /ping`: Truto's, `{"message": "pong"}`; no token needed, nothing checked (see
/// `/health` and `/ready` for that).
async fn ping() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "message": "pong" }))
}

async fn ready(State(state): State<AppState>) -> (axum::http::StatusCode, Json<Value>) {
    use axum::http::StatusCode;
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining", "message": "This instance is shutting down." })),
        );
    }
    match state.store.first_environment().await {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "integrations": state.registry().integrations.len() })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "message": format!("The store does not answer: {e}.") })),
        ),
    }
}

fn model_view(m: &Model) -> Value {
    json!({
        "name": m.config.name,
        "label": m.config.label,
        "description": m.config.description,
        "resources": m.config.resources.iter().map(|(name, r)| (name.clone(), json!({
            "description": r.description,
            "methods": r.methods,
            "schema": r.schema,
            "filters": r.filters,
            "custom_methods": r.custom_methods,
        }))).collect::<serde_json::Map<_, _>>(),
    })
}

async fn models(_env: Env, State(state): State<AppState>) -> Json<Value> {
    let result: Vec<Value> = state.registry().models.values().map(model_view).collect();
    Json(json!({ "result": result, "next_cursor": null }))
}

async fn model(_env: Env, State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    state
        .registry()
        .model(&name)
        .map(|m| Json(model_view(m)))
        .ok_or_else(|| ApiError::not_found(format!("There is no unified model named `{name}`.")))
}

pub fn integration_view(i: &Integration, models: &IndexMap<String, Model>) -> Value {
    let mut unified = serde_json::Map::new();
    let mut query_params = serde_json::Map::new();
    let mut filters = serde_json::Map::new();
    let mut keys: Vec<_> = i.unified.keys().collect();
    keys.sort_by_key(|(c, r, m)| (c.as_str(), r.as_str(), *m as u8));
    for key @ (category, resource, method) in keys {
        let entry = unified.entry(category.clone()).or_insert_with(|| json!({}));
        // The standard methods, then the custom ones (`add-user`).
        let mut methods: Vec<Value> = i
            .unified_methods(category, resource)
            .into_iter()
            .map(|m| json!(m))
            .collect();
        methods.extend(i.custom_methods(category, resource).into_iter().map(|m| json!(m)));
        entry[resource.as_str()] = Value::Array(methods);
        let mapping = &i.unified[key];
        if !mapping.query_params.is_empty() {
            let entry = query_params.entry(category.clone()).or_insert_with(|| json!({}));
            entry[resource.as_str()][method.as_str()] = json!(mapping.query_params);
        }
        // Who applies each of the model's filters to this integration's list.
        let model_filters = models
            .get(category)
            .and_then(|m| m.resource(resource))
            .map(|r| &r.filters);
        if let (UnifiedMethod::List, Some(model_filters)) = (method, model_filters) {
            if !model_filters.is_empty() {
                let by: serde_json::Map<String, Value> = model_filters
                    .keys()
                    .map(|f| {
                        let who = if mapping.provider_filters.contains(f) {
                            "provider"
                        } else {
                            "gateway"
                        };
                        (f.clone(), json!(who))
                    })
                    .collect();
                let entry = filters.entry(category.clone()).or_insert_with(|| json!({}));
                entry[resource.as_str()] = Value::Object(by);
            }
        }
    }
    let mut limit_honoured: Vec<(&str, bool)> = i
        .resources
        .iter()
        .filter(|(key, _)| key.ends_with(".list"))
        .map(|(key, r)| (key.as_str(), r.pagination.honours_limit()))
        .collect();
    limit_honoured.sort();
    let limit_honoured: serde_json::Map<String, Value> = limit_honoured
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::Bool(v)))
        .collect();
    json!({
        "name": i.config.name,
        "label": i.config.label,
        "docs": i.config.docs,
        "base_url": i.config.base_url,
        "credentials": {
            "format": i.config.credentials.format,
            "fields": i.config.credentials.fields,
        },
        "unified": unified,
        // Integration-specific query parameters per unified method (`required` ones must be
        // given), and for each list filter whether the provider or Unigate applies it.
        "query_params": query_params,
        "filters": filters,
        // What a client should know before paging: whether `limit` reaches the provider
        // per raw `list` method, and the per-account request budget.
        "limit_honoured": limit_honoured,
        "request_budget": i.rate_limit.budget.as_ref().map(|b| json!({ "requests": b.requests, "per_ms": b.per_ms })),
    })
}

async fn integrations(_env: Env, State(state): State<AppState>) -> Json<Value> {
    let result: Vec<Value> = state
        .registry()
        .integrations
        .values()
        .map(|i| integration_view(i, &state.registry().models))
        .collect();
    Json(json!({ "result": result, "next_cursor": null }))
}

async fn integration(
    _env: Env,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .registry()
        .integration(&name)
        .map(|i| Json(integration_view(i, &state.registry().models)))
        .ok_or_else(|| ApiError::not_found(format!("There is no integration named `{name}`.")))
}

/// `POST /integration/reload`: builds the catalog again from its files (the built-in one and
/// `--catalog`) and swaps it in; an invalid catalog is a 422 listing every error, and the
/// running one stays.
async fn reload(env: Env, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Reloading the catalog")?;
    let worker = state.clone();
    let reloaded = tokio::task::spawn_blocking(move || worker.reload_catalog())
        .await
        .map_err(ApiError::internal)?;
    match reloaded {
        Ok(registry) => {
            tracing::info!(
                integrations = registry.integrations.len(),
                "catalog reloaded on request"
            );
            Ok(Json(json!({
                "reloaded": true,
                "integrations": registry.integrations.len(),
                "unified_models": registry.models.len(),
            })))
        }
        Err(crate::catalog::LoadError::Invalid(errors)) => {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            Err(ApiError::unprocessable(format!(
                "The catalog is invalid; the running one stays. {}",
                list.join("; ")
            ))
            .with_details(json!({ "errors": list })))
        }
        Err(e) => Err(ApiError::unprocessable(format!(
            "The catalog cannot be read; the running one stays: {e}."
        ))),
    }
}
