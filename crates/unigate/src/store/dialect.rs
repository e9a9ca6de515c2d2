//! What each SQL backend does its own way ([`Dialect`]: timestamps, JSON, booleans, the
//! rate-limit lanes' SQL), and the one decoding of an account row for every read path
//! ([`AccountRow`]), which depends on it. The queries themselves are written once in
//! `sql.rs`.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Database, Decode, Encode, Pool, Type};

use super::*;

/// A row of the backend's database.
pub(super) type DbRow<D> = <<D as Dialect>::Db as Database>::Row;

/// What one SQL backend does its own way.
pub trait Dialect: Send + Sync + Sized + 'static {
    type Db: Database;
    /// A timestamp as stored.
    type Time: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Send + Sync + 'static;
    /// A JSON document as stored.
    type Json: for<'q> Encode<'q, Self::Db> + for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Send + Sync + 'static;

    fn time(t: &DateTime<Utc>) -> Self::Time;
    fn from_time(stored: Self::Time) -> Result<DateTime<Utc>, StoreError>;
    fn json(v: &Value) -> Self::Json;
    fn from_json(stored: Self::Json) -> Result<Value, StoreError>;
    /// sqlx has no trait method for it.
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
    /// The backend's name, as metrics label it (`sqlite`, `postgres`).
    const NAME: &'static str;
    /// What ends the subquery that picks webhook deliveries to claim: PostgreSQL's
    /// `FOR UPDATE SKIP LOCKED`, so concurrent instances pick different rows; nothing for
    /// SQLite, which runs one writer at a time.
    const SKIP_LOCKED: &'static str = "";

    /// An account read, when the backend has a path faster than the pool; `None` sends it
    /// through the pool. `for_call`: the read of a unified or Proxy API call, which may use
    /// the backend's change window (SQLite's `Recheck::After`); other reads (the admin API,
    /// OAuth refreshes, read-merge-writes) see every committed write.
    fn fast_account(
        &self,
        _environment_id: &str,
        _id: &str,
        _for_call: bool,
    ) -> Option<Result<Option<std::sync::Arc<AccountRecord>>, StoreError>> {
        None
    }

    /// [`Store::get_account_for_call`]'s cache, when the backend keeps one; a miss carries
    /// the ticket to [`Dialect::remember_account`] the record read from the pool with.
    fn cached_account(&self, _environment_id: &str, _id: &str) -> super::account_cache::Lookup {
        super::account_cache::Lookup::Miss(None)
    }

    fn remember_account(&self, _ticket: Option<u64>, _record: &std::sync::Arc<AccountRecord>) {}

    /// [`Store::account_cache`].
    fn account_cache(&self) -> Option<super::account_cache::CacheStats> {
        None
    }

    /// A write of this instance changed the account `id`, or (`None`) possibly every account
    /// (an environment's overrides or the environment itself); called before the write answers.
    fn accounts_changed(&self, _id: Option<&str>) {}

    /// [`Store::insert_request_logs`] off the pool, when the backend has such a path. The rows
    /// come back (`Err`) when they were not written there, and then go through the pool.
    fn write_request_logs(
        &self,
        entries: Vec<RequestLogRecord>,
        _backlog: usize,
    ) -> impl Future<Output = Result<(), Vec<RequestLogRecord>>> + Send {
        std::future::ready(Err(entries))
    }

    /// [`Store::reserve_rate_slot`]: one atomic statement per attempt, in each backend's SQL.
    fn reserve_rate_slot(
        &self,
        pool: &Pool<Self::Db>,
        key: &str,
        lanes: BudgetLanes,
        max_wait_ms: u64,
    ) -> impl Future<Output = Result<RateSlot, StoreError>> + Send;
}

/// An account row as stored (JSON and timestamps in the backend's types), from either read
/// path: the pool's ([`SqlStore::account_from_row`]) and SQLite's in-thread reads. Both
/// decode it here, so they cannot disagree on what a row means.
pub(super) struct AccountRow<D: Dialect> {
    pub id: String,
    pub environment_id: String,
    pub tenant_id: String,
    pub integration: String,
    pub context: D::Json,
    pub secrets: String,
    pub status: String,
    pub last_error: Option<String>,
    pub is_sandbox: bool,
    pub created_at: D::Time,
    pub updated_at: D::Time,
    /// JSON text.
    pub unified_model_override: Option<String>,
    pub overrides_version: i64,
}

impl<D: Dialect> AccountRow<D> {
    /// The record: JSON and timestamps out of the backend's types, the status parsed; a
    /// value that does not decode makes the row corrupt.
    pub fn decode(self) -> Result<AccountRecord, StoreError> {
        Ok(AccountRecord {
            id: self.id,
            environment_id: self.environment_id,
            tenant_id: self.tenant_id,
            integration: self.integration,
            context: D::from_json(self.context)?,
            secrets: self.secrets,
            status: self
                .status
                .parse()
                .map_err(|e: UnknownStatus| StoreError::Corrupt(e.to_string()))?,
            last_error: self.last_error,
            is_sandbox: self.is_sandbox,
            created_at: D::from_time(self.created_at)?,
            updated_at: D::from_time(self.updated_at)?,
            unified_model_override: self
                .unified_model_override
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("unified_model_override: {e}")))?,
            overrides_version: self.overrides_version,
        })
    }
}
