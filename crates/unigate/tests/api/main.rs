//! Black-box tests: the real gateway on port 0, talking HTTP to real provider emulators.
#![allow(clippy::unwrap_used)]

mod admin;
mod browser;
mod budget;
mod catalog_doc;
mod catalog_reload;
mod cli;
mod connect;
mod custom;
mod custom_methods;
mod environments;
mod errors;
mod github;
mod helpers;
mod idempotency;
mod keys;
mod krystal;
mod lists;
mod mapping_failures;
mod mindbridge;
mod mist;
mod oauth;
mod openapi;
mod outbound_proxy;
mod overrides;
mod pagination;
mod proxy;
mod readiness;
mod remote_data;
mod request_log;
mod resilience;
mod sandbox;
mod scale;
mod ssrf;
mod tls;
mod webhooks;
