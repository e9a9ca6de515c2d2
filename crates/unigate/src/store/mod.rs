//! Persistence behind one trait, so backends are chosen by configuration.
//!
//! Every account query takes the environment id first: a token can only ever reach its
//! own environment's rows, whatever id a client sends.

pub mod account_cache;
pub mod dialect;
pub mod log_batches;
pub mod mcp;
pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod webhooks;

pub use mcp::{McpConfig, McpServerRecord};
pub use webhooks::{
    AttemptRecord, ClaimedDelivery, DeliveryOutcome, DeliveryRecord, DeliveryStatus, EventRecord, NewEvent,
    WebhookRecord,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The database is down, restarting or saturated: the client should retry.
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => StoreError::Unavailable(e),
            other => StoreError::Database(other),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
}

/// What an API token may do. `admin` may do everything `api` may, and manage API tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Admin,
    Api,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Admin => "admin",
            TokenScope::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<TokenScope> {
        match s {
            "admin" => Some(TokenScope::Admin),
            "api" => Some(TokenScope::Api),
            _ => None,
        }
    }
}

/// The environment and scope of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub environment_id: String,
    pub scope: TokenScope,
}

/// An integrated account as stored: secrets still sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub id: String,
    pub environment_id: String,
    pub tenant_id: String,
    pub integration: String,
    /// Non-secret context values.
    pub context: Value,
    /// Sealed secret context values (`crate::crypto`).
    pub secrets: String,
    pub status: AccountStatus,
    pub last_error: Option<String>,
    pub is_sandbox: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The account's mapping overrides (`unified_model_override`), as written; an update
    /// of the account writes them with the rest, in its transaction.
    pub unified_model_override: Option<Value>,
    /// The version of its environment's mapping overrides (0: none ever written), read with
    /// the account so that every instance sees a change from the next call on. Never
    /// written through the account.
    pub overrides_version: i64,
}

/// An environment's override of one integration's mapping of one unified method.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingOverrideRecord {
    pub id: String,
    pub environment_id: String,
    pub model: String,
    pub resource: String,
    pub integration: String,
    pub method: String,
    /// The override's keys (`response_mapping`, ...), as written.
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an integrated account stands. Stored and answered as its snake_case name
/// (`needs_reauth`); a stored name that is none of these is a corrupt row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    /// Stored by the connect flow before its credentials are validated.
    Connecting,
    PostInstallError,
    /// The connect flow's validation request failed.
    ValidationError,
    /// The provider refused the OAuth grant: a person must reconnect the account.
    NeedsReauth,
}

impl AccountStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [AccountStatus; 5] = [
        AccountStatus::Active,
        AccountStatus::Connecting,
        AccountStatus::PostInstallError,
        AccountStatus::ValidationError,
        AccountStatus::NeedsReauth,
    ];

    /// The name stored and answered.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Connecting => "connecting",
            AccountStatus::PostInstallError => "post_install_error",
            AccountStatus::ValidationError => "validation_error",
            AccountStatus::NeedsReauth => "needs_reauth",
        }
    }
}

