//! [`SqliteDialect`]: what the shared queries ([`SqlStore`](crate::store::sql::SqlStore)) do
//! SQLite's way. Timestamps are fixed-width RFC 3339 text, so that text order is time order;
//! JSON is text; a rate-limit lane is taken by one `UPDATE ... RETURNING` on this process's
//! clock (SQLite runs one writer at a time, so one statement cannot race another).

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteQueryResult;
use sqlx::{Row, SqlitePool};

use super::fast_reads::FastReads;
use super::log_writer::LogWriter;
use super::time::{fmt_ts, ts};
use crate::store::dialect::Dialect;
use crate::store::sql::{exhausted, lost_every_race, reserve_bounds, RESERVE_ATTEMPTS};
use crate::store::{AccountRecord, BudgetLanes, RateSlot, RequestLogRecord, StoreError};

/// SQLite's ways: timestamps as fixed-width RFC 3339 text, JSON as text, the account read
/// in place ([`FastReads`]), the request log on threads of its own ([`LogWriter`]), and the
/// rate-limit lanes in SQLite's SQL.
pub struct SqliteDialect {
    /// The account read of every unified call, without sqlx's worker thread.
    pub(super) fast: Option<FastReads>,
    /// The request log's writes, on threads of their own.
    pub(super) log: Option<LogWriter>,
}

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;
    type Time = String;
    type Json = String;
    const NAME: &'static str = "sqlite";

    fn time(t: &DateTime<Utc>) -> String {
        fmt_ts(t)
    }

    fn from_time(stored: String) -> Result<DateTime<Utc>, StoreError> {
        ts(&stored)
    }

    fn json(v: &serde_json::Value) -> String {
        v.to_string()
    }

    fn from_json(stored: String) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn fast_account(
        &self,
        environment_id: &str,
        id: &str,
        for_call: bool,
    ) -> Option<Result<Option<std::sync::Arc<AccountRecord>>, StoreError>> {
        match self.fast.as_ref()?.get_account(environment_id, id, for_call) {
            Ok(found) => Some(found.transpose()),
            Err(e) => {
                tracing::debug!(error = %e, "in-thread account read failed; reading through the pool");
                None
            }
        }
    }

    fn accounts_changed(&self, _id: Option<&str>) {
        if let Some(fast) = &self.fast {
            fast.changed();
        }
    }

    async fn write_request_logs(
        &self,
        entries: Vec<RequestLogRecord>,
        backlog: usize,
    ) -> Result<(), Vec<RequestLogRecord>> {
        match &self.log {
            Some(log) => log.write(entries, backlog).await,
            None => Err(entries),
        }
    }

    async fn reserve_rate_slot(
        &self,
        pool: &SqlitePool,
        key: &str,
        lanes: BudgetLanes,
        max_wait_ms: u64,
    ) -> Result<RateSlot, StoreError> {
        let (spacing, max_wait) = reserve_bounds(lanes, max_wait_ms);
        for _ in 0..RESERVE_ATTEMPTS {
            let now = Utc::now().timestamp_millis();
            // One statement, so one writer at a time: the least recently used lane moves on
            // by one spacing, unless that start is too far away.
            let granted: Option<i64> = sqlx::query_scalar(
                "UPDATE rate_budget_lanes SET last_ms = MAX(?1, last_ms + ?2) \
                 WHERE budget_key = ?3 AND lane = (SELECT lane FROM rate_budget_lanes WHERE budget_key = ?3 AND lane < ?4 \
                                                   ORDER BY last_ms, lane LIMIT 1) \
                   AND MAX(?1, last_ms + ?2) <= ?1 + ?5 \
                 RETURNING last_ms",
            )
            .bind(now)
            .bind(spacing)
            .bind(key)
            .bind(i64::from(lanes.lanes))
            .bind(max_wait)
            .fetch_optional(pool)
            .await?;
            if let Some(at) = granted {
                return Ok(RateSlot::Granted {
                    wait_ms: u64::try_from(at - now).unwrap_or(0),
                });
            }
            let row = sqlx::query("SELECT COUNT(*) AS n, MIN(last_ms) AS earliest FROM rate_budget_lanes WHERE budget_key = ? AND lane < ?")
                .bind(key)
                .bind(i64::from(lanes.lanes))
                .fetch_one(pool)
                .await?;
            let (n, earliest): (i64, Option<i64>) = (row.try_get("n")?, row.try_get("earliest")?);
            if n < i64::from(lanes.lanes) {
                // First use of this budget (or a larger one): create its lanes, then retry.
                sqlx::query(
                    "WITH RECURSIVE lanes(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM lanes WHERE i + 1 < ?) \
                     INSERT OR IGNORE INTO rate_budget_lanes (budget_key, lane, last_ms) SELECT ?, i, 0 FROM lanes",
                )
                .bind(i64::from(lanes.lanes))
                .bind(key)
                .execute(pool)
                .await?;
                continue;
            }
            if let Some(exhausted) = exhausted(earliest, now, spacing, max_wait) {
                return Ok(exhausted);
            }
        }
        Ok(lost_every_race(lanes))
    }
}
