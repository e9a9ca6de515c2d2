//! The request log: one entry per unified or proxy call (environment, account, method, path,
//! status, duration, error message), written in batches by a background task so a call
//! never waits on it (the store keeps them a batch to a row, `store::log_batches`); and the
//! hourly pruning of entries past `request_log.retention_hours`.
//! Never a query string, a body or a credential. With traces on, each batch written is a
//! span (`request_log.write`, a trace of its own), not each call.
//!
//! The service only: the HTTP middleware that reports each call and the `GET /request-log`
//! route that reads the entries are in `http::request_log`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::store::{RequestLogRecord, Store, StoreError, REQUEST_LOG_QUEUE};

const BATCH: usize = 500;
/// How long the writer waits for more entries after the first of a batch arrives.
const LINGER: Duration = Duration::from_millis(200);
/// How often entries past `request_log.retention_hours` are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Stored batches deleted per statement (up to 64 entries each, `store::log_batches`), and
/// the pause between statements: a busy instance's hour of entries is millions, and one
/// `DELETE` of them all would hold SQLite's write lock (which account writes and rate-limit
/// budgets also take) for seconds or minutes.
pub const PRUNE_CHUNK: u32 = 100;
const PRUNE_PAUSE: Duration = Duration::from_millis(20);
/// How often each environment's entries beyond `request_log.max_rows_per_environment` are
/// deleted.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// One finished unified or proxy call, as the HTTP layer saw it.
#[derive(Debug)]
pub struct Call {
    pub environment_id: String,
    pub integrated_account_id: Option<String>,
    pub method: String,
    /// The path only: never the query string.
    pub path: String,
    pub status: u16,
    pub duration: Duration,
    /// The error message answered, for failed calls.
    pub error: Option<String>,
}

/// The sending side, shared by every request.
#[derive(Debug)]
pub struct RequestLog {
    tx: Option<mpsc::Sender<RequestLogRecord>>,
    dropped: AtomicU64,
    /// The writer task, and how to tell it to write what is queued, at once, and stop
    /// (taken by [`RequestLog::flush_and_stop`]); none when logging is off.
    writer: std::sync::Mutex<Option<(tokio::task::JoinHandle<()>, Arc<tokio::sync::Notify>)>>,
    /// The share of successful calls (status below 400) kept, in (0, 1); `None`: all.
    /// Failed calls are always kept.
    success_sample: Option<(f64, AtomicU64)>,
}

impl RequestLog {
    /// Starts the writer when enabled, and the hourly pruning and the cap in any case.
    pub fn start(store: Arc<dyn Store>, enabled: bool, retention_hours: u64, max_rows: u64) -> RequestLog {
        // Entries written before logging was turned off still age out.
        tokio::spawn(prune_hourly(store.clone(), retention_hours));
        if max_rows > 0 {
            tokio::spawn(trim_every_minute(store.clone(), max_rows));
        }
        if !enabled {
            return RequestLog {
                tx: None,
                dropped: AtomicU64::new(0),
                writer: std::sync::Mutex::new(None),
                success_sample: None,
            };
        }
        let (tx, rx) = mpsc::channel(REQUEST_LOG_QUEUE);
        let closing = Arc::new(tokio::sync::Notify::new());
        let writer = tokio::spawn(write_batches(store, rx, closing.clone()));
        RequestLog {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
            writer: std::sync::Mutex::new(Some((writer, closing))),
            success_sample: None,
        }
    }

    /// Keeps only `rate` (0 to 1) of the successful calls, evenly spread: of every
    /// `1 / rate` successful calls, one is logged. Failed calls are always logged.
    pub fn with_success_sampling(mut self, rate: f64) -> RequestLog {
        self.success_sample = (rate < 1.0).then(|| (rate.max(0.0), AtomicU64::new(0)));
        self
    }

    /// Whether a successful call is sampled in: the n-th call is kept when `n * rate`
    /// crosses an integer, which keeps exactly `rate` of them with no randomness.
    fn keep_success(&self) -> bool {
        match &self.success_sample {
            None => true,
            Some((rate, seen)) => {
                let n = seen.fetch_add(1, Ordering::Relaxed) as f64;
                ((n + 1.0) * rate).floor() > (n * rate).floor()
            }
        }
    }

