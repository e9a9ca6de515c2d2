#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
# Needs only the Rust toolchain; everything else is built or started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== catalog"
cargo run --quiet --locked -p unigate -- validate

echo "== tests"
cargo test --workspace --locked