impl std::fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`AccountStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown account status `{0}`")]
pub struct UnknownStatus(pub String);

impl std::str::FromStr for AccountStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<AccountStatus, UnknownStatus> {
        AccountStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// Shared by the backends: what a claimed-or-existing row means.
fn idempotency_outcome(
    request_hash: &str,
    row_hash: String,
    status: Option<i64>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
) -> IdempotencyBegin {
    if row_hash != request_hash {
        return IdempotencyBegin::Mismatch;
    }
    match status {
        Some(status) => IdempotencyBegin::Replay {
            status: status as u16,
            content_type,
            body: body.unwrap_or_default(),
        },
        None => IdempotencyBegin::InProgress,
    }
}

/// A connect-flow link token as stored (the token itself is only ever hashed).
#[derive(Debug, Clone)]
pub struct LinkTokenRecord {
    pub token_hash: String,
    pub environment_id: String,
    pub tenant_id: String,
    /// The one integration the link is for; `None` lets the person pick.
    pub integration: Option<String>,
    pub redirect_uri: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Entries the request log (`crate::request_log`) keeps waiting to be written; past this,
/// new ones are dropped (and counted) rather than slowing calls down. Declared with the
/// store because a backend measures its backlog against it (SQLite's writer threads).
pub const REQUEST_LOG_QUEUE: usize = 10_000;

/// What a delete of the request log's stored batches removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogDeleted {
    pub batches: u64,
    pub entries: u64,
}

/// One unified or proxy call, as the request log keeps it.
#[derive(Debug, Clone)]
pub struct RequestLogRecord {
    pub id: String,
    pub environment_id: String,
    pub integrated_account_id: Option<String>,
    pub method: String,
    /// The path only: never the query string.
    pub path: String,
    pub status: u16,
    pub duration_ms: u64,
    /// The error message answered, for failed calls.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub tenant_id: Option<String>,
    pub integration: Option<String>,
    /// A status's name as the client gave it: one that is no [`AccountStatus`] matches no
    /// account.
    pub status: Option<String>,
    pub is_sandbox: Option<bool>,
}

/// Keyset pagination position: the last row of the previous page.
#[derive(Debug, Clone)]
pub struct AccountPosition {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

/// What a keyed write finds when it starts.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// First use of the key: the caller runs the request, then finishes or aborts.
    Started,
    /// The key's first request finished: replay its answer.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The key's first request is still running.
    InProgress,
}

/// What a store's connection pool holds now ([`Store::pool_use`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Connections lent out to a query now.
    pub in_use: u32,
    /// Connections open and waiting.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Claims an idempotency key atomically (one winner across all instances); an expired
    /// record counts as absent.
    async fn idempotency_begin(
        &self,
        environment_id: &str,
        key: &str,
        request_hash: &str,
        ttl: chrono::Duration,
    ) -> Result<IdempotencyBegin, StoreError>;
    async fn idempotency_finish(
        &self,
        environment_id: &str,
        key: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// Releases a claimed key whose request failed in a way worth retrying.
    async fn idempotency_abort(&self, environment_id: &str, key: &str) -> Result<(), StoreError>;

    async fn first_environment(&self) -> Result<Option<Environment>, StoreError>;
    async fn create_environment(&self, name: &str) -> Result<Environment, StoreError>;
    /// Every environment, oldest first.
    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError>;
    async fn get_environment(&self, id: &str) -> Result<Option<Environment>, StoreError>;
    /// Deletes an environment with everything in it (accounts, tokens, logs, keys); false
    /// when there is no such environment.
    async fn delete_environment(&self, id: &str) -> Result<bool, StoreError>;
    /// How many integrated accounts an environment has.
    async fn count_accounts(&self, environment_id: &str) -> Result<u64, StoreError>;
    async fn create_api_token(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
        scope: TokenScope,
    ) -> Result<ApiTokenRecord, StoreError>;
    /// The environment and scope of a token hash.
    async fn token_identity(&self, token_hash: &str) -> Result<Option<TokenIdentity>, StoreError>;
    /// An environment's API tokens (never their hashes), oldest first.
    async fn list_api_tokens(&self, environment_id: &str) -> Result<Vec<ApiTokenRecord>, StoreError>;
    async fn get_api_token(&self, environment_id: &str, id: &str) -> Result<Option<ApiTokenRecord>, StoreError>;
    /// Deletes one API token; false when there is no such token.
    async fn delete_api_token(&self, environment_id: &str, id: &str) -> Result<bool, StoreError>;

    async fn insert_account(&self, account: &AccountRecord) -> Result<(), StoreError>;
    async fn get_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// The account read of a unified or Proxy API call: [`Store::get_account`], or the
    /// backend's cache of it where it has one (PostgreSQL, `account_cache.rs`, which says
    /// when a change made through another instance is seen). Every other read (the admin
    /// API, the OAuth refresh's re-read under its lock) reads the database.
    ///
    /// Shared (`Arc`): a cached record is handed out without a copy, and a caller that kept
    /// one from before can tell it is the same by pointer (`accounts::Opened`).
    async fn get_account_for_call(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<std::sync::Arc<AccountRecord>>, StoreError> {
        Ok(self.get_account(environment_id, id).await?.map(std::sync::Arc::new))
    }
    async fn list_accounts(
        &self,
        environment_id: &str,
        filter: &AccountFilter,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>, StoreError>;
    /// Writes every mutable column; false when no such account exists.
    async fn update_account(&self, account: &AccountRecord) -> Result<bool, StoreError>;
    async fn delete_account(&self, environment_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Writes only an account's sealed secrets, status and last error (token refresh), so a
    /// concurrent change of its other columns is not undone.
    async fn update_account_credentials(&self, account: &AccountRecord) -> Result<bool, StoreError>;
    /// Replaces an account's sealed secrets with `sealed` only if they are still `expected`
    /// (key rotation): false when the account changed meanwhile or is gone, so a concurrent
    /// token refresh or edit is never undone.
    /// An environment's mapping overrides, oldest first.
    async fn list_mapping_overrides(&self, environment_id: &str) -> Result<Vec<MappingOverrideRecord>, StoreError>;
    async fn get_mapping_override(
        &self,
        environment_id: &str,
        id: &str,
    ) -> Result<Option<MappingOverrideRecord>, StoreError>;
    /// Inserts it, moves the environment's overrides version on and writes `events` (the
    /// webhook outbox), in one transaction; false (and nothing written) if the environment
    /// already overrides that method.
    async fn insert_mapping_override(
        &self,
        record: &MappingOverrideRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;
    /// Replaces its config (and `updated_at`) and moves the version on; false if gone.
    async fn update_mapping_override(
        &self,
        record: &MappingOverrideRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;
    /// Deletes it and moves the version on; false if there was none.
    async fn delete_mapping_override(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;
    async fn reseal_secrets(
        &self,
        environment_id: &str,
        id: &str,
        expected: &str,
        sealed: &str,
    ) -> Result<bool, StoreError>;

    /// Takes an account's refresh lease for `holder` until `until` when it is free or its
    /// lease has expired; true when taken. One winner across all instances.
    async fn try_lock_refresh(&self, account_id: &str, holder: &str, until: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Releases the lease if `holder` still has it.
    async fn unlock_refresh(&self, account_id: &str, holder: &str) -> Result<(), StoreError>;

    async fn insert_link_token(&self, token: &LinkTokenRecord) -> Result<(), StoreError>;
    /// A link token that is neither expired nor used.
    async fn get_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError>;
    /// Marks a live link token used and returns it; `None` when it is expired, used or
    /// unknown. Atomic: of two concurrent uses, one wins.
    async fn consume_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError>;

    /// `backlog`: how many entries are still queued behind these; a backend may spend more
    /// to write them sooner when it is large (SQLite: a writer thread of higher priority).
    async fn insert_request_logs(&self, entries: Vec<RequestLogRecord>, backlog: usize) -> Result<(), StoreError>;
    /// Newest first; `before` is the last entry of the previous page.
    async fn list_request_logs(
        &self,
        environment_id: &str,
        integrated_account_id: Option<&str>,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<RequestLogRecord>, StoreError>;
    /// Deletes at most `limit` stored batches ([`log_batches`]) whose entries are all older
    /// than `before`, in one short statement. Fewer than `limit` batches means none is left.
    async fn prune_request_logs(&self, before: DateTime<Utc>, limit: u32) -> Result<LogDeleted, StoreError>;
    /// The time of the newest stored batch that takes an environment past its `keep` newest
    /// entries: deleting it and every batch up to its time leaves at most `keep` (one batch
    /// fewer at worst). `None` when the environment has `keep` entries or fewer.
    async fn request_log_cap_time(&self, environment_id: &str, keep: u64) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Deletes at most `limit` of an environment's stored batches whose newest entry is at
    /// or before `until`.
    async fn trim_request_logs(
        &self,
        environment_id: &str,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<LogDeleted, StoreError>;

    /// Every account of every environment, by id, for maintenance (key rotation).
    async fn list_all_accounts(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<AccountRecord>, StoreError>;

    /// The outbox variants of the account and token writes: `events` are written in the
    /// same transaction as the change (`store::webhooks`), so a change is never committed
    /// without its events, nor an event without its change. The plain methods above are
    /// these with no event.
    async fn insert_account_emitting(&self, account: &AccountRecord, events: &[NewEvent]) -> Result<(), StoreError>;
    /// `events` are written only when the account exists.
    async fn update_account_emitting(&self, account: &AccountRecord, events: &[NewEvent]) -> Result<bool, StoreError>;
    async fn update_account_credentials_emitting(
        &self,
        account: &AccountRecord,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;
    async fn delete_account_emitting(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;
    /// `events` is given the new token (its id is made here).
    async fn create_api_token_emitting(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
        scope: TokenScope,
        events: &(dyn for<'r> Fn(&'r ApiTokenRecord) -> Vec<NewEvent> + Send + Sync),
    ) -> Result<ApiTokenRecord, StoreError>;
    async fn delete_api_token_emitting(
        &self,
        environment_id: &str,
        id: &str,
        events: &[NewEvent],
    ) -> Result<bool, StoreError>;

    /// MCP servers (`store::mcp`).
    async fn insert_mcp_server(&self, server: &McpServerRecord) -> Result<(), StoreError>;
    /// An account's MCP servers, oldest first; `after` is the last row of the previous page.
    async fn list_mcp_servers(
        &self,
        environment_id: &str,
        account_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<McpServerRecord>, StoreError>;
    async fn get_mcp_server(
        &self,
        environment_id: &str,
        account_id: &str,
        id: &str,
    ) -> Result<Option<McpServerRecord>, StoreError>;
    /// The server whose token hashes to `token_hash` (expired or not: the caller checks).
    async fn mcp_server_by_token(&self, token_hash: &str) -> Result<Option<McpServerRecord>, StoreError>;
    /// Writes the name, config, expiry and update time; false when there is no such server.
    async fn update_mcp_server(&self, server: &McpServerRecord) -> Result<bool, StoreError>;
    async fn delete_mcp_server(&self, environment_id: &str, account_id: &str, id: &str) -> Result<bool, StoreError>;
    async fn insert_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError>;
    /// Oldest first; `after` is the last row of the previous page.
    async fn list_webhooks(
        &self,
        environment_id: &str,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError>;
    async fn get_webhook(&self, environment_id: &str, id: &str) -> Result<Option<WebhookRecord>, StoreError>;
    /// Writes every mutable column; false when there is no such webhook.
    async fn update_webhook(&self, webhook: &WebhookRecord) -> Result<bool, StoreError>;
    /// Sets an active webhook inactive, writing `events` in the same transaction; false when
    /// it is not active (or gone).
    async fn disable_webhook(&self, environment_id: &str, id: &str, events: &[NewEvent]) -> Result<bool, StoreError>;
    /// Deletes a webhook with its deliveries; false when there is no such webhook.
    async fn delete_webhook(&self, environment_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Writes `event` with one delivery, to `webhook_id` only (the `test` event); returns
    /// the delivery's id.
    async fn enqueue_event_for(&self, event: &NewEvent, webhook_id: &str) -> Result<String, StoreError>;
    /// Claims at most `limit` due deliveries until `lease_until`, counting an attempt for
    /// each; no other worker (of any instance) claims them before the lease expires.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and what it leaves its delivery as, releasing the lease; returns
    /// the webhook's failed attempts since its last success.
    async fn record_attempt(
        &self,
        webhook_id: &str,
        attempt: &AttemptRecord,
        outcome: DeliveryOutcome,
    ) -> Result<u32, StoreError>;
    /// A webhook's deliveries, newest first; `before` is the last row of the previous page.
    async fn list_deliveries(
        &self,
        environment_id: &str,
        webhook_id: &str,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// The attempts of these deliveries, in order.
    async fn list_attempts(&self, delivery_ids: &[String]) -> Result<Vec<AttemptRecord>, StoreError>;
    /// Makes a delivery due now (pending again if it had failed); false when there is no
    /// such delivery.
    async fn retry_delivery(
        &self,
        environment_id: &str,
        webhook_id: &str,
        delivery_id: &str,
    ) -> Result<bool, StoreError>;
    /// Every webhook of every environment, by id, for maintenance (key rotation).
    async fn list_all_webhooks(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Replaces a webhook's sealed secrets only if they are still `expected` (key rotation):
    /// false when the webhook changed meanwhile (a secret rotation) or is gone.
    async fn reseal_webhook_secrets(
        &self,
        id: &str,
        expected: (&str, Option<&str>),
        sealed: (&str, Option<&str>),
    ) -> Result<bool, StoreError>;
    /// Deletes at most `limit` events older than `before` whose deliveries are all finished;
    /// returns how many.
    async fn prune_webhook_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
    /// Webhook deliveries still pending (due now or waiting for a retry): the outbox's depth.
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;
    /// The connection pool now (for metrics).
    fn pool_use(&self) -> PoolUse;
    /// The calls' account cache, where the backend keeps one (PostgreSQL with
    /// `database.account_cache`): whether it is in use now, its size and its hits.
    fn account_cache(&self) -> Option<account_cache::CacheStats> {
        None
    }

    /// Reserves the start of one call under the request budget `key` (one per account):
    /// the earliest moment, at most `max_wait_ms` away, that keeps every window of
    /// [`BudgetLanes::window_ms`] within the budget, across all instances on this store.
    /// Nothing is reserved when the wait would be longer.
    async fn reserve_rate_slot(&self, key: &str, lanes: BudgetLanes, max_wait_ms: u64) -> Result<RateSlot, StoreError>;
}

/// How a request budget of `requests` per `per_ms` is kept: `lanes` rows, each used at most
/// once per `spacing_ms`. A window of `per_ms` then holds at most `lanes * per_ms /
/// spacing_ms <= requests` calls, and a burst of `lanes` calls goes out at once. The
/// spacing carries a margin for network jitter (2%, at least 10 ms, at most 1 s).
///
/// Budgets above [`BudgetLanes::MAX_LANES`] requests are kept at a finer grain (5000 per
/// hour becomes 100 per 72 s): still never more than the budget in any window, with
/// bursts bounded by the lane count, and no more than that many rows per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLanes {
    pub lanes: u32,
    pub spacing_ms: u64,
    pub window_ms: u64,
}

