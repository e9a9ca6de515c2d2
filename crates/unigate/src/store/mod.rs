//! Persistence behind one trait, so backends are chosen by configuration.
//!
//! Every account query takes the environment id first: a token can only ever reach its
//! own environment's rows, whatever id a client sends.

pub mod postgres;
pub mod sqlite;

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
    pub created_at: DateTime<Utc>,
}

/// An integrated account as stored: secrets still sealed.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub environment_id: String,
    pub tenant_id: String,
    pub integration: String,
    /// Non-secret context values.
    pub context: Value,
    /// Sealed secret context values (`accounts::crypto`).
    pub secrets: String,
    pub status: String,
    pub last_error: Option<String>,
    pub is_sandbox: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub tenant_id: Option<String>,
    pub integration: Option<String>,
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
    async fn create_api_token(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiTokenRecord, StoreError>;
    /// The environment a token hash belongs to.
    async fn environment_for_token(&self, token_hash: &str) -> Result<Option<String>, StoreError>;

    async fn insert_account(&self, account: &AccountRecord) -> Result<(), StoreError>;
    async fn get_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError>;
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
    /// Every account of every environment, by id, for maintenance (key rotation).
    async fn list_all_accounts(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<AccountRecord>, StoreError>;
}
