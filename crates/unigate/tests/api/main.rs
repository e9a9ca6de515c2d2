//! Black-box tests: the real gateway on port 0, talking HTTP to real provider emulators.
#![allow(clippy::unwrap_used)]

mod admin;
mod cli;
mod errors;
mod github;
mod helpers;
mod idempotency;
mod keys;
mod krystal;
mod mindbridge;
mod mist;
mod proxy;
mod resilience;
mod sandbox;
mod scale;
