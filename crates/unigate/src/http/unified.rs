//! `/unified/{category}/{resource}[/{id}]`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::parse_call;
use crate::auth::Env;
use crate::catalog::types::UnifiedMethod;
use crate::error::ApiError;
use crate::state::AppState;
use crate::unified::{handle, UnifiedRequest};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/unified/{category}/{resource}", get(list).post(create))
        .route(
            "/unified/{category}/{resource}/{id}",
            get(get_one).patch(update).put(update).delete(delete).post(custom),
        )
}

async fn run(
    state: AppState,
    env: Env,
    (category, resource, id): (String, String, Option<String>),
    method: UnifiedMethod,
    query: Option<String>,
    body: Option<Result<Bytes, BytesRejection>>,
) -> Result<Response, ApiError> {
    let (query, body) = parse_call(query, body)?;
    let req = UnifiedRequest {
        category,
        resource,
        method,
        custom: None,
        id,
        query,
        body,
    };
    handle(&state, &env.id, req).await
}

async fn list(
    State(s): State<AppState>,
    env: Env,
    Path((c, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, None), UnifiedMethod::List, q, None).await
}

async fn create(
    State(s): State<AppState>,
    env: Env,
    Path((c, r)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, None), UnifiedMethod::Create, q, Some(body)).await
}

async fn get_one(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Get, q, None).await
}

async fn update(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Update, q, Some(body)).await
}

async fn delete(
    State(s): State<AppState>,
    env: Env,
    Path((c, r, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, (c, r, Some(id)), UnifiedMethod::Delete, q, None).await
}

/// `POST /unified/{category}/{resource}/{method}`: a custom method (a group's `add-user`).
async fn custom(
    State(s): State<AppState>,
    env: Env,
    Path((category, resource, name)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (query, body) = parse_call(q, Some(body))?;
    let req = UnifiedRequest {
        category,
        resource,
        method: UnifiedMethod::Create,
        custom: Some(name),
        id: None,
        query,
        body,
    };
    handle(&s, &env.id, req).await
}
