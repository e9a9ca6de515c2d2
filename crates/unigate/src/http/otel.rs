//! The span of an incoming call for OpenTelemetry traces (docs/traces.md): named after the
//! method and the route template (`GET /unified/{model}/{resource}/{id}`), a child of the
//! caller's W3C `traceparent` when it sent one. The trace headers are read here only: no
//! propagator is installed, so nothing ever writes them onto a provider request.
//!
//! Installed by `http::service` only when `traces.otlp_endpoint` is set; the spans below it
//! (target `unigate_otel`) are then disabled at their call sites when traces are off.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::TextMapPropagator as _;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Runs the call inside its span; the answer's status is recorded on it.
pub async fn layer(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    // The route template only: never the path (a connect page's has its link token) nor the
    // query (an OAuth code).
    let span = tracing::info_span!(
        target: "unigate_otel",
        "request",
        otel.name = %format_args!("{} {}", req.method(), route.unwrap_or("(no route)")),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %req.method(),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    );
    if span.is_disabled() {
        return next.run(req).await;
    }
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(req.headers()));
    // An absent or malformed `traceparent` gives an empty context: the span starts a trace.
    let _ = span.set_parent(parent);
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
