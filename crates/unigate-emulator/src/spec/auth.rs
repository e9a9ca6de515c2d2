//! Who may call: the accepted authentication schemes (header, query, Basic, Digest, OAuth
//! bearer) and the checks on other request headers.

use serde::Deserialize;

use super::errors::ErrorKind;
use crate::digest::DigestAuth;
use crate::template::StrTemplate;

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
    pub digest: Option<DigestAuth>,
    /// Expected value, a template over `credentials`, e.g. `"Bearer {{credentials.token}}"`.
    #[serde(default)]
    pub value: Option<StrTemplate>,
    /// With `header`: the value must be this prefix followed by a live access token issued
    /// by the emulator's `oauth` server (e.g. `"Bearer "`).
    #[serde(default)]
    pub oauth: Option<String>,
}

impl AuthScheme {
    pub(super) fn check(&self) -> Result<(), String> {
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
