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

#[async_trait]
pub trait Store: Send + Sync + 'static {
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
}
