//! The request log's HTTP side: the middleware that reports each unified or proxy call to
//! the service ([`crate::request_log`]), and `GET /request-log`, which reads its rows,
//! newest first.

use std::time::Instant;

use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{json, Value};

use crate::auth::Env;
use crate::error::{ApiError, ErrorSummary};
use crate::metrics::Api;
use crate::request_log::Call;
use crate::state::AppState;
use crate::store::{AccountPosition, RequestLogRecord};

/// Middleware on the unified and proxy routes: the call's log entry and its metrics.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let env = Env::from_request_parts(&mut parts, &state).await.ok();
    if let Some(env) = &env {
        // The handler's own `Env` extractor finds it here instead of hashing the token again.
        parts.extensions.insert(env.clone());
    }
    let http_method = parts.method.clone();
    let method = http_method.to_string();
    let path = parts.uri.path().to_string();
    let api = if path.starts_with("/proxy/") {
        Api::Proxy
    } else {
        Api::Unified
    };
    let account = parts.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "integrated_account_id")
            .map(|(_, v)| v.into_owned())
    });
    let (response, target) = crate::metrics::scoped(next.run(Request::from_parts(parts, body))).await;
    let duration = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .record_call(api, Some(&target), None, &http_method, status, duration);
    if let Some(env) = env {
        state.request_log.record(Call {
            environment_id: env.id,
            integrated_account_id: account,
            method,
            path,
            status,
            duration,
            error: response.extensions().get::<ErrorSummary>().map(|e| e.0.clone()),
        });
    }
    response
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/request-log", get(list))
}

fn encode(p: &RequestLogRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        p.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        p.id
    ))
}

fn decode(cursor: &str) -> Option<AccountPosition> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (at, id) = text.split_once('|')?;
    Some(AccountPosition {
        created_at: chrono::DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id: id.to_string(),
    })
}

/// `GET /request-log?integrated_account_id=&limit=&next_cursor=`.
async fn list(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let mut account = None;
    let mut limit = 100u32;
    let mut before = None;
    for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "integrated_account_id" => account = Some(v.into_owned()),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::bad_request("`limit` must be between 1 and 1000."))?
            }
            "next_cursor" => {
                before = Some(decode(&v).ok_or_else(|| ApiError::bad_request("`next_cursor` is not valid."))?)
            }
            other => return Err(ApiError::bad_request(format!("Unknown query parameter `{other}`."))),
        }
    }
    let rows = state
        .store
        .list_request_logs(&env.id, account.as_deref(), before.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let page = &rows[..rows.len().min(limit as usize)];
    let next_cursor = if more { page.last().map(encode) } else { None };
    let result: Vec<Value> = page
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "integrated_account_id": r.integrated_account_id,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "duration_ms": r.duration_ms,
                "error": r.error,
                "created_at": r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
        })
        .collect();
    Ok(Json(json!({ "result": result, "next_cursor": next_cursor })))
}
