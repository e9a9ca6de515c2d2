//! The Proxy API: `/proxy/{resource}[/{id}]` and `POST /proxy/{resource}/{method}` run the
//! integration's raw resources (auth, pagination, retries, rate limits), without mapping.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::parse_call;
use crate::auth::Env;
use crate::error::ApiError;
use crate::state::AppState;
use crate::unified::{handle_proxy, ProxyRequest};

pub fn routes() -> Router<AppState> {
    Router::new().route("/proxy/{resource}", get(list).post(create)).route(
        "/proxy/{resource}/{id}",
        get(get_one).patch(update).put(update).delete(delete).post(custom),
    )
}

async fn run(
    state: AppState,
    env: Env,
    resource: String,
    method: &str,
    id: Option<String>,
    query: Option<String>,
    body: Option<Result<Bytes, BytesRejection>>,
) -> Result<Response, ApiError> {
    let (query, body) = parse_call(query, body)?;
    let req = ProxyRequest {
        resource,
        method: method.to_string(),
        id,
        query,
        body,
    };
    handle_proxy(&state, &env.id, req).await
}

async fn list(
    State(s): State<AppState>,
    env: Env,
    Path(r): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, r, "list", None, q, None).await
}

async fn create(
    State(s): State<AppState>,
    env: Env,
    Path(r): Path<String>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, r, "create", None, q, Some(body)).await
}

async fn get_one(
    State(s): State<AppState>,
    env: Env,
    Path((r, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, r, "get", Some(id), q, None).await
}

async fn update(
    State(s): State<AppState>,
    env: Env,
    Path((r, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, r, "update", Some(id), q, Some(body)).await
}

async fn delete(
    State(s): State<AppState>,
    env: Env,
    Path((r, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(s, env, r, "delete", Some(id), q, None).await
}

/// `POST /proxy/{resource}/{method}`: a custom method; the second segment names it.
async fn custom(
    State(s): State<AppState>,
    env: Env,
    Path((r, method)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    run(s, env, r, &method, None, q, Some(body)).await
}
