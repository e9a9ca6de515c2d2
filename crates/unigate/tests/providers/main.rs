//! User Directory providers with users: every supported unified method over HTTP against
//! each provider's emulator (exact unified values and what the provider received), one
//! provider error in its own shape, and a multi-page list walk.
#![allow(clippy::unwrap_used)]

// Not every helper is used by these tests.
#[path = "../api/helpers.rs"]
mod helpers;

mod common;

mod auth0;
mod google_workspace;
mod microsoft_entra_id;
mod okta;
