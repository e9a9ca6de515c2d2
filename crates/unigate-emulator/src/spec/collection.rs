//! Collections: named sets of records, how their ids are made and matched, and the
//! timestamps and versions a write maintains.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::template::Template;

/// A named set of records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectionSpec {
    /// The field that addresses a record in paths (default `id`); may be a string like a login.
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// Match ids case-insensitively (GitHub logins).
    #[serde(default)]
    pub id_case_insensitive: bool,
    /// Other fields a path id may match (e.g. a slug besides the id).
    #[serde(default)]
    pub lookup_fields: Vec<String>,
    /// Fixed path ids that stand for one record: alias -> that record's id (Google's
    /// `my_customer`, the caller's own customer).
    #[serde(default)]
    pub aliases: IndexMap<String, String>,
    /// How `create` (and seeding without an id) makes an id.
    #[serde(default)]
    pub generate_id: IdGenerator,
    /// Fields set to the current time on writes.
    #[serde(default)]
    pub timestamps: Option<TimestampsSpec>,
    /// Integer field incremented on every update (set to `version_start` on create).
    #[serde(default)]
    pub version_field: Option<String>,
    /// Initial version of a created record (default 0).
    #[serde(default)]
    pub version_start: i64,
    /// Field values added on create when the body lacks them (templates; `id`, `now` available).
    #[serde(default)]
    pub defaults: IndexMap<String, Template>,
    /// The seeded records.
    #[serde(default)]
    pub records: Vec<Value>,
}

fn default_id_field() -> String {
    "id".into()
}

/// Id generation for created records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IdGenerator {
    /// Random UUID v4 string.
    #[default]
    Uuid,
    /// 24 hex digits (MongoDB ObjectId style).
    Hex24,
    /// Next integer after the largest numeric id.
    Sequence,
    /// The client must provide the id.
    None,
}

/// Timestamp fields touched on writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimestampsSpec {
    /// Set on create.
    #[serde(default)]
    pub created: Option<String>,
    /// Set on create and on every update.
    #[serde(default)]
    pub updated: Option<String>,
    /// How the time is written.
    #[serde(default)]
    pub format: TimeFormat,
}

/// Format of a written timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TimeFormat {
    /// `2024-01-02T10:00:00Z`
    #[default]
    Rfc3339,
    /// `2024-01-02T10:00:00.123Z`
    Rfc3339Millis,
    /// Integer seconds since the Unix epoch.
    Unix,
    /// Integer milliseconds since the Unix epoch.
    UnixMillis,
}
