#!/usr/bin/env bash
# Drives a running gateway (embedded demo fixture) over HTTP/JSON with the real curl and checks
# what comes back: the README's curl examples, then every example of docs/http.md in its order
# (each route, the OpenAPI document, which openapi-spec-validator must accept, and each error
# with its HTTP status). Run after tests/grpcurl.sh or alone; .ci/run runs it against
# `cargo run --release`.
# Usage: tests/curl.sh [base URL]   (default http://127.0.0.1:50051)
set -euo pipefail
cd "$(dirname "$0")/.."
G=${1:-http://127.0.0.1:50051}
source tests/expect.sh

json() { curl -s -H 'content-type: application/json' "$@"; }
status() { curl -s -w ' %{http_code}\n' "$@"; }
BAD_IIN='{"ownerIin":"860314310211","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}'
BAD_IIN_SAYS='"code":3,"message":"owner_iin: check digit \(12th digit\) does not match the first 11 digits"'

# README
expect readme-dwelling '"outcome":"OUTCOME_OPERATIONAL_HALL","reasons":\[\{"ownerIndex":2,"code":"REASON_CODE_OWNER_MINOR"' \
  '"owners":\[\{"iin":"880702431094","decision":\{' '"role":"REPRESENTATIVE_ROLE_MOTHER"' '"representativeConfirmed":true,"orderItem":"4"' -- \
  json "$G/v1/dwellings:check" -d '{"owners":[{"iin":"880702431094"},{"iin":"851120331100"},{"iin":"161016620441"}],"service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicantIin":"880702431094"}'
expect readme-check-owner '"decisionId":"[0-9a-f-]{36}"' '"outcome":"OUTCOME_ONLINE"' '"code":"REASON_CODE_OWNER_CAPABLE_ADULT"' '"orderItem":"5"' -- \
  json "$G/v1/owners:check" -d '{"ownerIin":"860314310210","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}'
expect readme-civil-acts '"birthActs":\[' '"mother":\{' '"father":\{' -- curl -s "$G/v1/persons/161016620441/civil-acts"
expect readme-bad-iin "$BAD_IIN_SAYS" '"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":\[\{"field":"owner_iin"' ' 400$' -- \
  status -H 'content-type: application/json' "$G/v1/owners:check" -d "$BAD_IIN"

# docs/http.md: routes
expect check-owner '"outcome":"OUTCOME_OPERATIONAL_HALL"' '"reasons":\[\{"code":"REASON_CODE_OWNER_MINOR"' \
  '"owner":\{"kind":"OWNER_KIND_PERSON","ageYears":[0-9]+,"minor":true,"capacity":"CAPACITY_STATUS_CAPABLE"\}' \
  '"representation":\{"role":"REPRESENTATIVE_ROLE_MOTHER","source":"REGISTRY_ZAGS","recordId":"ZAGS-B-0000451"' \
  '"evidence":\[\{"registry":"REGISTRY_GBD_FL","status":"EVIDENCE_STATUS_FOUND","recordId":"[^"]+","fetchedAt":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"[,}]' \
  "\"orderItem\":\"4\",\"decisionDate\":\"$today\",\"service\":\"SERVICE_REGISTRATION_AT_RESIDENCE\",\"step\":\"ORDER_STEP_RECEPTION\",\"orderText\":\"Item 4: " -- \
  json "$G/v1/owners:check" -d '{"ownerIin":"161016620441","service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicantIin":"880702431094"}'
expect dwelling-repeated '"code":3,"message":"owners\[1\].iin: repeats owners\[0\].iin' ' 400$' -- \
  status -H 'content-type: application/json' "$G/v1/dwellings:check" -d '{"owners":[{"iin":"860314310210"},{"iin":"860314310210"}],"service":"SERVICE_REGISTRATION_AT_RESIDENCE"}'
expect check-owner-proto-names '"outcome":"OUTCOME_ONLINE"' '"code":"REASON_CODE_OWNER_IS_ORGANISATION"' '"kind":"OWNER_KIND_ORGANISATION"' '"service":"SERVICE_TEMPORARY_REGISTRATION"' -- \
  json "$G/v1/owners:check" -d '{"owner_iin":"080540012342","service":"SERVICE_TEMPORARY_REGISTRATION"}'
expect get-person '"person":\{"iin":"790505361139"' '"capacity":\{"status":"CAPACITY_STATUS_INCAPABLE"' '"caseNumber":"2-1234/2019"' '"evidence":\{' -- \
  curl -s "$G/v1/persons/790505361139?consentToken=kdp-demo-790505361139"
expect get-person-post '"person":\{"iin":"790505361139"' '"caseNumber":"2-1234/2019"' -- \
  json "$G/v1/persons:get" -d '{"iin":"790505361139","consentToken":"kdp-demo-790505361139"}'
expect civil-acts '"birthActs":\[\{"actNumber":"ZAGS-B-0000451"' '"mother":\{' '"father":\{' -- curl -s "$G/v1/persons/161016620441/civil-acts"
expect social-status '"disabilities":\[\{"group":1' '"guardianships":\[\{"kind":"GUARDIANSHIP_KIND_GUARDIANSHIP"' '"active":true' -- \
  curl -s "$G/v1/persons/790505361139/social-status"
expect higher-education '"studies":\[' '"studyForm":"STUDY_FORM_FULL_TIME","dormitory":true' -- curl -s "$G/v1/persons/060926515016/higher-education"
expect school-enrolment '"enrolments":\[' '"withoutParentalCare":true' -- curl -s "$G/v1/persons/$(iin 110817580045)/school-enrolment"
expect admin-registries '"registries":\[\{"registry":"REGISTRY_GBD_FL","breaker":"BREAKER_STATE_CLOSED"' '"registry":"REGISTRY_ZAGS","breaker":"BREAKER_STATE_CLOSED","cacheEntries":"[0-9]+"' -- \
  curl -s "$G/v1/admin/registries"
expect admin-invalidate '"invalidated":\[' '"REGISTRY_ZAGS"' -- curl -s -X POST "$G/v1/admin/persons/161016620441:invalidate"
openapi=$(mktemp)
curl -s "$G/v1/openapi.json" >"$openapi"
expect openapi '"openapi": "3.0.3"' '"/v1/owners:check"' -- cat "$openapi"
expect openapi-valid ': OK$' -- python3 -m openapi_spec_validator "$openapi"

# docs/http.md: errors
expect error-bad-iin "$BAD_IIN_SAYS" '"field":"owner_iin"' ' 400$' -- status -H 'content-type: application/json' "$G/v1/owners:check" -d "$BAD_IIN"
expect error-enum "\"code\":3,\"message\":\"service: unrecognized enum value 'ONLINE'\"" ' 400$' -- \
  status -H 'content-type: application/json' "$G/v1/owners:check" -d '{"ownerIin":"860314310210","service":"ONLINE"}'
expect error-unknown-field '"code":3,"message":"ownerIIN: is not a field of this request"' ' 400$' -- \
  status -H 'content-type: application/json' "$G/v1/owners:check" -d '{"ownerIIN":"860314310210"}'
expect error-content-type '"code":3,"message":"content-type: must be application/json"' ' 415$' -- status "$G/v1/owners:check" -d '{"ownerIin":"860314310210"}'
expect error-consent-missing '"code":9,"message":"GetPerson needs the person.s consent: consent_token \(GBD FL kdpToken\) is required' 'google.rpc.PreconditionFailure' ' 400$' -- \
  status "$G/v1/persons/790505361139"
expect error-consent-refused '"code":7,"message":"GBD FL refused the consent token: ' '"reason":"CONSENT_REFUSED"' ' 403$' -- \
  status "$G/v1/persons/790505361139?consentToken=kdp-demo-860314310210"
expect error-not-found '"code":5,"message":"GBD FL has no person with this IIN"' '"reason":"PERSON_NOT_FOUND"' ' 404$' -- \
  status "$G/v1/persons/990101399994?consentToken=kdp-demo-990101399994"
expect error-deadline '"code":4,"message":"[^"]*deadline' ' 504$' -- \
  status -H 'x-timeout-ms: 1' -H 'content-type: application/json' "$G/v1/owners:check" -d '{"ownerIin":"990202399993","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}'
expect error-method '^HTTP/1.1 405 Method Not Allowed' '^allow: POST' '"code":12' -- curl -s -i "$G/v1/owners:check"

summary curl
