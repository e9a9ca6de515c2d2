//! The embedded default backend: one SQLite file in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::sql::{Dialect, SqlStore, RESERVE_ATTEMPTS};
use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded store: the shared queries ([`SqlStore`]) in SQLite's [`SqliteDialect`].
pub type SqliteStore = SqlStore<SqliteDialect>;

/// Synchronous read-only connections for the one read on every unified call (the account).
///
/// sqlx runs each SQLite statement on a worker thread and hands the rows back over channels:
/// two context switches per query, which profiling showed to be a fifth of the gateway's CPU
/// at saturation (bench/ANALYSIS.md). A point read on a primary key of a local WAL-mode file
/// takes microseconds and never waits for writers, so it is done in place, on the caller's
/// thread. Still read fresh from the file on every call: nothing is cached. Any failure here
/// falls back to the sqlx path, which classifies errors as usual. sqlx offers no in-thread
/// mode, hence rusqlite (built on the same libsqlite3-sys, so the same SQLite library).
struct FastReads {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

/// Idle read connections kept (more are opened when calls overlap, then closed).
const FAST_READS_IDLE: usize = 8;

impl FastReads {
    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // No waiting here: this runs on the async runtime's thread, so a locked database
        // must not put that thread to sleep. `SQLITE_BUSY` comes back at once and the read
        // goes through the pool, whose worker thread waits (up to its busy timeout) instead.
        conn.busy_timeout(Duration::ZERO)?;
        Ok(conn)
    }

    fn with<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        if out.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < FAST_READS_IDLE {
                idle.push(conn);
            }
        }
        out
    }

    fn get_account(&self, environment_id: &str, id: &str) -> rusqlite::Result<Option<RawAccount>> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at FROM integrated_accounts WHERE environment_id = ?1 AND id = ?2",
            )?;
            let mut rows = stmt.query([environment_id, id])?;
            let Some(row) = rows.next()? else { return Ok(None) };
            Ok(Some(RawAccount {
                id: row.get(0)?,
                environment_id: row.get(1)?,
                tenant_id: row.get(2)?,
                integration: row.get(3)?,
                context: row.get(4)?,
                secrets: row.get(5)?,
                status: row.get(6)?,
                last_error: row.get(7)?,
                is_sandbox: row.get::<_, i64>(8)? != 0,
                created_at: row.get(9)?,
                updated_at: row.get(10)?,
            }))
        })
    }
}

/// An account row as stored (JSON and timestamps still text), from either read path.
struct RawAccount {
    id: String,
    environment_id: String,
    tenant_id: String,
    integration: String,
    context: String,
    secrets: String,
    status: String,
    last_error: Option<String>,
    is_sandbox: bool,
    created_at: String,
    updated_at: String,
}

impl RawAccount {
    fn decode(self) -> Result<AccountRecord, StoreError> {
        Ok(AccountRecord {
            id: self.id,
            environment_id: self.environment_id,
            tenant_id: self.tenant_id,
            integration: self.integration,
            context: serde_json::from_str(&self.context).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            secrets: self.secrets,
            status: self.status,
            last_error: self.last_error,
            is_sandbox: self.is_sandbox,
            created_at: ts(&self.created_at)?,
            updated_at: ts(&self.updated_at)?,
        })
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let path = options.get_filename().to_path_buf();
        // No ping before each use: a connection to a local file does not go stale, and the
        // ping is one more round trip to sqlx's worker thread per query (bench/ANALYSIS.md).
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        // An in-memory database exists only inside sqlx's connections.
        let in_memory = path.as_os_str().is_empty() || path.to_string_lossy().contains(":memory:");
        let fast = (!in_memory).then(|| FastReads {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
        });
        Ok(SqlStore {
            pool,
            dialect: SqliteDialect { fast },
        })
    }
}

fn ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp `{s}`: {e}")))
}

