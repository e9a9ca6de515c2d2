//! The admin API for outbound webhooks, on Truto's paths and shapes (`docs/webhooks.md`):
//! `GET|POST /webhook`, `GET|PATCH|DELETE /webhook/{id}`, `POST /webhook/test`, and
//! Unigate's `POST /webhook/{id}/rotate-secret`, `GET /webhook/{id}/deliveries` and
//! `POST /webhook/{id}/deliveries/{delivery_id}/retry`.
//!
//! Every route needs a token with the `admin` scope and sees only its environment's
//! webhooks. A secret is answered only by the `POST` that makes it (create, rotate).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::auth::Env;
use crate::error::ApiError;
use crate::pagination::{cursor, PageState};
use crate::state::AppState;
use crate::store::{AccountPosition, WebhookRecord};
use crate::unified::query::parse_brackets;
use crate::webhooks::{self, ACCEPTED, ROTATION_OVERLAP, TEST_EVENT};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook", get(list).post(create))
        .route("/webhook/test", post(test))
        .route("/webhook/{id}", get(get_one).patch(update).delete(delete))
        .route("/webhook/{id}/rotate-secret", post(rotate))
        .route("/webhook/{id}/deliveries", get(deliveries))
        .route("/webhook/{id}/deliveries/{delivery_id}/retry", post(retry))
}

/// [`super::object_body`], refusing fields other than `fields`.
fn object_body(body: Result<Bytes, BytesRejection>, fields: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let body = super::object_body(body)?;
    if let Some(other) = body.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown field `{other}`: this endpoint takes {}.",
            fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(body)
}

fn event_types(value: &Value) -> Result<Vec<String>, ApiError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(ApiError::bad_request("`event_types` must be an array of event names.")),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = item
            .as_str()
            .ok_or_else(|| ApiError::bad_request("`event_types` must be an array of event names."))?;
        if !ACCEPTED.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "`{name}` is not an event type; the event types are: {}.",
                ACCEPTED.join(", ")
            ))
            .with_details(json!({ "event_types": ACCEPTED })));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

fn bool_field(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be true or false."))),
    }
}

async fn target_url(state: &AppState, body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("target_url") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let url = state.webhook_targets.check(s.trim()).await?;
            Ok(Some(url.to_string()))
        }
        Some(_) => Err(ApiError::bad_request("`target_url` must be a non-empty string.")),
    }
}

async fn find(state: &AppState, env: &Env, id: &str) -> Result<WebhookRecord, ApiError> {
    state
        .store
        .get_webhook(&env.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("There is no webhook with id `{id}`.")))
}

/// The view with the secret: only in the answer of the request that made it.
fn with_secret(w: &WebhookRecord, secret: String) -> Value {
    let mut view = webhooks::view(w);
    view["secret"] = Value::String(secret);
    view
}

/// `POST /webhook` `{target_url, is_active?, event_types?}`.
async fn create(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    env.require_admin("Creating a webhook")?;
    let body = object_body(body, &["target_url", "is_active", "event_types"])?;
    let target_url = target_url(&state, &body)
        .await?
        .ok_or_else(|| ApiError::bad_request("`target_url` is required: the https:// URL events are sent to."))?;
    let is_active = bool_field(&body, "is_active")?.unwrap_or(true);
    let event_types = event_types(body.get("event_types").unwrap_or(&Value::Null))?;
    let id = uuid::Uuid::new_v4().to_string();
    let secret = webhooks::new_secret();
    let now = Utc::now();
    let record = WebhookRecord {
        secret: webhooks::seal_secret(&state.keyring, &id, &secret),
        id,
        environment_id: env.id.clone(),
        target_url,
        event_types,
        is_active,
        previous_secret: None,
        previous_secret_expires_at: None,
        consecutive_failures: 0,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_webhook(&record).await?;
    tracing::info!(webhook_id = %record.id, "webhook created");
    Ok((StatusCode::CREATED, Json(with_secret(&record, secret))))
}

pub(super) fn page_limit(q: &mut Map<String, Value>) -> Result<u32, ApiError> {
    match q.remove("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(Value::String(s)) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "`limit` must be between 1 and {MAX_LIMIT}."
            ))),
        },
        Some(_) => Err(ApiError::bad_request("`limit` must be a single value.")),
    }
}

