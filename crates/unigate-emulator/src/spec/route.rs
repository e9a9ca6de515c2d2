//! Routes: method, path and op, what a route reads (collection, query conditions, filters),
//! soft deletes, and the shape of a successful answer ([`ResponseSpec`]). Paging and write
//! rules have their own files.

use axum::http::Method;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::paginate::PaginateSpec;
use super::path::PathPattern;
use super::write::WriteSpec;
use crate::template::{StrTemplate, Template};

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Op {
    Get,
    List,
    Create,
    Merge,
    Replace,
    Delete,
    /// Answers `response.body` rendered (derived documents such as `/self`).
    Render,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::List => "list",
            Op::Create => "create",
            Op::Merge => "merge",
            Op::Replace => "replace",
            Op::Delete => "delete",
            Op::Render => "render",
        }
    }

    pub(crate) fn needs_id(self) -> bool {
        matches!(self, Op::Get | Op::Merge | Op::Replace | Op::Delete)
    }
}

/// The encoding a route requires of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BodyFormat {
    Json,
    Form,
}

/// One route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteSpec {
    #[serde(deserialize_with = "de_method")]
    pub method: Method,
    /// Path after `base_path`, with `{param}` segments.
    pub path: PathPattern,
    /// This route's prefix instead of the file's `base_path`: an API of the same provider
    /// on another host, which the gateway's override sends here keeping its own path
    /// (JumpCloud's Directory Insights, `/insights/directory/v1`, beside `/api`).
    #[serde(default)]
    pub base_path: Option<String>,
    pub op: Op,
    #[serde(default)]
    pub collection: Option<String>,
    /// The route matches only when each of these query parameters (first value, decoded)
    /// equals the given text exactly: one path serving several answers (Salesforce's SOQL
    /// `/query?q=...`).
    #[serde(default)]
    pub when_query: IndexMap<String, String>,
    /// The route matches only when each of these top-level fields of the JSON body equals
    /// the given text exactly: one path whose body says what to do (JumpCloud's
    /// `POST /usergroups/{id}/members` with `{"op": "add" | "remove", ...}`).
    #[serde(default)]
    pub when_body: IndexMap<String, String>,
    /// The path parameter holding the record id (default: the last parameter).
    #[serde(default)]
    pub id_param: Option<String>,
    /// The addressed record's id rendered from a template over `params`, `query` and `body`
    /// (the JSON body, `null` when none),
    /// instead of one path parameter: a membership addressed by two of them
    /// (`"{{params.groupId}}:{{params.userId}}"` for `/groups/{groupId}/users/{userId}`).
    #[serde(default)]
    pub id_template: Option<StrTemplate>,
    /// Whether the auth schemes apply (default true).
    #[serde(default = "yes")]
    pub auth: bool,
    /// `list` only: keep records whose field equals the rendered template (`params`, `query`).
    /// A field may be a dotted path (`relationships.organization.data.id`).
    #[serde(default)]
    pub filter: IndexMap<String, StrTemplate>,
    /// `list` only: a provider's optional list filters, query parameter → record field
    /// (dotted allowed). Applied only when the parameter is sent: records whose field equals
    /// the value ignoring case, or any of its comma-separated values (`filter[email]=a,b`);
    /// an array field matches when any element does.
    #[serde(default)]
    pub query_filter: IndexMap<String, String>,
    /// `list` only: a provider's filter expression in one query parameter, SCIM-like
    /// (Okta's `filter=profile.email eq "a@b.c" and lastUpdated gt "2024-01-01T00:00:00Z"`)
    /// or OData-like (Graph's `$filter=mail eq 'a@b.c'`): clauses `attribute op value`
    /// joined by `and`, `op` one of `eq`, `gt`, `ge`, `lt`, `le`; the value quoted with `"`
    /// or `'`, or bare (`true`, a number, a time). `eq` ignores case; the others compare
    /// times as instants and other values as text. An attribute not in `attributes` (its
    /// name in the expression → the record's dotted field) or a clause that cannot be read
    /// is a `bad_request`, as providers refuse them.
    #[serde(default)]
    pub filter_expression: Option<FilterExpressionSpec>,
    /// `list` only: a provider's search query in one query parameter, Google's
    /// `users.list?query=givenName:Jane isSuspended=false` syntax: clauses `field op value`
    /// separated by whitespace (all must hold), `op` `=` (equal, ignoring case) or `:` (the
    /// whole value or one of its words, ignoring case; `:{PREFIX}*` a prefix of either),
    /// values bare or quoted with `'` (`\'` for a quote inside). A field not in `fields`, a
    /// clause without an operator or a value, an unclosed quote or `*` after `=` is a
    /// `validation` failure on the parameter, as Google answers 400 `Invalid Input`.
    #[serde(default)]
    pub search_query: Option<SearchQuerySpec>,
    /// How a request body must be encoded: `json` or `form`
    /// (`application/x-www-form-urlencoded`, Zoho Projects' v1 writes); a body in the other
    /// encoding is a `bad_request`. Absent: either is read (a form by its `Content-Type`).
    #[serde(default)]
    pub body_format: Option<BodyFormat>,
    /// Query parameters the request must carry (non-empty), else a `bad_request` naming
    /// the first one missing (Google's `customer` or `domain` on a users list).
    #[serde(default)]
    pub required_query: Vec<String>,
    /// With an `oauth` auth scheme: a request authorized by an app-only token (one the
    /// `client_credentials` grant issued) is a `bad_request` with this message (Graph's
    /// `/me`, which has no signed-in user to answer for an application).
    #[serde(default)]
    pub delegated_only: Option<String>,
    /// `delete` only: a record that does not yet have every `unless` value is not
    /// removed but has `set` written (a soft delete: Okta deactivates a user on the first
    /// DELETE and deletes it on the second).
    #[serde(default)]
    pub soft_delete: Option<SoftDeleteSpec>,
    /// `list` only: how the list is paged.
    #[serde(default)]
    pub paginate: Option<PaginateSpec>,
    /// Rules for `create`, `merge`, `replace`.
    #[serde(default)]
    pub write: WriteSpec,
    /// Shape of the answer.
    #[serde(default)]
    pub response: ResponseSpec,
}

