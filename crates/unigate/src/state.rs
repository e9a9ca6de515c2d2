//! Shared state of the server (to be replaced by its own module).
pub use crate::startup::{AppState, AppStateInner};
