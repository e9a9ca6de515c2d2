#!/usr/bin/env bash
# Unigate's benchmark suite, in one command: installs the tools it needs (Debian's wrk and
# nginx, the reference jsonata from npm), builds the release binaries and the bench driver,
# runs every measurement side by side and writes BENCHMARKS.md at the repository root.
#
#   bench/run.sh                 # everything (~6 min on 2 cores; 1M-record streaming included)
#   bench/run.sh --skip-1m       # stream 10k and 100k records only
#   bench/run.sh --profile       # also perf-record the gateway at saturation (Debian linux-perf)
#                                # and draw bench/flamegraph.svg (cargo install inferno)
#   bench/run.sh --smoke         # seconds: tiny runs, installs nothing, skips missing tools;
#                                # writes target/bench-smoke/BENCHMARKS.md
#   bench/run.sh --capacity    # CPU per call side by side instead (bench/capacity.py): nginx,
#                                # the axum+hyper floor, Unigate on SQLite and on PostgreSQL, a
#                                # list of 100 users, a get with an override; the open-loop tail
#   bench/run.sh --soak [--minutes 10]
#                                # the soak instead: half of saturation for 10 minutes, RSS,
#                                # open files and database size every 30 s; writes bench/SOAK.md,
#                                # bench/soak.svg and its section of BENCHMARKS.md (bench/soak.py)
#
# Other flags go to bench/suite.py (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
soak=0
capacity=0
for arg in "$@"; do
  [ "$arg" = "--smoke" ] && smoke=1
  [ "$arg" = "--soak" ] && soak=1
  [ "$arg" = "--capacity" ] && capacity=1
done
if [ "$capacity" = 1 ]; then
  missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
  if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v oha >/dev/null || [ -x "$HOME/.cargo/bin/oha" ] || cargo install oha --locked --quiet
  echo "== building (release)"
  cargo build --release --locked -p unigate -p unigate-emulator --bins
  cargo build --release --locked -p unigate --example bench
  args=()
  for arg in "$@"; do [ "$arg" != "--capacity" ] && args+=("$arg"); done
  exec python3 bench/capacity.py "${args[@]}"
fi
if [ "$soak" = 1 ]; then
  echo "== building (release)"
  cargo build --release --locked -p unigate -p unigate-emulator --bins
  cargo build --release --locked -p unigate --example bench
  command -v oha >/dev/null || [ -x "$HOME/.cargo/bin/oha" ] || cargo install oha --locked --quiet
  args=()
  for arg in "$@"; do [ "$arg" != "--soak" ] && args+=("$arg"); done
  exec python3 bench/soak.py "${args[@]}"
fi

if [ "$smoke" = 0 ]; then
  missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  for arg in "$@"; do
    [ "$arg" = "--profile" ] && { command -v perf >/dev/null || missing+=(linux-perf); }
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "== installing ${missing[*]} (apt)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "note: ${missing[*]} missing and not root: those comparisons will be skipped" >&2
    fi
  fi
  for arg in "$@"; do
    if [ "$arg" = "--profile" ] && ! command -v inferno-flamegraph >/dev/null && [ ! -x "$HOME/.cargo/bin/inferno-flamegraph" ]; then
      echo "== inferno (cargo install, for the flame graph)"
      cargo install inferno --locked --quiet
    fi
  done
  if command -v npm >/dev/null; then
    echo "== jsonata (npm ci in bench/js)"
    (cd bench/js && npm ci --no-audit --no-fund --silent)
  else
    echo "note: npm missing: the JavaScript reference will be skipped" >&2
  fi
fi

echo "== building (release)"
cargo build --release --locked -p unigate -p unigate-emulator --bins
cargo build --release --locked -p unigate --example bench

echo "== running"
exec python3 bench/suite.py \
  --gateway-bin target/release/unigate \
  --emulator-bin target/release/unigate-emulator \
  --driver-bin target/release/examples/bench \
  "$@"
