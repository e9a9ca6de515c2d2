//! The `emulator.yaml` format: plain serde structs (`deny_unknown_fields` everywhere), parsed
//! and checked once when the file is loaded, so the request path never meets a bad definition.
//!
//! Values that can be checked alone (regexes, path patterns, methods, templates) are checked
//! inside their `Deserialize` impls, so `serde_norway` reports them with line and column.
//! Cross-references (a route naming an unknown collection, ...) are checked afterwards in
//! [`EmulatorSpec::validate`]; their line is found by locating the offending text in the file.
//!
//! `crates/unigate-emulator/README.md` documents every key with examples.

use std::fmt;
use std::path::Path;

use axum::http::Method;
use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::template::{StrTemplate, Template};

/// An `emulator.yaml` that could not be loaded: where and why.
#[derive(Debug, thiserror::Error)]
pub struct SpecError {
    /// File path, or `<name>/emulator.yaml` when loaded from a string.
    pub file: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong, in one sentence.
    pub message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// A loaded and validated `emulator.yaml`, ready to be served by [`crate::start`].
#[derive(Debug, Clone)]
pub struct EmulatorSpec {
    name: String,
    pub(crate) file: SpecFile,
}

impl EmulatorSpec {
    /// Parses and validates `src`; `name` is the provider name (the catalog folder, e.g. `github`).
    pub fn from_yaml(name: &str, src: &str) -> Result<Self, SpecError> {
        Self::parse(name, &format!("{name}/emulator.yaml"), src)
    }

