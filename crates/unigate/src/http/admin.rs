//! The admin API for integrated accounts, on Truto's paths and shapes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::{object_body, string_field};
use crate::accounts;
use crate::auth::Env;
use crate::catalog::overrides;
use crate::error::ApiError;
use crate::pagination::{cursor, PageState};
use crate::state::AppState;
use crate::store::{AccountFilter, AccountPosition, AccountStatus};
use crate::unified::query::parse_brackets;
use crate::webhooks::{self, AccountChange};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/integrated-account", get(list).post(create))
        .route("/integrated-account/{id}", get(get_one).patch(update).delete(delete))
        .route("/integrated-account/refresh-credentials", post(refresh_credentials))
}

/// `POST /integrated-account/refresh-credentials` `{ "id": ... }`: gets a new OAuth access
/// token now (under the same one-refresh-per-account lock as automatic refreshes).
async fn refresh_credentials(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = object_body(body)?;
    let id = match string_field(&body, "id")? {
        Some(id) => id,
        None => {
            string_field(&body, "integrated_account_id")?.ok_or_else(|| ApiError::bad_request("`id` is required."))?
        }
    };
    let record = find(&state, &env, &id).await?;
    let registry = state.registry();
    let integration = registry.integration(&record.integration).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The integration `{}` of this account is no longer in the catalog.",
            record.integration
        ))
    })?;
    let account = accounts::Account::load(&state.keyring, integration, record)?;
    if !state.oauth.can_refresh(integration, &account.context) {
        return Err(ApiError::bad_request(format!(
            "Integrated account `{id}` has no credentials Unigate can refresh (integration `{}` uses {}, or the account has no refresh token).",
            integration.name(),
            serde_json::to_value(integration.config.credentials.format).unwrap_or_default()
        )));
    }
    let fresh = state.oauth.refresh(integration, &account.record, None, true).await?;
    tracing::info!(account_id = %id, "credentials refreshed on request");
    Ok(Json(accounts::view(&state.keyring, &fresh.record, Some(integration))))
}

/// Truto names the integration by `environment_integration_id`; Unigate also takes
/// `integration_name` or `integration` (a name or `{name}`).
fn integration_name(body: &Map<String, Value>) -> Result<String, ApiError> {
    if let Some(n) = string_field(body, "integration_name")? {
        return Ok(n);
    }
    if let Some(n) = string_field(body, "environment_integration_id")? {
        return Ok(n);
    }
    match body.get("integration") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Object(o)) => o
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request("`integration.name` must be a string.")),
        _ => Err(ApiError::bad_request(
            "Name the integration with `integration_name` (or Truto's `environment_integration_id`).",
        )),
    }
}

async fn create(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = object_body(body)?;
    let tenant_id =
        string_field(&body, "tenant_id")?.ok_or_else(|| ApiError::bad_request("`tenant_id` is required."))?;
    let name = integration_name(&body)?;
    let registry = state.registry();
    let integration = registry
        .integration(&name)
        .ok_or_else(|| ApiError::bad_request(format!("There is no integration named `{name}`.")))?;
    let context = match body.get("context") {
        Some(Value::Object(m)) => m.clone(),
        None => Map::new(),
        Some(_) => return Err(ApiError::bad_request("`context` must be a JSON object.")),
    };
    let is_sandbox = body.get("is_sandbox").and_then(Value::as_bool).unwrap_or(false);
    let record = accounts::new_record(&state.keyring, integration, &env.id, &tenant_id, context, is_sandbox)?;
    let view = accounts::view(&state.keyring, &record, Some(integration));
    let events = webhooks::account_events(&record, AccountChange::Created, &view);
    state.store.insert_account_emitting(&record, &events).await?;
    state.webhooks.poke();
    tracing::info!(account_id = %record.id, integration = %record.integration, "integrated account created");
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list(State(state): State<AppState>, env: Env, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let mut q = parse_brackets(q.as_deref().unwrap_or(""))?;
    let mut take = |k: &str| -> Result<Option<String>, ApiError> {
        match q.remove(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_request(format!("`{k}` must be a single value."))),
        }
    };
    let filter = AccountFilter {
        tenant_id: take("tenant_id")?,
        integration: take("integration_name")?,
        status: take("status")?,
        is_sandbox: match take("is_sandbox")?.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(ApiError::bad_request("`is_sandbox` must be `true` or `false`.")),
        },
    };
    let limit = match take("limit")? {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`limit` must be between 1 and {MAX_LIMIT}."
                )))
            }
        },
    };
    let scope = format!("env:{}", env.id);
    let after = match take("next_cursor")? {
        None => None,
        Some(c) => match cursor::decode(&state.keyring, &scope, &c)? {
            PageState::Cursor(pos) => {
                let (ts, id) = pos
                    .split_once('|')
                    .ok_or_else(|| ApiError::bad_request("Invalid `next_cursor`."))?;
                let created_at = chrono::DateTime::parse_from_rfc3339(ts)
                    .map_err(|_| ApiError::bad_request("Invalid `next_cursor`."))?
                    .with_timezone(&Utc);
                Some(AccountPosition {
                    created_at,
                    id: id.to_string(),
                })
            }
            _ => return Err(ApiError::bad_request("Invalid `next_cursor`.")),
        },
    };
    let rows = state
        .store
        .list_accounts(&env.id, &filter, after.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(cursor::encode(
            &state.keyring,
            &scope,
            &PageState::Cursor(format!(
                "{}|{}",
                last.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                last.id
            )),
        )),
        _ => None,
    };
    let result: Vec<Value> = rows
        .iter()
        .map(|r| {
            accounts::view(
                &state.keyring,
                r,
                state.registry().integration(&r.integration).map(|i| &**i),
            )
        })
        .collect();
    Ok(Json(
        json!({ "result": result, "next_cursor": next_cursor, "limit": limit }),
    ))
}

