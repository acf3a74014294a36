#!/usr/bin/env bash
# The whole test suite, on a fresh machine with only the Rust toolchain: installs the programs
# the tests drive besides Rust — promtool (Debian's `prometheus`, for the alert-rule tests),
# xmlsec1 (the WS-Security interop tests), PostgreSQL's server (Debian's `postgresql`, for the
# audit store tests, which start their own cluster), openapi-spec-validator (PyPI, pinned; it
# checks the served OpenAPI document), grpcio (PyPI, pinned; a real client library cancelling
# calls and running out of time) and openssl (the test time-stamp authority of
# tests/timestamp.rs, `openssl ts`; the keys of tests/production_doc.rs) — when they are
# missing, then runs `cargo test --workspace`.
# tests/audit_sink.rs mounts a small tmpfs: run as root (or with CAP_SYS_ADMIN).
# Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v xmlsec1 >/dev/null 2>&1 || need+=(xmlsec1)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Headless Chromium renders the admin port's /status page (tests/status_page.rs).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Debian puts initdb and pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH.
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages) for the tests"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  echo "== installing openapi-spec-validator (PyPI) for the OpenAPI test"
  python3 -m pip install --quiet --disable-pip-version-check openapi-spec-validator==0.9.0
fi
if ! python3 -c "import grpc" 2>/dev/null; then
  echo "== installing grpcio (PyPI) for the tests driven by a real gRPC client library"
  python3 -m pip install --quiet --disable-pip-version-check grpcio==1.85.3
fi
promtool --version | head -1
xmlsec1 --version
openssl version
chromium --version
"$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)" --version
exec cargo test --workspace --locked "$@"
