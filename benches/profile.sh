#!/usr/bin/env bash
# A CPU profile of the warm path: runs the benchmark's `warm` scenario (ceiling, then the
# gateway) under `perf record` (software clock, 499 Hz, DWARF call graphs; works where the
# machine has no hardware counters) and writes, under target/profile/:
#   ceiling.folded, gateway.folded  stacks of each phase (inferno's folded format)
#   ceiling.svg, gateway.svg        their flame graphs
#   shares.txt                      CPU per 1,000 requests, by part, for both phases
# Installs perf (Debian's linux-perf) and inferno (crates.io, pinned) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null; }
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf >/dev/null; }
command -v inferno-flamegraph >/dev/null || cargo install --locked inferno@0.12.8
out=target/profile
mkdir -p "$out"
bin=$(cargo bench --locked --bench gateway --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gateway" and m.get("executable"):
        print(m["executable"])')
# BENCH_QUICK: 2 s of warm-up and 4 s measured per side. The benchmark writes when each side
# ran (BENCH_PHASES) on the clock perf stamps the samples with (-k monotonic).
rm -f "$out/phases.txt"
BENCH_QUICK=1 BENCH_ONLY=warm BENCH_PHASES="$out/phases.txt" \
  perf record -q -k monotonic -e cpu-clock -F 499 --call-graph dwarf,8192 -o "$out/perf.data" \
  -- "$bin" --bench | tee "$out/table.md"
python3 benches/profile_shares.py "$out"
