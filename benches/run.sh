#!/usr/bin/env bash
# The performance benchmark: the gateway against a bare tonic server on this machine.
# Installs h2load (Debian's nghttp2-client) when missing, builds in release mode, runs every
# scenario of benches/gateway.rs and prints a table. BENCH_QUICK=1 for a short smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v h2load >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nghttp2-client >/dev/null
fi
cargo bench --locked --bench gateway 2>/dev/null | tee target/bench-report.md
