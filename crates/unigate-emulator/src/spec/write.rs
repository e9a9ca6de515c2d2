//! Write rules for `create`, `merge` and `replace`: required and accepted fields, per-field
//! checks ([`FieldRule`]), read-only fields, optimistic versions and fields set on write.

use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::template::{StrTemplate, Template};

/// Rules applied to the body of `create`, `merge` and `replace`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteSpec {
    /// The body is `{KEY: {...fields}}` (e.g. Krystal's `properties`); missing KEY → validation error.
    #[serde(default)]
    pub unwrap: Option<String>,
    /// Fields that must be present (and not null); dotted paths reach nested fields
    /// (`profile.login`).
    #[serde(default)]
    pub required: Vec<String>,
    /// Per-field checks (dotted paths reach nested fields); with `reject_unknown_fields`,
    /// also the list of accepted fields (a dotted entry accepts its top-level field).
    #[serde(default)]
    pub fields: IndexMap<String, FieldRule>,
    /// `merge`: objects in the body are merged into the stored ones recursively (JSON Merge
    /// Patch, RFC 7396, without its `null` deletes) instead of replacing them: Okta's partial
    /// user update of `profile`, Google's `PATCH`. Arrays and other values are replaced.
    #[serde(default)]
    pub deep_merge: bool,
    /// Fields not in `fields`, `required` or `read_only` → `unknown_field` error.
    #[serde(default)]
    pub reject_unknown_fields: bool,
    /// Fields the client cannot change; they keep their stored value.
    #[serde(default)]
    pub read_only: Vec<String>,
    /// What to do with a read-only field in the body.
    #[serde(default)]
    pub read_only_mode: ReadOnlyMode,
    /// The body must carry the collection's current `version_field` value, else `conflict`.
    #[serde(default)]
    pub optimistic_version: bool,
    /// With `optimistic_version`: the expected version is this request header's value
    /// instead of the body's (Contentful's `X-Contentful-Version`); a missing header is a
    /// `conflict` too.
    #[serde(default)]
    pub version_header: Option<String>,
    /// Fields set on every write through this route (templates; `record`, `body`, `now`, `credentials`).
    #[serde(default)]
    pub set: IndexMap<String, Template>,
    /// `create` only: the new record starts as a copy of a record of another collection
    /// (the body's fields over it): a group membership that answers the member user.
    #[serde(default)]
    pub copy_from: Option<CopyFromSpec>,
    /// Arrays of records kept inside the record, changed by lists of ids in the body
    /// (ClickUp's user group `members`, written as `members: [ids]` on create and
    /// `members: {add: [ids], rem: [ids]}` on update).
    #[serde(default)]
    pub array_ops: Vec<ArrayOpSpec>,
    /// The body is a SCIM 2.0 `PatchOp` (`schemas`, `Operations`), turned into a plain body
    /// before every other rule: attributes replaced or added become fields, and the ids
    /// added to or removed from a multi-valued attribute `P` are found at `$add.P` and
    /// `$remove.P` for `array_ops` (Webex's group `members`).
    #[serde(default)]
    pub scim_patch: bool,
}

/// See [`WriteSpec::array_ops`]. The body fields that `add` and `remove` live in are not
/// written as they are; the record's `field` becomes its current elements, minus those
/// whose `key` is one of the `remove` ids, plus a copy of the `from` record of each `add`
/// id not there yet (an id with no such record: `not_found`). Without `from`, the array
/// holds the values themselves (MongoDB Atlas' `roles.orgRoles`, a list of role names
/// changed one at a time by `:addRole`/`:removeRole` with `{"orgRole": ...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArrayOpSpec {
    /// The record's array field (a dotted path reaches a nested one: `roles.orgRoles`).
    pub field: String,
    /// Dotted body path of the ids to add: an array, or one id.
    #[serde(default)]
    pub add: Option<String>,
    /// Dotted body path of the ids to remove: an array, or one id.
    #[serde(default)]
    pub remove: Option<String>,
    /// The element field an id is compared with (as text). Default `id`; unused without
    /// `from`, where an element is compared itself.
    #[serde(default = "default_key")]
    pub key: String,
    /// The collection an added id is looked up in; none: the array holds the ids
    /// themselves, as sent.
    #[serde(default)]
    pub from: Option<String>,
    /// The fields of the looked-up record an element keeps; all when empty.
    #[serde(default)]
    pub fields: Vec<String>,
    /// A string at `add` or `remove` is split on this separator into ids (Teamwork's
    /// `userIds: "1,2"`); items are trimmed and empty ones dropped.
    #[serde(default)]
    pub split: Option<String>,
    /// With `from`: fields added to each looked-up element (Teamwork's member
    /// `{id, type: users}`).
    #[serde(default)]
    pub with: serde_json::Map<String, serde_json::Value>,
    /// Fewest elements the array may be left with: a write that leaves fewer is a
    /// `validation` error on `field` (Atlas: "A user must have at least one role at all
    /// times"). Default 0.
    #[serde(default)]
    pub min_items: usize,
}

fn default_key() -> String {
    "id".to_string()
}

/// See [`WriteSpec::copy_from`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CopyFromSpec {
    /// The collection holding the record.
    pub collection: String,
    /// The record's id, a template over `params`, `query` and `body`. A rendered value
    /// with a `/` is a URL ending in the id (OData's `@odata.id` reference), and its last
    /// segment is taken. No such record: `not_found`.
    #[serde(default)]
    pub id: Option<StrTemplate>,
    /// Instead of `id`: the top-level body field holding the id or the URL, for names a
    /// dotted template cannot reach (`@odata.id`).
    #[serde(default)]
    pub id_body_field: Option<String>,
}

/// Handling of read-only fields sent by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadOnlyMode {
    /// Silently keep the stored value.
    #[default]
    Ignore,
    /// Answer a `read_only_field` error.
    Reject,
}

/// Checks on one field (all optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldRule {
    #[serde(default, rename = "type")]
    pub kind: Option<FieldType>,
    /// Whether `null` is accepted (default false when `type` is set).
    #[serde(default)]
    pub nullable: bool,
    /// Minimum length in characters (strings) or items (arrays).
    #[serde(default)]
    pub min_length: Option<usize>,
    /// Maximum length in characters (strings) or items (arrays).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Regex the whole string must match (anchored, as Java's `@Pattern`).
    #[serde(default)]
    pub pattern: Option<Pattern>,
    #[serde(default)]
    pub minimum: Option<f64>,
    #[serde(default)]
    pub maximum: Option<f64>,
    /// Accepted values.
    #[serde(default, rename = "enum")]
    pub one_of: Vec<Value>,
}

/// JSON type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
}

/// A regex anchored at both ends, compiled at load.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        let regex = Regex::new(&format!("^(?:{source})$")).map_err(serde::de::Error::custom)?;
        Ok(Pattern { source, regex })
    }
}
