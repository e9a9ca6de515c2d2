#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# format, lints, catalog validation, then every test twice: on the embedded SQLite store
# and on PostgreSQL (a throwaway server from Debian's packages, installed if missing).
# SKIP_POSTGRES=1 skips the second pass on machines where no server can be started.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== catalog"
cargo run --quiet --locked -p unigate -- validate --strict

# In CI the providers' specs sit in ../shared/specs: the conformance tests must find them.
if [ "${CI:-}" = "true" ]; then export REQUIRE_PROVIDER_SPECS=1; fi

# The connect-flow browser test drives Debian's Chromium through chromedriver. In CI (or as
# root elsewhere) it is installed when missing; otherwise that one test skips itself.
if [ ! -x /usr/bin/chromedriver ] && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
  echo "== installing chromium and chromium-driver (browser test)"
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if [ "${CI:-}" = "true" ]; then export REQUIRE_BROWSER=1; fi

# The OpenAPI test installs openapi-spec-validator from PyPI into a venv: Debian's python3
# needs its venv module for that. In CI (or as root elsewhere) it is installed when missing.
if ! python3 -c "import ensurepip, venv" 2>/dev/null && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
  echo "== installing python3-venv (OpenAPI validation test)"
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi

# The metrics test checks the scrape with Prometheus' `promtool check metrics` (Debian's
# `prometheus` package). In CI (or as root elsewhere) it is installed when missing; otherwise
# that test skips itself.
if ! command -v promtool >/dev/null && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
  echo "== installing prometheus (promtool, metrics test)"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [ "${CI:-}" = "true" ]; then export REQUIRE_PROMTOOL=1; fi

# The JSONata differential test runs Truto's function library under Node (npm ci from the
# registry); in CI (or as root elsewhere) Node is installed when missing, otherwise that
# test skips itself.
if ! command -v npm >/dev/null && { [ "${CI:-}" = "true" ] || [ "$(id -u)" = "0" ]; }; then
  echo "== installing nodejs and npm (JSONata differential test)"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi

echo "== tests on SQLite"
cargo test --workspace --locked

if [ "${SKIP_POSTGRES:-0}" = "1" ]; then
  echo "== tests on PostgreSQL: skipped (SKIP_POSTGRES=1)"
  exit 0
fi
echo "== tests on PostgreSQL"
eval "$(scripts/pg-test-server.sh)"
# Stopped and deleted at the end: each pass leaves several GB of test databases behind.
trap 'runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$TEST_POSTGRES_DIR"' EXIT
export TEST_POSTGRES_URL
cargo test --workspace --locked