    /// Reads, parses and validates a file; the provider name is the name of its folder.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| SpecError {
            file: file.clone(),
            line: None,
            column: None,
            message: format!("cannot read the file: {e}"),
            source: Some(e),
        })?;
        let name = path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or("emulator");
        Self::parse(name, &file, &src)
    }

    fn parse(name: &str, file: &str, src: &str) -> Result<Self, SpecError> {
        let spec: SpecFile = serde_norway::from_str(src).map_err(|e| {
            let location = e.location();
            SpecError {
                file: file.to_owned(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                message: e.to_string(),
                source: None,
            }
        })?;
        let spec = EmulatorSpec {
            name: name.to_owned(),
            file: spec,
        };
        spec.validate().map_err(|(message, needle)| SpecError {
            file: file.to_owned(),
            line: needle.and_then(|n| find_line(src, &n)),
            column: None,
            message,
            source: None,
        })?;
        Ok(spec)
    }

    /// The provider name, e.g. `github`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's `description`, if any.
    pub fn description(&self) -> Option<&str> {
        self.file.description.as_deref()
    }

    /// The sandbox credentials this emulator accepts, e.g. `{"token": "ghp_..."}`.
    pub fn credentials(&self) -> &Map<String, Value> {
        &self.file.credentials
    }

    /// The OAuth client (id, secret) the emulator's OAuth server accepts, if it has one.
    pub fn oauth_client(&self) -> Option<(String, String)> {
        let oauth = self.file.oauth.as_ref()?;
        let vars = serde_json::json!({ "credentials": self.credentials() });
        Some((oauth.client_id.render(&vars), oauth.client_secret.render(&vars)))
    }

    /// Cross-field checks. The error carries a piece of text to locate the line with.
    fn validate(&self) -> Result<(), (String, Option<String>)> {
        let f = &self.file;
        if !f.base_path.is_empty() && (!f.base_path.starts_with('/') || f.base_path.ends_with('/')) {
            return Err((
                format!("base_path `{}` must start with `/` and not end with one", f.base_path),
                Some("base_path".into()),
            ));
        }
        for scheme in &f.auth {
            scheme.check().map_err(|m| (m, Some("auth".into())))?;
            if scheme.oauth.is_some() && f.oauth.is_none() {
                return Err((
                    "an `oauth` auth scheme needs an `oauth` server section".into(),
                    Some("auth".into()),
                ));
            }
        }
        if let Some(oauth) = &f.oauth {
            oauth.check().map_err(|m| (m, Some("oauth".into())))?;
        }
        for (name, collection) in &f.collections {
            for (i, record) in collection.records.iter().enumerate() {
                let Some(object) = record.as_object() else {
                    return Err((
                        format!("collections.{name}.records[{i}] is not an object"),
                        Some(name.clone()),
                    ));
                };
                let has_id = crate::dotted::get_path(object, &collection.id_field).is_some_and(|v| !v.is_null());
                if !has_id && collection.generate_id == IdGenerator::None {
                    return Err((
                        format!(
                            "collections.{name}.records[{i}] has no `{}` and generate_id is none",
                            collection.id_field
                        ),
                        Some(name.clone()),
                    ));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, route) in f.routes.iter().enumerate() {
            let needle = Some(route.path.source.clone());
            let here = |m: String| {
                (
                    format!("routes[{i}] ({} {}): {m}", route.method, route.path.source),
                    needle.clone(),
                )
            };
            let when = format!("{:?}", route.when_query);
            if !seen.insert((route.method.clone(), route.path.source.clone(), when)) {
                return Err(here("the same method and path appear twice".into()));
            }
            match (&route.collection, route.op) {
                (None, Op::Render) => {}
                (None, _) => return Err(here(format!("op `{}` needs a `collection`", route.op.as_str()))),
                (Some(c), _) if !f.collections.contains_key(c) => {
                    return Err(here(format!("unknown collection `{c}`")));
                }
                _ => {}
            }
            if route.op.needs_id() && route.id_param().is_none() {
                return Err(here(format!(
                    "op `{}` needs a `{{param}}` in the path for the record id",
                    route.op.as_str()
                )));
            }
            if let Some(param) = &route.id_param {
                if !route.path.params().any(|p| p == param) {
                    return Err(here(format!("id_param `{param}` is not a parameter of the path")));
                }
            }
            if route.soft_delete.is_some() && route.op != Op::Delete {
                return Err(here("`soft_delete` only applies to op `delete`".into()));
            }
            if route.paginate.is_some() && route.op != Op::List {
                return Err(here("`paginate` only applies to op `list`".into()));
            }
            if route.op == Op::Render && route.response.body.is_none() {
                return Err(here("op `render` needs `response.body`".into()));
            }
            if route.write.version_header.is_some() && !route.write.optimistic_version {
                return Err(here("version_header needs optimistic_version".into()));
            }
            if route.write.optimistic_version {
                let has_version = route
                    .collection
                    .as_ref()
                    .and_then(|c| f.collections.get(c))
                    .is_some_and(|c| c.version_field.is_some());
                if !has_version {
                    return Err(here("optimistic_version needs the collection's `version_field`".into()));
                }
            }
        }
        Ok(())
    }
}

/// 1-based number of the first line containing `needle`.
fn find_line(src: &str, needle: &str) -> Option<usize> {
    src.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The whole file. Only `routes` is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpecFile {
    /// Free text: what is emulated and where the data comes from.
    #[serde(default)]
    pub description: Option<String>,
    /// Prefix of every route path, e.g. `/api/v1` (no trailing slash).
    #[serde(default)]
    pub base_path: String,
    /// Sandbox credentials the emulator accepts; `{{credentials.KEY}}` in templates.
    #[serde(default)]
    pub credentials: Map<String, Value>,
    /// Accepted authentication schemes; a request passes when any one matches. Empty: no auth.
    #[serde(default)]
    pub auth: Vec<AuthScheme>,
    /// Checks on request headers other than auth (e.g. an API version header).
    #[serde(default)]
    pub header_rules: Vec<HeaderRule>,
    /// Error bodies in the provider's own shape, per error kind.
    #[serde(default)]
    pub errors: ErrorsSpec,
    /// Named sets of records, in insertion order.
    #[serde(default)]
    pub collections: IndexMap<String, CollectionSpec>,
    /// What the server answers; matched in order.
    pub routes: Vec<RouteSpec>,
    /// An OAuth2 authorization server (authorize, token, revoke) beside the API.
    #[serde(default)]
    pub oauth: Option<crate::oauth::OAuthSpec>,
}

/// One accepted way to authenticate. Exactly one of `header`, `query`, `basic`, `digest` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthScheme {
    /// Header name (case-insensitive) whose value must equal `value`.
    #[serde(default)]
    pub header: Option<String>,
    /// Query parameter whose value must equal `value`.
    #[serde(default)]
    pub query: Option<String>,
    /// HTTP Basic credentials (`Authorization: Basic base64(username:password)`).
    #[serde(default)]
    pub basic: Option<BasicAuth>,
    /// HTTP Digest credentials (RFC 7616): a request without a valid answer gets a 401 with
    /// a `WWW-Authenticate: Digest ...` challenge.
    #[serde(default)]
    pub digest: Option<crate::digest::DigestAuth>,
    /// Expected value, a template over `credentials`, e.g. `"Bearer {{credentials.token}}"`.
    #[serde(default)]
    pub value: Option<StrTemplate>,
    /// With `header`: the value must be this prefix followed by a live access token issued
    /// by the emulator's `oauth` server (e.g. `"Bearer "`).
    #[serde(default)]
    pub oauth: Option<String>,
}

impl AuthScheme {
    fn check(&self) -> Result<(), String> {
        let kinds = [
            self.header.is_some(),
            self.query.is_some(),
            self.basic.is_some(),
            self.digest.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("each auth scheme needs exactly one of `header`, `query`, `basic`, `digest`".into());
        }
        if self.digest.is_some() && (self.value.is_some() || self.oauth.is_some()) {
            return Err("a `digest` auth scheme takes no `value`".into());
        }
        if self.oauth.is_some() && (self.header.is_none() || self.value.is_some()) {
            return Err("an `oauth` auth scheme needs a `header` and no `value`".into());
        }
        if self.basic.is_none() && self.digest.is_none() && self.value.is_none() && self.oauth.is_none() {
            return Err("a `header` or `query` auth scheme needs a `value`".into());
        }
        if self.basic.is_some() && self.value.is_some() {
            return Err("a `basic` auth scheme takes no `value`".into());
        }
        Ok(())
    }
}

/// Expected HTTP Basic credentials, both templates over `credentials`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BasicAuth {
    pub username: StrTemplate,
    #[serde(default)]
    pub password: StrTemplate,
}

/// A check on a request header, e.g. GitHub's `X-GitHub-Api-Version`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderRule {
    /// Header name (case-insensitive).
    pub header: String,
    /// Accepted values; empty accepts any value.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Whether the header must be present.
    #[serde(default)]
    pub required: bool,
    /// Error kind answered when the rule fails (default `bad_request`).
    #[serde(default = "default_rule_error")]
    pub error: ErrorKind,
    /// Message template; `{{value}}` is the value received.
    #[serde(default)]
    pub message: Option<StrTemplate>,
}

