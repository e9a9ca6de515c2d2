//! OAuth2 tokens: the authorization-code exchange, refresh and client credentials, and the
//! coordination that allows one refresh per account at a time across every instance.
//!
//! Tokens live in the account's sealed context: `access_token`, `refresh_token`,
//! `expires_at` (RFC 3339). A refresh runs under two locks: an in-process mutex per account
//! (so 50 concurrent requests of one instance make one store round trip, not 50) and a
//! lease in the store (`refresh_locks`), which other instances respect. Whoever waits
//! re-reads the account when the lease is released and finds the new token. The new tokens
//! (a rotated refresh token included) are written to the store before any request uses
//! them; a holder that dies mid-refresh leaves the old refresh token in place and its lease
//! expires after `oauth.refresh_lock_ms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use tracing::Instrument as _;

use super::{open_secrets, seal_secrets, Account};
use crate::catalog::types::{ClientAuth, CredentialFormat};
use crate::catalog::Integration;
use crate::config::OAuthConfig;
use crate::crypto::Keyring;
use crate::error::ApiError;
use crate::store::{AccountRecord, AccountStatus, Store};
use crate::upstream::Upstream;
use crate::webhooks::{self, AccountChange};

/// What a token endpoint answered.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    /// The integration's `context_fields` found in the answer.
    pub extra: Map<String, Value>,
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The grant is dead (revoked, expired, already used): a person must reconnect.
    #[error("{0}")]
    Reauth(OAuthError),

    // The provider failed or could not be reached; the grant may still be good.
    /// An OAuth error that does not kill the grant.
    #[error("the token endpoint answered {status} ({error})")]
    Refused { status: u16, error: OAuthError },
    /// A failure status without an OAuth error.
    #[error("the token endpoint answered {status}")]
    Status { status: u16 },
    #[error("the token endpoint's answer has no access_token")]
    NoAccessToken,
    #[error("the token endpoint could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the token endpoint's answer broke off")]
    BrokeOff(#[source] reqwest::Error),
    /// `reason`: rustls' words, found down the cause's chain.
    #[error("the token endpoint's TLS certificate was refused ({reason}); {hint}", hint = crate::upstream::client::CERTIFICATE_HINT)]
    Certificate {
        reason: String,
        #[source]
        source: reqwest::Error,
    },
    /// The token endpoint did not answer in time; the grant may still be good.
    #[error("the token endpoint did not answer within {timeout_ms} ms")]
    Timeout {
        timeout_ms: u64,
        #[source]
        source: reqwest::Error,
    },

    // Unigate cannot build the request.
    #[error("no OAuth app is configured for integration `{integration}` (set oauth.apps.{}.client_id and client_secret)", integration.replace('-', "_"))]
    NoApp { integration: String },
    #[error("integration `{integration}` declares no oauth2 endpoints")]
    NoEndpoints { integration: String },
    #[error(transparent)]
    TokenUrl(crate::upstream::UpstreamError),
    #[error(transparent)]
    TokenParam(crate::mapping::template::TemplateError),
}

impl TokenError {
    /// What the API answers about it: its own words and, where the HTTP client failed
    /// without a reason of ours (a refused connection, a reset), the client's words after
    /// them in parentheses.
    fn message(&self) -> String {
        match self {
            TokenError::Unreachable(source) | TokenError::BrokeOff(source) => format!("{self} ({source})"),
            _ => self.to_string(),
        }
    }
}

