//! The extractor that turns a request's bearer token into the environment every handler
//! works in (through the one-second cache of [`crate::tokens`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::hash_token;

/// The environment of the request's bearer token.
#[derive(Debug, Clone)]
pub struct Env {
    pub id: String,
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
        match state
            .tokens
            .environment(state.store.as_ref(), hash_token(token))
            .await?
        {
            Some(id) => Ok(Env { id }),
            None => Err(ApiError::unauthorized("Invalid API token.")),
        }
    }
}
