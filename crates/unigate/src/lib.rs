//! Unigate: a self-hostable unified API gateway, wire-compatible with Truto's public API.
//!
//! The path of one unified call, module by module:
//!
//! ```text
//! http::unified ─▶ auth::Env (API token → environment)
//!               ─▶ store + accounts (integrated_account_id → account, decrypted context)
//!               ─▶ catalog::Registry (category, resource, method, integration → compiled mapping)
//!               ─▶ unified (plan: query/body mappings, remote_query, remote_data, pagination)
//!               ─▶ upstream (URL, host and address checks, credentials, request budget,
//!                  retries, timeouts, error classification)
//!               ─▶ unified (select records, response mapping, response format, exclusions)
//! ```
//!
//! `error::ApiError` is the only type that knows HTTP status codes for failures.

pub mod accounts;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod error;
pub mod http;
pub mod mapping;
pub mod pagination;
pub mod query_pairs;
pub mod request_log;
pub mod startup;
pub mod state;
pub mod store;
pub mod unified;
pub mod upstream;
