//! How the request log is stored: one row of `request_log_batches` per batch of entries of
//! one environment and account, the entries packed in a JSON array ([`pack`]) and unpacked
//! when read ([`unpack`]).
//!
//! A row per call cost SQLite two B-tree inserts (the key and the account's index) and nine
//! bound values per call, about 3.1 µs of the writer's CPU per entry; a row per batch of 64
//! entries costs about 0.9 µs per entry, packing included (`bench/ANALYSIS.md`, "Twenty-sixth
//! pass"). What it changes for the reader:
//! - a page of the log is read batch by batch, newest batch first, and the entries are
//!   filtered and ordered here; a batch holds entries of at most [`SPAN_MICROS`], so the
//!   batches that can hold an entry older than a cursor are found through the key;
//! - retention and the per-environment cap delete whole batches: an entry older than the
//!   retention stays until the newest of its batch is (at most [`SPAN_MICROS`] later), and
//!   an environment over its cap keeps up to one batch fewer than the cap, never more.

use chrono::{DateTime, Utc};

use super::{RequestLogRecord, StoreError};

/// The most entries in one stored batch. 64 entries (about 8 KiB) took 0.9 µs an entry to
/// write; larger rows spill over more overflow pages for little more.
pub const ENTRIES: usize = 64;

/// The most time between the oldest and the newest entry of one batch, in microseconds. A
/// read for entries before a time `t` starts at the batches whose newest entry is at or
/// before `t + SPAN_MICROS`; no batch past that holds one.
pub const SPAN_MICROS: i64 = 1_000_000;

/// One row of `request_log_batches`, ready to bind: entries of one environment and account,
/// oldest first.
#[derive(Debug)]
pub struct Batch<'a> {
    pub environment_id: &'a str,
    pub integrated_account_id: Option<&'a str>,
    /// The newest entry's time (microseconds since the epoch) and id: the row's key, with
    /// the environment.
    pub last_at: i64,
    pub last_id: &'a str,
    pub entry_count: i64,
    /// The entries, packed: `[[id, method, path, status, duration_ms, error, at], ...]`.
    pub entries: String,
    /// Where its entries are in the slice given to [`pack`].
    pub range: std::ops::Range<usize>,
}

/// An entry as packed in a batch: environment and account are the row's.
type Packed<'a> = (&'a str, &'a str, &'a str, u16, u64, Option<&'a str>, i64);
type Unpacked = (String, String, String, u16, u64, Option<String>, i64);

/// A time as the log stores it: microseconds since the epoch (the log's entries carry no
/// finer time than that).
pub fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The time of `micros`, as [`micros`] wrote it.
pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("request log time {micros} out of range")))
}

/// Sorts `entries` the way [`pack`] takes them: by environment, account, time and id.
pub fn sort(entries: &mut [RequestLogRecord]) {
    entries.sort_unstable_by(|a, b| {
        (
            &a.environment_id,
            &a.integrated_account_id,
            micros(&a.created_at),
            &a.id,
        )
            .cmp(&(
                &b.environment_id,
                &b.integrated_account_id,
                micros(&b.created_at),
                &b.id,
            ))
    });
}

/// Cuts `entries`, ordered by [`sort`], into the batches to store: each of one environment
/// and account, at most [`ENTRIES`] entries and [`SPAN_MICROS`] apart.
pub fn pack(entries: &[RequestLogRecord]) -> Vec<Batch<'_>> {
    let mut batches = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let first = &entries[start];
        let first_at = micros(&first.created_at);
        let end = entries[start..]
            .iter()
            .take(ENTRIES)
            .position(|e| {
                e.environment_id != first.environment_id
                    || e.integrated_account_id != first.integrated_account_id
                    || micros(&e.created_at) - first_at > SPAN_MICROS
            })
            .map_or_else(|| entries.len().min(start + ENTRIES), |n| start + n);
        let chunk = &entries[start..end];
        let last = &chunk[chunk.len() - 1];
        let packed: Vec<Packed> = chunk
            .iter()
            .map(|e| {
                (
                    e.id.as_str(),
                    e.method.as_str(),
                    e.path.as_str(),
                    e.status,
                    e.duration_ms,
                    e.error.as_deref(),
                    micros(&e.created_at),
                )
            })
            .collect();
        batches.push(Batch {
            environment_id: &first.environment_id,
            integrated_account_id: first.integrated_account_id.as_deref(),
            last_at: micros(&last.created_at),
            last_id: &last.id,
            entry_count: chunk.len() as i64,
            // Strings, integers and `None` only: serializing cannot fail.
            entries: serde_json::to_string(&packed).unwrap_or_default(),
            range: start..end,
        });
        start = end;
    }
    batches
}

/// A stored batch's entries, oldest first.
pub fn unpack(
    environment_id: &str,
    integrated_account_id: Option<&str>,
    entries: &str,
) -> Result<Vec<RequestLogRecord>, StoreError> {
    let unpacked: Vec<Unpacked> =
        serde_json::from_str(entries).map_err(|e| StoreError::Corrupt(format!("request log batch: {e}")))?;
    unpacked
        .into_iter()
        .map(|(id, method, path, status, duration_ms, error, at)| {
            Ok(RequestLogRecord {
                id,
                environment_id: environment_id.to_string(),
                integrated_account_id: integrated_account_id.map(str::to_string),
                method,
                path,
                status,
                duration_ms,
                error,
                created_at: from_micros(at)?,
            })
        })
        .collect()
}

