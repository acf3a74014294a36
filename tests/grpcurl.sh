#!/usr/bin/env bash
# Drives a running gateway (embedded demo fixture) with the real grpcurl and checks what comes
# back: every example of docs/demo.md, in its order — list, describe, health, every CheckOwner
# row, the full CheckOwner answer, every demo dwelling and step of the order, the full
# CheckDwelling answer, every look-up, the consent examples — which include the
# README's, and both admin commands of docs/operations.md. The gateway is plain
# `cargo run --release`, no environment set (as .ci/run starts it).
# Usage: tests/grpcurl.sh [host:port]   (default 127.0.0.1:50051)
set -euo pipefail
cd "$(dirname "$0")/.."
addr=${1:-127.0.0.1:50051}
S=registry_gateway.v1.RegistryGatewayService
source tests/expect.sh

call() { grpcurl -plaintext -d "$2" "$addr" "$S/$1"; }
# dwelling "IIN IIN ..." [APPLICANT [STEP [SERVICE]]]: CheckDwelling of those owners, in that order
dwelling() {
  local owners="" o
  for o in $1; do owners+="${owners:+,}{\"iin\":\"$o\"}"; done
  call CheckDwelling "{\"owners\":[$owners],\"service\":\"${4:-SERVICE_REGISTRATION_AT_RESIDENCE}\"${2:+,\"applicant_iin\":\"$2\"}${3:+,\"step\":\"$3\"}}"
}
# check OWNER [APPLICANT [DECISION_DATE]]
check() {
  call CheckOwner "{\"owner_iin\":\"$1\",\"service\":\"SERVICE_REGISTRATION_AT_RESIDENCE\"${2:+,\"applicant_iin\":\"$2\"}${3:+,\"decision_date\":\"$3\"}}"
}

# grpcurl examples
expect list 'grpc.health.v1.Health' 'grpc.reflection.v1.ServerReflection' 'grpc.reflection.v1alpha.ServerReflection' 'registry_gateway.v1.GatewayAdminService' 'registry_gateway.v1.RegistryGatewayService' -- grpcurl -plaintext "$addr" list
expect describe 'rpc CheckOwner' 'rpc CheckDwelling' 'rpc GetPerson' 'rpc GetCivilActs' 'rpc GetSocialStatus' 'rpc GetSchoolEnrolment' 'rpc GetHigherEducation' -- grpcurl -plaintext "$addr" describe "$S"
expect health '"status": "SERVING"' -- grpcurl -plaintext "$addr" grpc.health.v1.Health/Check
expect health-service '"status": "SERVING"' -- grpcurl -plaintext -d "{\"service\":\"$S\"}" "$addr" grpc.health.v1.Health/Check

# The CheckOwner table, row by row
expect online-capable-adult '"outcome": "OUTCOME_ONLINE"' '"code": "REASON_CODE_OWNER_CAPABLE_ADULT"' '"orderItem": "5"' -- check 860314310210
expect hall-minor-mother '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_MINOR"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"orderItem": "4"' -- check 161016620441 880702431094
expect online-18-today '"outcome": "OUTCOME_ONLINE"' '"ageYears": 18' -- check "$(iin 081125540514)"
expect hall-18-tomorrow '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ageYears": 17' -- check "$(iin 081126640526)"
expect leap-day-feb28 '"outcome": "OUTCOME_ONLINE"' -- check 080229550079 "" 2026-02-28
expect leap-day-feb27 '"outcome": "OUTCOME_OPERATIONAL_HALL"' -- check 080229550079 "" 2026-02-27
expect future-date 'Code: InvalidArgument' 'decision_date: must not be after today' -- check 860314310210 "" 2099-01-01
expect hall-incapable '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_INCAPABLE"' '"code": "REASON_CODE_OWNER_UNDER_GUARDIANSHIP"' '"role": "REPRESENTATIVE_ROLE_GUARDIAN"' -- check 790505361139 550930461147
expect hall-limited '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_LIMITED_CAPACITY"' '"role": "REPRESENTATIVE_ROLE_TRUSTEE"' -- check 901201370202 650117470216
expect hall-guardianship-only '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_UNDER_GUARDIANSHIP"' -- check 950808473021
expect hall-minor-in-care '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_MINOR"' '"code": "REASON_CODE_OWNER_UNDER_TRUSTEESHIP"' -- check "$(iin 110817580045)"
expect hall-married-minor '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_MINOR"' '"code": "REASON_CODE_MINOR_MARRIED"' -- check "$(iin 090817616013)"
expect hall-declared-missing '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_DECLARED_MISSING"' 'case 2-871/2024 of 2024-05-17' '"declaredMissing": true' '"role": "REPRESENTATIVE_ROLE_TRUSTEE"' '"orderItem": "4"' -- check 750814302116 780203402225
expect refused-deceased-gbd '"outcome": "OUTCOME_REFUSED_HERE"' '"code": "REASON_CODE_OWNER_DECEASED"' '"orderItem": "8"' -- check 480621390119
expect refused-deceased-zags '"outcome": "OUTCOME_REFUSED_HERE"' '"code": "REASON_CODE_OWNER_DECEASED"' '"source": "REGISTRY_ZAGS"' -- check 521003490128
expect refused-unknown '"outcome": "OUTCOME_REFUSED_HERE"' '"code": "REASON_CODE_OWNER_NOT_FOUND"' -- check 990101399994
expect online-organisation '"outcome": "OUTCOME_ONLINE"' '"code": "REASON_CODE_OWNER_IS_ORGANISATION"' '"kind": "OWNER_KIND_ORGANISATION"' -- check 080540012342
expect invalid-check-digit 'Code: InvalidArgument' 'google.rpc.BadRequest' '"field": ?"owner_iin"' -- check 860314310211
expect invalid-never-issued 'Code: InvalidArgument' 'never issued' -- check 900101300800
# No row shows a note docs/demo.md does not: the demo IINs agree with their birth dates.
for key in 161016620441 "$(iin 081125540514)" "$(iin 081126640526)" "$(iin 110817580045)" "$(iin 090817616013)"; do
  refute "no-birth-date-note-$key" 'REASON_CODE_BIRTH_DATE_DIFFERS_FROM_IIN' -- check "$key"
