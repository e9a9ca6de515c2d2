//! The embedded default backend: one SQLite file in WAL mode.

use std::collections::HashMap;
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
/// thread. Any failure here falls back to the sqlx path, which classifies errors as usual.
/// sqlx offers no in-thread mode, hence rusqlite (built on the same libsqlite3-sys, so the
/// same SQLite library).
///
/// Each connection keeps the accounts it read, valid while SQLite's `PRAGMA data_version`
/// stays the same: that number changes whenever any other connection, in this process or
/// another sharing the file, commits anything. So a write by this instance or another is
/// seen by the next call, exactly as without the cache; asking costs a read transaction,
/// but not the row's lookup, copying and decoding (bench/ANALYSIS.md, "Eighth pass").
struct FastReads {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Reader>>,
    /// Reads answered from a connection's cache (for tests and debugging).
    hits: std::sync::atomic::AtomicU64,
}

/// A read connection and the accounts it read since the database last changed.
struct Reader {
    conn: rusqlite::Connection,
    /// The `data_version` the cached accounts were read at (or before).
    version: i64,
    /// By environment, then account id.
    accounts: HashMap<String, HashMap<String, AccountRecord>>,
}

/// Idle read connections kept (more are opened when calls overlap, then closed).
const FAST_READS_IDLE: usize = 8;
/// Accounts one read connection keeps (all are dropped when it would hold more): about
/// a kilobyte each.
const FAST_READS_CACHED: usize = 1024;

impl FastReads {
    fn new(path: std::path::PathBuf) -> Self {
        FastReads {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn open(&self) -> rusqlite::Result<Reader> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // No waiting here: this runs on the async runtime's thread, so a locked database
        // must not put that thread to sleep. `SQLITE_BUSY` comes back at once and the read
        // goes through the pool, whose worker thread waits (up to its busy timeout) instead.
        conn.busy_timeout(Duration::ZERO)?;
        Ok(Reader {
            conn,
            version: -1,
            accounts: HashMap::new(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Reader) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let reader = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut reader = match reader {
            Some(r) => r,
            None => self.open()?,
        };
        let out = f(&mut reader);
        if out.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < FAST_READS_IDLE {
                idle.push(reader);
            }
        }
        out
    }

    /// The account, or a SQLite error (the caller then reads through the pool); a row that
    /// does not decode is the inner error.
    fn get_account(
        &self,
        environment_id: &str,
        id: &str,
    ) -> rusqlite::Result<Option<Result<AccountRecord, StoreError>>> {
        self.with(|reader| {
            // Asked before the row is read: a commit in between makes the next call read
            // again, never keeps a row older than its version.
            let version: i64 = reader
                .conn
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |row| row.get(0))?;
            if version != reader.version {
                reader.accounts.clear();
                reader.version = version;
            }
            if let Some(found) = reader.accounts.get(environment_id).and_then(|m| m.get(id)) {
                self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Some(Ok(found.clone())));
            }
            let Some(raw) = read_account(&reader.conn, environment_id, id)? else {
                return Ok(None);
            };
            let account = match raw.decode() {
                Ok(a) => a,
                Err(e) => return Ok(Some(Err(e))),
            };
            // Counted on misses only, over the few environments.
            if reader.accounts.values().map(HashMap::len).sum::<usize>() >= FAST_READS_CACHED {
                reader.accounts.clear();
            }
            reader
                .accounts
                .entry(environment_id.to_string())
                .or_default()
                .insert(id.to_string(), account.clone());
            Ok(Some(Ok(account)))
        })
    }
}

fn read_account(conn: &rusqlite::Connection, environment_id: &str, id: &str) -> rusqlite::Result<Option<RawAccount>> {
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
}

