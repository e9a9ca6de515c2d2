//! Data-driven provider emulators: real HTTP servers that play third-party APIs for Unigate's
//! tests, its `--sandbox` mode and benchmarks.
//!
//! One `emulator.yaml` per provider (next to its `integration.yaml` in the catalog) says what
//! to serve and check: credentials and auth schemes, seeded records, routes and their
//! operations, write rules, pagination and error bodies in the provider's own shape. The engine
//! here is generic: it contains no provider-specific code.
//!
//! Module map, in layers: a module imports only from layers below its own, never from one
//! above, and no two files import each other.
//!
//! ```text
//! lib.rs, server.rs    (the axum server, `/__emulator/` control endpoints, RunningEmulator)
//! engine/              (the request handler: routes, checks, ops, answers)
//! oauth.rs             (the OAuth2 server's endpoints: consent page, token, revocation)
//! state.rs             (records, faults, the request log and issued tokens behind one lock)
//! tokens.rs            (what the OAuth server issued: codes, access and refresh tokens)
//! spec/                (the emulator.yaml format, its loading and validation)
//! digest.rs            (HTTP Digest challenges and answer checks)
//! template.rs,         (leaves: `{{placeholder}}` templates, fault injection, the request
//! fault.rs,             and answer types, dotted record paths)
//! exchange.rs,
//! dotted.rs
//! ```
//!
//! - `server`: binds and serves; turns axum requests into `exchange` ones and back, applies
//!   faults, records requests; [`RunningEmulator`] is the handle tests steer it with.
//! - `engine`: header rules → route → auth → op (get, list, create, merge, replace, delete,
//!   render) → the provider-shaped answer or error; its `//!` maps its files.
//! - `oauth`: an OAuth2 authorization server beside the API (authorize, token, revoke).
//! - `state`: [`RecordedRequest`]s, collections of records, active faults, issued tokens
//!   (`tokens`) and Digest nonces behind one `std` mutex.
//! - [`spec`]: the `emulator.yaml` format (serde structs, `deny_unknown_fields`) and its
//!   validation; [`EmulatorSpec`] is the loaded file, [`SpecError`] says where it is wrong.
//! - `digest`: HTTP Digest authentication (challenges, answer checks) for `digest` auth schemes.
//! - [`fault`]: [`Fault`] injection (status, delay, drop, malformed, huge).
//! - `template`: `{{placeholder}}` rendering used by auth values, bodies and error shapes.
//! - `exchange`: `Incoming` and `Reply`, a request and its answer as plain data, shared by
//!   the server, the engine and the OAuth server.
//! - `dotted`: dotted field paths (`sys.version`) into JSON records.
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
