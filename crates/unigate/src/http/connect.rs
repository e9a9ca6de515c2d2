//! The connect flow, on Truto's model: `POST /link-token` mints a single-use link for one
//! tenant (7 days); `/connect` serves a page where a person picks an integration and either
//! fills in its credential fields or is sent to the provider's consent page;
//! `/connect/oauth/callback` checks `state`, exchanges the code, stores the account and runs
//! the integration's validation request (`credentials.validation`), which marks the account
//! `active` or `validation_error`.
//!
//! The page is one HTML document with its style and script inline: nothing is loaded from a
//! CDN. Its endpoints take the link token instead of an API token. The OAuth `state` is the
//! link token's hash, the integration, the PKCE verifier and an expiry, sealed with the
//! credentials key (AES-256-GCM): tamper-proof, unreadable to the browser and the provider,
//! and valid on any instance.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::json_body;
use crate::accounts::{self, Account};
use crate::auth::Env;
use crate::catalog::types::CredentialFormat;
use crate::catalog::Integration;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AccountRecord, AccountStatus, LinkTokenRecord};
use crate::tokens::{hash_token, random_hex};
use crate::upstream::Outgoing;
use crate::webhooks::{self, AccountChange};

const LINK_TTL_DAYS: i64 = 7;
/// How long a person may take on the provider's consent page.
const STATE_TTL_SECS: i64 = 900;
const STATE_AAD: &[u8] = b"unigate-connect-state";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/link-token", post(create_link_token))
        .route("/connect", get(page))
        .route("/connect/api/session", get(session))
        .route("/connect/api/accounts", post(create_account))
        .route("/connect/oauth/start", get(oauth_start))
        .route("/connect/oauth/callback", get(oauth_callback))
}

/// `POST /link-token` `{ tenant_id, integration?, redirect_uri? }`.
async fn create_link_token(
    State(state): State<AppState>,
    env: Env,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(Value::Object(body)) = json_body(body)? else {
        return Err(ApiError::bad_request("This endpoint needs a JSON object body."));
    };
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!("`{k}` must be a non-empty string."))),
        }
    };
    let tenant_id = text("tenant_id")?.ok_or_else(|| ApiError::bad_request("`tenant_id` is required."))?;
    let integration = match text("integration")?.or(text("integration_name")?) {
        Some(name) if state.registry().integration(&name).is_none() => {
            return Err(ApiError::bad_request(format!(
                "There is no integration named `{name}`."
            )))
        }
        other => other,
    };
    let redirect_uri = text("redirect_uri")?;
    if let Some(r) = &redirect_uri {
        match url::Url::parse(r) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(ApiError::bad_request("`redirect_uri` must be an http(s) URL.")),
        }
    }
    let token = format!("lt_{}", random_hex(32));
    let now = Utc::now();
    let record = LinkTokenRecord {
        token_hash: hash_token(&token),
        environment_id: env.id.clone(),
        tenant_id,
        integration,
        redirect_uri,
        created_at: now,
        expires_at: now + chrono::Duration::days(LINK_TTL_DAYS),
    };
    state.store.insert_link_token(&record).await?;
    let mut url = url::Url::parse(&format!("{}/connect", state.public_url)).map_err(ApiError::internal)?;
    url.query_pairs_mut().append_pair("link_token", &token);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "link_token": token,
            "url": url.to_string(),
            "tenant_id": record.tenant_id,
            "integration": record.integration,
            "redirect_uri": record.redirect_uri,
            "created_at": record.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "expires_at": record.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })),
    ))
}

