//! The embedded default backend: one SQLite file in WAL mode.
//!
//! The queries are [`SqlStore`]'s, shared with `super::postgres`; what is SQLite's own:
//!
//! - `dialect`: [`SqliteDialect`], how SQLite stores a timestamp and a JSON document, and its
//!   SQL for the rate-limit lanes;
//! - `fast_reads`: the account read of every unified call, done on the caller's thread
//!   through rusqlite instead of sqlx's worker thread;
//! - `log_writer`: the request log's rows, written by threads of their own at a low CPU
//!   priority.

mod dialect;
mod fast_reads;
mod log_writer;
mod time;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use dialect::SqliteDialect;
use fast_reads::FastReads;
pub use fast_reads::{Recheck, RECHECK_AFTER};
use log_writer::LogWriter;

use super::sql::SqlStore;
use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite's page cache per connection, in KiB (`PRAGMA cache_size = -N`), set on every
/// connection Unigate opens so that the memory the database holds has a known bound (README,
/// "Running in production"): SQLite's own default is 2,000 KiB per connection, whatever it
/// is for. The pool's connections serve every kind of query (listing the request log,
/// trimming it, admin reads and writes): they keep that size.
const POOL_CACHE_KIB: i64 = 2048;
/// The account reads' connections ([`FastReads`]): a read touches a handful of pages, and in
/// WAL mode SQLite empties a connection's cache whenever another connection has committed
/// since its last transaction (the request log commits several times a second), so a
/// larger cache would hold nothing useful.
const READER_CACHE_KIB: i64 = 256;
/// The request log's writer threads ([`LogWriter`]): a transaction of 64 rows dirties a few
/// dozen pages at the right edge of the table and its indexes.
const WRITER_CACHE_KIB: i64 = 512;

/// `PRAGMA cache_size` on a rusqlite connection: `kib` KiB (a negative value is in KiB).
fn set_cache_size(conn: &rusqlite::Connection, kib: i64) -> rusqlite::Result<()> {
    conn.pragma_update(None, "cache_size", -kib)
}

/// The embedded store: the shared queries ([`SqlStore`]) in SQLite's [`SqliteDialect`].
pub type SqliteStore = SqlStore<SqliteDialect>;

impl SqliteStore {
    /// Opens (creating if needed) the database and applies pending migrations; calls'
    /// account reads ask SQLite for changes as [`Recheck::default`] says.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, Recheck::default()).await
    }

    /// [`SqliteStore::connect`], with calls' account reads asking SQLite for changes as
    /// `recheck` says (`database.account_cache = false`: [`Recheck::Always`]).
    pub async fn connect_with(url: &str, recheck: Recheck) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("cache_size", format!("-{POOL_CACHE_KIB}"));
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
        let fast = (!in_memory).then(|| FastReads::new(path, recheck));
        Ok(SqlStore {
            pool,
            dialect: SqliteDialect { fast, log },
        })
    }
}

/// For tests: a new database file's place, `t.db` in a temporary directory (removed when
/// the `TempDir` is dropped), and the URL that opens it.
#[cfg(test)]
pub(crate) fn temp_db() -> (tempfile::TempDir, String) {
    #[allow(clippy::unwrap_used)]
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (dir, url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::Store;

    /// Rows written before migration 6 (the table keyed by environment, time and id) and
    /// migration 12 (batches) are all there after them, in the same order, with their times.
    #[tokio::test]
    async fn the_keyed_request_log_table_keeps_the_rows_written_before_it() {
        let (_dir, url) = temp_db();
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
            .bind(format!("2026-01-01T00:00:{:02}.{:06}Z", i / 2, i * 7))
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
        // Through migration 12 (a batch per row, times in microseconds): each time exact.
        for r in &listed {
            let i: i64 = r.id[1..].parse().unwrap();
            let at = format!("2026-01-01T00:00:{:02}.{:06}Z", i / 2, i * 7);
            assert_eq!(
                r.created_at,
                chrono::DateTime::parse_from_rfc3339(&at).unwrap(),
                "{}",
                r.id
            );
            assert_eq!(r.duration_ms, i as u64);
            assert_eq!(r.integrated_account_id.is_some(), i % 3 == 0);
        }
        assert_eq!(
            store
                .list_request_logs("e1", Some("a1"), None, 100)
                .await
                .unwrap()
                .len(),
            10
        );
    }

    /// The pool's connections have their page cache's set size (README's memory bound).
    #[tokio::test]
    async fn the_pools_connections_have_a_bounded_page_cache() {
        let (_dir, url) = temp_db();
        let store = SqliteStore::connect(&url).await.unwrap();
        let mut sizes = Vec::new();
        // Two connections at once: each one got the pragma, not only the first.
        let mut a = store.pool.acquire().await.unwrap();
        let mut b = store.pool.acquire().await.unwrap();
        for conn in [&mut a, &mut b] {
            let size: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            sizes.push(size);
        }
        assert_eq!(sizes, [-POOL_CACHE_KIB, -POOL_CACHE_KIB]);
    }
}
