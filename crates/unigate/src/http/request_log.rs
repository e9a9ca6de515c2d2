//! The request log's HTTP side: the middleware that reports each unified or proxy call to
//! the service ([`crate::request_log`]), and `GET /request-log` and Truto's `GET /log`, which
//! read its entries, newest first.

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
    logged(&state, request, |mut request, env| {
        if let Ok(env) = env {
            // The handler's own `Env` extractor finds it here instead of hashing the token
            // again.
            request.extensions_mut().insert(env);
        }
        super::idempotency::around(&state, request, next)
    })
    .await
}

/// The request log's middleware around `inner`, which answers the call given the caller's
/// environment (or why there is none): the routes' layer above, and the unified `get`'s
/// direct path (`super::unified::Gets`), which passes `Idempotency-Key` handling by as that
/// handling passes a `GET` by.
pub(super) async fn logged<F>(
    state: &AppState,
    request: Request,
    inner: impl FnOnce(Request, Result<Env, ApiError>) -> F,
) -> Response
where
    F: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let found = Env::from_request_parts(&mut parts, state).await;
    let env = found.as_ref().ok().map(|env| env.id.clone());
    let http_method = parts.method.clone();
    let method = http_method.as_str().to_owned();
    let path = parts.uri.path().to_string();
    let api = if path.starts_with("/proxy/") {
        Api::Proxy
    } else {
        Api::Unified
    };
    let account = parts.uri.query().and_then(account_param);
    let (response, target) = crate::metrics::scoped(inner(Request::from_parts(parts, body), found)).await;
    let duration = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .record_call(api, Some(&target), None, &http_method, status, duration);
    if let Some(environment_id) = env {
        state.request_log.record(Call {
            environment_id,
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

/// The first `integrated_account_id` of a query string, decoded. Only that pair is decoded
/// (decoding every pair of the query was 2,200 instructions a call), and only when it has
/// an escape or a `+`; unless a name has one, which could spell it: then every pair is.
fn account_param(query: &str) -> Option<String> {
    const NAME: &str = "integrated_account_id";
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if name == NAME {
            // Most values need no decoding: taken as they are (form_urlencoded's decoding
            // of even an unescaped value was 2,200 instructions a call).
            let value = pair.get(NAME.len() + 1..).unwrap_or_default();
            if !value.bytes().any(|b| b == b'%' || b == b'+') {
                return Some(value.to_owned());
            }
            return url::form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(_, v)| v.into_owned());
        }
        if name.bytes().any(|b| b == b'%' || b == b'+') {
            return url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == NAME)
                .map(|(_, v)| v.into_owned());
        }
    }
    None
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/request-log", get(list))
        .route("/log", get(truto_log))
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

/// `limit` (1 to 1000) or `next_cursor`, the paging both lists take.
fn page_param(k: &str, v: &str, limit: &mut u32, before: &mut Option<AccountPosition>) -> Result<(), ApiError> {
    if k == "limit" {
        *limit = v
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("`limit` must be between 1 and 1000."))?;
    } else {
        *before = Some(decode(v).ok_or_else(|| ApiError::bad_request("`next_cursor` is not valid."))?);
    }
    Ok(())
}

