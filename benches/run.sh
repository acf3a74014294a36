#!/usr/bin/env bash
# The performance benchmark: the gateway against a bare tonic server on this machine.
# Installs h2load (Debian's nghttp2-client) and PostgreSQL's server (Debian's postgresql; the
# warm_pg scenario starts its own cluster) when missing, builds in release mode, runs every
# scenario of benches/gateway.rs and prints a table. BENCH_QUICK=1 for a short smoke run;
# BENCH_ONLY=warm,warm_pg (comma-separated scenario names) for some of them.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cargo bench --locked --bench gateway 2>/dev/null | tee target/bench-report.md
