//! The admin API for environments and API tokens, on Truto's paths and shapes:
//! `GET /environment[/{id}]`, `GET|POST /api-token`, `GET|DELETE /api-token/{id}`.
//!
//! A token sees only its own environment (another one is a 404, as for every resource).
//! Managing tokens needs the `admin` scope (403 otherwise); reading the environment does
//! not. A token's value is shown once, in the answer to the `POST` that made it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::json_body;
use crate::auth::Env;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ApiTokenRecord, Environment, TokenScope};
use crate::tokens::{generate_token, hash_token};
use crate::unified::query::parse_brackets;
use crate::webhooks;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/environment", get(list_environments))
        .route("/environment/{id}", get(get_environment))
        .route("/api-token", get(list_tokens).post(create_token))
        .route("/api-token/{id}", get(get_token).delete(delete_token))
}

fn environment_view(e: &Environment) -> Value {
    // Truto's fields; Unigate has no teams (`team_id` is null) and never renames an
    // environment (`updated_at` is its creation time).
    json!({
        "id": e.id,
        "name": e.name,
        "team_id": null,
        "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "updated_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

fn token_view(t: &ApiTokenRecord) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "scope": t.scope,
        "environment_id": t.environment_id,
        // No users in Unigate: tokens are made by the CLI or by another token.
        "created_by": null,
        "created_at": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "updated_at": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

async fn own_environment(state: &AppState, env: &Env) -> Result<Environment, ApiError> {
    state
        .store
        .get_environment(&env.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("This token's environment no longer exists."))
}

/// `GET /environment`: the token's own environment, as a one-item list.
async fn list_environments(State(state): State<AppState>, env: Env) -> Result<Json<Value>, ApiError> {
    let own = own_environment(&state, &env).await?;
    Ok(Json(
        json!({ "result": [environment_view(&own)], "next_cursor": null, "limit": 1 }),
    ))
}

async fn get_environment(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id != env.id {
        return Err(ApiError::not_found(format!("There is no environment with id `{id}`.")));
    }
    Ok(Json(environment_view(&own_environment(&state, &env).await?)))
}

/// `GET /api-token[?name=]`: the environment's tokens (never their values), oldest first,
/// in one page (an environment has few).
async fn list_tokens(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    env.require_admin("Listing API tokens")?;
    let query = parse_brackets(q.as_deref().unwrap_or(""))?;
    let name = match query.get("name") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("`name` must be a single string.")),
    };
    let tokens = state.store.list_api_tokens(&env.id).await?;
    let result: Vec<Value> = tokens
        .iter()
        .filter(|t| name.as_deref().is_none_or(|n| t.name == n))
        .map(token_view)
        .collect();
    let limit = result.len();
    Ok(Json(json!({ "result": result, "next_cursor": null, "limit": limit })))
}

async fn get_token(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Reading an API token")?;
    let token = state
        .store
        .get_api_token(&env.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("There is no API token with id `{id}`.")))?;
    Ok(Json(token_view(&token)))
}

/// `POST /api-token` `{name, scope?}`: a new token for this environment (`scope` `api` by
/// default), its value in `token`, shown only here.
async fn create_token(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    env.require_admin("Creating an API token")?;
    let body = match json_body(body)? {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(ApiError::bad_request(
                "The body must be a JSON object: `{\"name\": \"...\"}`.",
            ))
        }
    };
    let name = match body.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(ApiError::bad_request("`name` is required: a non-empty string.")),
    };
    let scope = match body.get("scope") {
        None | Some(Value::Null) => TokenScope::Api,
        Some(Value::String(s)) => TokenScope::parse(s)
            .ok_or_else(|| ApiError::bad_request(format!("`scope` is `admin` or `api`, not `{s}`.")))?,
        Some(_) => return Err(ApiError::bad_request("`scope` is `admin` or `api`.")),
    };
    if let Some(other) = body.keys().find(|k| !matches!(k.as_str(), "name" | "scope")) {
        return Err(ApiError::bad_request(format!(
            "Unknown field `{other}`: an API token takes `name` and `scope`."
        )));
    }
    let token = generate_token();
    let emit = |t: &ApiTokenRecord| {
        vec![webhooks::event(
            &t.environment_id,
            "api_token:created",
            token_view(t),
            &t.id,
        )]
    };
    let record = state
        .store
        .create_api_token_emitting(&env.id, &name, &hash_token(&token), scope, &emit)
        .await?;
    state.webhooks.poke();
    tracing::info!(token_id = %record.id, scope = scope.as_str(), "API token created");
    let mut view = token_view(&record);
    view["token"] = Value::String(token);
    Ok((StatusCode::CREATED, Json(view)))
}

/// `DELETE /api-token/{id}`: the token stops working on every instance within the token
/// cache time (one second).
async fn delete_token(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Deleting an API token")?;
    let token = state
        .store
        .get_api_token(&env.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("There is no API token with id `{id}`.")))?;
    let events = [webhooks::event(
        &env.id,
        "api_token:deleted",
        token_view(&token),
        &token.id,
    )];
    if !state.store.delete_api_token_emitting(&env.id, &id, &events).await? {
        return Err(ApiError::not_found(format!("There is no API token with id `{id}`.")));
    }
    state.webhooks.poke();
    tracing::info!(token_id = %id, "API token deleted");
    Ok(Json(token_view(&token)))
}
