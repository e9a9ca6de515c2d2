//! API tokens: random, shown once, stored as SHA-256; and the extractor that turns a
//! bearer token into the environment every handler works in.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::startup::AppState;

/// A new API token: `ug_` and 64 hex characters (256 random bits).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("ug_{hex}")
}

/// What is stored: a token has 256 bits of entropy, so a plain hash (no salt, no
/// stretching) is enough and allows an indexed lookup.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The environment of the request's bearer token.
#[derive(Debug, Clone)]
pub struct Env {
    pub id: String,
}

impl FromRequestParts<AppState> for Env {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
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
        match state.store.environment_for_token(&hash_token(token)).await? {
            Some(id) => Ok(Env { id }),
            None => Err(ApiError::unauthorized("Invalid API token.")),
        }
    }
}
