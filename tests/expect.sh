# Sourced by tests/grpcurl.sh and tests/curl.sh: the checks they make of a command's output,
# docs/demo.md's `iin` helper, and today's date as the gateway counts days.
fail=0 passed=0

# docs/demo.md's helper: today's IIN of a demo person (daily for those born relative to today).
iin() { cargo run -q --release --locked -p registry-mocks -- --iin-of "$1"; }
today=$(date -u -d '+5 hours' +%F) # UTC+5, as the gateway and the mocks count days

# expect NAME PATTERN... -- COMMAND...: every PATTERN (grep -E) must appear in the output.
expect() {
  local name=$1; shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  local out
  out=$("$@" 2>&1) || true
  for p in "${patterns[@]}"; do
    if ! grep -Eq -- "$p" <<<"$out"; then
      echo "FAIL $name: missing /$p/ in:"; echo "$out" | head -c 3000; echo
      fail=$((fail + 1)); return
    fi
  done
  echo "ok   $name"; passed=$((passed + 1))
}

# refute NAME PATTERN -- COMMAND...: PATTERN must not appear in the output.
refute() {
  local name=$1 pattern=$2; shift 3
  local out
  out=$("$@" 2>&1) || true
  if grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL $name: /$pattern/ in:"; echo "$out" | head -c 3000; echo
    fail=$((fail + 1)); return
  fi
  echo "ok   $name"; passed=$((passed + 1))
}

# summary TOOL: the tally, and the exit status of the run.
summary() {
  echo "$1: $passed passed, $fail failed"
  [ "$fail" -eq 0 ]
}