fn default_rule_error() -> ErrorKind {
    ErrorKind::BadRequest
}

/// The kinds of error the engine produces. Each has a built-in status and message and a
/// fallback kind, so a provider only writes the templates it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No credentials at all (401). Falls back to `unauthorized`.
    MissingCredentials,
    /// Wrong credentials (401).
    Unauthorized,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// The addressed record does not exist (404).
    NotFound,
    /// No route matches the path (404). Falls back to `not_found`.
    RouteNotFound,
    /// The path exists but not with this method (405).
    MethodNotAllowed,
    /// Malformed request: bad JSON, failed header rule (400).
    BadRequest,
    /// Field validation failed (422).
    Validation,
    /// A field the route does not know (status of `validation`). Falls back to `validation`.
    UnknownField,
    /// A read-only field in a write with `read_only_mode: reject`. Falls back to `validation`.
    ReadOnlyField,
    /// Stale optimistic version (409).
    Conflict,
}

impl ErrorKind {
    pub(crate) fn status(self) -> u16 {
        match self {
            Self::MissingCredentials | Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::BadRequest => 400,
            Self::Validation | Self::UnknownField | Self::ReadOnlyField => 422,
            Self::Conflict => 409,
        }
    }

    pub(crate) fn fallback(self) -> Option<Self> {
        match self {
            Self::MissingCredentials => Some(Self::Unauthorized),
            Self::RouteNotFound => Some(Self::NotFound),
            Self::UnknownField | Self::ReadOnlyField => Some(Self::Validation),
            _ => None,
        }
    }

