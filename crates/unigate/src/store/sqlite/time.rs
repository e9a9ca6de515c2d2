//! Timestamps as SQLite stores them: RFC 3339 text, so they sort as text and read back
//! exactly; shared by the dialect and the request-log writer.

use chrono::{DateTime, Utc};

use crate::store::StoreError;

/// A timestamp as stored (see [`fmt_ts`]).
pub(super) fn ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp `{s}`: {e}")))
}

/// A timestamp as stored: RFC 3339 text at microseconds, in UTC.
pub(super) fn fmt_ts(t: &DateTime<Utc>) -> String {
    // Fixed width so that text order is time order (keyset pagination relies on it).
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
