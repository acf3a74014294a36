#!/usr/bin/env bash
# Runs the example clients (Node.js @grpc/grpc-js, Python grpcio) against the gateway, with
# mutual TLS: a CA, the gateway's certificate and a client system's certificate made here with
# openssl; the gateway started with [tls] and [access] (the client system may call every RPC,
# GetPerson with the person's consent). Before each client, EPVO is taken down in the embedded
# mocks and brought back as soon as the gateway has tried it: the client's first EPVO call gets
# UNAVAILABLE with ErrorInfo and RetryInfo, and must wait the delay and try again.
#
# Usage: clients/run.sh [GATEWAY_BINARY]   (default target/release/registry-gateway; .ci/run
# builds it). Installs what is missing: Debian's nodejs, npm, openssl, curl, python3-venv
# (apt-get); the clients' pinned packages (npm ci, pip in a virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."
gateway_bin=${1:-target/release/registry-gateway}
[ -x "$gateway_bin" ] || { echo "no gateway binary at $gateway_bin: cargo build --release first"; exit 1; }

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} (Debian packages) for the example clients"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

work=$(mktemp -d)
gateway=""
cleanup() {
  [ -n "$gateway" ] && kill "$gateway" 2>/dev/null && wait "$gateway" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== PKI: a CA, the gateway's certificate (127.0.0.1, localhost), client system client-example"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=registry-gateway example CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
issue() { # issue NAME SUBJECT [EXTENSIONS]
  openssl req "${ec[@]}" -subj "$2" -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 2 -out "$work/$1.pem" -extfile <(printf '%s\n' "$3") 2>/dev/null
}
issue server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
issue client "/CN=client-example" "extendedKeyUsage=clientAuth"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) admin_port=$(free_port)
cat >"$work/gateway.toml" <<TOML
listen = "127.0.0.1:$port"
metrics_listen = "127.0.0.1:$admin_port"

[tls]
cert = "$work/server.pem"
key = "$work/server.key"
client_ca = "$work/ca.pem"

[access.clients.client-example]
names = ["client-example"]
rpcs = ["GetPerson", "GetCivilActs", "GetSocialStatus", "GetSchoolEnrolment", "GetHigherEducation",
        "CheckOwner", "CheckDwelling", "InvalidatePerson", "GetRegistryStatus"]
consent_required = ["GetPerson"]

[shep]
retry_after = "2s"            # RetryInfo after a registry failure: what the clients wait

[resilience.epvo]
max_attempts = 1              # one attempt: EPVO down gives UNAVAILABLE at once
TOML

echo "== gateway: $gateway_bin --config gateway.toml (mutual TLS on 127.0.0.1:$port)"
"$gateway_bin" --config "$work/gateway.toml" --log-json >"$work/gateway.log" 2>&1 &
gateway=$!
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 $gateway 2>/dev/null || { cat "$work/gateway.log"; echo "gateway exited"; exit 1; }
  sleep 0.5
done
epvo=$(sed -n 's/.*"registry":"epvo","addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$work/gateway.log" | head -1)
[ -n "$epvo" ] || { cat "$work/gateway.log"; echo "EPVO mock's address not in the log"; exit 1; }

epvo_calls() {
  curl -s "http://127.0.0.1:$admin_port/metrics" |
    awk '/^gateway_registry_calls_total\{registry="epvo"/ {s += $2} END {print s + 0}'
}
# EPVO down until the gateway has tried it once, then healthy again (in the background).
epvo_down_once() {
  curl -sf -X PUT -d '{"mode":"down"}' "http://$epvo/admin/faults" >/dev/null
  local before
  before=$(epvo_calls)
  (
    for _ in $(seq 1 300); do
      [ "$(epvo_calls)" -gt "$before" ] && break
      sleep 0.1
    done
    curl -sf -X PUT -d '{}' "http://$epvo/admin/faults" >/dev/null
  ) &
  watcher=$!
}

export REGGW_ADDR="localhost:$port" REGGW_CA="$work/ca.pem" REGGW_CERT="$work/client.pem" \
  REGGW_KEY="$work/client.key" REGGW_PROTO="$PWD/proto" EXPECT_RETRY=1
failed=0

echo "== Node.js: @grpc/grpc-js (npm ci: clients/node/package-lock.json)"
node --version
(cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
epvo_down_once
node clients/node/client.js || failed=1
wait $watcher

echo "== Python: grpcio (pip, clients/python/requirements.txt, in a virtualenv)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r clients/python/requirements.txt
epvo_down_once
"$work/venv/bin/python" clients/python/client.py || failed=1
wait $watcher

if grep -Eq '[0-9]{12}' "$work/gateway.log"; then
  echo "FAIL: a 12-digit number (IIN) in the gateway's log"; failed=1
fi
[ $failed = 0 ] && echo "clients: both passed" || { echo "clients: FAILED"; tail -20 "$work/gateway.log"; }
exit $failed
