//! The embedded default backend: one SQLite file in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    /// The account read of every unified call, without sqlx's worker thread.
    fast: Option<FastReads>,
}

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
        Ok(SqliteStore { pool, fast })
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

fn account_from_row(row: &SqliteRow) -> Result<AccountRecord, StoreError> {
    RawAccount {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        tenant_id: row.try_get("tenant_id")?,
        integration: row.try_get("integration")?,
        context: row.try_get("context")?,
        secrets: row.try_get("secrets")?,
        status: row.try_get("status")?,
        last_error: row.try_get("last_error")?,
        is_sandbox: row.try_get::<i64, _>("is_sandbox")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    }
    .decode()
}

fn link_token_from_row(row: &SqliteRow) -> Result<LinkTokenRecord, StoreError> {
    Ok(LinkTokenRecord {
        token_hash: row.try_get("token_hash")?,
        environment_id: row.try_get("environment_id")?,
        tenant_id: row.try_get("tenant_id")?,
        integration: row.try_get("integration")?,
        redirect_uri: row.try_get("redirect_uri")?,
        created_at: ts(&row.try_get::<String, _>("created_at")?)?,
        expires_at: ts(&row.try_get::<String, _>("expires_at")?)?,
    })
}

fn request_log_from_row(row: &SqliteRow) -> Result<RequestLogRecord, StoreError> {
    Ok(RequestLogRecord {
        id: row.try_get("id")?,
        environment_id: row.try_get("environment_id")?,
        integrated_account_id: row.try_get("integrated_account_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: row.try_get::<i64, _>("status")? as u16,
        duration_ms: row.try_get::<i64, _>("duration_ms")?.max(0) as u64,
        error: row.try_get("error")?,
        created_at: ts(&row.try_get::<String, _>("created_at")?)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn idempotency_begin(
        &self,
        environment_id: &str,
        key: &str,
        request_hash: &str,
        ttl: chrono::Duration,
    ) -> Result<IdempotencyBegin, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = ? AND key = ? AND expires_at < ?")
            .bind(environment_id)
            .bind(key)
            .bind(fmt_ts(&now))
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (environment_id, key, request_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (environment_id, key) DO NOTHING",
        )
        .bind(environment_id)
        .bind(key)
        .bind(request_hash)
        .bind(fmt_ts(&now))
        .bind(fmt_ts(&(now + ttl)))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if inserted {
            IdempotencyBegin::Started
        } else {
            let row = sqlx::query(
                "SELECT request_hash, status_code, content_type, body FROM idempotency_keys WHERE environment_id = ? AND key = ?",
            )
            .bind(environment_id)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            idempotency_outcome(
                request_hash,
                row.try_get("request_hash")?,
                row.try_get("status_code")?,
                row.try_get("content_type")?,
                row.try_get("body")?,
            )
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        environment_id: &str,
        key: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE idempotency_keys SET status_code = ?, content_type = ?, body = ? WHERE environment_id = ? AND key = ?")
            .bind(status as i64)
            .bind(content_type)
            .bind(body)
            .bind(environment_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn idempotency_abort(&self, environment_id: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = ? AND key = ? AND status_code IS NULL")
            .bind(environment_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn first_environment(&self) -> Result<Option<Environment>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM environments ORDER BY created_at LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Environment {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: ts(&r.try_get::<String, _>("created_at")?)?,
            })
        })
        .transpose()
    }

    async fn create_environment(&self, name: &str) -> Result<Environment, StoreError> {
        let env = Environment {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            created_at: Utc::now(),
        };
        sqlx::query("INSERT INTO environments (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&env.id)
            .bind(&env.name)
            .bind(fmt_ts(&env.created_at))
            .execute(&self.pool)
            .await?;
        Ok(env)
    }

    async fn create_api_token(
        &self,
        environment_id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<ApiTokenRecord, StoreError> {
        let rec = ApiTokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            environment_id: environment_id.to_string(),
            name: name.to_string(),
            created_at: Utc::now(),
        };
        sqlx::query("INSERT INTO api_tokens (id, environment_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&rec.id)
            .bind(&rec.environment_id)
            .bind(&rec.name)
            .bind(token_hash)
            .bind(fmt_ts(&rec.created_at))
            .execute(&self.pool)
            .await?;
        Ok(rec)
    }

    async fn environment_for_token(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT environment_id FROM api_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("environment_id")).transpose()?)
    }

    async fn insert_account(&self, a: &AccountRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO integrated_accounts (id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&a.id)
        .bind(&a.environment_id)
        .bind(&a.tenant_id)
        .bind(&a.integration)
        .bind(a.context.to_string())
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(a.is_sandbox as i64)
        .bind(fmt_ts(&a.created_at))
        .bind(fmt_ts(&a.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_account(&self, environment_id: &str, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        if let Some(fast) = &self.fast {
            match fast.get_account(environment_id, id) {
                Ok(found) => return found.map(RawAccount::decode).transpose(),
                Err(e) => tracing::debug!(error = %e, "in-thread account read failed; reading through the pool"),
            }
        }
        let row = sqlx::query("SELECT * FROM integrated_accounts WHERE environment_id = ? AND id = ?")
            .bind(environment_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(
        &self,
        environment_id: &str,
        filter: &AccountFilter,
        after: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let mut qb =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT * FROM integrated_accounts WHERE environment_id = ");
        qb.push_bind(environment_id);
        if let Some(t) = &filter.tenant_id {
            qb.push(" AND tenant_id = ").push_bind(t);
        }
        if let Some(i) = &filter.integration {
            qb.push(" AND integration = ").push_bind(i);
        }
        if let Some(s) = &filter.status {
            qb.push(" AND status = ").push_bind(s);
        }
        if let Some(s) = filter.is_sandbox {
            qb.push(" AND is_sandbox = ").push_bind(s as i64);
        }
        if let Some(pos) = after {
            qb.push(" AND (created_at, id) > (")
                .push_bind(fmt_ts(&pos.created_at))
                .push(", ")
                .push_bind(&pos.id)
                .push(")");
        }
        qb.push(" ORDER BY created_at, id LIMIT ").push_bind(limit as i64);
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn update_account(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrated_accounts SET tenant_id = ?, context = ?, secrets = ?, status = ?, last_error = ?, updated_at = ? \
             WHERE environment_id = ? AND id = ?",
        )
        .bind(&a.tenant_id)
        .bind(a.context.to_string())
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(fmt_ts(&a.updated_at))
        .bind(&a.environment_id)
        .bind(&a.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_account_credentials(&self, a: &AccountRecord) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE integrated_accounts SET secrets = ?, status = ?, last_error = ?, updated_at = ? WHERE environment_id = ? AND id = ?",
        )
        .bind(&a.secrets)
        .bind(&a.status)
        .bind(&a.last_error)
        .bind(fmt_ts(&a.updated_at))
        .bind(&a.environment_id)
        .bind(&a.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn try_lock_refresh(&self, account_id: &str, holder: &str, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = Utc::now();
        let done = sqlx::query(
            "INSERT INTO refresh_locks (account_id, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE refresh_locks.expires_at < ?",
        )
        .bind(account_id)
        .bind(holder)
        .bind(fmt_ts(&until))
        .bind(fmt_ts(&now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock_refresh(&self, account_id: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM refresh_locks WHERE account_id = ? AND holder = ?")
            .bind(account_id)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_link_token(&self, t: &LinkTokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, environment_id, tenant_id, integration, redirect_uri, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.token_hash)
        .bind(&t.environment_id)
        .bind(&t.tenant_id)
        .bind(&t.integration)
        .bind(&t.redirect_uri)
        .bind(fmt_ts(&t.created_at))
        .bind(fmt_ts(&t.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM link_tokens WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?")
            .bind(token_hash)
            .bind(fmt_ts(&Utc::now()))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(link_token_from_row).transpose()
    }

    async fn consume_link_token(&self, token_hash: &str) -> Result<Option<LinkTokenRecord>, StoreError> {
        let now = Utc::now();
        let row = sqlx::query(
            "UPDATE link_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *",
        )
        .bind(fmt_ts(&now))
        .bind(token_hash)
        .bind(fmt_ts(&now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_token_from_row).transpose()
    }

    async fn insert_request_logs(&self, entries: &[RequestLogRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: one round trip to the database per chunk, not per row.
        for chunk in request_log_chunks(entries) {
            request_log_insert(chunk, fmt_ts).build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_request_logs(
        &self,
        environment_id: &str,
        integrated_account_id: Option<&str>,
        before: Option<&AccountPosition>,
        limit: u32,
    ) -> Result<Vec<RequestLogRecord>, StoreError> {
        let far = AccountPosition {
            created_at: Utc::now() + chrono::Duration::days(36500),
            id: String::new(),
        };
        let before = before.unwrap_or(&far);
        let rows = sqlx::query(
            "SELECT * FROM request_logs WHERE environment_id = ? AND (? IS NULL OR integrated_account_id = ?) AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(environment_id)
        .bind(integrated_account_id)
        .bind(integrated_account_id)
        .bind(fmt_ts(&before.created_at))
        .bind(fmt_ts(&before.created_at))
        .bind(&before.id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_log_from_row).collect()
    }

    async fn prune_request_logs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM request_logs WHERE created_at < ?")
            .bind(fmt_ts(&before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_all_accounts(&self, after_id: Option<&str>, limit: u32) -> Result<Vec<AccountRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM integrated_accounts WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after_id.unwrap_or(""))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn delete_account(&self, environment_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM integrated_accounts WHERE environment_id = ? AND id = ?")
            .bind(environment_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_rate_slot(&self, key: &str, lanes: BudgetLanes, max_wait_ms: u64) -> Result<RateSlot, StoreError> {
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
            .fetch_optional(&self.pool)
            .await?;
            if let Some(at) = granted {
                return Ok(RateSlot::Granted {
                    wait_ms: u64::try_from(at - now).unwrap_or(0),
                });
            }
            let row = sqlx::query("SELECT COUNT(*) AS n, MIN(last_ms) AS earliest FROM rate_budget_lanes WHERE budget_key = ? AND lane < ?")
                .bind(key)
                .bind(i64::from(lanes.lanes))
                .fetch_one(&self.pool)
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
                .execute(&self.pool)
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

/// How often a reservation is tried again when it lost a race for a lane.
const RESERVE_ATTEMPTS: usize = 8;

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
        assert!(store.fast.is_some());
        let env = store.create_environment("e").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());

        store.insert_account(&account(&env.id, "a1", "active")).await.unwrap();
        let fast = store.get_account(&env.id, "a1").await.unwrap().unwrap();
        let row = sqlx::query("SELECT * FROM integrated_accounts WHERE id = 'a1'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let pooled = account_from_row(&row).unwrap();
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
        store.fast = Some(FastReads {
            path: dir.path().join("missing/none.db"),
            idle: std::sync::Mutex::new(Vec::new()),
        });
        assert_eq!(store.get_account(&env.id, "a1").await.unwrap().unwrap().id, "a1");
    }
}