async fn page(State(state): State<AppState>) -> Response {
    // Customers type credentials here: only the configured origins may frame the page
    // (checked at startup by `Config::validate`), none by default.
    let ancestors = &state.config.connect_frame_ancestors;
    let frame_ancestors = if ancestors.is_empty() {
        "'none'".to_string()
    } else {
        ancestors.join(" ")
    };
    let csp = format!(
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors {frame_ancestors}"
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
        .into_response();
    if let Ok(value) = header::HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if ancestors.is_empty() {
        // For browsers that predate frame-ancestors.
        response
            .headers_mut()
            .insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    }
    response
}

#[derive(Deserialize)]
struct LinkQuery {
    #[serde(default)]
    link_token: String,
    #[serde(default)]
    integration: Option<String>,
    /// `oauth/start`: the values the consent needs first ([`consent_fields`]).
    #[serde(flatten)]
    fields: std::collections::HashMap<String, String>,
}

/// The integration `name`, if the link allows it.
fn link_integration(state: &AppState, link: &LinkTokenRecord, name: &str) -> Result<Arc<Integration>, ApiError> {
    if link.integration.as_deref().is_some_and(|only| only != name) {
        return Err(ApiError::bad_request(format!(
            "This link is for another integration than `{name}`."
        )));
    }
    state
        .registry()
        .integration(name)
        .cloned()
        .ok_or_else(|| ApiError::bad_request(format!("There is no integration named `{name}`.")))
}

fn link_gone() -> ApiError {
    ApiError::not_found("This link is invalid, has expired or was already used. Ask for a new one.")
}

async fn live_link(state: &AppState, token: &str) -> Result<LinkTokenRecord, ApiError> {
    if token.is_empty() {
        return Err(link_gone());
    }
    state
        .store
        .get_link_token(&hash_token(token))
        .await?
        .ok_or_else(link_gone)
}

/// Whether the link page connects this integration by the provider's consent page: an
/// authorization-code flow and an OAuth app configured. A client-credentials integration
/// may have one too (Entra ID: a person consents; the account then holds delegated tokens,
/// refreshed with their refresh token).
fn oauth_ready(state: &AppState, integration: &Integration) -> bool {
    matches!(
        integration.config.credentials.format,
        CredentialFormat::Oauth2 | CredentialFormat::Oauth2ClientCredentials
    ) && integration.oauth2.as_ref().is_some_and(|o| o.authorize_url.is_some())
        && state.config.oauth.app(integration.name()).is_some()
}

/// The account values an OAuth consent needs before it can start: the non-secret
/// credential fields its authorization or token URL is built from (Okta's `okta_domain`:
/// the consent page is on the customer's own domain). The page asks for them first.
fn consent_fields(integration: &Integration) -> Vec<&str> {
    let Some(oauth2) = &integration.config.credentials.oauth2 else {
        return Vec::new();
    };
    let urls = [
        oauth2.authorize_url.as_deref().unwrap_or_default(),
        oauth2.token_url.as_str(),
    ];
    integration
        .config
        .credentials
        .fields
        .iter()
        .filter(|f| !f.secret)
        .map(|f| f.name.as_str())
        .filter(|name| {
            let placeholder = format!("context.{name}");
            urls.iter().any(|u| u.contains(&placeholder))
        })
        .collect()
}

/// What the page shows for one integration: labels and field names, nothing secret.
fn describe(state: &AppState, integration: &Integration) -> Value {
    let format = integration.config.credentials.format;
    let oauth = oauth_ready(state, integration);
    let oauth_fields = consent_fields(integration);
    let fields: Vec<Value> = integration
        .config
        .credentials
        .fields
        .iter()
        .filter(|f| (format != CredentialFormat::Oauth2 && !oauth) || oauth_fields.contains(&f.name.as_str()))
        .map(|f| json!({ "name": f.name, "label": f.label.clone().unwrap_or_else(|| f.name.clone()), "help": f.help, "secret": f.secret, "required": f.required }))
        .collect();
    json!({
        "name": integration.name(),
        "label": integration.config.label,
        "format": format,
        "oauth": oauth,
        "fields": fields,
    })
}

/// `GET /connect/api/session?link_token=`: the integrations this link may connect.
async fn session(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Result<Json<Value>, ApiError> {
    let link = live_link(&state, &q.link_token).await?;
    let integrations: Vec<Value> = state
        .registry()
        .integrations
        .values()
        .filter(|i| link.integration.as_deref().is_none_or(|only| only == i.name()))
        .filter(|i| i.config.credentials.format != CredentialFormat::Oauth2 || oauth_ready(&state, i))
        .map(|i| describe(&state, i))
        .collect();
    Ok(Json(
        json!({ "tenant_id": link.tenant_id, "integrations": integrations }),
    ))
}

/// Runs the integration's validation request with the new account's credentials: the one
/// it declares (`credentials.validation`), or by default its organizations list, which every
/// User Directory integration has, so that credentials the provider refuses are found when
/// the account is connected rather than on its first call. `validation: none` skips it.
async fn validate(
    state: &AppState,
    integration: &Integration,
    record: &AccountRecord,
) -> (AccountStatus, Option<String>) {
    let key = integration
        .config
        .credentials
        .validation
        .as_deref()
        .unwrap_or(crate::catalog::types::DEFAULT_VALIDATION);
    let Some(resource) = integration.resources.get(key) else {
        // `none`, or an integration without an organizations list.
        return (AccountStatus::Active, None);
    };
    let account = match Account::load(&state.keyring, integration, record.clone()) {
        Ok(a) => a,
        Err(e) => return (AccountStatus::ValidationError, Some(e.message.clone())),
    };
    let account = match state.oauth.ensure_fresh(integration, account).await {
        Ok(a) => a,
        Err(e) => return (AccountStatus::ValidationError, Some(e.message.clone())),
    };
    let before = json!({});
    let scope: [(&str, &Value); 3] = [("id", &Value::Null), ("context", &account.context), ("before", &before)];
    let request = match state
        .upstream
        .request(integration, resource, &account.context, &scope, Outgoing::default())
    {
        Ok(r) => r,
        Err(e) => return (AccountStatus::ValidationError, Some(ApiError::from(e).message.clone())),
    };
    match state.upstream.call(integration, request).await {
        Ok(_) => (AccountStatus::Active, None),
        Err(e) => {
            let e = ApiError::from(e);
            (
                AccountStatus::ValidationError,
                Some(format!("The validation request was refused: {}", e.message)),
            )
        }
    }
}

/// Stores a new account (`connecting`), validates it and records the outcome.
async fn store_and_validate(
    state: &AppState,
    integration: &Integration,
    link: &LinkTokenRecord,
    context: Map<String, Value>,
) -> Result<AccountRecord, ApiError> {
    let mut record = accounts::new_record(
        &state.keyring,
        integration,
        &link.environment_id,
        &link.tenant_id,
        context,
        false,
    )?;
    record.status = AccountStatus::Connecting;
    let events = webhooks::account_events(
        &record,
        AccountChange::Created,
        &accounts::view(&state.keyring, &record, Some(integration)),
    );
    state.store.insert_account_emitting(&record, &events).await?;
    let (status, last_error) = validate(state, integration, &record).await;
    // Validation may have minted a token (client credentials): keep what is stored.
    if let Some(fresh) = state.store.get_account(&record.environment_id, &record.id).await? {
        record = fresh;
    }
    let before = record.status;
    record.status = status;
    record.last_error = last_error;
    record.updated_at = Utc::now();
    let events = webhooks::account_events(
        &record,
        AccountChange::Status { before },
        &accounts::view(&state.keyring, &record, Some(integration)),
    );
    state
        .store
        .update_account_credentials_emitting(&record, &events)
        .await?;
    state.webhooks.poke();
    tracing::info!(account_id = %record.id, integration = %record.integration, status = %record.status, "account connected through a link");
    Ok(record)
}

fn redirect_for(link: &LinkTokenRecord, record: &AccountRecord) -> Option<String> {
    let mut url = url::Url::parse(link.redirect_uri.as_deref()?).ok()?;
    url.query_pairs_mut()
        .append_pair("integrated_account_id", &record.id)
        .append_pair("integration", &record.integration)
        .append_pair("status", record.status.as_str());
    Some(url.to_string())
}

/// `POST /connect/api/accounts` `{ link_token, integration, context }` (credential fields).
async fn create_account(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(Value::Object(body)) = json_body(body)? else {
        return Err(ApiError::bad_request("This endpoint needs a JSON object body."));
    };
    let token = body.get("link_token").and_then(Value::as_str).unwrap_or_default();
    let link = live_link(&state, token).await?;
    let name = body
        .get("integration")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("`integration` is required."))?;
    let integration = link_integration(&state, &link, name)?;
    if integration.config.credentials.format == CredentialFormat::Oauth2 {
        return Err(ApiError::bad_request(format!(
            "`{name}` is connected through its consent page: /connect/oauth/start."
        )));
    }
    let context = match body.get("context") {
        Some(Value::Object(m)) => m.clone(),
        None => Map::new(),
        Some(_) => return Err(ApiError::bad_request("`context` must be a JSON object.")),
    };
    accounts::check_required(&integration, &context)?;
    let link = state
        .store
        .consume_link_token(&link.token_hash)
        .await?
        .ok_or_else(link_gone)?;
    let record = store_and_validate(&state, &integration, &link, context).await?;
    let mut out = accounts::view(&state.keyring, &record, Some(&integration));
    out["redirect_url"] = json!(redirect_for(&link, &record));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(serde::Serialize, Deserialize)]
struct OAuthState {
    /// Link token hash.
    h: String,
    /// Integration.
    i: String,
    /// PKCE verifier.
    v: String,
    /// Expiry, Unix seconds.
    e: i64,
    /// The account values given before the consent ([`consent_fields`]), kept for the
    /// token exchange and the account.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    c: Map<String, Value>,
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/connect/oauth/callback", state.public_url)
}

/// `GET /connect/oauth/start?link_token=&integration=`: to the provider's consent page.
async fn oauth_start(State(state): State<AppState>, Query(q): Query<LinkQuery>) -> Result<Response, ApiError> {
    let link = live_link(&state, &q.link_token).await?;
    let name = q
        .integration
        .as_deref()
        .or(link.integration.as_deref())
        .ok_or_else(|| ApiError::bad_request("`integration` is required."))?;
    let integration = link_integration(&state, &link, name)?;
    let (Some(oauth2), Some(config)) = (&integration.oauth2, &integration.config.credentials.oauth2) else {
        return Err(ApiError::bad_request(format!("`{name}` does not connect with OAuth.")));
    };
    let Some(authorize) = &oauth2.authorize_url else {
        return Err(ApiError::bad_request(format!(
            "`{name}` has no authorization-code flow."
        )));
    };
    let app = state.config.oauth.app(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "No OAuth app is configured for `{name}` (oauth.apps.{}).",
            name.replace('-', "_")
        ))
    })?;
    let mut given = Map::new();
    for name in consent_fields(&integration) {
        match q.fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            Some(v) => {
                given.insert(name.to_string(), Value::String(v.to_string()));
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "`{name}` is required to sign in to {}.",
                    integration.config.label
                )))
            }
        }
    }
    let mut context = integration.config.context_defaults.clone();
    context.extend(given.clone());
    let context = Value::Object(context);
    // A value that puts the consent page on a host the integration does not allow is the
    // person's typo or an attack: refused here, before anyone is sent there.
    let mut url = state
        .upstream
        .oauth_url(&integration, authorize, &context)
        .map_err(|e| ApiError::bad_request(format!("{e}")))?;
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_hex(32));
    let sealed = state.keyring.seal(
        &serde_json::to_vec(&OAuthState {
            h: link.token_hash.clone(),
            i: name.to_string(),
            v: verifier.clone(),
            e: (Utc::now() + chrono::Duration::seconds(STATE_TTL_SECS)).timestamp(),
            c: given,
        })
        .map_err(ApiError::internal)?,
        STATE_AAD,
    );
    let scope_values = json!({ "context": context });
    {
        let mut pairs = url.query_pairs_mut();
        pairs
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &redirect_uri(&state))
            .append_pair("state", &sealed);
        if !config.scopes.is_empty() {
            pairs.append_pair("scope", &config.scopes.join(&config.scope_separator));
        }
        if config.pkce {
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&verifier));
            pairs
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
        }
        for (k, t) in &oauth2.authorize_params {
            let v = t
                .render(&scope_values, crate::mapping::template::Encoding::Raw)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            pairs.append_pair(k, &v);
        }
    }
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn result_page(status: StatusCode, outcome: &str, title: &str, text: &str, account: Option<&str>) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}</style></head>\
         <body><h1>{t}</h1><p id=\"result\" data-status=\"{o}\" data-account=\"{a}\">{x}</p></body></html>",
        t = escape(title),
        o = escape(outcome),
        a = escape(account.unwrap_or_default()),
        x = escape(text),
    );
    (status, Html(body)).into_response()
}