impl BudgetLanes {
    pub const MAX_LANES: u32 = 100;

    pub fn new(requests: u32, per_ms: u64) -> BudgetLanes {
        let requests = requests.max(1);
        // Split the window in `k` parts so that `requests / k` lanes fit the cap.
        let k = requests.div_ceil(Self::MAX_LANES);
        let spacing = per_ms.max(1).div_ceil(u64::from(k));
        // A margin for network jitter: the provider counts arrivals, and the first call of
        // a window may travel slower than the first of the next.
        let margin = (spacing / 50).clamp(10, 1000);
        BudgetLanes {
            lanes: requests / k,
            spacing_ms: spacing + margin,
            window_ms: per_ms.max(1),
        }
    }
}

/// The outcome of [`Store::reserve_rate_slot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSlot {
    /// Start the call after this many milliseconds (0: now).
    Granted { wait_ms: u64 },
    /// The budget is used up for longer than the caller will wait; the first slot frees
    /// up in this many milliseconds.
    Exhausted { retry_after_ms: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names stored and answered are the ones the status column and the API always
    /// held, in the order the admin API lists them; any other name is refused.
    #[test]
    fn account_statuses_keep_their_names_in_the_database_and_on_the_wire() {
        let names = AccountStatus::ALL.map(AccountStatus::as_str);
        assert_eq!(
            names,
            [
                "active",
                "connecting",
                "post_install_error",
                "validation_error",
                "needs_reauth"
            ]
        );
        for status in AccountStatus::ALL {
            assert_eq!(status.as_str().parse::<AccountStatus>(), Ok(status));
            assert_eq!(serde_json::json!(status), status.as_str());
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!("Active".parse::<AccountStatus>(), Err(UnknownStatus("Active".into())));
    }
}