/// An OAuth error a token endpoint answered (RFC 6749, section 5.2): `error` and, when
/// given, `error_description`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: String,
    pub description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(d) => write!(f, "{}: {d}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

pub struct OAuth {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    upstream: Upstream,
    config: OAuthConfig,
    /// This instance, as a lease holder.
    holder: String,
    local: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

fn text(context: &Value, key: &str) -> Option<String> {
    match context.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The access token a context carries.
pub fn access_token(context: &Value) -> Option<String> {
    text(context, "access_token")
}

impl OAuth {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, upstream: Upstream, config: OAuthConfig) -> Self {
        OAuth {
            store,
            keyring,
            upstream,
            config,
            holder: uuid::Uuid::new_v4().to_string(),
            local: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// Whether Unigate can get a new access token for this account by itself.
    pub fn can_refresh(&self, integration: &Integration, context: &Value) -> bool {
        match integration.config.credentials.format {
            CredentialFormat::Oauth2 => integration.oauth2.is_some() && text(context, "refresh_token").is_some(),
            CredentialFormat::Oauth2ClientCredentials => integration.oauth2.is_some(),
            _ => false,
        }
    }

    /// Whether the access token is missing or expires within the margin.
    fn due(&self, integration: &Integration, context: &Value) -> bool {
        if !self.can_refresh(integration, context) {
            return false;
        }
        if access_token(context).is_none() {
            return true;
        }
        let Some(expires_at) = text(context, "expires_at").and_then(|s| DateTime::parse_from_rfc3339(&s).ok()) else {
            return false;
        };
        let margin = chrono::Duration::milliseconds(self.config.refresh_margin_ms as i64);
        expires_at.with_timezone(&Utc) - margin <= Utc::now()
    }

    /// The account, with its token refreshed first when it is about to expire.
    pub async fn ensure_fresh(&self, integration: &Integration, account: Account) -> Result<Account, ApiError> {
        if !self.due(integration, &account.context) {
            return Ok(account);
        }
        // Boxed: the refresh path is rare and its state machine large.
        Box::pin(self.refresh(integration, &account.record, None, false))
            .instrument(tracing::info_span!(
                target: "unigate_otel",
                "oauth.refresh",
                unigate.integration = integration.name(),
                unigate.reason = "due"
            ))
            .await
    }

    fn local_lock(&self, account_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lock) = map.get(account_id).and_then(Weak::upgrade) {
            return lock;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(account_id.to_string(), Arc::downgrade(&lock));
        lock
    }

    /// Runs `f` holding the account's credentials lock (the same in-process mutex and store
    /// lease as a refresh), so a read-modify-write of its secrets (admin `PATCH`) can neither
    /// undo a refresh nor be undone by one.
    pub async fn with_lock<T>(
        &self,
        account_id: &str,
        f: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let busy =
            || format!("The credentials of integrated account `{account_id}` are being refreshed; try again shortly.");
        self.leased(account_id, busy, || async { Ok(None) }, || f).await
    }

    /// The credentials lock of one account: the in-process mutex, then the store lease
    /// (`refresh_locks`, shared by every instance), retried every 50 ms until
    /// `oauth.refresh_wait_ms` (then 503 with `Retry-After` and the `busy` message). Before
    /// each try, `settled` may answer without the lock (someone else did the work); with the
    /// lease, `run` runs and the lease is released (or lapses by itself after
    /// `oauth.refresh_lock_ms` if this process dies).
    async fn leased<T, S, R>(
        &self,
        account_id: &str,
        busy: impl FnOnce() -> String,
        mut settled: impl FnMut() -> S,
        run: impl FnOnce() -> R,
    ) -> Result<T, ApiError>
    where
        S: std::future::Future<Output = Result<Option<T>, ApiError>>,
        R: std::future::Future<Output = Result<T, ApiError>>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(self.config.refresh_wait_ms);
        let busy_error = |busy: String| {
            let mut e = ApiError::new(http::StatusCode::SERVICE_UNAVAILABLE, busy);
            e.retry_after = Some("1".into());
            e
        };
        // The wait for a request of this instance holding the lock counts against the same
        // deadline: behind a token endpoint that hangs, waiters answer 503 at the deadline
        // instead of queueing for one full timeout each.
        let local = self.local_lock(account_id);
        let Ok(_local) = tokio::time::timeout_at(deadline, local.lock()).await else {
            return Err(busy_error(busy()));
        };
        let lease = chrono::Duration::milliseconds(self.config.refresh_lock_ms as i64);
        loop {
            if let Some(done) = settled().await? {
                return Ok(done);
            }
            if self
                .store
                .try_lock_refresh(account_id, &self.holder, Utc::now() + lease)
                .await?
            {
                let result = run().await;
                if let Err(e) = self.store.unlock_refresh(account_id, &self.holder).await {
                    tracing::warn!(account = %account_id, error = %e, "could not release the credentials lock; it expires by itself");
                }
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(busy_error(busy()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn reload(&self, integration: &Integration, record: &AccountRecord) -> Result<Account, ApiError> {
        let fresh = self
            .store
            .get_account(&record.environment_id, &record.id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Integrated account `{}` not found.", record.id)))?;
        Account::load(&self.keyring, integration, fresh)
    }

    /// Gets a new access token, unless another request (here or on another instance) did
    /// while this one waited. `stale` is the access token a provider refused (401 path);
    /// without it, the token is refreshed when due. `force` always refreshes.
    pub async fn refresh(
        &self,
        integration: &Integration,
        record: &AccountRecord,
        stale: Option<&str>,
        force: bool,
    ) -> Result<Account, ApiError> {
        let satisfied = |a: &Account| match stale {
            Some(old) => access_token(&a.context).as_deref() != Some(old) && !self.due(integration, &a.context),
            None => !self.due(integration, &a.context),
        };
        let busy = || {
            format!(
                "The OAuth token of integrated account `{}` is being refreshed by another request that has not finished; try again shortly.",
                record.id
            )
        };
        let settled = || async {
            let current = self.reload(integration, record).await?;
            if current.record.status == AccountStatus::NeedsReauth {
                return Err(needs_reauth(&current.record));
            }
            Ok((!force && satisfied(&current)).then_some(current))
        };
        let run = || async {
            // Another instance may have finished between the read and the lease.
            let again = self.reload(integration, record).await?;
            if !force && satisfied(&again) {
                return Ok(again);
            }
            self.run_refresh(integration, again).await
        };
        self.leased(&record.id, busy, settled, run).await
    }

    /// Runs the token request for a refresh and stores its outcome.
    async fn run_refresh(&self, integration: &Integration, account: Account) -> Result<Account, ApiError> {
        let context = &account.context;
        let params = match (integration.config.credentials.format, text(context, "refresh_token")) {
            (_, Some(refresh)) => vec![("grant_type", "refresh_token".to_string()), ("refresh_token", refresh)],
            (CredentialFormat::Oauth2ClientCredentials, None) => vec![("grant_type", "client_credentials".to_string())],
            _ => {
                return Err(ApiError::unauthorized(format!(
                    "Integrated account `{}` has no refresh token; reconnect it.",
                    account.record.id
                )))
            }
        };
        tracing::info!(account = %account.record.id, integration = integration.name(), "refreshing OAuth token");
        let outcome = self.token_request(integration, context, &params).await;
        let metrics = self.upstream.metrics();
        match &outcome {
            Ok(_) => metrics.record_refresh(integration.name(), "success"),
            Err(TokenError::Reauth(_)) => metrics.record_refresh(integration.name(), "needs_reauth"),
            Err(_) => metrics.record_refresh(integration.name(), "error"),
        }
        match outcome {
            Ok(tokens) => self.store_tokens(integration, account, &tokens).await,
            Err(TokenError::Reauth(reason)) => {
                let mut record = Arc::unwrap_or_clone(account.record);
                let before = record.status;
                record.status = AccountStatus::NeedsReauth;
                record.last_error = Some(format!("Token refresh refused: {reason}"));
                record.updated_at = Utc::now();
                let events = webhooks::account_events(
                    &record,
                    AccountChange::Status { before },
                    &super::view(&self.keyring, &record, Some(integration)),
                );
                self.store.update_account_credentials_emitting(&record, &events).await?;
                tracing::warn!(account = %record.id, integration = integration.name(), "OAuth grant refused; account needs re-authorization");
                Err(needs_reauth(&record))
            }
            Err(e) => Err(ApiError::new(
                match e {
                    TokenError::Timeout { .. } => http::StatusCode::GATEWAY_TIMEOUT,
                    _ => http::StatusCode::BAD_GATEWAY,
                },
                format!(
                    "Refreshing the OAuth token of integrated account `{}` at {} failed: {}",
                    account.record.id,
                    integration.name(),
                    e.message()
                ),
            )),
        }
    }

    /// Seals new tokens into the account and writes them (before anyone uses them).
    pub async fn store_tokens(
        &self,
        integration: &Integration,
        account: Account,
        tokens: &TokenSet,
    ) -> Result<Account, ApiError> {
        let mut record = Arc::unwrap_or_clone(account.record);
        let mut secrets = open_secrets(&self.keyring, &record)?;
        apply_tokens(&mut secrets, tokens);
        record.secrets = seal_secrets(&self.keyring, &record.id, &secrets);
        let before = record.status;
        record.status = AccountStatus::Active;
        record.last_error = None;
        record.updated_at = Utc::now();
        let events = webhooks::account_events(
            &record,
            AccountChange::Status { before },
            &super::view(&self.keyring, &record, Some(integration)),
        );
        if !self.store.update_account_credentials_emitting(&record, &events).await? {
            return Err(ApiError::not_found(format!(
                "Integrated account `{}` was deleted during the token refresh.",
                record.id
            )));
        }
        Account::load(&self.keyring, integration, record)
    }

    /// The client id and secret: the account's own (client credentials), else the app
    /// configured for the integration.
    fn client(&self, integration: &Integration, context: &Value) -> Result<(String, String), TokenError> {
        if let (Some(id), Some(secret)) = (text(context, "client_id"), text(context, "client_secret")) {
            return Ok((id, secret));
        }
        match self.config.app(integration.name()) {
            Some(app) => Ok((app.client_id.clone(), app.client_secret.expose_secret().to_string())),
            None => Err(TokenError::NoApp {
                integration: integration.name().to_string(),
            }),
        }
    }

    /// POSTs to the integration's token endpoint.
    pub async fn token_request(
        &self,
        integration: &Integration,
        context: &Value,
        params: &[(&str, String)],
    ) -> Result<TokenSet, TokenError> {
        let Some(oauth2) = &integration.oauth2 else {
            return Err(TokenError::NoEndpoints {
                integration: integration.name().to_string(),
            });
        };
        let (client_id, client_secret) = self.client(integration, context)?;
        let url = self
            .upstream
            .oauth_url(integration, &oauth2.token_url, context)
            .map_err(TokenError::TokenUrl)?;
        let mut form: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        for (k, t) in &oauth2.token_params {
            let v = t
                .render_in(&[("context", context)], crate::mapping::template::Encoding::Raw)
                .map_err(TokenError::TokenParam)?;
            form.push((k.clone(), v));
        }
        let oc = integration.config.credentials.oauth2.as_ref();
        let mut req = self
            .upstream
            .http()
            .post(url)
            .header(http::header::ACCEPT, "application/json")
            .timeout(Duration::from_millis(self.upstream.config().request_timeout_ms));
        match oc.map(|o| o.client_auth).unwrap_or_default() {
            ClientAuth::Basic => req = req.basic_auth(client_id, Some(client_secret)),
            ClientAuth::Body => {
                form.push(("client_id".into(), client_id));
                form.push(("client_secret".into(), client_secret));
            }
        }
        let timeout_ms = self.upstream.config().request_timeout_ms;
        // A timeout (before the answer or in its body) and a refused certificate are errors of
        // their own; `otherwise` says what else went wrong.
        let failed = |e: reqwest::Error, otherwise: fn(reqwest::Error) -> TokenError| {
            if e.is_timeout() {
                TokenError::Timeout { timeout_ms, source: e }
            } else if let Some(reason) = crate::upstream::client::certificate_error(&e) {
                TokenError::Certificate { reason, source: e }
            } else {
                otherwise(e)
            }
        };
        let response = req
            .form(&form)
            .send()
            .await
            .map_err(|e| failed(e, TokenError::Unreachable))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| failed(e, TokenError::BrokeOff))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            // Some servers answer form-encoded whatever Accept says.
            Value::Object(
                url::form_urlencoded::parse(&bytes)
                    .into_owned()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        });
        if let Some(code) = body.get("error").and_then(Value::as_str) {
            let error = OAuthError {
                code: code.to_string(),
                description: body
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
            let reauth = oc
                .map(|o| o.reauth_errors.iter().any(|e| e == code))
                .unwrap_or(code == "invalid_grant");
            return Err(if reauth {
                TokenError::Reauth(error)
            } else {
                TokenError::Refused {
                    status: status.as_u16(),
                    error,
                }
            });
        }
        if !status.is_success() {
            return Err(TokenError::Status {
                status: status.as_u16(),
            });
        }
        let Some(access) = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(TokenError::NoAccessToken);
        };
        let expires_in = match body.get("expires_in") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Ok(TokenSet {
            access_token: access.to_string(),
            refresh_token: body
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            expires_at: expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s)),
            scope: body.get("scope").and_then(Value::as_str).map(str::to_string),
            extra: oc
                .map(|o| {
                    o.context_fields
                        .iter()
                        .filter_map(|f| body.get(f).map(|v| (f.clone(), v.clone())))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Writes tokens into a secret context; a refresh that returns no new refresh token keeps
/// the old one.
pub fn apply_tokens(secrets: &mut Map<String, Value>, tokens: &TokenSet) {
    secrets.insert("access_token".into(), json!(tokens.access_token));
    if let Some(r) = &tokens.refresh_token {
        secrets.insert("refresh_token".into(), json!(r));
    }
    match tokens.expires_at {
        Some(t) => secrets.insert(
            "expires_at".into(),
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ),
        // `null`, not absent: it must hide an `expires_at` imported with the account (public,
        // and older), or every call would see an expired token and refresh again.
        None => secrets.insert("expires_at".into(), Value::Null),
    };
    if let Some(s) = &tokens.scope {
        secrets.insert("oauth_scope".into(), json!(s));
    }
    for (k, v) in &tokens.extra {
        secrets.insert(k.clone(), v.clone());
    }
}

pub fn needs_reauth(record: &AccountRecord) -> ApiError {
    let mut message = format!(
        "Integrated account `{}` needs to be re-authorized: reconnect it.",
        record.id
    );
    if let Some(e) = &record.last_error {
        message = format!("{message} ({e})");
    }
    ApiError::unauthorized(message)
        .with_details(json!({ "integrated_account_id": record.id, "status": AccountStatus::NeedsReauth }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// What the API answers about a failed token request (after "Refreshing the OAuth token
    /// of integrated account `…` at … failed: "), in the words it always used.
    #[tokio::test]
    async fn token_errors_answer_their_messages_and_keep_their_causes() {
        let refused = OAuthError {
            code: "invalid_client".into(),
            description: Some("bad secret".into()),
        };
        let cases = [
            (
                TokenError::Reauth(OAuthError {
                    code: "invalid_grant".into(),
                    description: None,
                }),
                "invalid_grant",
            ),
            (
                TokenError::Refused {
                    status: 401,
                    error: refused,
                },
                "the token endpoint answered 401 (invalid_client: bad secret)",
            ),
            (
                TokenError::Status { status: 500 },
                "the token endpoint answered 500",
            ),
            (
                TokenError::NoAccessToken,
                "the token endpoint's answer has no access_token",
            ),
            (
                TokenError::NoApp {
                    integration: "google-workspace".into(),
                },
                "no OAuth app is configured for integration `google-workspace` (set oauth.apps.google_workspace.client_id and client_secret)",
            ),
            (
                TokenError::NoEndpoints {
                    integration: "github".into(),
                },
                "integration `github` declares no oauth2 endpoints",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.message(), want);
        }

        // Nothing listens on a port bound and then dropped.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cause = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/token"))
            .send()
            .await
            .unwrap_err();
        let words = cause.to_string();
        let unreachable = TokenError::Unreachable(cause);
        assert_eq!(
            unreachable.message(),
            format!("the token endpoint could not be reached ({words})")
        );
        assert!(std::error::Error::source(&unreachable).is_some());
    }
}
