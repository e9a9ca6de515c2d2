//! The extractor that turns a request's bearer token into the environment every handler
//! works in (through the one-second cache of [`crate::tokens`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::TokenScope;

/// The environment of the request's bearer token, and what the token may do.
#[derive(Debug, Clone)]
pub struct Env {
    pub id: String,
    pub scope: TokenScope,
}

impl Env {
    /// A 403 unless the token has the `admin` scope (managing API tokens).
    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        match self.scope {
            TokenScope::Admin => Ok(()),
            TokenScope::Api => Err(ApiError::forbidden(format!(
                "{what} needs a token with the `admin` scope; this token's scope is `api`."
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Env {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Resolved once per request: a middleware that needed it (the request log) left it.
        if let Some(env) = parts.extensions.get::<Env>() {
            return Ok(env.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("Missing `Authorization: Bearer <api token>` header."))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("The Authorization header must be `Bearer <api token>`."))?;
        match state.tokens.identity(state.store.as_ref(), token).await? {
            Some(t) => Ok(Env {
                id: t.environment_id,
                scope: t.scope,
            }),
            None => Err(ApiError::unauthorized("Invalid API token.")),
        }
    }
}
