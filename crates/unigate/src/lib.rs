//! Unigate: a self-hostable unified API gateway, wire-compatible with Truto's public API.
//!
//! The path of one unified call, module by module (ARCHITECTURE.md has the long form):
//!
//! ```text
//! http::unified ─▶ auth::Env (API token → environment, through tokens::TokenCache)
//!               ─▶ unified::account (integrated_account_id → store → catalog::Registry
//!                  → the method's mapping → credentials: crypto, accounts::oauth)
//!               ─▶ unified::call (scopes, query mapping, remote_query, side loads)
//!               ─▶ pagination (lists: the position on the request, the next from the reply)
//!               ─▶ upstream (request: URL, host and address checks, credentials;
//!                  retry: budget, retries; memory; ratelimit; error: classification)
//!               ─▶ unified::shape (response mapping, remote_data, formats, exclusions)
//!               ─▶ error::ApiError (the only type that knows HTTP status codes)
//! ```
//!
//! Layers, top to bottom; a module imports only from layers below it:
//! `main`/`startup` → `http` → `unified`, `auth` → `state` → `accounts` → `webhooks` → `error` →
//! `upstream` → `catalog` → `pagination`, `tokens`, `request_log` → `mapping`, `store`,
//! `crypto`, `address_policy`, `query_pairs`, `config`, `metrics`.

pub mod accounts;
pub mod address_policy;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod mapping;
pub mod metrics;
pub mod pagination;
pub mod query_pairs;
pub mod request_log;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod unified;
pub mod upstream;
pub mod webhooks;
