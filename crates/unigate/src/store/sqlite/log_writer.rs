//! The request log's rows, written off the async runtime: [`LogWriter`].
//!
//! Threads of their own at a low CPU priority, so that on a busy CPU the log fills the gaps
//! between calls instead of delaying them; a batch they cannot write goes through the pool.

use std::time::Duration;

use crate::store::{log_batches, RequestLogRecord, REQUEST_LOG_QUEUE};

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
pub(super) struct LogWriter {
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
const LOG_BACKLOG: usize = REQUEST_LOG_QUEUE / 5;

/// The most entries in one transaction: four full stored batches (`store::log_batches`),
/// about 0.25 ms of CPU. Each commit rewrites the pages at the right edge of each index, so
/// fewer entries per transaction cost more per entry; more would keep the write lock longer
/// when the thread is preempted inside a transaction.
const LOG_ENTRIES_PER_TRANSACTION: usize = 256;

/// The most stored batches in one transaction: when calls are spread over many accounts,
/// batches are small (one entry each with 500 accounts in a flush of 500), and a commit
/// every four of them cost 22 µs of CPU per entry (`bench log --accounts 1000`).
const LOG_BATCHES_PER_TRANSACTION: usize = 64;

/// `batches` cut into the runs written one transaction each (at most
/// [`LOG_ENTRIES_PER_TRANSACTION`] entries and [`LOG_BATCHES_PER_TRANSACTION`] batches).
fn transactions<'a, 'b>(
    mut batches: &'a [log_batches::Batch<'b>],
) -> impl Iterator<Item = &'a [log_batches::Batch<'b>]> {
    std::iter::from_fn(move || {
        if batches.is_empty() {
            return None;
        }
        let mut entries = 0;
        let n = batches
            .iter()
            .take(LOG_BATCHES_PER_TRANSACTION)
            .take_while(|b| {
                entries += b.range.len();
                entries <= LOG_ENTRIES_PER_TRANSACTION
            })
            .count();
        // A batch never holds more than a transaction's entries; one at least, regardless.
        let (now, rest) = batches.split_at(n.max(1));
        batches = rest;
        Some(now)
    })
}

