//! HTTP routers: the unified API, the admin API (Truto's paths) and meta endpoints.
//! Handlers are thin: they extract, call the layer below, and answer.

pub mod admin;
pub mod connect;
pub mod docs;
pub mod edge;
pub mod idempotency;
pub mod mcp;
pub mod meta;
pub mod metrics;
pub mod otel;
pub mod overrides;
pub mod proxy;
pub mod request_log;
pub mod tokens;
pub mod unified;
pub mod webhooks;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use edge::EdgeListener;

use crate::error::ApiError;
use crate::state::AppState;

/// Every request's service: the routes (with the unified `get` past the router,
/// `unified::Gets`) under the layers every request passes, answering axum `Response`s.
pub fn service(
    state: AppState,
) -> impl tower::Service<
    axum::extract::Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let limit = state.config.max_request_body_bytes;
    let traces = state.config.traces.otlp_endpoint.is_some();
    let routes = Router::new()
        .merge(unified_api(&state))
        .merge(
            request_log::routes()
                .merge(mcp::routes())
                .merge(admin::routes())
                .merge(tokens::routes())
                .merge(webhooks::routes())
                .merge(connect::routes())
                .merge(meta::routes())
                .merge(docs::routes())
                .merge(overrides::routes())
                .merge(metrics::routes())
                // Unified and proxy calls are counted by the request log's middleware (an
                // MCP tool call too, as the unified call it makes).
                .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::layer)),
        )
        .fallback(|| async { ApiError::not_found("No such route.") })
        .method_not_allowed_fallback(|| async {
            ApiError::method_not_allowed("This route does not accept that HTTP method.")
        })
        .with_state(state.clone());
    // The call's span (traces on only, so that a gateway without them pays nothing for the
    // middleware) names the matched route, known inside the router; a panic's 500 is
    // caught inside it too, so that the span sees it.
    let routes = if traces {
        routes
            .layer(catch_panic())
            .layer(axum::middleware::from_fn(otel::layer))
    } else {
        routes
    };
    // Layers wrap the routes once, as one service, rather than through `Router::layer`,
    // which wraps each route in each layer anew: every call then cloned and boxed each of
    // those wrappers (21 boxed services cloned per unified `get`, bench/ANALYSIS.md,
    // twentieth pass). Outermost first. The body limit and the rewriting of axum's
    // rejections concern routed calls only: the direct `get` passes them by (about 1,800
    // instructions a call, twenty-eighth pass).
    let routed = tower::ServiceBuilder::new()
        .layer(axum::middleware::map_response(json_rejections))
        .layer(DefaultBodyLimit::max(limit))
        .service(routes);
    // The unified `get` straight to its handler, unless traces are on (their layer names
    // the route the router matched).
    let routes = unified::Gets::new(state, routed, !traces);
    // What every request passes: a panic's 500.
    tower::ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(catch_panic())
        .service(routes)
}

/// Serves the API on `listener` until `shutdown` completes, then lets calls under way end.
pub async fn serve(
    listener: EdgeListener<tokio::net::TcpListener>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // tower-http's request spans and events are at DEBUG: with logs at a coarser level the
    // layer would only read the clock and build disabled spans on every call, so it is left
    // out (the request log and the metrics time every call anyway).
    if tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG) {
        // The path only: a query string may hold a link token or an OAuth code.
        let router = Router::new().fallback_service(service(state)).layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        );
        axum::serve(listener, router).with_graceful_shutdown(shutdown).await
    } else {
        // The service as it is: a router around it matched every call against no route
        // before its fallback (2,500 instructions a call, bench/ANALYSIS.md, twenty-second
        // pass).
        axum::serve(listener, tower::make::Shared::new(service(state)))
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// A panicking handler's answer: Truto's 500 shape; the panic is logged, never shown.
fn catch_panic() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| -> Response {
        tracing::error!("a request handler panicked");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error. The cause has been logged.",
        )
        .into_response()
    })
}

/// The unified and proxy API with their middleware (the request log, which runs idempotency
/// keys around the handler): what `router` serves, and what an MCP tool call runs through
/// (`mcp.rs`).
pub fn unified_api(state: &AppState) -> Router<AppState> {
    unified::routes()
        .merge(proxy::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), request_log::layer))
}

/// Errors that axum's extractors answer on their own (a path segment that is not UTF-8, a
/// query a typed extractor cannot read) come as plain text; every error of this API has
/// Truto's JSON shape, so they are rewritten into it, their text as the message.
async fn json_rejections(response: Response) -> Response {
    let plain = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = response.status();
    let passed_on = response.extensions().get::<crate::error::ProviderBody>().is_some();
    if !plain || passed_on || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    ApiError::new(status, message).into_response()
}

/// The query string and optional JSON body of a unified or proxy call.
pub fn parse_call(
    query: Option<String>,
    body: Option<Result<Bytes, BytesRejection>>,
) -> Result<(crate::unified::query::UnifiedQuery, Option<Value>), ApiError> {
    let query = crate::unified::query::UnifiedQuery::parse(query.as_deref())?;
    let body = match body {
        Some(b) => json_body(b)?,
        None => None,
    };
    Ok((query, body))
}

/// Reads an optional JSON body with clear errors (empty body = `None`).
/// The request body as a JSON object: a 400 when it is missing or anything else.
pub fn object_body(body: Result<Bytes, BytesRejection>) -> Result<serde_json::Map<String, Value>, ApiError> {
    match json_body(body)? {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::bad_request("The request body must be a JSON object.")),
        None => Err(ApiError::bad_request("This endpoint needs a JSON object body.")),
    }
}

/// A string field of a body: `None` when absent or null, a 400 when empty or not a string.
pub fn string_field(body: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be a non-empty string."))),
    }
}

pub fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Option<Value>, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.")
        } else {
            ApiError::bad_request(format!("Could not read the request body: {e}."))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}.")))
}
