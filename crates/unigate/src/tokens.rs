//! API tokens: random, shown once, stored as SHA-256; and the one-second cache of a token's
//! environment. Below `state` (which holds the cache) and `auth` (whose extractor reads it).

use hashbrown::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use crate::store::TokenIdentity;

/// A new API token: `ug_` and 64 hex characters (256 random bits).
pub fn generate_token() -> String {
    format!("ug_{}", random_hex(32))
}

/// `bytes` random bytes from the OS, as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    let mut hex = String::with_capacity(bytes * 2);
    push_hex(&mut hex, &buf);
    hex
}

/// What is stored: a token has 256 bits of entropy, so a plain hash (no salt, no
/// stretching) is enough and allows an indexed lookup.
pub fn hash_token(token: &str) -> String {
    let mut hex = String::with_capacity(64);
    push_hex(&mut hex, &Sha256::digest(token.as_bytes()));
    hex
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

/// How long a token's environment is remembered. Tokens are never changed in place, only
/// created and deleted, so the only lag this allows is that a deleted token keeps working
/// for at most this long on an instance that used it just before (README, "API tokens").
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// Entries kept at most; past that, expired ones are dropped, then all if none had expired.
const TOKEN_CACHE_MAX: usize = 10_000;

/// `token -> (environment id, scope)` for [`TOKEN_CACHE_TTL`], so that a burst of calls with the
/// same token makes one store query a second instead of one each (on SQLite each query is a
/// round trip to sqlx's worker thread). Only tokens that exist are remembered: an invalid
/// one is looked up every time, and a new token works at once.
///
/// Keyed by the token as sent, not by its SHA-256: hashing it on every call was 4 % of a
/// unified `get`'s instructions (bench/ANALYSIS.md, twentieth pass), and the store's hash is
/// computed only on a miss. The process sees each token in its requests anyway; the cache
/// holds it for at most [`TOKEN_CACHE_TTL`] after its last store lookup.
///
/// A `std` mutex, not a tokio one: it is held for a map lookup or insert, never across an
/// `.await`. Accounts are kept by the store instead, which checks them against the
/// database's own change signals (`store/sqlite/fast_reads.rs`, `store/account_cache.rs`).
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenIdentity, Instant)>>,
}

impl TokenCache {
    fn get(&self, token: &str, now: Instant) -> Option<TokenIdentity> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(token) {
            Some((env, expires)) if *expires > now => Some(env.clone()),
            _ => None,
        }
    }

    fn insert(&self, token: String, identity: TokenIdentity, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(token, (identity, now + TOKEN_CACHE_TTL));
    }

    /// The environment and scope of a token (as the caller sent it), from the cache or the
    /// store (by its hash).
    pub async fn identity(
        &self,
        store: &dyn crate::store::Store,
        token: &str,
    ) -> Result<Option<TokenIdentity>, crate::store::StoreError> {
        if let Some(env) = self.get(token, Instant::now()) {
            return Ok(Some(env));
        }
        let found = store
            .token_identity(&hash_token(token))
            .instrument(tracing::info_span!(target: "unigate_otel", "store.token_identity"))
            .await?;
        if let Some(env) = &found {
            self.insert(token.to_string(), env.clone(), Instant::now());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_and_hashes_are_lowercase_hex() {
        let token = generate_token();
        assert_eq!(token.len(), 67);
        assert!(token[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn env(id: &str) -> TokenIdentity {
        TokenIdentity {
            environment_id: id.into(),
            scope: crate::store::TokenScope::Api,
        }
    }

    #[test]
    fn a_cached_environment_expires_after_the_ttl() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        cache.insert("h".into(), env("env_1"), t0);
        assert_eq!(cache.get("h", t0 + Duration::from_millis(999)), Some(env("env_1")));
        assert_eq!(cache.get("h", t0 + TOKEN_CACHE_TTL), None);
        assert_eq!(cache.get("other", t0), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let cache = TokenCache::default();
        let t0 = Instant::now();
        for i in 0..TOKEN_CACHE_MAX {
            cache.insert(format!("h{i}"), env("env"), t0);
        }
        cache.insert("new".into(), env("env"), t0 + TOKEN_CACHE_TTL);
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
        assert!(cache.get("new", t0 + TOKEN_CACHE_TTL).is_some());
    }
}
