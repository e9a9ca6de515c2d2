//! What the OAuth server has issued: authorization codes, access tokens with their expiry,
//! and refresh tokens ([`OAuthState`], kept in the emulator's one state lock), and the
//! tokens handed to tests ([`OAuthTokens`]).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::spec::OAuthSpec;

/// Tokens minted by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<u64>,
}

/// An authorization code waiting to be exchanged at the token endpoint.
#[derive(Debug)]
pub(crate) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    /// The PKCE challenge and its method.
    pub challenge: Option<(String, String)>,
    pub scope: String,
    pub expires: Instant,
}

/// Issued codes and tokens; lives in the emulator's one state lock.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    codes: HashMap<String, Code>,
    /// Access token → expiry (`None`: never).
    access: HashMap<String, Option<Instant>>,
    refresh: HashSet<String>,
    /// Access tokens of the `client_credentials` grant: an application's, with no user.
    app_only: HashSet<String>,
}

impl OAuthState {
    pub fn access_live(&self, token: &str) -> bool {
        match self.access.get(token) {
            Some(Some(expiry)) => Instant::now() < *expiry,
            Some(None) => true,
            None => false,
        }
    }

    fn token(prefix: &str) -> String {
        format!("{prefix}{}", uuid::Uuid::new_v4().simple())
    }

    pub fn issue(&mut self, spec: &OAuthSpec, with_refresh: bool) -> OAuthTokens {
        let access_token = Self::token(&spec.token_prefix);
        let ttl = spec.ttl();
        self.access
            .insert(access_token.clone(), ttl.map(|t| Instant::now() + t));
        let refresh_token = with_refresh.then(|| {
            let prefix = spec
                .refresh_token_prefix
                .clone()
                .unwrap_or_else(|| format!("{}r_", spec.token_prefix));
            let r = Self::token(&prefix);
            self.refresh.insert(r.clone());
            r
        });
        OAuthTokens {
            access_token,
            refresh_token,
            expires_in: spec.access_token_ttl_s,
        }
    }

    /// Marks an access token as an application's own (no signed-in user).
    pub fn mark_app_only(&mut self, token: &str) {
        self.app_only.insert(token.to_owned());
    }

    /// Whether the `client_credentials` grant issued this access token.
    pub fn app_only(&self, token: &str) -> bool {
        self.app_only.contains(token)
    }

    pub fn expire_access_tokens(&mut self) {
        let past = Instant::now()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or_else(Instant::now);
        for expiry in self.access.values_mut() {
            *expiry = Some(past);
        }
    }

    pub fn revoke_refresh_tokens(&mut self) {
        self.refresh.clear();
    }

    pub fn refresh_live(&self, token: &str) -> bool {
        self.refresh.contains(token)
    }

    /// Keeps `code` under a fresh code value, which it returns.
    pub fn grant_code(&mut self, code: Code) -> String {
        let value = Self::token("code_");
        self.codes.insert(value.clone(), code);
        value
    }

    /// Takes the code out: a code is good for one exchange.
    pub fn take_code(&mut self, value: &str) -> Option<Code> {
        self.codes.remove(value)
    }

    /// Forgets a refresh token that a rotating refresh has used.
    pub fn retire_refresh_token(&mut self, token: &str) {
        self.refresh.remove(token);
    }

    /// Revokes a token, access or refresh (RFC 7009).
    pub fn revoke(&mut self, token: &str) {
        self.refresh.remove(token);
        self.access.remove(token);
        self.app_only.remove(token);
    }
}
