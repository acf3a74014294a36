#!/usr/bin/env bash
# Drives a running gateway (embedded demo fixture) with the real grpcurl and checks what comes
# back: list, describe, health, every look-up and every CheckOwner outcome of the README.
# Usage: tests/grpcurl.sh [host:port]   (default 127.0.0.1:50051)
set -euo pipefail
addr=${1:-127.0.0.1:50051}
svc=registry_gateway.v1.RegistryGateway
fail=0 passed=0

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
      echo "FAIL $name: missing /$p/ in:"; echo "$out" | head -40
      fail=$((fail + 1)); return
    fi
  done
  echo "ok   $name"; passed=$((passed + 1))
}

call() { grpcurl -plaintext -d "$2" "$addr" "$svc/$1"; }
check() { call CheckOwner "{\"owner_iin\":\"$1\",\"service\":\"REGISTRATION_AT_RESIDENCE\"${2:+,\"applicant_iin\":\"$2\"}}"; }

expect list 'registry_gateway.v1.RegistryGateway' 'grpc.health.v1.Health' 'grpc.reflection.v1.ServerReflection' 'grpc.reflection.v1alpha.ServerReflection' -- grpcurl -plaintext "$addr" list
expect describe 'rpc CheckOwner' 'rpc GetPerson' 'rpc GetCivilActs' 'rpc GetSocialStatus' 'rpc GetSchoolEnrolment' 'rpc GetHigherEducation' -- grpcurl -plaintext "$addr" describe "$svc"
expect health '"status": "SERVING"' -- grpcurl -plaintext "$addr" grpc.health.v1.Health/Check
expect health-service '"status": "SERVING"' -- grpcurl -plaintext -d "{\"service\":\"$svc\"}" "$addr" grpc.health.v1.Health/Check

expect online-capable-adult '"outcome": "ONLINE"' '"code": "OWNER_CAPABLE_ADULT"' '"orderItem": "5"' -- check 860314310210
expect hall-minor-mother '"outcome": "OPERATIONAL_HALL"' '"code": "OWNER_MINOR"' '"role": "MOTHER"' '"orderItem": "4"' -- check 161016620441 880702431094
expect online-18-today '"outcome": "ONLINE"' '"ageYears": 18' -- check 081125540514
expect hall-18-tomorrow '"outcome": "OPERATIONAL_HALL"' '"ageYears": 17' -- check 081126640526
expect hall-incapable '"outcome": "OPERATIONAL_HALL"' '"code": "OWNER_INCAPABLE"' '"role": "GUARDIAN"' -- check 790505361139 550930461147
expect hall-limited '"outcome": "OPERATIONAL_HALL"' '"code": "OWNER_LIMITED_CAPACITY"' '"role": "TRUSTEE"' -- check 901201370202 650117470216
expect hall-guardianship-only '"outcome": "OPERATIONAL_HALL"' '"code": "OWNER_UNDER_GUARDIANSHIP"' -- check 950808473021
expect refused-deceased-gbd '"outcome": "REFUSED_HERE"' '"code": "OWNER_DECEASED"' '"orderItem": "8"' -- check 480621390119
expect refused-deceased-zags '"outcome": "REFUSED_HERE"' '"source": "ZAGS"' -- check 521003490128
expect refused-unknown '"outcome": "REFUSED_HERE"' '"code": "OWNER_NOT_FOUND"' -- check 990101399994
expect online-organisation '"outcome": "ONLINE"' '"code": "OWNER_IS_ORGANISATION"' '"kind": "ORGANISATION"' -- check 080540012342
expect leap-day-feb28 '"outcome": "ONLINE"' -- call CheckOwner '{"owner_iin":"080229550079","service":"TEMPORARY_REGISTRATION","decision_date":"2026-02-28"}'
expect leap-day-feb27 '"outcome": "OPERATIONAL_HALL"' -- call CheckOwner '{"owner_iin":"080229550079","service":"TEMPORARY_REGISTRATION","decision_date":"2026-02-27"}'
expect invalid-check-digit 'Code: InvalidArgument' 'google.rpc.BadRequest' '"field": ?"owner_iin"' -- check 860314310211
expect invalid-never-issued 'Code: InvalidArgument' 'never issued' -- check 900101300800

expect get-person '"surname"' '"capacity"' '"status": "INCAPABLE"' -- call GetPerson '{"iin":"790505361139"}'
expect get-person-unknown 'Code: NotFound' 'GBD FL' -- call GetPerson '{"iin":"990101399994"}'
expect get-civil-acts '"birthActs"' '"mother"' '"father"' -- call GetCivilActs '{"iin":"161016620441"}'
expect get-social-status '"guardianships"' '"kind": "GUARDIANSHIP"' '"active": true' -- call GetSocialStatus '{"iin":"790505361139"}'
expect get-school-enrolment '"enrolments"' '"withoutParentalCare": true' -- call GetSchoolEnrolment '{"iin":"110817580045"}'
expect get-higher-education '"studies"' '"dormitory": true' -- call GetHigherEducation '{"iin":"060926515016"}'

echo "grpcurl: $passed passed, $fail failed"
[ "$fail" -eq 0 ]