/// Request-log rows written by threads of their own at a low CPU priority, through a rusqlite
/// connection each, so that on a busy CPU they fill the gaps between calls instead of
/// delaying them.
///
/// Measured (bench/ANALYSIS.md, seventh and thirteenth passes), as the time the gateway's
/// worker thread spent waiting for the CPU at half load (`/proc/<pid>/task/*/schedstat`):
/// through sqlx, at the runtime's priority, the log doubled the added p99; on a thread at a
/// nice value 10 above the process's, it still doubled that waiting time (the scheduler gives
/// a nice-10 thread a tenth of the CPU while a call waits); at nice 19 (a seventieth), the
/// waiting time was within about 4 ms per second of the log's being off, as with
/// `SCHED_IDLE` (not used: a thread of that class can starve for seconds while holding
/// SQLite's write lock, and no unprivileged thread can leave that class again). Writing on
/// the runtime's thread, in short transactions with a yield between them, was tried and was
/// far worse (p90 18 ms at half load): a file write can block the thread that makes it (one
/// that extends the WAL file may wait for the file system's journal, for one).
///
/// Under a load that leaves no gaps, a thread at nice 19 gets too little CPU to keep up, so a
/// batch with more than [`LOG_BACKLOG`] entries queued behind it goes to a second thread at
/// nice 10, which gets enough. Each transaction is [`LOG_ROWS_PER_TRANSACTION`] rows, so
/// neither thread holds the write lock (which account writes and rate-limit budgets also
/// take) for long, even when preempted in the middle of one. A batch that fails here goes
/// through the pool instead.
struct LogWriter {
    /// The thread at nice 19, for batches written on time.
    background: std::sync::mpsc::SyncSender<LogJob>,
    /// The thread at nice 10, for batches with more than [`LOG_BACKLOG`] entries behind them.
    catch_up: std::sync::mpsc::SyncSender<LogJob>,
}

/// Rows to write, and where to say whether they were (the rows come back when not).
type LogJob = (
    Vec<RequestLogRecord>,
    tokio::sync::oneshot::Sender<Result<(), Vec<RequestLogRecord>>>,
);

/// How much lower than the rest of the process the background writer thread runs.
const LOG_BACKGROUND_NICENESS: i32 = 19;
/// How much lower than the rest of the process the catch-up writer thread runs.
const LOG_CATCH_UP_NICENESS: i32 = 10;

/// How many entries may wait behind a batch before it goes to the catch-up thread: a fifth
/// of the request log's queue. At 9,000 calls a second (half of what one CPU serves), the
/// 200 ms the log gathers entries for leaves about 1,800 queued, which the background
/// thread keeps up with; at saturation it gets too little CPU, entries pile up, and the
/// catch-up thread takes over well before the queue is full and entries are dropped.
const LOG_BACKLOG: usize = super::REQUEST_LOG_QUEUE / 5;

/// Rows per transaction: one statement of [`super::REQUEST_LOG_ROWS_PER_INSERT`]'s largest
/// size, about 0.2 ms of CPU. Each commit rewrites the pages at the right edge of each
/// index, so 16 rows a transaction cost 1.6 times as much per row as 64; more would keep
/// the write lock longer when the thread is preempted inside a transaction.
const LOG_ROWS_PER_TRANSACTION: usize = 64;

impl LogWriter {
    fn start(path: std::path::PathBuf) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            background: spawn_log_writer(&path, "unigate-log", LOG_BACKGROUND_NICENESS)?,
            catch_up: spawn_log_writer(&path, "unigate-log-cu", LOG_CATCH_UP_NICENESS)?,
        })
    }

    /// `backlog`: the entries queued behind these.
    async fn write(&self, entries: Vec<RequestLogRecord>, backlog: usize) -> Result<(), Vec<RequestLogRecord>> {
        let lane = if backlog > LOG_BACKLOG {
            &self.catch_up
        } else {
            &self.background
        };
        let (done, reply) = tokio::sync::oneshot::channel();
        if let Err(e) = lane.try_send((entries, done)) {
            let (std::sync::mpsc::TrySendError::Full((entries, _))
            | std::sync::mpsc::TrySendError::Disconnected((entries, _))) = e;
            return Err(entries);
        }
        reply.await.unwrap_or_else(|_| {
            // Only a panic inside SQLite's or rusqlite's code gets here; later batches find
            // the queue closed and take the pool.
            tracing::warn!("a request-log writer thread stopped; a batch of entries was lost");
            Ok(())
        })
    }
}

