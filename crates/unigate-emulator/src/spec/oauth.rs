//! The `oauth` section: an OAuth2 authorization server beside the API (its endpoints, the
//! registered client, grant types, PKCE, token lifetimes and prefixes, error shapes). What
//! the server has issued lives in `crate::tokens`; its endpoints in `crate::oauth`.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::template::StrTemplate;

/// The `oauth` section of `emulator.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuthSpec {
    /// The consent page (GET shows it, POST answers it). Absent: no authorization-code flow.
    #[serde(default)]
    pub authorize_path: Option<String>,
    pub token_path: String,
    #[serde(default)]
    pub revoke_path: Option<String>,
    /// The registered client, templates over `credentials`.
    pub client_id: StrTemplate,
    pub client_secret: StrTemplate,
    /// Grant types the token endpoint accepts.
    #[serde(default = "default_grants")]
    pub grants: Vec<Grant>,
    /// Access token lifetime; absent: tokens never expire (GitHub OAuth apps).
    #[serde(default)]
    pub access_token_ttl_s: Option<u64>,
    /// Whether the authorization-code grant also issues a refresh token.
    #[serde(default = "yes")]
    pub refresh_tokens: bool,
    /// Whether a refresh invalidates the refresh token it used and issues a new one.
    #[serde(default)]
    pub rotate_refresh_tokens: bool,
    #[serde(default)]
    pub pkce: Pkce,
    /// Prefix of issued access tokens (`ghu_`, `ya29.`), for realism.
    #[serde(default)]
    pub token_prefix: String,
    /// Prefix of issued refresh tokens (`ghr_`, `1//`).
    #[serde(default)]
    pub refresh_token_prefix: Option<String>,
    /// Status of token-endpoint errors: 400 per RFC 6749; GitHub answers 200.
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    /// The error code of a refused code or refresh token (`invalid_grant`; GitHub says
    /// `bad_refresh_token`).
    #[serde(default = "default_invalid_grant")]
    pub invalid_grant_error: String,
    /// Token-request parameters that must be present with these values (Auth0's `audience`).
    #[serde(default)]
    pub required_params: IndexMap<String, StrTemplate>,
    /// Shown on the consent page.
    #[serde(default)]
    pub app_name: Option<String>,
}

fn default_grants() -> Vec<Grant> {
    vec![Grant::AuthorizationCode, Grant::RefreshToken]
}

fn yes() -> bool {
    true
}

fn default_error_status() -> u16 {
    400
}

fn default_invalid_grant() -> String {
    "invalid_grant".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Pkce {
    Required,
    #[default]
    Optional,
}

impl OAuthSpec {
    pub fn check(&self) -> Result<(), String> {
        let paths = [
            Some(&self.token_path),
            self.authorize_path.as_ref(),
            self.revoke_path.as_ref(),
        ];
        if paths.iter().flatten().any(|p| !p.starts_with('/')) {
            return Err("oauth paths must start with `/`".into());
        }
        if self.grants.contains(&Grant::AuthorizationCode) && self.authorize_path.is_none() {
            return Err("the authorization_code grant needs an `authorize_path`".into());
        }
        Ok(())
    }

    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.access_token_ttl_s.map(Duration::from_secs)
    }
}