/// `GET /connect/oauth/callback?code=&state=`: the provider sends the person back here.
async fn oauth_callback(State(state): State<AppState>, Query(q): Query<Callback>) -> Response {
    let opened = q
        .state
        .as_deref()
        .and_then(|s| state.keyring.open(s, STATE_AAD).ok())
        .and_then(|plain| serde_json::from_slice::<OAuthState>(&plain).ok())
        .filter(|s| s.e > Utc::now().timestamp());
    let Some(flow) = opened else {
        return result_page(
            StatusCode::BAD_REQUEST,
            "error",
            "Connection failed",
            "The sign-in answer is invalid or expired (bad `state`). Start again from your link.",
            None,
        );
    };
    if let Some(error) = &q.error {
        let detail = q.error_description.as_deref().unwrap_or(error);
        return result_page(
            StatusCode::BAD_REQUEST,
            "denied",
            "Not connected",
            &format!("The provider did not grant access: {detail}. You can start again from your link."),
            None,
        );
    }
    let Some(integration) = state.registry().integration(&flow.i).cloned() else {
        return result_page(
            StatusCode::BAD_REQUEST,
            "error",
            "Connection failed",
            "Unknown integration.",
            None,
        );
    };
    let Ok(Some(link)) = state.store.get_link_token(&flow.h).await else {
        return result_page(
            StatusCode::GONE,
            "error",
            "Connection failed",
            &link_gone().message,
            None,
        );
    };
    let code = q.code.clone().unwrap_or_default();
    let mut defaults = integration.config.context_defaults.clone();
    defaults.extend(flow.c.clone());
    let defaults = Value::Object(defaults);
    let params = [
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", redirect_uri(&state)),
        ("code_verifier", flow.v.clone()),
    ];
    let tokens = match state.oauth.token_request(&integration, &defaults, &params).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(integration = %flow.i, ?e, "OAuth code exchange failed");
            return result_page(
                StatusCode::BAD_GATEWAY,
                "error",
                "Connection failed",
                &format!(
                    "{} refused the sign-in. Start again from your link.",
                    integration.config.label
                ),
                None,
            );
        }
    };
    let Ok(Some(link)) = state.store.consume_link_token(&link.token_hash).await else {
        return result_page(
            StatusCode::GONE,
            "error",
            "Connection failed",
            &link_gone().message,
            None,
        );
    };
    let mut context = flow.c.clone();
    for (k, v) in &tokens.extra {
        context.insert(k.clone(), v.clone());
    }
    crate::accounts::oauth::apply_tokens(&mut context, &tokens);
    let record = match store_and_validate(&state, &integration, &link, context).await {
        Ok(r) => r,
        Err(e) => return result_page(e.status, "error", "Connection failed", &e.message, None),
    };
    if let Some(to) = redirect_for(&link, &record) {
        return Redirect::to(&to).into_response();
    }
    let (title, text) = if record.status == AccountStatus::Active {
        (
            "Connected",
            format!(
                "Your {} account is connected. You can close this page.",
                integration.config.label
            ),
        )
    } else {
        (
            "Connected with errors",
            format!(
                "Your {} account is connected, but checking it failed: {}",
                integration.config.label,
                record.last_error.clone().unwrap_or_default()
            ),
        )
    };
    result_page(StatusCode::OK, record.status.as_str(), title, &text, Some(&record.id))
}

/// The connect page: plain HTML, CSS and script, all inline.
const PAGE: &str = include_str!("connect.html");