async fn find(state: &AppState, env: &Env, id: &str) -> Result<crate::store::AccountRecord, ApiError> {
    state
        .store
        .get_account(&env.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Integrated account `{id}` not found.")))
}

async fn get_one(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let record = find(&state, &env, &id).await?;
    Ok(Json(accounts::view(
        &state.keyring,
        &record,
        state.registry().integration(&record.integration).map(|i| &**i),
    )))
}

async fn update(
    State(state): State<AppState>,
    env: Env,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = object_body(body)?;
    // Exists, and is this environment's, before anything is locked.
    find(&state, &env, &id).await?;
    // Under the credentials lock: a token refresh cannot interleave with this
    // read-modify-write of the sealed context.
    let oauth = state.oauth.clone();
    oauth.with_lock(&id, apply_update(&state, &env, &id, body)).await
}

async fn apply_update(
    state: &AppState,
    env: &Env,
    id: &str,
    body: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let mut record = find(state, env, id).await?;
    let before = record.status;
    let registry = state.registry();
    let integration = registry.integration(&record.integration).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The integration `{}` of this account is no longer in the catalog.",
            record.integration
        ))
    })?;
    if let Some(t) = string_field(&body, "tenant_id")? {
        record.tenant_id = t;
    }
    if let Some(s) = string_field(&body, "status")? {
        record.status = s.parse().map_err(|_| {
            let names = AccountStatus::ALL.map(AccountStatus::as_str).join(", ");
            ApiError::bad_request(format!("`status` must be one of {names}."))
        })?;
    }
    if body.contains_key("last_error") {
        record.last_error = body.get("last_error").and_then(Value::as_str).map(str::to_string);
    }
    match body.get("context") {
        None => {}
        Some(Value::Object(changes)) => {
            // Merge into the full context (null deletes a key), then split and seal again.
            // Sealed values win over public ones of the same name, as when the account is
            // loaded: a refresh writes `expires_at` sealed, and the public value imported
            // with the account is older.
            let mut full = match &record.context {
                Value::Object(public) => public.clone(),
                _ => Map::new(),
            };
            full.extend(accounts::open_secrets(&state.keyring, &record)?);
            for (k, v) in changes {
                if v.is_null() {
                    full.remove(k);
                } else {
                    full.insert(k.clone(), v.clone());
                }
            }
            accounts::check_required(integration, &full)?;
            let (public, secret) = accounts::split_context(integration, full);
            record.context = Value::Object(public);
            record.secrets = accounts::seal_secrets(&state.keyring, &record.id, &secret);
        }
        Some(_) => return Err(ApiError::bad_request("`context` must be a JSON object.")),
    }
    // Checked whole before anything is written: a bad expression stores nothing.
    let override_change = match body.get("unified_model_override") {
        None => None,
        Some(patch) => {
            let mut doc = record.unified_model_override.clone().unwrap_or_else(|| json!({}));
            if patch.is_null() {
                doc = json!({});
            } else {
                overrides::merge_patch(&mut doc, patch);
            }
            let empty = overrides::prune_empty(&mut doc);
            let errors = overrides::check_account_document(&state.registry(), integration, &doc);
            if !errors.is_empty() {
                return Err(invalid_override(&errors));
            }
            Some((!empty).then_some(doc))
        }
    };
    record.updated_at = Utc::now();
    // Written with the rest of the account, in the transaction of its event, which shows
    // the account as this request leaves it, override included.
    if let Some(doc) = &override_change {
        record.unified_model_override = doc.clone();
    }
    let view = accounts::view(&state.keyring, &record, Some(integration));
    let events = webhooks::account_events(&record, AccountChange::Updated { before }, &view);
    if !state.store.update_account_emitting(&record, &events).await? {
        return Err(ApiError::not_found(format!("Integrated account `{id}` not found.")));
    }
    state.webhooks.poke();
    if override_change.is_some() {
        tracing::info!(account_id = %id, "integrated account mapping overrides changed");
    }
    Ok(Json(view))
}

/// The 422 for an override that does not check: every problem, each at its key.
pub(super) fn invalid_override(errors: &[overrides::OverrideError]) -> ApiError {
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    ApiError::unprocessable(format!("The mapping override is invalid: {}.", list.join("; ")))
        .with_details(json!({ "errors": errors }))
}

async fn delete(State(state): State<AppState>, env: Env, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let record = find(&state, &env, &id).await?;
    let view = accounts::view(
        &state.keyring,
        &record,
        state.registry().integration(&record.integration).map(|i| &**i),
    );
    let events = webhooks::account_events(&record, AccountChange::Deleted, &view);
    if !state.store.delete_account_emitting(&env.id, &id, &events).await? {
        return Err(ApiError::not_found(format!("Integrated account `{id}` not found.")));
    }
    state.webhooks.poke();
    tracing::info!(account_id = %id, "integrated account deleted");
    Ok(Json(json!({ "id": id })))
}