done

# The full answer of the example in the README and docs/demo.md
expect check-owner-answer '"decisionId": "[0-9a-f-]{36}"' '"outcome": "OUTCOME_OPERATIONAL_HALL"' \
  "\"text\": \"The owner is [0-9]+ on $today, under 18 \\(birth date per GBD FL\\)\"" '"source": "REGISTRY_GBD_FL"' \
  '"kind": "OWNER_KIND_PERSON"' '"minor": true' '"capacity": "CAPACITY_STATUS_CAPABLE"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"source": "REGISTRY_ZAGS"' \
  '"recordId": "ZAGS-B-0000451"' '"text": "The applicant is the owner.s mother per IS ZAGS birth act No. ZAGS-B-0000451"' \
  '"registry": "REGISTRY_GBD_FL"' '"status": "EVIDENCE_STATUS_FOUND"' '"registry": "REGISTRY_NOBD"' '"status": "EVIDENCE_STATUS_NOT_CONSULTED"' \
  '"orderItem": "4"' "\"decisionDate\": \"$today\"" '"service": "SERVICE_REGISTRATION_AT_RESIDENCE"' -- \
  grpcurl -plaintext -d '{"owner_iin":"161016620441","service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicant_iin":"880702431094"}' \
  "$addr" registry_gateway.v1.RegistryGatewayService/CheckOwner

# The declared-missing owner at the hall's check (docs/demo.md)
expect check-owner-missing-hall-check '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"code": "REASON_CODE_OWNER_DECLARED_MISSING"' '"declaredMissing": true' \
  '"role": "REPRESENTATIVE_ROLE_TRUSTEE"' '"source": "REGISTRY_GBD_FL"' '"recordId": "2-871/2024"' '"orderItem": "7"' '"step": "ORDER_STEP_HALL_CHECK"' \
  'the employee verifies the documents confirming the powers of the person acting for the owner' -- \
  grpcurl -plaintext -d '{"owner_iin":"750814302116","service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicant_iin":"780203402225","step":"ORDER_STEP_HALL_CHECK"}' \
  "$addr" registry_gateway.v1.RegistryGatewayService/CheckOwner

# One decision in the three languages, and an answer past the term (docs/demo.md)
lang_check() {
  grpcurl -plaintext -H "accept-language: $1" -d '{"owner_iin":"161016620441","service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicant_iin":"880702431094"}' \
    "$addr" registry_gateway.v1.RegistryGatewayService/CheckOwner
}
expect lang-kk '"language": "kk"' '"code": "REASON_CODE_OWNER_MINOR"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"orderItem": "4"' \
  "\"text\": \"Меншік иесі $today күні [0-9]+ жаста, 18-ге толмаған" '"orderText": "4-тармақ: меншік иесі кәмелетке толмаған' -- lang_check kk
expect lang-ru '"language": "ru"' '"code": "REASON_CODE_OWNER_MINOR"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"orderItem": "4"' \
  "\"text\": \"Возраст собственника на $today: [0-9]+, меньше 18 лет" 'Заявитель — мать собственника' '"orderText": "Пункт 4: собственник — несовершеннолетний' -- lang_check ru
expect lang-en '"language": "en"' '"code": "REASON_CODE_OWNER_MINOR"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"orderItem": "4"' \
  "\"text\": \"The owner is [0-9]+ on $today, under 18" '"orderText": "Item 4: the owner is a minor' -- lang_check en
