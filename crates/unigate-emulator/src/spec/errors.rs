//! Error answers: the kinds of error the engine produces ([`ErrorKind`], with their built-in
//! status, message and fallback) and the provider's templates for them.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::template::{StrTemplate, Template};

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
