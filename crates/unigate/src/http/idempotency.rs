//! `Idempotency-Key` on unified and proxy writes: the first answer to a key is stored and
//! replayed for 24 hours, so a client can retry a write without applying it twice. The
//! same key with a different request is a 422; while the first request runs, a 409.
//! Answers of 500 and above are not stored (the key is released), so a failed write can be
//! retried with the same key.
//!
//! With traces on, the key's claim and its finish (or release) are spans of their own
//! (`idempotency.claim`, `idempotency.finish`, target `unigate_otel`): two store writes
//! that every keyed call adds to its time.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use crate::auth::Env;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::IdempotencyBegin;

const HEADER: &str = "idempotency-key";
const TTL_HOURS: i64 = 24;
/// The largest answer stored for replay; larger answers are passed on unstored.
const MAX_STORED_BODY: usize = 4 * 1024 * 1024;

/// Runs `next` under the request's `Idempotency-Key`, when it is a write that has one.
/// Called by the request log's middleware (`request_log::layer`) around the handler rather
/// than being a middleware of its own: every unified `get` paid about 2,400 instructions
/// for the extra layer it passed straight through (bench/ANALYSIS.md, twentieth pass).
pub async fn around(state: &AppState, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || !req.headers().contains_key(HEADER) {
        return next.run(req).await;
    }
    // Boxed: the keyed path's state machine is large, and every call's middleware future
    // would otherwise carry (and move) it.
    match Box::pin(guarded(state.clone(), req, next)).await {
        Ok(r) | Err(r) => r,
    }
}

async fn guarded(state: AppState, req: Request, next: Next) -> Result<Response, Response> {
    let (mut parts, body) = req.into_parts();
    let key = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::bad_request("`Idempotency-Key` must be 1 to 255 visible ASCII characters.").into_response()
        })?;
    let env = Env::from_request_parts(&mut parts, &state)
        .await
        .map_err(IntoResponse::into_response)?;
    let bytes = axum::body::to_bytes(body, state.config.max_request_body_bytes)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.").into_response())?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();

    let store = state.store.clone();
    let span = tracing::info_span!(
        target: "unigate_otel",
        "idempotency.claim",
        unigate.idempotency.outcome = tracing::field::Empty
    );
    let claim = store.idempotency_begin(&env.id, &key, &hash, chrono::Duration::hours(TTL_HOURS));
    // Not wrapped when disabled (traces off): no extra move of the store's future.
    let begin = if span.is_disabled() {
        claim.await
    } else {
        claim.instrument(span.clone()).await
    }
    .map_err(|e| ApiError::from(e).into_response())?;
    span.record(
        "unigate.idempotency.outcome",
        match &begin {
            IdempotencyBegin::Started => "started",
            IdempotencyBegin::Replay { .. } => "replay",
            IdempotencyBegin::Mismatch => "mismatch",
            IdempotencyBegin::InProgress => "in_progress",
        },
    );
    drop(span);
    match begin {
        IdempotencyBegin::Mismatch => Err(ApiError::unprocessable(
            "This Idempotency-Key was already used with a different request.",
        )
        .into_response()),
        IdempotencyBegin::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "A request with this Idempotency-Key is still in progress; retry shortly.",
        )
        .into_response()),
        IdempotencyBegin::Replay {
            status,
            content_type,
            body,
        } => {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct);
            }
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(r)
        }
        IdempotencyBegin::Started => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            if response.status().is_server_error() {
                let _ = finishing(store.idempotency_abort(&env.id, &key), "released").await;
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_STORED_BODY).await else {
                let _ = finishing(store.idempotency_abort(&env.id, &key), "released").await;
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "The answer was too large to record for Idempotency-Key replay.",
                )
                .into_response());
            };
            let content_type = parts
                .headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            if let Err(e) = finishing(
                store.idempotency_finish(&env.id, &key, parts.status.as_u16(), content_type, &bytes),
                "stored",
            )
            .await
            {
                tracing::error!(error = %e, "could not record an idempotent answer");
            }
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
    }
}

/// Runs the store write that ends a key's claim (`outcome`: `stored`, the answer recorded for
/// replay; `released`, the key freed for a retry) in the span `idempotency.finish`.
async fn finishing<T>(write: impl std::future::Future<Output = T>, outcome: &'static str) -> T {
    let span = tracing::info_span!(target: "unigate_otel", "idempotency.finish", unigate.idempotency.outcome = outcome);
    if span.is_disabled() {
        return write.await;
    }
    write.instrument(span).await
}