/// Gathers one page of the log, newest first, from batches read newest batch first: the
/// entries before `before` (time in microseconds, id), at most `limit`.
#[derive(Debug)]
pub struct Page {
    before: (i64, String),
    limit: usize,
    found: Vec<RequestLogRecord>,
}

impl Page {
    pub fn new(before: Option<(i64, String)>, limit: usize) -> Page {
        Page {
            before: before.unwrap_or((i64::MAX, String::new())),
            limit,
            found: Vec::new(),
        }
    }

    /// The newest time (microseconds) a batch may end at and still hold an entry of this
    /// page: batches are read from there down.
    pub fn newest_batch(&self) -> i64 {
        self.before.0.saturating_add(SPAN_MICROS)
    }

    /// Whether a batch whose newest entry is at `last_at` (or any read after it, which end
    /// no later) can still hold an entry of the page: not once the page is full of entries
    /// newer than that.
    pub fn wants(&self, last_at: i64) -> bool {
        self.found.len() < self.limit
            || self
                .found
                .last()
                .is_some_and(|oldest| micros(&oldest.created_at) <= last_at)
    }

    /// Adds a batch's entries (those before the cursor), keeping the newest `limit`.
    pub fn add(&mut self, entries: Vec<RequestLogRecord>) {
        let before = (self.before.0, self.before.1.as_str());
        self.found.extend(entries.into_iter().filter(|e| position(e) < before));
        self.found.sort_unstable_by(|a, b| position(b).cmp(&position(a)));
        self.found.truncate(self.limit);
    }

    pub fn into_entries(self) -> Vec<RequestLogRecord> {
        self.found
    }
}

/// Where an entry stands in the log's order (time, then id), as a cursor names it.
fn position(e: &RequestLogRecord) -> (i64, &str) {
    (micros(&e.created_at), e.id.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(i: i64, account: Option<&str>, at_micros: i64) -> RequestLogRecord {
        RequestLogRecord {
            id: format!("r{i:04}"),
            environment_id: "env".into(),
            integrated_account_id: account.map(str::to_string),
            method: "GET".into(),
            path: "/unified/user-directory/users/1".into(),
            status: 200,
            duration_ms: i as u64,
            error: (i % 3 == 0).then(|| "a \"quoted\"\tmessage\n".into()),
            created_at: from_micros(at_micros).unwrap(),
        }
    }

    #[test]
    fn a_batch_holds_one_account_at_most_64_entries_and_one_second() {
        let base = 1_800_000_000_000_000;
        // 150 entries 1 ms apart, alternating two accounts, given newest first.
        let mut entries: Vec<RequestLogRecord> = (0..150)
            .rev()
            .map(|i| entry(i, (i % 2 == 0).then_some("a1"), base + i * 1000))
            .collect();
        // Then one entry of a1 two seconds later: past the span, a batch of its own.
        entries.push(entry(150, Some("a1"), base + 2_000_000 + 150_000));
        sort(&mut entries);
        let batches = pack(&entries);
        let shape: Vec<(Option<&str>, i64)> = batches
            .iter()
            .map(|b| (b.integrated_account_id, b.entry_count))
            .collect();
        assert_eq!(
            shape,
            [
                (None, 64),
                (None, 11),
                (Some("a1"), 64),
                (Some("a1"), 11),
                (Some("a1"), 1)
            ]
        );
        for b in &batches {
            let got = unpack(b.environment_id, b.integrated_account_id, &b.entries).unwrap();
            let want = &entries[b.range.clone()];
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "a batch unpacks to its entries"
            );
            assert!(
                got.windows(2).all(|w| w[0].created_at <= w[1].created_at),
                "oldest first"
            );
            assert_eq!(b.last_id, got.last().unwrap().id);
            assert_eq!(b.last_at, micros(&got.last().unwrap().created_at));
            assert!(b.last_at - micros(&got[0].created_at) <= SPAN_MICROS);
        }
    }

    #[test]
    fn a_page_is_the_newest_entries_before_the_cursor_across_overlapping_batches() {
        // Two accounts' batches that overlap in time, read newest batch first.
        let mut entries: Vec<RequestLogRecord> = (0..40)
            .map(|i| entry(i, Some(if i % 2 == 0 { "a" } else { "b" }), 1000 + i))
            .collect();
        sort(&mut entries);
        let mut batches = pack(&entries);
        batches.sort_by_key(|b| std::cmp::Reverse(b.last_at));
        let read = |before: Option<(i64, String)>, limit: usize| {
            let mut page = Page::new(before, limit);
            for b in &batches {
                if b.last_at > page.newest_batch() || !page.wants(b.last_at) {
                    continue;
                }
                page.add(unpack(b.environment_id, b.integrated_account_id, &b.entries).unwrap());
            }
            page.into_entries().into_iter().map(|e| e.id).collect::<Vec<_>>()
        };
        let want = |from: i64, to: i64| (from..to).rev().map(|i| format!("r{i:04}")).collect::<Vec<_>>();
        assert_eq!(read(None, 5), want(35, 40));
        assert_eq!(read(Some((1000 + 35, "r0035".into())), 5), want(30, 35));
        assert_eq!(read(Some((1000 + 2, "r0002".into())), 5), want(0, 2));
        // Same time, smaller id: still before the cursor.
        assert_eq!(read(Some((1000 + 3, "r9999".into())), 1), want(3, 4));
    }

    #[test]
    fn a_damaged_batch_is_an_error_not_a_panic() {
        assert!(matches!(unpack("e", None, "[[1,2]"), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            unpack("e", None, r#"[["i","GET","/",200,1,null,9223372036854775807]]"#),
            Err(StoreError::Corrupt(_))
        ));
    }
}