expect past-term '"outcome": "OUTCOME_ONLINE"' '"code": "REASON_CODE_LEGAL_BASIS_EXPIRED"' \
  "\"text\": \"The decision date $today is after the end of the term of the joint order .* No. 801 .* No. 500 .*\(in force until 2026-06-30\)" \
  '"actId": "joint-order-801-500"' '"effectiveUntil": "2026-06-30"' -- check 860314310210
refute past-term-not-in-force '"inForce": true' -- check 860314310210
expect within-term '"inForce": true' '"decisionDate": "2026-06-15"' -- check 860314310210 "" 2026-06-15
refute within-term-no-note 'REASON_CODE_LEGAL_BASIS_EXPIRED' -- check 860314310210 "" 2026-06-15
expect past-term-ru '"code": "REASON_CODE_LEGAL_BASIS_EXPIRED"' "Дата решения $today позже окончания срока действия акта «совместный приказ .*№ 801.*» \(действует до 2026-06-30\)" -- \
  grpcurl -plaintext -H 'accept-language: ru' -d '{"owner_iin":"860314310210","service":"SERVICE_REGISTRATION_AT_RESIDENCE"}' "$addr" $S/CheckOwner

# The demo dwellings, row by row (docs/demo.md)
family="880702431094 851120331100 161016620441"
spouses="880702431094 851120331100"
expect dwelling-sole-owner '"outcome": "OUTCOME_ONLINE"' '"orderItem": "5"' -- dwelling 860314310210
expect dwelling-spouses '"outcome": "OUTCOME_ONLINE"' '"ownerIndex": 1' '"code": "REASON_CODE_OWNER_CAPABLE_ADULT"' -- dwelling "$spouses"
expect dwelling-family '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ownerIndex": 2' '"code": "REASON_CODE_OWNER_MINOR"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"representativeConfirmed": true' '"orderItem": "4"' -- dwelling "$family" 880702431094
expect dwelling-ward '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ownerIndex": 1' '"code": "REASON_CODE_OWNER_INCAPABLE"' '"role": "REPRESENTATIVE_ROLE_GUARDIAN"' '"representativeConfirmed": true' -- dwelling "550930461147 790505361139" 550930461147
expect dwelling-organisation '"outcome": "OUTCOME_ONLINE"' '"code": "REASON_CODE_OWNER_IS_ORGANISATION"' -- dwelling "860314310210 080540012342"
expect dwelling-deceased '"outcome": "OUTCOME_REFUSED_HERE"' '"ownerIndex": 1' '"code": "REASON_CODE_OWNER_DECEASED"' 'decision.deceased_co_owner = refuse' '"orderItem": "8"' '"warning": "The service .* cannot be rendered here\. ' -- dwelling "860314310210 480621390119"
expect dwelling-unknown '"outcome": "OUTCOME_REFUSED_HERE"' '"code": "REASON_CODE_OWNER_NOT_FOUND"' -- dwelling "880702431094 990101399994"
expect dwelling-many '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ownerIndex": 2' '"ownerIndex": 4' '"role": "REPRESENTATIVE_ROLE_TRUSTEE"' '"role": "REPRESENTATIVE_ROLE_NOT_CONFIRMED"' '"representativeConfirmed": false' -- \
  dwelling "060926515016 050414615027 901201370202 650117470216 950808473021 700404373038 080540012342 080229550079" 650117470216
expect dwelling-missing '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ownerIndex": 1' '"code": "REASON_CODE_OWNER_DECLARED_MISSING"' 'owners\[1\] is declared missing by a court' '"role": "REPRESENTATIVE_ROLE_TRUSTEE"' '"representativeConfirmed": true' '"orderText": "Item 4: the owner is declared missing by a court and cannot apply in person' -- dwelling "780203402225 750814302116" 780203402225
expect dwelling-duplicate 'Code: InvalidArgument' 'owners\[1\]\.iin: repeats owners\[0\]\.iin: list each owner once' -- dwelling "860314310210 860314310210"
# ... and the step of the order
expect dwelling-hall-check-positive '"orderItem": "7"' '"orderItem": "8"' '"orderText": "Item 7: positive result of the check: the employee verifies the documents confirming the powers of the owner.s legal representative' -- \
  dwelling "$family" 880702431094 ORDER_STEP_HALL_CHECK
expect dwelling-hall-check-negative '"orderItem": "8"' '"warning": "The service \\"Registration at the place of residence of citizens of the Republic of Kazakhstan\\" cannot be rendered here\. Receive it online through the e-government portal \(egov\.kz\), the eGov Mobile application' -- \
  dwelling "$spouses" "" ORDER_STEP_HALL_CHECK