/// A writer thread `name`, `niceness` below the process, and the queue of its jobs.
fn spawn_log_writer(
    path: &std::path::Path,
    name: &str,
    niceness: i32,
) -> std::io::Result<std::sync::mpsc::SyncSender<LogJob>> {
    // The request log's one writer task waits for each batch: one job at a time.
    let (jobs, queue) = std::sync::mpsc::sync_channel::<LogJob>(1);
    let path = path.to_path_buf();
    std::thread::Builder::new().name(name.into()).spawn(move || {
        lower_priority(niceness);
        let mut conn: Option<rusqlite::Connection> = None;
        for (mut entries, done) in queue {
            let mut committed = 0;
            let outcome = match conn.take() {
                Some(c) => Ok(c),
                None => open_writer(&path),
            }
            .and_then(|c| {
                for rows in entries.chunks(LOG_ROWS_PER_TRANSACTION) {
                    insert_logs(&c, rows)?;
                    committed += rows.len();
                }
                Ok(c)
            });
            let reply = match outcome {
                Ok(c) => {
                    conn = Some(c);
                    Ok(())
                }
                Err(e) => {
                    // Reopened for the next batch; the rows not committed take the pool.
                    tracing::debug!(error = %e, "request-log rows not written in place; writing them through the pool");
                    Err(entries.split_off(committed))
                }
            };
            let _ = done.send(reply);
        }
    })?;
    Ok(jobs)
}