    /// Writes every queued entry now, without waiting for its batch to fill, and stops the
    /// writer; called once the server has stopped taking calls, so that a graceful shutdown
    /// (a deploy) loses no entries. Waits at most `within`.
    pub async fn flush_and_stop(&self, within: Duration) {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some((writer, closing)) = writer else { return };
        // A stored permit: the writer sees it even if it is not waiting at this moment.
        closing.notify_one();
        if tokio::time::timeout(within, writer).await.is_err() {
            tracing::warn!("request log entries still being written at shutdown were abandoned");
        }
    }

    /// Entries queued and not yet taken by the writer (for metrics).
    pub fn queue_depth(&self) -> usize {
        self.tx.as_ref().map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    /// Entries dropped since the start because the queue was full (for metrics).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues the entry of one finished call; never waits (a full queue drops it).
    pub fn record(&self, call: Call) {
        if call.status < 400 && !self.keep_success() {
            return;
        }
        self.push(RequestLogRecord {
            // Time-ordered (UUID v7): the last part of a stored batch's key, so batches go in
            // at the right edge of the key's index instead of at random places.
            id: uuid::Uuid::now_v7().to_string(),
            environment_id: call.environment_id,
            integrated_account_id: call.integrated_account_id,
            method: call.method,
            path: call.path,
            status: call.status,
            duration_ms: call.duration.as_millis() as u64,
            error: call.error,
            created_at: Utc::now(),
        });
    }

    fn push(&self, entry: RequestLogRecord) {
        if let Some(tx) = &self.tx {
            if tx.try_send(entry).is_err() {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(dropped = n, "request log queue full; entries dropped");
                }
            }
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<RequestLogRecord>,
    closing: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut stopping = false;
    loop {
        if !stopping {
            tokio::select! {
                received = rx.recv_many(&mut batch, BATCH) => if received == 0 { return },
                () = closing.notified() => stopping = true,
            }
            // Let a busy instance's entries gather into one transaction (a few per second
            // at most) instead of committing each call's row on its own.
            if !stopping && batch.len() < BATCH {
                tokio::select! {
                    () = tokio::time::sleep(LINGER) => {}
                    () = closing.notified() => stopping = true,
                }
            }
        }
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            // Only when stopping: the queue is drained.
            return;
        }
        let entries = batch.len();
        let write = store.insert_request_logs(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)), rx.len());
        // One span per batch (traces), a trace of its own: the calls it holds have ended.
        let span = tracing::info_span!(
            target: "unigate_otel",
            parent: None,
            "request_log.write",
            unigate.entries = entries,
            otel.status_code = tracing::field::Empty,
        );
        let written = if span.is_disabled() {
            write.await
        } else {
            write.instrument(span.clone()).await
        };
        if written.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        if let Err(e) = written {
            tracing::warn!(error = %e, entries, "request log entries could not be written");
        }
    }
}

/// Prunes at start, then every hour, beside the writer (which goes on meanwhile).
async fn prune_hourly(store: Arc<dyn Store>, retention_hours: u64) {
    // A retention beyond what a duration or a date can hold keeps everything.
    let Some(keep) = i64::try_from(retention_hours)
        .ok()
        .and_then(|h| h.checked_mul(3600))
        .and_then(chrono::Duration::try_seconds)
    else {
        return;
    };
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(cutoff) = Utc::now().checked_sub_signed(keep) else {
            return;
        };
        match prune(store.as_ref(), cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "request log pruned"),
            Err(e) => tracing::warn!(error = %e, "request log pruning failed"),
        }
    }
}

/// Keeps each environment's log within `max_rows`, every minute.
async fn trim_every_minute(store: Arc<dyn Store>, max_rows: u64) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match trim(store.as_ref(), max_rows).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, max_rows, "request log over its cap: oldest entries deleted"),
            Err(e) => tracing::warn!(error = %e, "request log trimming failed"),
        }
    }
}