impl LogWriter {
    pub(super) fn start(path: std::path::PathBuf) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            background: spawn_log_writer(&path, "unigate-log", LOG_BACKGROUND_NICENESS)?,
            catch_up: spawn_log_writer(&path, "unigate-log-cu", LOG_CATCH_UP_NICENESS)?,
        })
    }

    /// `backlog`: the entries queued behind these.
    pub(super) async fn write(
        &self,
        entries: Vec<RequestLogRecord>,
        backlog: usize,
    ) -> Result<(), Vec<RequestLogRecord>> {
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
            // The entries sorted and packed; `committed`: how many of them are written.
            let mut committed = 0;
            let outcome = match conn.take() {
                Some(c) => Ok(c),
                None => open_writer(&path),
            }
            .and_then(|c| {
                log_batches::sort(&mut entries);
                let batches = log_batches::pack(&entries);
                for batches in transactions(&batches) {
                    insert_batches(&c, batches)?;
                    committed = batches[batches.len() - 1].range.end;
                }
                Ok(c)
            });
            let reply = match outcome {
                Ok(c) => {
                    conn = Some(c);
                    Ok(())
                }
                Err(e) => {
                    // Reopened for the next batch; the entries not committed take the pool.
                    tracing::debug!(error = %e, "request-log entries not written in place; writing them through the pool");
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
    super::set_cache_size(&conn, super::WRITER_CACHE_KIB)?;
    Ok(conn)
}

fn insert_batches(conn: &rusqlite::Connection, batches: &[log_batches::Batch]) -> rusqlite::Result<()> {
    // `IMMEDIATE`: the write lock is taken at the start, so the transaction never has to
    // upgrade a read lock (which can fail without waiting).
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let inserted = (|| {
        // `OR IGNORE`: a statement that cannot abort halfway needs no statement journal.
        // Without it, every statement after a transaction's first copied the pages it
        // changed to a temporary file first (`bench/ANALYSIS.md`, "Eighth pass"). Nothing is
        // ignored in practice: a batch's key ends with its newest entry's id, a fresh UUIDv7.
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO request_log_batches \
             (environment_id, last_at, last_id, integrated_account_id, entry_count, entries) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for b in batches {
            insert.execute(rusqlite::params![
                b.environment_id,
                b.last_at,
                b.last_id,
                b.integrated_account_id,
                b.entry_count,
                b.entries
            ])?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;

    use super::*;
    use crate::store::sqlite::{temp_db, SqliteStore};
    use crate::store::Store;

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
        let (_dir, url) = temp_db();
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

    /// A job's entries are packed into stored batches and written a run of them a
    /// transaction (`transactions`); when one transaction fails, the
    /// entries of the transactions before it stay written and the rest come back for the pool.
    #[tokio::test]
    async fn a_failed_transaction_hands_back_only_the_entries_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let env = store.create_environment("e").await.unwrap();
        let start = Utc::now();
        let rows: Vec<RequestLogRecord> = (0..600)
            .map(|i| RequestLogRecord {
                created_at: start + chrono::Duration::microseconds(i as i64),
                ..log(&env.id, i)
            })
            .collect();
        // Two accounts' 300 entries each: five batches each (64, 64, 64, 64, 44), ten in
        // all, in three transactions. The database refuses a batch of the second.
        let mut sorted = rows.clone();
        log_batches::sort(&mut sorted);
        let batches = log_batches::pack(&sorted);
        assert_eq!(batches.len(), 10);
        let runs: Vec<_> = transactions(&batches).collect();
        assert_eq!(runs.len(), 3);
        let second = runs[1][0].range.start;
        let refused = runs[1][1].last_id;
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON request_log_batches WHEN NEW.last_id = '{refused}' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            ))
            .unwrap();
        let back = store
            .dialect
            .log
            .as_ref()
            .unwrap()
            .write(rows.clone(), 0)
            .await
            .unwrap_err();
        let ids = |entries: &[RequestLogRecord]| {
            let mut ids: Vec<String> = entries.iter().map(|r| r.id.clone()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&back), ids(&sorted[second..]));
        let stored = store.list_request_logs(&env.id, None, None, 1000).await.unwrap();
        assert_eq!(ids(&stored), ids(&sorted[..second]));
    }

    /// A transaction holds at most 256 entries and 64 stored batches: four full batches,
    /// or 64 small ones when calls are spread over many accounts.
    #[test]
    fn transactions_are_bounded_by_entries_and_by_batches() {
        let start = Utc::now();
        let runs = |accounts: usize, entries: usize| {
            let mut rows: Vec<RequestLogRecord> = (0..entries)
                .map(|i| RequestLogRecord {
                    integrated_account_id: Some(format!("a{}", i % accounts)),
                    created_at: start + chrono::Duration::microseconds(i as i64),
                    ..log("e", i)
                })
                .collect();
            log_batches::sort(&mut rows);
            let batches = log_batches::pack(&rows);
            let runs: Vec<(usize, usize)> = transactions(&batches)
                .map(|run| (run.len(), run.iter().map(|b| b.range.len()).sum()))
                .collect();
            // Every batch once, in order.
            assert_eq!(runs.iter().map(|r| r.0).sum::<usize>(), batches.len());
            runs
        };
        assert_eq!(runs(1, 500), [(4, 256), (4, 244)]);
        assert_eq!(
            runs(500, 500),
            [(64, 64); 7].into_iter().chain([(52, 52)]).collect::<Vec<_>>()
        );
        // Five accounts' 100 entries: batches of 64 and 36, four to a transaction.
        assert_eq!(runs(5, 500), [(4, 200), (4, 200), (2, 100)]);
        assert!(runs(1, 0).is_empty());
    }

    #[tokio::test]
    async fn a_request_log_batch_that_fails_in_place_goes_through_the_pool() {
        let (dir, url) = temp_db();
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

    /// A writer thread's connection has its page cache's set size (README's memory bound).
    #[tokio::test]
    async fn the_writers_connections_have_a_bounded_page_cache() {
        let (dir, url) = temp_db();
        let _store = SqliteStore::connect(&url).await.unwrap();
        let conn = open_writer(&dir.path().join("t.db")).unwrap();
        let size: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0)).unwrap();
        assert_eq!(size, -crate::store::sqlite::WRITER_CACHE_KIB);
    }
}
