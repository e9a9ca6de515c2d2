//! The account read of every unified call, on the caller's thread: [`FastReads`].
//!
//! Its own path beside the pool because sqlx's hand-off to a worker thread cost more than
//! the read itself; each connection keeps the accounts it read until the database changes.

use hashbrown::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::SqliteDialect;
use crate::store::dialect::AccountRow;
use crate::store::{AccountRecord, StoreError};

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
/// another sharing the file, commits anything. Asking costs a read transaction (two file
/// locks, `fcntl`, and a statement: about 3,900 instructions and 0.7 µs in the kernel), but
/// not the row's lookup, copying and decoding (bench/ANALYSIS.md, "Eighth pass"). When it
/// moved, the `account_changes` counter (moved by triggers on accounts and environments,
/// migration 0011) says whether any of that commit touched accounts: the request log's
/// batches commit many times a second under load, and they keep the cache.
///
/// How often a call's read asks ([`Recheck`]): by default, when this instance has written
/// an account or an environment's overrides since the last time ([`FastReads::changed`],
/// from the store's writes, after their commit) or when [`RECHECK_AFTER`] has passed since.
/// So this instance's own writes are seen by its next call at once, and a write by another
/// process sharing the file within a millisecond (bench/ANALYSIS.md, twenty-fourth pass).
/// With `database.account_cache = false` it is asked on every call, and another process's
/// write is seen at once too. Reads other than a call's (the admin API, OAuth refreshes,
/// read-merge-writes) always ask.
pub(super) struct FastReads {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Reader>>,
    recheck: Recheck,
    /// This instance's writes to accounts and environments' overrides, counted after they
    /// commit.
    local_changes: std::sync::atomic::AtomicU64,
    /// Reads answered from a connection's cache (for tests and debugging).
    hits: std::sync::atomic::AtomicU64,
}

/// When a read connection asks SQLite whether anything was committed.
#[derive(Debug, Clone, Copy)]
pub enum Recheck {
    /// On every read.
    Always,
    /// After this instance's own writes, and otherwise once this long has passed.
    After(Duration),
}

impl Default for Recheck {
    /// [`Recheck::After`] [`RECHECK_AFTER`].
    fn default() -> Self {
        Recheck::After(RECHECK_AFTER)
    }
}

/// How long a read connection goes on using the accounts it read without asking SQLite,
/// when this instance wrote nothing since: how late a write by another process sharing the
/// file can be seen. At 20,000 calls a second, one call in twenty asks.
pub const RECHECK_AFTER: Duration = Duration::from_millis(1);

/// A read connection and the accounts it read since the database last changed.
struct Reader {
    conn: rusqlite::Connection,
    /// The `data_version` the cached accounts were read at (or before).
    version: i64,
    /// The `account_changes` version the cached accounts were read at (or before).
    changes: i64,
    /// By environment, then account id.
    accounts: HashMap<String, HashMap<String, Arc<AccountRecord>>>,
    /// [`FastReads::local_changes`] when SQLite was last asked (read before asking).
    local: u64,
    /// When SQLite was last asked (`None`: never).
    asked_at: Option<std::time::Instant>,
}

/// Idle read connections kept (more are opened when calls overlap, then closed).
const FAST_READS_IDLE: usize = 8;
/// Accounts one read connection keeps (all are dropped when it would hold more): about
/// a kilobyte each.
const FAST_READS_CACHED: usize = 1024;