fn open_writer(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    // As the pool's connections: WAL (a property of the file), commits not synced.
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn insert_logs(conn: &rusqlite::Connection, entries: &[RequestLogRecord]) -> rusqlite::Result<()> {
    // `IMMEDIATE`: the write lock is taken at the start, so the transaction never has to
    // upgrade a read lock (which can fail without waiting).
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let inserted = (|| {
        // The pool's multi-row statements: SQLite keeps its place in each index between the
        // rows of one statement, so a row costs a third less than alone.
        for (sql, chunk) in super::request_log_chunks(entries, false) {
            let mut insert = conn.prepare_cached(sql)?;
            for (r, e) in chunk.iter().enumerate() {
                let at = r * 9;
                insert.raw_bind_parameter(at + 1, &e.id)?;
                insert.raw_bind_parameter(at + 2, &e.environment_id)?;
                insert.raw_bind_parameter(at + 3, &e.integrated_account_id)?;
                insert.raw_bind_parameter(at + 4, &e.method)?;
                insert.raw_bind_parameter(at + 5, &e.path)?;
                insert.raw_bind_parameter(at + 6, i64::from(e.status))?;
                insert.raw_bind_parameter(at + 7, i64::try_from(e.duration_ms).unwrap_or(i64::MAX))?;
                insert.raw_bind_parameter(at + 8, &e.error)?;
                insert.raw_bind_parameter(at + 9, fmt_ts(&e.created_at))?;
            }
            insert.raw_execute()?;
        }
        Ok(())
    })();
    match inserted {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Lowers the calling thread's CPU priority by `by` (Linux keeps a nice value per thread).
/// Best effort: a failure leaves the thread at the process's priority.
fn lower_priority(by: i32) {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        let lowered = rustix::process::getpriority_process(Some(me))
            .and_then(|nice| rustix::process::setpriority_process(Some(me), (nice + by).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "could not lower the request-log writer's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
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
        let log = if in_memory {
            None
        } else {
            Some(LogWriter::start(path.clone()).map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?)
        };
        let fast = (!in_memory).then(|| FastReads::new(path));
        Ok(SqlStore {
            pool,
            dialect: SqliteDialect { fast, log },
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
/// in place ([`FastReads`]), the request log on threads of its own ([`LogWriter`]), and the
/// rate-limit lanes in SQLite's SQL.
pub struct SqliteDialect {
    /// The account read of every unified call, without sqlx's worker thread.
    fast: Option<FastReads>,
    /// The request log's writes, on threads of their own.
    log: Option<LogWriter>,
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
            Ok(found) => Some(found.transpose()),
            Err(e) => {
                tracing::debug!(error = %e, "in-thread account read failed; reading through the pool");
                None
            }
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

    /// The accounts kept by a read connection are used only while nothing was committed
    /// since: a write by this store or by another instance on the same file (a second
    /// gateway process) is seen by the next read.
    #[tokio::test]
    async fn cached_account_reads_see_writes_from_this_and_other_instances() {
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let other = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        store.insert_account(&account(&env.id, "a1", "active")).await.unwrap();
        let hits = || store.dialect.fast.as_ref().unwrap().hits.load(Ordering::Relaxed);

        assert_eq!(
            store.get_account(&env.id, "a1").await.unwrap().unwrap().status,
            "active"
        );
        assert_eq!(hits(), 0);
        assert_eq!(
            store.get_account(&env.id, "a1").await.unwrap().unwrap().status,
            "active"
        );
        assert_eq!(hits(), 1, "nothing changed: the second read is answered from the cache");

        other
            .update_account(&account(&env.id, "a1", "needs_reauth"))
            .await
            .unwrap();
        assert_eq!(
            store.get_account(&env.id, "a1").await.unwrap().unwrap().status,
            "needs_reauth",
            "another instance's write is seen at once"
        );
        assert_eq!(hits(), 1);
        assert_eq!(
            store.get_account(&env.id, "a1").await.unwrap().unwrap().status,
            "needs_reauth"
        );
        assert_eq!(hits(), 2);

        // Any commit counts, even to another table: the cache is dropped, not patched.
        other.create_environment("f").await.unwrap();
        store.get_account(&env.id, "a1").await.unwrap().unwrap();
        assert_eq!(hits(), 2);

        other.delete_account(&env.id, "a1").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());
        assert!(store.get_account("other-env", "a1").await.unwrap().is_none());
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
             INSERT INTO integrated_accounts VALUES ('a1', 'e', 't', 'github', '{}', '', 'active', NULL, 0, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');",
        )
        .unwrap();
        let fast = FastReads::new(path);
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
        assert_eq!(fast.get_account("e", "a1").unwrap().unwrap().unwrap().status, "active");
    }

    #[tokio::test]
    async fn a_failing_in_thread_read_falls_back_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut store = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        store.insert_account(&account(&env.id, "a1", "active")).await.unwrap();
        // A path that cannot be opened: every in-thread read fails.
        store.dialect.fast = Some(FastReads::new(dir.path().join("missing/none.db")));
        assert_eq!(store.get_account(&env.id, "a1").await.unwrap().unwrap().id, "a1");
    }

    fn log(environment_id: &str, i: usize) -> RequestLogRecord {
        RequestLogRecord {
            id: format!("r{i:04}"),
            environment_id: environment_id.into(),
            integrated_account_id: (i % 2 == 0).then(|| "a1".into()),
            method: "GET".into(),
            path: "/unified/user-directory/organizations".into(),
            status: 200,
            duration_ms: i as u64,
            error: (i % 3 == 0).then(|| "boom".into()),
            created_at: Utc::now(),
        }
    }

    /// The nice value of each thread of this process named `name` (`/proc/self/task/*/stat`,
    /// field 19), and of the calling thread.
    #[cfg(target_os = "linux")]
    fn nice_values(name: &str) -> (Vec<i64>, i64) {
        let field = |stat: String| -> i64 {
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name.split(' ').nth(16).unwrap().parse().unwrap()
        };
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            if std::fs::read_to_string(dir.join("comm")).unwrap_or_default().trim() == name {
                found.push(field(std::fs::read_to_string(dir.join("stat")).unwrap()));
            }
        }
        (found, field(std::fs::read_to_string("/proc/thread-self/stat").unwrap()))
    }

    #[tokio::test]
    async fn request_log_rows_are_written_by_lower_priority_threads() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        // More than two transactions' worth.
        let rows: Vec<RequestLogRecord> = (0..150).map(|i| log(&env.id, i)).collect();
        // Written in place: nothing comes back for the pool.
        let log_writer = store.dialect.log.as_ref().unwrap();
        assert!(log_writer.write(rows.clone(), 0).await.is_ok());
        // A batch with many entries behind it, for the catch-up thread.
        let late: Vec<RequestLogRecord> = (150..160).map(|i| log(&env.id, i)).collect();
        assert!(log_writer.write(late.clone(), LOG_BACKLOG + 1).await.is_ok());

        let listed = store.list_request_logs(&env.id, None, None, 1000).await.unwrap();
        assert_eq!(listed.len(), 160);
        let mut by_id: Vec<_> = listed.iter().map(|r| format!("{r:?}")).collect();
        by_id.sort();
        let mut want: Vec<_> = rows
            .iter()
            .chain(&late)
            .map(|r| {
                let mut r = r.clone();
                r.created_at = chrono::SubsecRound::trunc_subsecs(r.created_at, 6);
                format!("{r:?}")
            })
            .collect();
        want.sort();
        assert_eq!(by_id, want);
        let one_account = store.list_request_logs(&env.id, Some("a1"), None, 1000).await.unwrap();
        assert_eq!(one_account.len(), 80);
        assert!(one_account
            .iter()
            .all(|r| r.integrated_account_id.as_deref() == Some("a1")));

        // Other tests' stores have writer threads too: every one of each name is checked.
        #[cfg(target_os = "linux")]
        for (name, by) in [
            ("unigate-log", LOG_BACKGROUND_NICENESS),
            ("unigate-log-cu", LOG_CATCH_UP_NICENESS),
        ] {
            let (writers, mine) = nice_values(name);
            assert!(!writers.is_empty(), "no thread named {name}");
            for nice in writers {
                assert_eq!(nice, (mine + i64::from(by)).min(19), "{name}");
            }
        }
    }

    /// A batch goes to the nice-19 thread, unless more than `LOG_BACKLOG` entries are queued
    /// behind it: then to the nice-10 one. (Lanes of channels the test holds, no threads.)
    #[tokio::test]
    async fn a_batch_with_a_long_queue_behind_it_goes_to_the_catch_up_thread() {
        let (background, background_jobs) = std::sync::mpsc::sync_channel::<LogJob>(1);
        let (catch_up, catch_up_jobs) = std::sync::mpsc::sync_channel::<LogJob>(1);
        let writer = LogWriter { background, catch_up };
        for (backlog, want) in [
            (0, "background"),
            (LOG_BACKLOG, "background"),
            (LOG_BACKLOG + 1, "catch-up"),
        ] {
            let (written, taken) = tokio::join!(writer.write(vec![log("e", backlog)], backlog), async {
                loop {
                    let taken = match (background_jobs.try_recv(), catch_up_jobs.try_recv()) {
                        (Ok(job), Err(_)) => ("background", job),
                        (Err(_), Ok(job)) => ("catch-up", job),
                        (Err(_), Err(_)) => {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        (Ok(_), Ok(_)) => panic!("both lanes got the batch"),
                    };
                    let (name, (entries, done)) = taken;
                    assert_eq!(entries.len(), 1);
                    done.send(Ok(())).unwrap();
                    return name;
                }
            });
            assert!(written.is_ok());
            assert_eq!(taken, want, "backlog {backlog}");
        }
    }

    /// A batch is written a transaction of `LOG_ROWS_PER_TRANSACTION` rows at a time; when
    /// one fails, the rows of the transactions before it stay written and the rest come back
    /// for the pool.
    #[tokio::test]
    async fn a_failed_transaction_hands_back_only_the_rows_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let env = store.create_environment("e").await.unwrap();
        // A row the database refuses, in the second transaction.
        let refused = format!("r{:04}", LOG_ROWS_PER_TRANSACTION + 10);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON request_logs WHEN NEW.id = '{refused}' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            ))
            .unwrap();
        let rows: Vec<RequestLogRecord> = (0..150).map(|i| log(&env.id, i)).collect();
        let back = store
            .dialect
            .log
            .as_ref()
            .unwrap()
            .write(rows.clone(), 0)
            .await
            .unwrap_err();
        let back_ids: Vec<&str> = back.iter().map(|r| r.id.as_str()).collect();
        let want: Vec<&str> = rows[LOG_ROWS_PER_TRANSACTION..].iter().map(|r| r.id.as_str()).collect();
        assert_eq!(back_ids, want);
        let stored = store.list_request_logs(&env.id, None, None, 1000).await.unwrap();
        let mut stored_ids: Vec<&str> = stored.iter().map(|r| r.id.as_str()).collect();
        stored_ids.sort();
        let first: Vec<&str> = rows[..LOG_ROWS_PER_TRANSACTION].iter().map(|r| r.id.as_str()).collect();
        assert_eq!(stored_ids, first);
    }

    /// Rows written before migration 6 (the table keyed by environment, time and id) are all
    /// there after it, in the same order.
    #[tokio::test]
    async fn the_keyed_request_log_table_keeps_the_rows_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut up_to_5 = sqlx::migrate!("./migrations/sqlite");
        up_to_5.migrations =
            std::borrow::Cow::Owned(up_to_5.migrations.iter().filter(|m| m.version <= 5).cloned().collect());
        let options = SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        up_to_5.run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO environments (id, name, created_at) VALUES ('e1', 'e', '2026-01-01T00:00:00.000000Z')",
        )
        .execute(&pool)
        .await
        .unwrap();
        for i in 0..30 {
            sqlx::query(
                "INSERT INTO request_logs (id, environment_id, integrated_account_id, method, path, status, duration_ms, error, created_at) \
                 VALUES (?, 'e1', ?, 'GET', '/unified/x', 200, ?, NULL, ?)",
            )
            .bind(format!("r{i:02}"))
            .bind((i % 3 == 0).then_some("a1"))
            .bind(i)
            .bind(format!("2026-01-01T00:00:{:02}.000000Z", i / 2))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        let store = SqliteStore::connect(&url).await.unwrap();
        let listed = store.list_request_logs("e1", None, None, 100).await.unwrap();
        let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
        let want: Vec<String> = (0..30).rev().map(|i| format!("r{i:02}")).collect();
        assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            store
                .list_request_logs("e1", Some("a1"), None, 100)
                .await
                .unwrap()
                .len(),
            10
        );
    }

    #[tokio::test]
    async fn a_request_log_batch_that_fails_in_place_goes_through_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let mut store = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        // A writer whose database cannot be opened.
        let broken = LogWriter::start(dir.path().join("missing/none.db")).unwrap();
        let rows: Vec<RequestLogRecord> = (0..3).map(|i| log(&env.id, i)).collect();
        assert_eq!(broken.write(rows.clone(), 0).await.unwrap_err().len(), 3);
        store.dialect.log = Some(broken);
        store.insert_request_logs(rows, 0).await.unwrap();
        assert_eq!(store.list_request_logs(&env.id, None, None, 10).await.unwrap().len(), 3);
    }
}
