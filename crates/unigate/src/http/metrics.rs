//! `GET /metrics` (Prometheus), and the middleware that counts admin and meta calls (the
//! unified and proxy calls are counted by the request log's, which sees them already).
//!
//! On the main listener the scrape needs an API token with the `admin` scope; on
//! `metrics_listen` ([`scrape_router`]) it needs none, that address being the operator's
//! private one. The families are defined in [`crate::metrics`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::Env;
use crate::error::ApiError;
use crate::metrics::{Api, PoolUse};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// The router of `metrics_listen`: `GET /metrics` alone, without a token.
pub fn scrape_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<AppState>| async move { render(&state).await }),
        )
        .fallback(|| async { ApiError::not_found("This address serves `GET /metrics` only.") })
        .with_state(state)
}

async fn scrape(State(state): State<AppState>, env: Env) -> Result<Response, ApiError> {
    env.require_admin("Reading metrics")?;
    Ok(render(&state).await)
}

/// Samples what is read at scrape time (queues, pool, outbox), then encodes every family.
async fn render(state: &AppState) -> Response {
    let metrics = &state.metrics;
    metrics.set_request_log(state.request_log.queue_depth(), state.request_log.dropped());
    let pool = state.store.pool_use();
    metrics.set_pool(PoolUse {
        backend: pool.backend,
        in_use: pool.in_use,
        idle: pool.idle,
        max: pool.max,
    });
    if let Some(cache) = state.store.account_cache() {
        metrics.set_account_cache(cache.live, cache.entries, cache.hits, cache.misses);
    }
    match state.store.pending_deliveries().await {
        Ok(n) => metrics.set_webhook_outbox(n),
        // The last value stays; the scrape still answers.
        Err(e) => tracing::warn!(error = %e, "the webhook outbox could not be counted for metrics"),
    }
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], metrics.encode()).into_response()
}

/// Counts an admin or meta call: the API, the route's first segment as its resource (a
/// route template, so bounded), the method and the status class.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let resource = route
        .as_ref()
        .and_then(|p| p.as_str().trim_start_matches('/').split('/').next())
        .unwrap_or(crate::metrics::UNKNOWN);
    let api = match resource {
        "health" | "ready" | "ping" | "metrics" | "openapi.json" | "docs" => Api::Meta,
        "mcp" => Api::Mcp,
        _ => Api::Admin,
    };
    state.metrics.record_call(
        api,
        None,
        Some(resource),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