impl FastReads {
    pub(super) fn new(path: std::path::PathBuf, recheck: Recheck) -> Self {
        FastReads {
            path,
            idle: std::sync::Mutex::new(Vec::new()),
            recheck,
            local_changes: std::sync::atomic::AtomicU64::new(0),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// This instance committed a write to an account or to an environment's overrides: the
    /// next read asks SQLite.
    pub(super) fn changed(&self) {
        self.local_changes.fetch_add(1, std::sync::atomic::Ordering::Release);
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
        super::set_cache_size(&conn, super::READER_CACHE_KIB)?;
        Ok(Reader {
            conn,
            version: -1,
            changes: -1,
            accounts: HashMap::new(),
            local: 0,
            asked_at: None,
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
    /// does not decode is the inner error. `for_call`: a call's read, which may skip asking
    /// SQLite as [`Recheck`] says; any other read asks.
    pub(super) fn get_account(
        &self,
        environment_id: &str,
        id: &str,
        for_call: bool,
    ) -> rusqlite::Result<Option<Result<Arc<AccountRecord>, StoreError>>> {
        self.with(|reader| {
            // Read before asking: a write of this instance that commits after it moves the
            // counter past it, and the next read asks again.
            let local = self.local_changes.load(std::sync::atomic::Ordering::Acquire);
            let now = std::time::Instant::now();
            let asked_lately = match (self.recheck, reader.asked_at) {
                (Recheck::After(after), Some(at)) if for_call => {
                    reader.local == local && now.duration_since(at) < after
                }
                _ => false,
            };
            if !asked_lately {
                reader.ask(local, now)?;
            }
            if let Some(found) = reader.accounts.get(environment_id).and_then(|m| m.get(id)) {
                self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(Some(Ok(Arc::clone(found))));
            }
            let Some(raw) = read_account(&reader.conn, environment_id, id)? else {
                return Ok(None);
            };
            let account = match raw.decode() {
                Ok(a) => Arc::new(a),
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
                .insert(id.to_string(), Arc::clone(&account));
            Ok(Some(Ok(account)))
        })
    }
}

impl Reader {
    /// Asks SQLite whether anything was committed since the last time, and whether any of it
    /// touched accounts (then forgets the accounts kept). `local`: the instance's write
    /// counter, read before asking.
    fn ask(&mut self, local: u64, now: std::time::Instant) -> rusqlite::Result<()> {
        // Asked before the row is read: a commit in between makes the next ask read again,
        // never keeps a row older than its version.
        let version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        if version != self.version {
            // Something was committed: read the accounts' own counter (also before any row,
            // so a row kept is never older than the counter it is kept under).
            let changes: i64 = self
                .conn
                .prepare_cached("SELECT version FROM account_changes WHERE id = 1")?
                .query_row([], |row| row.get(0))?;
            if changes != self.changes {
                self.accounts.clear();
                self.changes = changes;
            }
            self.version = version;
        }
        self.local = local;
        self.asked_at = Some(now);
        Ok(())
    }
}

/// The account's row as stored; decoded by [`AccountRow::decode`], as the pool's reads are.
fn read_account(
    conn: &rusqlite::Connection,
    environment_id: &str,
    id: &str,
) -> rusqlite::Result<Option<AccountRow<SqliteDialect>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.environment_id, a.tenant_id, a.integration, a.context, a.secrets, a.status, a.last_error, a.is_sandbox, \
         a.created_at, a.updated_at, a.unified_model_override, e.overrides_version \
         FROM integrated_accounts a JOIN environments e ON e.id = a.environment_id WHERE a.environment_id = ?1 AND a.id = ?2",
    )?;
    let mut rows = stmt.query([environment_id, id])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    Ok(Some(AccountRow {
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
        unified_model_override: row.get(11)?,
        overrides_version: row.get(12)?,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;

    use super::*;
    use crate::store::sqlite::{temp_db, SqliteStore};
    use crate::store::AccountStatus::{self, Active, NeedsReauth};
    use crate::store::Store;

    fn account(environment_id: &str, id: &str, status: AccountStatus) -> AccountRecord {
        let now = Utc::now();
        AccountRecord {
            id: id.into(),
            environment_id: environment_id.into(),
            tenant_id: "t1".into(),
            integration: "github".into(),
            context: serde_json::json!({"org": "octo", "n": 1}),
            secrets: "sealed".into(),
            status,
            last_error: Some("e".into()),
            is_sandbox: true,
            created_at: now,
            updated_at: now,
            unified_model_override: None,
            overrides_version: 0,
        }
    }

    /// The status `store` reads for account `a1` of `environment_id`.
    async fn status_of(store: &SqliteStore, environment_id: &str) -> AccountStatus {
        store.get_account(environment_id, "a1").await.unwrap().unwrap().status
    }

    /// Account `id` of `environment_id` as a unified call of `store` reads it.
    async fn call_read(store: &SqliteStore, environment_id: &str, id: &str) -> Option<Arc<AccountRecord>> {
        store.get_account_for_call(environment_id, id).await.unwrap()
    }

    #[tokio::test]
    async fn in_thread_account_reads_see_every_write_at_once_and_match_the_pool() {
        let (_dir, url) = temp_db();
        let store = SqliteStore::connect(&url).await.unwrap();
        assert!(store.dialect.fast.is_some());
        let env = store.create_environment("e").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());

        store.insert_account(&account(&env.id, "a1", Active)).await.unwrap();
        let fast = store.get_account(&env.id, "a1").await.unwrap().unwrap();
        let row = sqlx::query(
            "SELECT *, (SELECT overrides_version FROM environments e WHERE e.id = environment_id) AS overrides_version \
             FROM integrated_accounts WHERE id = 'a1'",
        )
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let pooled = SqliteStore::account_from_row(&row).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{pooled:?}"));

        store
            .update_account(&account(&env.id, "a1", NeedsReauth))
            .await
            .unwrap();
        assert_eq!(status_of(&store, &env.id).await, NeedsReauth);
        assert!(store.get_account("other-env", "a1").await.unwrap().is_none());
        store.delete_account(&env.id, "a1").await.unwrap();
        assert!(store.get_account(&env.id, "a1").await.unwrap().is_none());
    }

    /// The accounts kept by a read connection are used only while nothing was committed
    /// since: a write by this store is seen by the next read; one by another instance on the
    /// same file (a second gateway process) by the first read once `RECHECK_AFTER` has
    /// passed, or by the next read with `Recheck::Always` (`database.account_cache = false`).
    #[tokio::test]
    async fn cached_account_reads_see_writes_from_this_and_other_instances() {
        use std::sync::atomic::Ordering;
        let (_dir, url) = temp_db();
        let strict = SqliteStore::connect_with(&url, Recheck::Always).await.unwrap();
        let other = SqliteStore::connect(&url).await.unwrap();
        let env = strict.create_environment("e").await.unwrap();
        strict.insert_account(&account(&env.id, "a1", Active)).await.unwrap();
        let hits = || strict.dialect.fast.as_ref().unwrap().hits.load(Ordering::Relaxed);

        assert_eq!(status_of(&strict, &env.id).await, Active);
        assert_eq!(hits(), 0);
        assert_eq!(status_of(&strict, &env.id).await, Active);
        assert_eq!(hits(), 1, "nothing changed: the second read is answered from the cache");

        other
            .update_account(&account(&env.id, "a1", NeedsReauth))
            .await
            .unwrap();
        assert_eq!(
            status_of(&strict, &env.id).await,
            NeedsReauth,
            "another instance's write is seen at once"
        );
        assert_eq!(hits(), 1);
        assert_eq!(status_of(&strict, &env.id).await, NeedsReauth);
        assert_eq!(hits(), 2);

        // A commit that touches no account (a request log batch, another environment)
        // keeps the cache; an environment's overrides version drops it.
        other.create_environment("f").await.unwrap();
        strict.get_account(&env.id, "a1").await.unwrap().unwrap();
        assert_eq!(hits(), 3);
        sqlx::query("UPDATE environments SET overrides_version = overrides_version + 1 WHERE id = $1")
            .bind(&env.id)
            .execute(&other.pool)
            .await
            .unwrap();
        let read = strict.get_account(&env.id, "a1").await.unwrap().unwrap();
        assert_eq!(hits(), 3);
        assert_eq!(read.overrides_version, 1);

        other.delete_account(&env.id, "a1").await.unwrap();
        assert!(strict.get_account(&env.id, "a1").await.unwrap().is_none());
        assert!(strict.get_account("other-env", "a1").await.unwrap().is_none());
    }

    /// With `Recheck::After`, a call's read asks SQLite after this instance's own writes
    /// (each seen by the next call) and otherwise once the time has passed: another
    /// instance's write is seen then, not before. Other reads always ask.
    #[tokio::test]
    async fn between_checks_only_this_instances_writes_are_seen_at_once() {
        let (_dir, url) = temp_db();
        // An hour: nothing but this store's own writes makes a call's read ask within the test.
        let store = SqliteStore::connect_with(&url, Recheck::After(Duration::from_secs(3600)))
            .await
            .unwrap();
        let other = SqliteStore::connect_with(&url, Recheck::Always).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        store.insert_account(&account(&env.id, "a1", Active)).await.unwrap();
        let status = || async { call_read(&store, &env.id, "a1").await.unwrap().status };
        assert_eq!(status().await, Active);

        other
            .update_account(&account(&env.id, "a1", NeedsReauth))
            .await
            .unwrap();
        assert_eq!(
            status().await,
            Active,
            "another instance's write waits for the next check"
        );
        // Reads other than a call's (the admin API, OAuth refreshes) always ask.
        assert_eq!(status_of(&store, &env.id).await, NeedsReauth);

        // Each of this store's writes that a call's account depends on: seen at once.
        let mut changed = account(&env.id, "a1", Active);
        changed.last_error = Some("mine".into());
        store.update_account(&changed).await.unwrap();
        let read = call_read(&store, &env.id, "a1").await.unwrap();
        assert_eq!(read.last_error.as_deref(), Some("mine"));
        store
            .update_account_credentials(&account(&env.id, "a1", NeedsReauth))
            .await
            .unwrap();
        assert_eq!(status().await, NeedsReauth);
        let now = Utc::now();
        let rule = crate::store::MappingOverrideRecord {
            id: "o1".into(),
            environment_id: env.id.clone(),
            model: "user-directory".into(),
            resource: "users".into(),
            integration: "github".into(),
            method: "get".into(),
            config: serde_json::json!({}),
            created_at: now,
            updated_at: now,
        };
        store.insert_mapping_override(&rule, &[]).await.unwrap();
        assert_eq!(call_read(&store, &env.id, "a1").await.unwrap().overrides_version, 1);
        store.delete_account(&env.id, "a1").await.unwrap();
        assert!(call_read(&store, &env.id, "a1").await.is_none());

        // The default: another instance's write is seen once `RECHECK_AFTER` has passed.
        let default = SqliteStore::connect(&url).await.unwrap();
        other.insert_account(&account(&env.id, "a2", Active)).await.unwrap();
        assert_eq!(call_read(&default, &env.id, "a2").await.unwrap().status, Active);
        other
            .update_account(&account(&env.id, "a2", NeedsReauth))
            .await
            .unwrap();
        tokio::time::sleep(RECHECK_AFTER * 2).await;
        assert_eq!(call_read(&default, &env.id, "a2").await.unwrap().status, NeedsReauth);
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
            "CREATE TABLE integrated_accounts (id, environment_id, tenant_id, integration, context, secrets, status, last_error, is_sandbox, created_at, updated_at, unified_model_override);
             INSERT INTO integrated_accounts VALUES ('a1', 'e', 't', 'github', '{}', '', 'active', NULL, 0, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', NULL);
             CREATE TABLE environments (id, overrides_version);
             INSERT INTO environments VALUES ('e', 0);
             CREATE TABLE account_changes (id, version);
             INSERT INTO account_changes VALUES (1, 0);",
        )
        .unwrap();
        let fast = FastReads::new(path, Recheck::Always);
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        // A read that waited for the lock would succeed once it is released.
        let err = fast.get_account("e", "a1", true).err().unwrap();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
        holder.join().unwrap();
        assert_eq!(
            fast.get_account("e", "a1", true).unwrap().unwrap().unwrap().status,
            Active
        );
    }

    #[tokio::test]
    async fn a_failing_in_thread_read_falls_back_to_the_pool() {
        let (dir, url) = temp_db();
        let mut store = SqliteStore::connect(&url).await.unwrap();
        let env = store.create_environment("e").await.unwrap();
        store.insert_account(&account(&env.id, "a1", Active)).await.unwrap();
        // A path that cannot be opened: every in-thread read fails.
        store.dialect.fast = Some(FastReads::new(dir.path().join("missing/none.db"), Recheck::Always));
        assert_eq!(store.get_account(&env.id, "a1").await.unwrap().unwrap().id, "a1");
    }

    /// An account read's connection has its page cache's set size (README's memory bound).
    #[tokio::test]
    async fn account_reads_connections_have_a_bounded_page_cache() {
        let (dir, url) = temp_db();
        let _store = SqliteStore::connect(&url).await.unwrap();
        let reader = FastReads::new(dir.path().join("t.db"), Recheck::Always).open().unwrap();
        let size: i64 = reader
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!(size, -crate::store::sqlite::READER_CACHE_KIB);
    }
}