/// Deletes, in every environment, the oldest entries beyond its `max_rows` newest, a whole
/// stored batch at a time (so an environment over its cap keeps up to one batch of 64 fewer,
/// never more; batches ending in the same microsecond as the last one deleted go with it),
/// in chunks like [`prune`]; returns how many entries.
pub async fn trim(store: &dyn Store, max_rows: u64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for env in store.list_environments().await? {
        let Some(until) = store.request_log_cap_time(&env.id, max_rows).await? else {
            continue;
        };
        loop {
            let n = store.trim_request_logs(&env.id, until, PRUNE_CHUNK).await?;
            deleted += n.entries;
            if n.batches < u64::from(PRUNE_CHUNK) {
                break;
            }
            tokio::time::sleep(PRUNE_PAUSE).await;
        }
    }
    Ok(deleted)
}

/// Deletes every stored batch whose entries are all older than `before` (an older entry
/// stored with newer ones waits for them, at most a second), [`PRUNE_CHUNK`] batches per
/// statement with a pause between statements, so other writers get the database in between;
/// returns how many entries.
pub async fn prune(store: &dyn Store, before: chrono::DateTime<Utc>) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let n = store.prune_request_logs(before, PRUNE_CHUNK).await?;
        deleted += n.entries;
        if n.batches < u64::from(PRUNE_CHUNK) {
            return Ok(deleted);
        }
        tokio::time::sleep(PRUNE_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::sqlite::{temp_db, SqliteStore};

    /// With logging turned off, entries written before still age out: the pruning runs anyway,
    /// at start.
    #[tokio::test]
    async fn pruning_runs_with_logging_turned_off() {
        let (_dir, url) = temp_db();
        let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
        let env = store.create_environment("e").await.unwrap();
        let entry = |id: &str, age_hours: i64| RequestLogRecord {
            id: id.into(),
            environment_id: env.id.clone(),
            integrated_account_id: None,
            method: "GET".into(),
            path: "/proxy/x".into(),
            status: 200,
            duration_ms: 1,
            error: None,
            created_at: Utc::now() - chrono::Duration::hours(age_hours),
        };
        store
            .insert_request_logs(vec![entry("old", 200), entry("recent", 1)], 0)
            .await
            .unwrap();

        let _log = RequestLog::start(store.clone(), false, 168, 0);
        let mut left = Vec::new();
        for _ in 0..100 {
            left = store.list_request_logs(&env.id, None, None, 10).await.unwrap();
            if left.len() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["recent"]);
    }

    /// Each environment keeps its newest entries, at most `max_rows` and a stored batch
    /// fewer at worst; another environment's are counted apart.
    #[tokio::test]
    async fn the_cap_keeps_each_environments_newest_entries() {
        let (_dir, url) = temp_db();
        let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
        let (busy, quiet) = (
            store.create_environment("busy").await.unwrap(),
            store.create_environment("quiet").await.unwrap(),
        );
        // A second apart: stored two to a batch ({0, 1}, {2, 3}, ...), a batch spanning
        // at most a second.
        let now = Utc::now();
        let entry = |env: &str, i: i64| RequestLogRecord {
            id: format!("{env}-{i:02}"),
            environment_id: env.to_string(),
            integrated_account_id: None,
            method: "GET".into(),
            path: "/proxy/x".into(),
            status: 200,
            duration_ms: 1,
            error: None,
            created_at: now - chrono::Duration::seconds(100 - i),
        };
        let mut rows: Vec<RequestLogRecord> = (0..12).map(|i| entry(&busy.id, i)).collect();
        rows.extend((0..3).map(|i| entry(&quiet.id, i)));
        store.insert_request_logs(rows, 0).await.unwrap();

        // Five would split the batch {6, 7}: it goes, with every older one.
        assert_eq!(trim(store.as_ref(), 5).await.unwrap(), 8);
        let kept = store.list_request_logs(&busy.id, None, None, 100).await.unwrap();
        let mut ids: Vec<String> = kept.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        let newest: Vec<String> = (8..12).map(|i| format!("{}-{i:02}", busy.id)).collect();
        assert_eq!(ids, newest);
        assert_eq!(
            store.list_request_logs(&quiet.id, None, None, 100).await.unwrap().len(),
            3
        );
        assert_eq!(trim(store.as_ref(), 5).await.unwrap(), 0, "nothing more over the cap");
    }
}
