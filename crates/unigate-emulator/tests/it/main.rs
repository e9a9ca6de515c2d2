//! Black-box tests: each emulator is started from its catalog `emulator.yaml` on port 0 and
//! exercised over real HTTP.
#![allow(clippy::unwrap_used)]

mod directory_features;
mod faults;
mod github;
mod helpers;
mod krystal;
mod mindbridge;
mod mist;