fn fmt_ts(t: &DateTime<Utc>) -> String {
    // Fixed width so that text order is time order (keyset pagination relies on it).
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// SQLite's ways: timestamps as fixed-width RFC 3339 text, JSON as text, the account read
/// in place ([`FastReads`]), and the rate-limit lanes in SQLite's SQL.
pub struct SqliteDialect {
    /// The account read of every unified call, without sqlx's worker thread.
    fast: Option<FastReads>,
}

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;
    type Time = String;
    type Json = String;
    const NUMBERED_PLACEHOLDERS: bool = false;

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

    fn fast_account(&self, environment_id: &str, id: &str) -> Option<Result<Option<AccountRecord>, StoreError>> {
        match self.fast.as_ref()?.get_account(environment_id, id) {
            Ok(found) => Some(found.map(RawAccount::decode).transpose()),
            Err(e) => {
                tracing::debug!(error = %e, "in-thread account read failed; reading through the pool");
                None
            }
        }
    }

    async fn reserve_rate_slot(
        &self,
        pool: &SqlitePool,
        key: &str,
        lanes: BudgetLanes,
        max_wait_ms: u64,
    ) -> Result<RateSlot, StoreError> {
        let spacing = i64::try_from(lanes.spacing_ms).unwrap_or(i64::MAX / 4);
        let max_wait = i64::try_from(max_wait_ms).unwrap_or(i64::MAX / 4);
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
            let retry_after = earliest.unwrap_or(now).saturating_add(spacing).saturating_sub(now);
            if retry_after > max_wait {
                return Ok(RateSlot::Exhausted {
                    retry_after_ms: u64::try_from(retry_after).unwrap_or(0),
                });
            }
        }
        Ok(RateSlot::Exhausted {
            retry_after_ms: lanes.spacing_ms.min(1000),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn account(environment_id: &str, id: &str, status: &str) -> AccountRecord {
        let now = Utc::now();
        AccountRecord {
            id: id.into(),
            environment_id: environment_id.into(),
            tenant_id: "t1".into(),
            integration: "github".into(),
            context: serde_json::json!({"org": "octo", "n": 1}),
            secrets: "sealed".into(),
            status: status.into(),
            last_error: Some("e".into()),
            is_sandbox: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[tokio::test]
    async fn in_thread_account_reads_see_every_write_at_once_and_match_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        assert!(store.dialect.fast.is_some());
        let env = store.create_environment("e").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());

        store.insert_account(&account(&env.id, "a1", "active")).await.unwrap();
        let fast = store.get_account(&env.id, "a1").await.unwrap().unwrap();
        let row = sqlx::query("SELECT * FROM integrated_accounts WHERE id = 'a1'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let pooled = SqliteStore::account_from_row(&row).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{pooled:?}"));

        store
            .update_account(&account(&env.id, "a1", "needs_reauth"))
            .await
            .unwrap();
        assert_eq!(
            store.get_account(&env.id, "a1").await.unwrap().unwrap().status,
            "needs_reauth"
        );
        assert!(store.get_account("other-env", "a1").await.unwrap().is_none());
        store.delete_account(&env.id, "a1").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());
    }

    /// A locked database: the in-thread read does not wait for the lock (it runs on the
    /// async runtime's thread) but answers busy at once, so `get_account` takes the pool.
    #[test]
    fn an_in_thread_read_does_not_wait_for_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        // A rollback-journal database, where an exclusive transaction shuts readers out (a
        // WAL database's readers are shut out only by rarer states such as recovery).
        conn.execute_batch(
            "CREATE TABLE integrated_accounts (id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at);
             INSERT INTO integrated_accounts VALUES ('a1', 'e', 't', 'github', '{}', '', 'active', NULL, 0, '', '');",
        )
        .unwrap();
        let fast = FastReads {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
        };
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        // A read that waited for the lock would succeed once it is released.
        let err = fast.get_account("e", "a1").err().unwrap();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
        holder.join().unwrap();
        assert_eq!(fast.get_account("e", "a1").unwrap().unwrap().status, "active");
    }

    #[tokio::test]
    async fn a_failing_in_thread_read_falls_back_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut store = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        store.insert_account(&account(&env.id, "a1", "active")).await.unwrap();
        // A path that cannot be opened: every in-thread read fails.
        store.dialect.fast = Some(FastReads {
            path: dir.path().join("missing/none.db"),
            idle: std::sync::Mutex::new(Vec::new()),
        });
        assert_eq!(store.get_account(&env.id, "a1").await.unwrap().unwrap().id, "a1");
    }
}