/// `GET /request-log?integrated_account_id=&limit=&next_cursor=`.
async fn list(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let mut account = None;
    let mut limit = 100u32;
    let mut before = None;
    for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "integrated_account_id" => account = Some(v.into_owned()),
            "limit" | "next_cursor" => page_param(&k, &v, &mut limit, &mut before)?,
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

/// What a logged path says in Truto's terms: the request type (`unified` or `proxy`), the
/// resource and the unified method. Custom methods (`POST /unified/m/r/{method}`) are named
/// by their last segment.
fn describe(http_method: &str, path: &str) -> (Option<&'static str>, Option<String>, Option<String>) {
    let mut segments = path.trim_start_matches('/').split('/');
    let (kind, resource, rest) = match segments.next() {
        Some("unified") => {
            let _model = segments.next();
            ("unified", segments.next(), segments.next())
        }
        Some("proxy") => ("proxy", segments.next(), segments.next()),
        _ => return (None, None, None),
    };
    let method = match (http_method, rest) {
        ("GET", None) => "list".to_string(),
        ("GET", Some(_)) => "get".to_string(),
        ("POST", None) => "create".to_string(),
        ("POST", Some(custom)) => custom.to_string(),
        ("PATCH" | "PUT", _) => "update".to_string(),
        ("DELETE", _) => "delete".to_string(),
        (other, _) => other.to_ascii_lowercase(),
    };
    (Some(kind), resource.map(str::to_string), Some(method))
}

/// `GET /log?log_type=unified_proxy_api`: Truto's logs list over the same rows as
/// `/request-log`. Takes `limit` (default 100, at most 1000), `next_cursor`,
/// `created_at[gt]` / `created_at[lt]` (RFC 3339), `log_type_filter[request_type]`
/// (`unified` or `proxy`) and `log_type_filter[integrated_account_id]`. Unigate records
/// only unified and proxy calls: the other log types Truto has are a 400 saying so.
async fn truto_log(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let mut log_type = None;
    let mut limit = 100u32;
    let mut before = None;
    let mut after = None;
    let mut request_type = None;
    let mut account = None;
    let time = |name: &str, v: &str| {
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be an ISO 8601 date-time, got `{v}`.")))
    };
    for (k, v) in url::form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "log_type" => log_type = Some(v.into_owned()),
            "limit" | "next_cursor" => page_param(&k, &v, &mut limit, &mut before)?,
            "created_at[lt]" => {
                // Rows strictly before the time: the keyset position (lt, "") excludes it.
                let lt = time("created_at[lt]", &v)?;
                if before.is_none() {
                    before = Some(AccountPosition {
                        created_at: lt,
                        id: String::new(),
                    });
                }
            }
            "created_at[gt]" => after = Some(time("created_at[gt]", &v)?),
            "log_type_filter[request_type]" => match v.as_ref() {
                "unified" | "proxy" => request_type = Some(v.into_owned()),
                other => {
                    return Err(ApiError::bad_request(format!(
                        "`log_type_filter[request_type]` must be `unified` or `proxy`, got `{other}`."
                    )))
                }
            },
            "log_type_filter[integrated_account_id]" => account = Some(v.into_owned()),
            other => return Err(ApiError::bad_request(format!("Unknown query parameter `{other}`."))),
        }
    }
    match log_type.as_deref() {
        Some("unified_proxy_api") => {}
        None => {
            return Err(ApiError::bad_request(
                "`log_type` is required: Unigate records `unified_proxy_api`.",
            ))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`log_type` `{other}` is not recorded by Unigate: only `unified_proxy_api` is (webhook sends are listed by `GET /webhook/{{id}}/deliveries`)."
            )))
        }
    }
    let rows = state
        .store
        .list_request_logs(&env.id, account.as_deref(), before.as_ref(), limit + 1)
        .await?;
    let mut more = rows.len() > limit as usize;
    let mut page = &rows[..rows.len().min(limit as usize)];
    if let Some(gt) = after {
        // Newest first: the first row at or before `gt` ends the range.
        if let Some(end) = page.iter().position(|r| r.created_at <= gt) {
            page = &page[..end];
            more = false;
        }
    }
    let next_cursor = if more { page.last().map(encode) } else { None };
    // The integration is the account's; a deleted account's calls have none.
    let mut integrations = std::collections::HashMap::new();
    for id in page.iter().filter_map(|r| r.integrated_account_id.as_deref()) {
        if !integrations.contains_key(id) {
            let found = state.store.get_account(&env.id, id).await?.map(|a| a.integration);
            integrations.insert(id.to_string(), found);
        }
    }
    let result: Vec<Value> = page
        .iter()
        .filter_map(|r| {
            let (kind, resource, method) = describe(&r.method, &r.path);
            if request_type.as_deref().is_some_and(|t| Some(t) != kind) {
                return None;
            }
            let integration = r
                .integrated_account_id
                .as_deref()
                .and_then(|id| integrations.get(id).cloned().flatten());
            Some(json!({
                "_id": r.id,
                "log_type": "unified_proxy_api",
                "timestamp": r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "metadata": {
                    "duration": r.duration_ms,
                    "fetch_duration": null,
                    "message": r.error.clone().unwrap_or_else(|| format!("{} {} answered {}", r.method, r.path, r.status)),
                    "method": method,
                    "resource": resource,
                    "request_type": kind,
                    "environment_id": r.environment_id,
                    "integrated_account_id": r.integrated_account_id,
                    "integration": integration,
                    "status_code": r.status,
                    "http_method": r.method,
                    "path": r.path,
                },
            }))
        })
        .collect();
    Ok(Json(json!({ "result": result, "next_cursor": next_cursor })))
}

#[cfg(test)]
mod tests {
    use super::account_param;

    /// The same answer as decoding every pair and taking the first of that name.
    #[test]
    fn the_account_id_is_read_as_the_whole_query_decoded_gives_it() {
        let whole = |q: &str| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "integrated_account_id")
                .map(|(_, v)| v.into_owned())
        };
        for q in [
            "integrated_account_id=a1",
            "limit=5&integrated_account_id=a%2F1+x&integrated_account_id=second",
            "integrated_account_id",
            "integrated_account_id=",
            "integrated_account_id=a=b&c=d",
            "integrated_account_id=a+b",
            "integrated_account_id=%E2%82%AC",
            "x=1&integrated%5Faccount_id=escaped&integrated_account_id=plain",
            "integrated+account_id=no&integrated_account_id=yes",
            "a=1&&b=2",
            "",
            "remote_query%5Bintegrated_account_id%5D=x",
        ] {
            assert_eq!(account_param(q), whole(q), "{q}");
        }
    }
}
