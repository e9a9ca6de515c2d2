//! Data-driven provider emulators: real HTTP servers that play third-party APIs for Unigate's
//! tests, its `--sandbox` mode and benchmarks.
//!
//! One `emulator.yaml` per provider (next to its `integration.yaml` in the catalog) says what
//! to serve and check: credentials and auth schemes, seeded records, routes and their
//! operations, write rules, pagination and error bodies in the provider's own shape. The engine
//! here is generic: it contains no provider-specific code.
//!
//! Module map:
//!
//! - [`spec`]: the `emulator.yaml` format (serde structs, `deny_unknown_fields`) and its
//!   validation; [`EmulatorSpec`] is the loaded file, [`SpecError`] says where it is wrong.
//! - `template`: `{{placeholder}}` rendering used by auth values, bodies and error shapes.
//! - `state`: records, faults and the request log behind one mutex.
//! - `digest`: HTTP Digest authentication (challenges, answer checks) for `digest` auth schemes.
//! - `engine`: the request handler (routes, auth, ops, write rules, pagination, errors).
//! - `oauth`: an OAuth2 authorization server (consent page, token endpoint, revocation).
//! - [`fault`]: [`Fault`] injection (status, delay, drop, malformed, huge).
//! - `server`: the axum server, the `/__emulator/` control endpoints and [`RunningEmulator`].
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let spec = unigate_emulator::EmulatorSpec::from_file("catalog/integrations/github/emulator.yaml".as_ref())?;
//! let emulator = unigate_emulator::start(spec).await?;
//! println!("GitHub emulator at {}", emulator.base_url());
//! emulator.inject(unigate_emulator::Fault::rate_limited(1).on("GET", "/orgs/*").times(1));
//! # Ok(()) }
//! ```

mod digest;
mod dotted;
mod engine;
mod exchange;
pub mod fault;
mod oauth;
mod server;
pub mod spec;
mod state;
mod template;
mod tokens;

pub use fault::{Fault, FaultAction, MalformedStyle};
pub use server::{start, start_on, RunningEmulator};
pub use spec::{EmulatorSpec, ErrorKind, SpecError};
pub use state::RecordedRequest;
pub use tokens::OAuthTokens;

/// Namespace alias for the free functions, for callers who prefer `Emulator::start(spec)`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// See [`start`].
    pub async fn start(spec: EmulatorSpec) -> std::io::Result<RunningEmulator> {
        start(spec).await
    }

    /// See [`start_on`].
    pub async fn start_on(spec: EmulatorSpec, listener: tokio::net::TcpListener) -> std::io::Result<RunningEmulator> {
        start_on(spec, listener).await
    }
}
