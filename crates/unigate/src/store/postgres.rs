//! The scale-out backend: PostgreSQL, shared by any number of stateless instances.
//!
//! The queries are [`SqlStore`]'s, shared with [`super::sqlite`]; what differs is the
//! [`PgDialect`]: types (TIMESTAMPTZ, JSONB) and the rate-limit lanes. Timestamps are
//! truncated to microseconds before they are written, which is PostgreSQL's precision, so
//! keyset cursors compare exactly.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult};
use sqlx::{PgPool, Row};

use super::account_cache::{self, AccountCache, Lookup};
use super::dialect::Dialect;
use super::sql::{exhausted, lost_every_race, reserve_bounds, SqlStore, RESERVE_ATTEMPTS};
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The scale-out store: the shared queries ([`SqlStore`]) in PostgreSQL's [`PgDialect`].
pub type PgStore = SqlStore<PgDialect>;

#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout_ms: u64,
    /// Whether [`Store::get_account_for_call`] is served from an [`AccountCache`].
    pub account_cache: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout_ms: 10_000,
            account_cache: true,
        }
    }
}

impl PgStore {
    /// Connects (lazily: an unreachable database at start is retried per request, so the
    /// instance recovers by itself), applies pending migrations and, with
    /// `opts.account_cache`, starts listening for account changes (a task of the current
    /// runtime).
    pub async fn connect(url: &str, opts: &PgOptions) -> Result<Self, StoreError> {
        let connect: PgConnectOptions = url.parse()?;
        let connect = connect.options([("statement_timeout", opts.statement_timeout_ms.to_string())]);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .acquire_timeout(opts.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        let accounts = opts.account_cache.then(|| account_cache::start(&pool));
        Ok(SqlStore {
            pool,
            dialect: PgDialect { accounts },
        })
    }
}

/// PostgreSQL's ways: TIMESTAMPTZ at microseconds, JSONB, the rate-limit lanes on the
/// database's clock with `FOR UPDATE SKIP LOCKED`, and the calls' account cache.
pub struct PgDialect {
    accounts: Option<Arc<AccountCache>>,
}

impl Dialect for PgDialect {
    type Db = sqlx::Postgres;
    type Time = DateTime<Utc>;
    type Json = sqlx::types::Json<serde_json::Value>;
    const NAME: &'static str = "postgres";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    fn time(t: &DateTime<Utc>) -> DateTime<Utc> {
        t.trunc_subsecs(6)
    }

    fn from_time(stored: DateTime<Utc>) -> Result<DateTime<Utc>, StoreError> {
        Ok(stored)
    }

    fn json(v: &serde_json::Value) -> Self::Json {
        sqlx::types::Json(v.clone())
    }

    fn from_json(stored: Self::Json) -> Result<serde_json::Value, StoreError> {
        Ok(stored.0)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn cached_account(&self, environment_id: &str, id: &str) -> Lookup {
        match &self.accounts {
            Some(cache) => cache.lookup(environment_id, id),
            None => Lookup::Miss(None),
        }
    }

    fn remember_account(&self, ticket: Option<u64>, record: &std::sync::Arc<AccountRecord>) {
        if let Some(cache) = &self.accounts {
            cache.remember(ticket, record);
        }
    }

    fn account_cache(&self) -> Option<account_cache::CacheStats> {
        self.accounts.as_ref().map(|c| c.stats())
    }

    fn accounts_changed(&self, id: Option<&str>) {
        if let Some(cache) = &self.accounts {
            cache.forget(id);
        }
    }

    async fn reserve_rate_slot(
        &self,
        pool: &PgPool,
        key: &str,
        lanes: BudgetLanes,
        max_wait_ms: u64,
    ) -> Result<RateSlot, StoreError> {
        let (spacing, max_wait) = reserve_bounds(lanes, max_wait_ms);
        let count = i32::try_from(lanes.lanes).unwrap_or(i32::MAX);
        for _ in 0..RESERVE_ATTEMPTS {
            // The database's clock, so instances with skewed clocks still share one timeline.
            // The least recently used lane that no concurrent reservation holds moves on by
            // one spacing, unless that start is too far away.
            let granted: Option<i64> = sqlx::query_scalar(
                "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms), \
                      pick AS (SELECT lane FROM rate_budget_lanes WHERE budget_key = $1 AND lane < $2 \
                               ORDER BY last_ms, lane LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 UPDATE rate_budget_lanes l SET last_ms = GREATEST(clock.now_ms, l.last_ms + $3) \
                 FROM pick, clock \
                 WHERE l.budget_key = $1 AND l.lane = pick.lane \
                   AND GREATEST(clock.now_ms, l.last_ms + $3) <= clock.now_ms + $4 \
                 RETURNING l.last_ms - clock.now_ms",
            )
            .bind(key)
            .bind(count)
            .bind(spacing)
            .bind(max_wait)
            .fetch_optional(pool)
            .await?;
            if let Some(wait) = granted {
                return Ok(RateSlot::Granted {
                    wait_ms: u64::try_from(wait).unwrap_or(0),
                });
            }
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(last_ms) AS earliest, \
                        (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms \
                 FROM rate_budget_lanes WHERE budget_key = $1 AND lane < $2",
            )
            .bind(key)
            .bind(count)
            .fetch_one(pool)
            .await?;
            let (n, earliest, now): (i64, Option<i64>, i64) =
                (row.try_get("n")?, row.try_get("earliest")?, row.try_get("now_ms")?);
            if n < i64::from(count) {
                // First use of this budget (or a larger one): create its lanes, then retry.
                sqlx::query(
                    "INSERT INTO rate_budget_lanes (budget_key, lane, last_ms) \
                     SELECT $1, g, 0 FROM generate_series(0, $2 - 1) AS g ON CONFLICT DO NOTHING",
                )
                .bind(key)
                .bind(count)
                .execute(pool)
                .await?;
                continue;
            }
            if let Some(exhausted) = exhausted(earliest, now, spacing, max_wait) {
                return Ok(exhausted);
            }
            // Every free-enough lane was held by a concurrent reservation: try again.
        }
        Ok(lost_every_race(lanes))
    }
}