pub(super) fn position(
    state: &AppState,
    scope: &str,
    q: &mut Map<String, Value>,
) -> Result<Option<AccountPosition>, ApiError> {
    let Some(c) = q.remove("next_cursor") else {
        return Ok(None);
    };
    let invalid = || ApiError::bad_request("Invalid `next_cursor`.");
    let c = c.as_str().ok_or_else(invalid)?.to_string();
    let PageState::Cursor(pos) = cursor::decode(&state.keyring, scope, &c)? else {
        return Err(invalid());
    };
    let (ts, id) = pos.split_once('|').ok_or_else(invalid)?;
    let created_at = chrono::DateTime::parse_from_rfc3339(ts)
        .map_err(|_| invalid())?
        .with_timezone(&Utc);
    Ok(Some(AccountPosition {
        created_at,
        id: id.to_string(),
    }))
}

pub(super) fn next_cursor(
    state: &AppState,
    scope: &str,
    last: Option<(&chrono::DateTime<Utc>, &str)>,
) -> Option<String> {
    last.map(|(at, id)| {
        cursor::encode(
            &state.keyring,
            scope,
            &PageState::Cursor(format!(
                "{}|{id}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            )),
        )
    })
}

/// `GET /webhook[?limit=&next_cursor=]`: oldest first, as `GET /integrated-account`.
async fn list(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    env.require_admin("Listing webhooks")?;
    let mut q = parse_brackets(q.as_deref().unwrap_or(""))?;
    let limit = page_limit(&mut q)?;
    let scope = format!("webhooks:{}", env.id);
    let after = position(&state, &scope, &mut q)?;
    let rows = state.store.list_webhooks(&env.id, after.as_ref(), limit + 1).await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = next_cursor(
        &state,
        &scope,
        rows.last().filter(|_| more).map(|w| (&w.created_at, w.id.as_str())),
    );
    let result: Vec<Value> = rows.iter().map(webhooks::view).collect();
    Ok(Json(json!({ "result": result, "next_cursor": next, "limit": limit })))
}

async fn get_one(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Reading a webhook")?;
    Ok(Json(webhooks::view(&find(&state, &env, &id).await?)))
}

/// `PATCH /webhook/{id}` `{target_url?, is_active?, event_types?}`; setting `is_active`
/// to true again clears the run of failures that set it inactive.
async fn update(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Updating a webhook")?;
    let body = object_body(body, &["target_url", "is_active", "event_types"])?;
    let mut record = find(&state, &env, &id).await?;
    if let Some(url) = target_url(&state, &body).await? {
        record.target_url = url;
    }
    if let Some(active) = bool_field(&body, "is_active")? {
        if active && !record.is_active {
            record.consecutive_failures = 0;
        }
        record.is_active = active;
    }
    if let Some(types) = body.get("event_types") {
        record.event_types = event_types(types)?;
    }
    record.updated_at = Utc::now();
    if !state.store.update_webhook(&record).await? {
        return Err(ApiError::not_found(format!("There is no webhook with id `{id}`.")));
    }
    Ok(Json(webhooks::view(&record)))
}

async fn delete(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Deleting a webhook")?;
    let record = find(&state, &env, &id).await?;
    if !state.store.delete_webhook(&env.id, &id).await? {
        return Err(ApiError::not_found(format!("There is no webhook with id `{id}`.")));
    }
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(Json(webhooks::view(&record)))
}

/// `POST /webhook/{id}/rotate-secret`: a new secret (answered once); the one before keeps
/// signing alongside it for 24 hours.
async fn rotate(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    env.require_admin("Rotating a webhook's secret")?;
    let mut record = find(&state, &env, &id).await?;
    let secret = webhooks::new_secret();
    let now = Utc::now();
    record.previous_secret = Some(std::mem::replace(
        &mut record.secret,
        webhooks::seal_secret(&state.keyring, &id, &secret),
    ));
    record.previous_secret_expires_at = Some(now + ROTATION_OVERLAP);
    record.updated_at = now;
    if !state.store.update_webhook(&record).await? {
        return Err(ApiError::not_found(format!("There is no webhook with id `{id}`.")));
    }
    tracing::info!(webhook_id = %id, "webhook secret rotated");
    Ok(Json(with_secret(&record, secret)))
}

/// `POST /webhook/test` `{id}`: a `test` event to that webhook (active or not), through the
/// outbox like any event; its delivery shows in `GET /webhook/{id}/deliveries`.
async fn test(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Sending a test event")?;
    let body = object_body(body, &["id"])?;
    let id = match body.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(ApiError::bad_request("`id` is required: the webhook's id.")),
    };
    let record = find(&state, &env, &id).await?;
    let view = webhooks::view(&record);
    let event = webhooks::event(&env.id, TEST_EVENT, json!({ "webhook": view }), &record.id);
    let delivery_id = state.store.enqueue_event_for(&event, &record.id).await?;
    state.webhooks.poke();
    Ok(Json(json!({
        "id": event.id,
        "event": TEST_EVENT,
        "webhook_id": record.id,
        "delivery_id": delivery_id,
    })))
}

/// `GET /webhook/{id}/deliveries[?limit=&next_cursor=]`: newest first, each with its
/// attempts (number, status code, duration, error, time).
async fn deliveries(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    env.require_admin("Listing webhook deliveries")?;
    find(&state, &env, &id).await?;
    let mut q = parse_brackets(q.as_deref().unwrap_or(""))?;
    let limit = page_limit(&mut q)?;
    let scope = format!("webhook-deliveries:{id}");
    let before = position(&state, &scope, &mut q)?;
    let rows = state
        .store
        .list_deliveries(&env.id, &id, before.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let attempts = state.store.list_attempts(&ids).await?;
    let ts = |t: &chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let result: Vec<Value> = rows
        .iter()
        .map(|d| {
            let tries: Vec<Value> = attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .map(|a| {
                    json!({
                        "attempt": a.attempt,
                        "status_code": a.status_code,
                        "duration_ms": a.duration_ms,
                        "error": a.error,
                        "created_at": ts(&a.created_at),
                    })
                })
                .collect();
            json!({
                "id": d.id,
                "webhook_id": d.webhook_id,
                "event_id": d.event_id,
                "event": d.event,
                "status": d.status,
                "attempts": d.attempts,
                "next_attempt_at": (d.status == crate::store::DeliveryStatus::Pending).then(|| ts(&d.next_attempt_at)),
                "attempt_log": tries,
                "created_at": ts(&d.created_at),
                "updated_at": ts(&d.updated_at),
            })
        })
        .collect();
    let next = next_cursor(
        &state,
        &scope,
        rows.last().filter(|_| more).map(|d| (&d.created_at, d.id.as_str())),
    );
    Ok(Json(json!({ "result": result, "next_cursor": next, "limit": limit })))
}

/// `POST /webhook/{id}/deliveries/{delivery_id}/retry`: sends the delivery again now
/// (pending again if it had failed; the same event id).
async fn retry(
    State(state): State<AppState>,
    env: Env,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    env.require_admin("Retrying a webhook delivery")?;
    find(&state, &env, &id).await?;
    if !state.store.retry_delivery(&env.id, &id, &delivery_id).await? {
        return Err(ApiError::not_found(format!(
            "Webhook `{id}` has no delivery with id `{delivery_id}`."
        )));
    }
    state.webhooks.poke();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": delivery_id, "webhook_id": id, "status": "pending" })),
    ))
}