expect dwelling-temporary '"orderText": "Item 4: .* for the service \\"Temporary registration at the place of temporary stay \(accommodation\) of citizens of the Republic of Kazakhstan\\""' '"service": "SERVICE_TEMPORARY_REGISTRATION"' -- \
  dwelling "$family" "" "" SERVICE_TEMPORARY_REGISTRATION
expect owner-hall-check '"orderItem": "7"' '"step": "ORDER_STEP_HALL_CHECK"' -- \
  call CheckOwner '{"owner_iin":"161016620441","service":"SERVICE_REGISTRATION_AT_RESIDENCE","step":"ORDER_STEP_HALL_CHECK"}'
# The full answer of the README's dwelling
expect check-dwelling-answer '"outcome": "OUTCOME_OPERATIONAL_HALL"' '"ownerIndex": 2' '"code": "REASON_CODE_OWNER_MINOR"' \
  '"text": "owners\[2\] is a minor or incapacitated person: the dwelling goes to the operational hall"' \
  '"iin": "880702431094"' '"iin": "851120331100"' '"iin": "161016620441"' '"outcome": "OUTCOME_ONLINE"' \
  '"role": "REPRESENTATIVE_ROLE_SELF"' '"role": "REPRESENTATIVE_ROLE_MOTHER"' '"recordId": "ZAGS-B-0000451"' '"representativeConfirmed": true' '"orderItem": "4"' \
  '"orderText": "Item 4: the owner is a minor or incapacitated person: the reception worker sends the applicant to the operational hall for the service \\"Registration at the place of residence of citizens of the Republic of Kazakhstan\\""' \
  '"step": "ORDER_STEP_RECEPTION"' "\"decisionDate\": \"$today\"" '"service": "SERVICE_REGISTRATION_AT_RESIDENCE"' -- \
  grpcurl -plaintext -d '{"owners":[{"iin":"880702431094"},{"iin":"851120331100"},{"iin":"161016620441"}],"service":"SERVICE_REGISTRATION_AT_RESIDENCE","applicant_iin":"880702431094"}' \
  "$addr" registry_gateway.v1.RegistryGatewayService/CheckDwelling

# Consent: GetPerson without a token, with another person's, with an expired one
expect consent-missing 'Code: FailedPrecondition' 'consent_token \(GBD FL kdpToken\) is required' -- grpcurl -plaintext -d '{"iin":"790505361139"}' "$addr" $S/GetPerson
expect consent-foreign 'Code: PermissionDenied' 'GBD FL refused the consent token' -- grpcurl -plaintext -d '{"iin":"790505361139","consent_token":"kdp-demo-860314310210"}' "$addr" $S/GetPerson
expect consent-expired 'Code: PermissionDenied' 'GBD FL refused the consent token' -- grpcurl -plaintext -d '{"iin":"860314310210","consent_token":"kdp-demo-expired-860314310210"}' "$addr" $S/GetPerson

# Look-ups, one per registry
expect get-person '"surname"' '"capacity"' '"status": "CAPACITY_STATUS_INCAPABLE"' '"caseNumber": "2-1234/2019"' -- grpcurl -plaintext -d '{"iin":"790505361139","consent_token":"kdp-demo-790505361139"}' "$addr" $S/GetPerson
expect get-person-unknown 'Code: NotFound' 'GBD FL has no person with this IIN' -- grpcurl -plaintext -d '{"iin":"990101399994","consent_token":"kdp-demo-990101399994"}' "$addr" $S/GetPerson
expect get-civil-acts '"birthActs"' '"mother"' '"father"' -- grpcurl -plaintext -d '{"iin":"161016620441"}' "$addr" $S/GetCivilActs
expect get-social-status '"guardianships"' '"kind": "GUARDIANSHIP_KIND_GUARDIANSHIP"' '"active": true' '"group": 1' -- grpcurl -plaintext -d '{"iin":"790505361139"}' "$addr" $S/GetSocialStatus
expect get-school-enrolment '"enrolments"' '"withoutParentalCare": true' -- grpcurl -plaintext -d "{\"iin\":\"$(iin 110817580045)\"}" "$addr" $S/GetSchoolEnrolment
expect get-higher-education '"studies"' '"dormitory": true' -- grpcurl -plaintext -d '{"iin":"060926515016"}' "$addr" $S/GetHigherEducation

# Operators
expect admin-registry-status '"registry": "REGISTRY_GBD_FL"' '"registry": "REGISTRY_EPVO"' '"breaker"' -- grpcurl -plaintext "$addr" registry_gateway.v1.GatewayAdminService/GetRegistryStatus
# (GBD FL's full-record cache holds no entry: CheckOwner keeps owner facts apart, see Consent.)
expect admin-invalidate-person '"invalidated"' '"REGISTRY_ZAGS"' -- grpcurl -plaintext -d '{"iin":"161016620441"}' "$addr" registry_gateway.v1.GatewayAdminService/InvalidatePerson

summary grpcurl