    pub(crate) fn default_message(self) -> &'static str {
        match self {
            Self::MissingCredentials => "Authentication credentials were not provided",
            Self::Unauthorized => "Bad credentials",
            Self::Forbidden => "Forbidden",
            Self::NotFound | Self::RouteNotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::BadRequest => "Bad Request",
            Self::Validation | Self::UnknownField | Self::ReadOnlyField => "Validation Failed",
            Self::Conflict => "Conflict",
        }
    }
}

/// Error templates per kind; a kind without a template uses its fallback chain, then `default`,
/// then the built-in `{"message": "..."}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorsSpec {
    #[serde(default)]
    pub default: Option<ErrorTemplate>,
    #[serde(default)]
    pub missing_credentials: Option<ErrorTemplate>,
    #[serde(default)]
    pub unauthorized: Option<ErrorTemplate>,
    #[serde(default)]
    pub forbidden: Option<ErrorTemplate>,
    #[serde(default)]
    pub not_found: Option<ErrorTemplate>,
    #[serde(default)]
    pub route_not_found: Option<ErrorTemplate>,
    #[serde(default)]
    pub method_not_allowed: Option<ErrorTemplate>,
    #[serde(default)]
    pub bad_request: Option<ErrorTemplate>,
    #[serde(default)]
    pub validation: Option<ErrorTemplate>,
    #[serde(default)]
    pub unknown_field: Option<ErrorTemplate>,
    #[serde(default)]
    pub read_only_field: Option<ErrorTemplate>,
    #[serde(default)]
    pub conflict: Option<ErrorTemplate>,
    /// How one field error is rendered into `{{errors}}`.
    #[serde(default)]
    pub field_error: Option<FieldErrorSpec>,
}

impl ErrorsSpec {
    pub(crate) fn get(&self, kind: ErrorKind) -> Option<&ErrorTemplate> {
        match kind {
            ErrorKind::MissingCredentials => self.missing_credentials.as_ref(),
            ErrorKind::Unauthorized => self.unauthorized.as_ref(),
            ErrorKind::Forbidden => self.forbidden.as_ref(),
            ErrorKind::NotFound => self.not_found.as_ref(),
            ErrorKind::RouteNotFound => self.route_not_found.as_ref(),
            ErrorKind::MethodNotAllowed => self.method_not_allowed.as_ref(),
            ErrorKind::BadRequest => self.bad_request.as_ref(),
            ErrorKind::Validation => self.validation.as_ref(),
            ErrorKind::UnknownField => self.unknown_field.as_ref(),
            ErrorKind::ReadOnlyField => self.read_only_field.as_ref(),
            ErrorKind::Conflict => self.conflict.as_ref(),
        }
    }
}

/// One error answer. Body variables: `status`, `reason`, `message`, `detail`, `errors`,
/// `field`, `code`, `id`, `collection`, `method`, `path`, `value`, `credentials`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorTemplate {
    /// Status code; default: the kind's built-in status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Message template (`{{detail}}` is the engine's own message); becomes `{{message}}`.
    #[serde(default)]
    pub message: Option<StrTemplate>,
    /// Body template; default: the fallback's body.
    #[serde(default)]
    pub body: Option<Template>,
    /// Extra response headers (templates).
    #[serde(default)]
    pub headers: IndexMap<String, StrTemplate>,
    /// Content type (default `application/json; charset=utf-8`).
    #[serde(default)]
    pub content_type: Option<String>,
}