fn yes() -> bool {
    true
}

impl RouteSpec {
    pub(crate) fn id_param(&self) -> Option<&str> {
        if self.id_template.is_some() {
            return None;
        }
        self.id_param.as_deref().or_else(|| self.path.params().last())
    }
}

fn de_method<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
    let text = String::deserialize(deserializer)?;
    let upper = text.to_ascii_uppercase();
    if !upper.chars().all(|c| c.is_ascii_uppercase()) || upper.is_empty() {
        return Err(serde::de::Error::custom(format!("invalid HTTP method `{text}`")));
    }
    Method::from_bytes(upper.as_bytes()).map_err(serde::de::Error::custom)
}

/// A soft delete: see [`RouteSpec::soft_delete`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SoftDeleteSpec {
    /// Field values (dotted paths allowed) that mark a record as already soft-deleted.
    pub unless: IndexMap<String, Value>,
    /// Field templates written by a soft delete (`record`, `now`, ... available).
    pub set: IndexMap<String, Template>,
}

/// Shape of a successful answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponseSpec {
    /// Status code (defaults: 200; `create` 201; `delete` 204).
    #[serde(default)]
    pub status: Option<u16>,
    /// Wrap the record (or the list) as `{KEY: ...}`.
    #[serde(default)]
    pub wrap: Option<String>,
    /// Keep only these top-level fields of each record (e.g. GitHub's simple org in lists).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Drop these top-level fields of each record.
    #[serde(default)]
    pub omit: Vec<String>,
    /// A query parameter naming the top-level fields to answer, comma-separated (OData's
    /// `$select`); when the request carries it, it replaces `fields`.
    #[serde(default)]
    pub select_param: Option<String>,
    /// A fixed or derived body (template; `record`, `params`, `query`, `credentials`,
    /// `collections.NAME`, `now`); replaces the record.
    #[serde(default)]
    pub body: Option<Template>,
    /// Extra headers (templates).
    #[serde(default)]
    pub headers: IndexMap<String, StrTemplate>,
    /// Content type (default `application/json; charset=utf-8`).
    #[serde(default)]
    pub content_type: Option<String>,
}

/// See [`RouteSpec::search_query`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuerySpec {
    /// The query parameter holding the search (`query`).
    pub param: String,
    /// Field name in the search → the record's fields (dotted, through arrays:
    /// `emails.address`); a clause holds when any of their values matches.
    pub fields: IndexMap<String, Vec<String>>,
}

/// See [`RouteSpec::filter_expression`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterExpressionSpec {
    /// The query parameter holding the expression (`filter`, `$filter`).
    pub param: String,
    /// Attribute name in the expression → the record's field (dotted allowed).
    pub attributes: IndexMap<String, String>,
}