/// Rendering of one field error (variables `field`, `code`, `message`, `value`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FieldErrorSpec {
    pub body: Template,
    /// Renames of the engine's codes (`missing`, `type`, `too_short`, `too_long`, `pattern`,
    /// `below_minimum`, `above_maximum`, `not_in_enum`, `unknown_field`, `read_only`) to the provider's.
    #[serde(default)]
    pub codes: IndexMap<String, String>,
}

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

/// One route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteSpec {
    #[serde(deserialize_with = "de_method")]
    pub method: Method,
    /// Path after `base_path`, with `{param}` segments.
    pub path: PathPattern,
    pub op: Op,
    #[serde(default)]
    pub collection: Option<String>,
    /// The route matches only when each of these query parameters (first value, decoded)
    /// equals the given text exactly: one path serving several answers (Salesforce's SOQL
    /// `/query?q=...`).
    #[serde(default)]
    pub when_query: IndexMap<String, String>,
    /// The path parameter holding the record id (default: the last parameter).
    #[serde(default)]
    pub id_param: Option<String>,
    /// Whether the auth schemes apply (default true).
    #[serde(default = "yes")]
    pub auth: bool,
    /// `list` only: keep records whose field equals the rendered template (`params`, `query`).
    #[serde(default)]
    pub filter: IndexMap<String, StrTemplate>,
    /// Query parameters the request must carry (non-empty), else a `bad_request` naming
    /// the first one missing (Google's `customer` or `domain` on a users list).
    #[serde(default)]
    pub required_query: Vec<String>,
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

/// A path with literal and `{param}` segments.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    pub source: String,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
    /// An OData key segment, `organizations({id})`: the literal prefix, then the parameter
    /// inside parentheses.
    Keyed(String, String),
    /// A parameter followed by a literal suffix, `{companyId}.json` (Teamwork): the name,
    /// then the suffix.
    Suffixed(String, String),
}

impl PathPattern {
    pub(crate) fn parse(source: &str) -> Result<Self, String> {
        if !source.starts_with('/') {
            return Err(format!("path `{source}` must start with `/`"));
        }
        let mut segments = Vec::new();
        for part in source.split('/').skip(1) {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!("invalid parameter `{part}` in path `{source}`"));
                }
                segments.push(Segment::Param(name.to_owned()));
            } else if let Some((prefix, name)) =
                part.strip_suffix("})")
                    .and_then(|p| p.split_once("({"))
                    .filter(|(prefix, name)| {
                        !prefix.is_empty()
                            && !prefix.contains(['{', '}', '(', ')'])
                            && !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
            {
                segments.push(Segment::Keyed(prefix.to_owned(), name.to_owned()));
            } else if let Some((name, suffix)) =
                part.strip_prefix('{')
                    .and_then(|p| p.split_once('}'))
                    .filter(|(name, suffix)| {
                        !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !suffix.is_empty()
                            && !suffix.contains(['{', '}'])
                    })
            {
                segments.push(Segment::Suffixed(name.to_owned(), suffix.to_owned()));
            } else if part.contains('{') || part.contains('}') {
                return Err(format!("a parameter must be a whole segment: `{part}` in `{source}`"));
            } else {
                segments.push(Segment::Literal(part.to_owned()));
            }
        }
        Ok(PathPattern {
            source: source.to_owned(),
            segments,
        })
    }

    pub(crate) fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) | Segment::Keyed(_, p) | Segment::Suffixed(p, _) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Matches already split, percent-decoded path segments.
    pub(crate) fn matches(&self, parts: &[String]) -> Option<Map<String, Value>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Map::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), Value::String(part.clone()));
                }
                Segment::Keyed(prefix, name) => {
                    let key = part
                        .strip_prefix(prefix.as_str())
                        .and_then(|p| p.strip_prefix('('))
                        .and_then(|p| p.strip_suffix(')'))
                        .filter(|k| !k.is_empty())?;
                    params.insert(name.clone(), Value::String(key.to_owned()));
                }
                Segment::Suffixed(name, suffix) => {
                    let key = part.strip_suffix(suffix.as_str()).filter(|k| !k.is_empty())?;
                    params.insert(name.clone(), Value::String(key.to_owned()));
                }
            }
        }
        Some(params)
    }
}

impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PathPattern::parse(&text).map_err(serde::de::Error::custom)
    }
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

/// Paging of a `list`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaginateSpec {
    pub style: PageStyle,
    /// Where the paging parameters are read: the query string or the JSON body.
    #[serde(default)]
    pub params_in: ParamsIn,
    /// `page` style: page number parameter.
    #[serde(default = "default_page_param")]
    pub page_param: String,
    /// Page size parameter (all styles), e.g. `per_page`, `size`, `limit`.
    #[serde(default = "default_size_param")]
    pub size_param: String,
    /// The page size comes from a `key=N` item of a request header instead (OData's
    /// `Prefer: odata.maxpagesize=N`); without that item, `size_param` applies.
    #[serde(default)]
    pub size_header: Option<SizeHeader>,
    /// `offset` style: offset parameter.
    #[serde(default = "default_offset_param")]
    pub offset_param: String,
    /// `cursor` style: the parameter carrying the cursor from the previous page.
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// `cursor` style: keyset paging. The cursor is this field's value in the last record
    /// of the previous page (NinjaOne's `after`, Stripe's `starting_after`), not an opaque
    /// offset; an unknown value is a `bad_request`.
    #[serde(default)]
    pub cursor_field: Option<String>,
    /// Number of the first page: 1 (GitHub) or 0 (Spring).
    #[serde(default = "one")]
    pub first_page: u64,
    #[serde(default = "default_size")]
    pub default_size: u64,
    /// Larger requested sizes are clamped to this.
    #[serde(default = "max_size")]
    pub max_size: u64,
    /// Add an RFC 8288 `Link` header (first, prev, next, last) with absolute URLs.
    #[serde(default)]
    pub link_header: bool,
    /// Response body; variables `items`, `page`, `size`, `total`, `total_pages`, `count`,
    /// `first`, `last`, `empty`, `has_more`, `offset`, `next_cursor`, `next_page`, `prev_page`,
    /// `next_url`. Default: the bare array (or `response.wrap`).
    #[serde(default)]
    pub envelope: Option<Template>,
    /// Extra headers (templates over the same variables), e.g. `X-Total-Count`.
    #[serde(default)]
    pub headers: IndexMap<String, StrTemplate>,
    /// `range` style: the unit of `Range: <unit>=0-49` and `Content-Range`. Default `items`.
    #[serde(default = "default_range_unit")]
    pub range_unit: String,
    /// `range` style: answer `Content-Range: items 0-49/*`, without the total.
    #[serde(default)]
    pub hide_total: bool,
}

fn default_range_unit() -> String {
    "items".into()
}

/// `size_header: { name: Prefer, key: odata.maxpagesize }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SizeHeader {
    /// Header name (case-insensitive); every value of it is read.
    pub name: String,
    /// The item carrying the size, matched case-insensitively.
    pub key: String,
}

fn default_page_param() -> String {
    "page".into()
}
fn default_size_param() -> String {
    "per_page".into()
}
fn default_offset_param() -> String {
    "offset".into()
}
fn default_cursor_param() -> String {
    "cursor".into()
}
fn one() -> u64 {
    1
}
fn default_size() -> u64 {
    30
}
fn max_size() -> u64 {
    100
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PageStyle {
    /// Page number + size.
    Page,
    /// Offset + limit.
    Offset,
    /// Opaque cursor returned with each page.
    Cursor,
    /// The `Range` request header (`Range: items=0-49`), answered `206` with
    /// `Content-Range: items 0-49/200`; a range past the end is a `416`.
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ParamsIn {
    #[default]
    Query,
    Body,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
credentials: { token: abc }
auth:
  - { header: Authorization, value: "Bearer {{credentials.token}}" }
collections:
  things:
    records:
      - { id: "1", name: one }
routes:
  - { method: get, path: "/things/{id}", op: get, collection: things }
"#;

    #[test]
    fn a_minimal_spec_loads() {
        let spec = EmulatorSpec::from_yaml("demo", MINIMAL).expect("valid");
        assert_eq!(spec.name(), "demo");
        assert_eq!(spec.credentials()["token"], "abc");
        assert_eq!(spec.file.routes[0].method, Method::GET);
    }

    #[test]
    fn an_unknown_key_is_reported_with_file_and_line() {
        let src = MINIMAL.replace("op: get,", "op: get, colection: x,");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("unknown key");
        assert_eq!(err.file, "demo/emulator.yaml");
        assert_eq!(err.line, Some(10), "the route is on line 10");
        assert!(err.to_string().starts_with("demo/emulator.yaml:10:"), "{err}");
        assert!(err.message.contains("colection"), "{err}");
    }

    #[test]
    fn a_bad_regex_is_reported_with_its_line() {
        let src = format!(
            "{MINIMAL}  - method: put\n    path: /things/{{id}}\n    op: replace\n    collection: things\n    write:\n      fields:\n        name: {{ pattern: '(' }}\n"
        );
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("bad regex");
        assert_eq!(err.line, Some(17), "{err}");
    }

    #[test]
    fn a_route_to_an_unknown_collection_names_the_line() {
        let src = MINIMAL.replace("collection: things", "collection: thngs");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("unknown collection");
        assert!(err.message.contains("unknown collection `thngs`"), "{err}");
        assert_eq!(err.line, Some(10));
    }

    #[test]
    fn path_patterns_reject_partial_parameters() {
        assert!(PathPattern::parse("/orgs/x{id}").is_err());
        assert!(PathPattern::parse("orgs").is_err());
        let p = PathPattern::parse("/orgs/{org}/members").expect("valid");
        let parts: Vec<String> = ["orgs", "acme", "members"].iter().map(|s| s.to_string()).collect();
        assert_eq!(p.matches(&parts).expect("match")["org"], "acme");
    }

    #[test]
    fn odata_key_segments_capture_the_key_in_parentheses() {
        let p = PathPattern::parse("/organizations({organizationid})").expect("valid");
        let parts = |s: &str| vec![s.to_string()];
        assert_eq!(
            p.matches(&parts("organizations(0a1b-2c)")).expect("match")["organizationid"],
            "0a1b-2c"
        );
        assert!(p.matches(&parts("organizations()")).is_none());
        assert!(p.matches(&parts("organizations")).is_none());
        assert!(p.matches(&parts("accounts(1)")).is_none());
        assert!(PathPattern::parse("/({id})").is_err());
        assert_eq!(p.params().collect::<Vec<_>>(), ["organizationid"]);
    }

    #[test]
    fn a_parameter_may_carry_a_literal_suffix() {
        let p = PathPattern::parse("/companies/{companyId}.json").expect("valid");
        let parts = |s: &str| vec!["companies".to_string(), s.to_string()];
        assert_eq!(p.matches(&parts("999.json")).expect("match")["companyId"], "999");
        assert!(p.matches(&parts(".json")).is_none());
        assert!(p.matches(&parts("999")).is_none());
        assert!(PathPattern::parse("/companies/{id}.{x}").is_err());
        assert_eq!(p.params().collect::<Vec<_>>(), ["companyId"]);
    }

    #[test]
    fn an_auth_scheme_must_name_exactly_one_place() {
        let src = MINIMAL.replace("{ header: Authorization,", "{ header: Authorization, query: key,");
        let err = EmulatorSpec::from_yaml("demo", &src).expect_err("two places");
        assert!(err.message.contains("exactly one"), "{err}");
    }
}
