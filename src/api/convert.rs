//! Domain -> protobuf, in one place.

use std::sync::Arc;

use chrono::NaiveDate;

use super::call::Audited;
use super::call::Decided;
use super::pb;
use crate::audit::{CallOutcome, DecisionRef, RegistryOutcome, RegistryUse};
use crate::decision::dwelling::{DwellingDecision, OwnerReason};
use crate::decision::legal_basis::{Act, Term};
use crate::decision::DecisionConfig;
use crate::decision::{
    self, step, Decision, DwellingQuestion, EvidenceStatus, Outcome, OwnerQuestion, ReasonCode,
    Role, StateService, Step,
};
use crate::error::Error;
use crate::i18n::{Bundles, Catalogue, Lang, Text};
use crate::registry::{
    self, CapacityStatus, CivilActs, Fetched, Gender, GuardianshipKind, LifeStatus, Payload,
    Person, Registry, SchoolEnrolment, SocialStatus, Source, Study, StudyForm,
};

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The contract's value for a registry. A registry without one does not compile here.
pub fn registry_value(r: Registry) -> i32 {
    contract_registry(r).into()
}

fn contract_registry(r: Registry) -> pb::Registry {
    match r {
        Registry::GbdFl => pb::Registry::GbdFl,
        Registry::Zags => pb::Registry::Zags,
        Registry::SocialSecurity => pb::Registry::SocialSecurity,
        Registry::Nobd => pb::Registry::Nobd,
        Registry::Epvo => pb::Registry::Epvo,
    }
}

/// The registry a contract value names (none for `REGISTRY_UNSPECIFIED`).
fn registry_of(r: pb::Registry) -> Option<Registry> {
    Registry::ALL
        .into_iter()
        .find(|&ours| contract_registry(ours) == r)
}

fn timestamp(source: &Source) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: source.fetched_at.timestamp(),
        nanos: source.fetched_at.timestamp_subsec_nanos() as i32,
    }
}

fn duration(d: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn evidence(
    registry: Registry,
    status: EvidenceStatus,
    record_id: String,
    source: Option<&Source>,
) -> pb::Evidence {
    pb::Evidence {
        registry: registry_value(registry),
        status: match status {
            EvidenceStatus::Found => pb::EvidenceStatus::Found,
            EvidenceStatus::NotFound => pb::EvidenceStatus::NotFound,
            EvidenceStatus::Unavailable => pb::EvidenceStatus::Unavailable,
            EvidenceStatus::NotConsulted => pb::EvidenceStatus::NotConsulted,
        }
        .into(),
        record_id,
        fetched_at: source.map(timestamp),
        from_cache: source.is_some_and(|s| s.from_cache),
        stale: source.is_some_and(|s| s.stale),
        age: source.filter(|s| s.from_cache).map(|s| duration(s.age)),
    }
}

/// Evidence for a look-up answer: found in the registry that answers `T`.
pub fn found<T: Payload>(f: &Fetched<T>) -> pb::Evidence {
    evidence(
        T::REGISTRY,
        EvidenceStatus::Found,
        f.source.message_id.to_string(),
        Some(&f.source),
    )
}

fn capacity_status(s: CapacityStatus) -> pb::CapacityStatus {
    match s {
        CapacityStatus::Capable => pb::CapacityStatus::Capable,
        CapacityStatus::Incapable => pb::CapacityStatus::Incapable,
        CapacityStatus::Limited => pb::CapacityStatus::Limited,
    }
}

fn certificate(c: Option<registry::gbd_fl::Certificate>) -> Option<pb::Certificate> {
    c.map(|c| pb::Certificate {
        number: c.number.into(),
        issued_on: date(c.issued_on),
    })
}

pub fn person(p: Person) -> pb::Person {
    pb::Person {
        iin: p.iin.into(),
        surname: p.surname.into(),
        name: p.name.into(),
        patronymic: p.patronymic.map(String::from).unwrap_or_default(),
        birth_date: p.birth_date.to_string(),
        death_date: date(p.death_date),
        gender: match p.gender {
            Some(Gender::Male) => pb::Gender::Male,
            Some(Gender::Female) => pb::Gender::Female,
            None => pb::Gender::Unspecified,
        }
        .into(),
        citizenship: p.citizenship.map(String::from).unwrap_or_default(),
        life_status: match p.life_status {
            LifeStatus::Alive => pb::LifeStatus::Alive,
            LifeStatus::Deceased => pb::LifeStatus::Deceased,
            LifeStatus::Missing => pb::LifeStatus::Missing,
        }
        .into(),
        life_status_code: p.life_status_code.into(),
        capacity: Some(pb::LegalCapacity {
            status: capacity_status(p.capacity.status).into(),
            status_code: p.capacity.status_code.into(),
            decided_on: date(p.capacity.decided_on),
            ends_on: date(p.capacity.ends_on),
            case_number: p.capacity.case_number.map(String::from).unwrap_or_default(),
            court: p.capacity.court.map(String::from).unwrap_or_default(),
        }),
        reg_address: p.reg_address.map(String::from).unwrap_or_default(),
        birth_certificate: certificate(p.birth_certificate),
        death_certificate: certificate(p.death_certificate),
    }
}

fn person_ref(p: registry::PersonRef) -> pb::PersonRef {
    pb::PersonRef {
        iin: p.iin.into(),
        full_name: p.full_name.into(),
    }
}

/// GetPerson's answer; a person GBD FL does not know is `NOT_FOUND`.
pub fn person_response(f: Fetched<Option<Person>>) -> Result<pb::GetPersonResponse, Error> {
    let evidence = Some(found(&f));
    let person = f.into_value().ok_or(Error::NotFound {
        registry: <Option<Person>>::REGISTRY,
    })?;
    Ok(pb::GetPersonResponse {
        person: Some(self::person(person)),
        evidence,
    })
}

pub fn civil_acts(f: Fetched<CivilActs>) -> pb::GetCivilActsResponse {
    let evidence = Some(found(&f));
    let acts = f.into_value();
    pb::GetCivilActsResponse {
        birth_acts: acts
            .birth_acts
            .into_iter()
            .map(|a| pb::BirthAct {
                act_number: a.act_number.into(),
                act_date: date(a.act_date),
                child: Some(person_ref(a.child)),
                mother: a.mother.map(person_ref),
                father: a.father.map(person_ref),
            })
            .collect(),
        marriage_acts: acts
            .marriage_acts
            .into_iter()
            .map(|a| pb::MarriageAct {
                act_number: a.act_number.into(),
                act_date: date(a.act_date),
                spouse: a.spouse.map(person_ref),
                dissolved: a.dissolved,
            })
            .collect(),
        death_act: acts.death_act.map(|a| pb::DeathAct {
            act_number: a.act_number.into(),
            act_date: date(a.act_date),
            death_date: date(a.death_date),
        }),
        name_change_acts: acts
            .name_change_acts
            .into_iter()
            .map(|a| pb::NameChangeAct {
                act_number: a.act_number.into(),
                act_date: date(a.act_date),
                previous_full_name: a.previous_full_name.into(),
                new_full_name: a.new_full_name.into(),
            })
            .collect(),
        evidence,
    }
}

pub fn social_status(f: Fetched<SocialStatus>, today: NaiveDate) -> pb::GetSocialStatusResponse {
    let evidence = Some(found(&f));
    let value = f.into_value();
    pb::GetSocialStatusResponse {
        disabilities: value
            .disabilities
            .into_iter()
            .map(|d| pb::Disability {
                group: d.group,
                since: d.since.to_string(),
                until: date(d.until),
            })
            .collect(),
        guardianships: value
            .guardianships
            .into_iter()
            .map(|g| pb::Guardianship {
                kind: match g.kind {
                    GuardianshipKind::Guardianship => pb::GuardianshipKind::Guardianship,
                    GuardianshipKind::Trusteeship => pb::GuardianshipKind::Trusteeship,
                }
                .into(),
                active: g.in_force(today),
                record_id: g.record_id.into(),
                ward_iin: g.ward_iin.into(),
                guardian_iin: g.guardian_iin.into(),
                basis: g.basis.into(),
                since: g.since.to_string(),
                until: date(g.until),
            })
            .collect(),
        evidence,
    }
}

pub fn school_enrolment(f: Fetched<Vec<SchoolEnrolment>>) -> pb::GetSchoolEnrolmentResponse {
    let evidence = Some(found(&f));
    let value = f.into_value();
    pb::GetSchoolEnrolmentResponse {
        enrolments: value
            .into_iter()
            .map(|e| pb::SchoolEnrolment {
                organisation_bin: e.organisation_bin.into(),
                organisation_name: e.organisation_name.into(),
                grade: e.grade.into(),
                since: date(e.since),
                until: date(e.until),
                without_parental_care: e.without_parental_care,
            })
            .collect(),
        evidence,
    }
}

pub fn higher_education(f: Fetched<Vec<Study>>) -> pb::GetHigherEducationResponse {
    let evidence = Some(found(&f));
    let value = f.into_value();
    pb::GetHigherEducationResponse {
        studies: value
            .into_iter()
            .map(|s| pb::Study {
                university_bin: s.university_bin.into(),
                university_name: s.university_name.into(),
                programme: s.programme.into(),
                course: s.course,
                study_form: match s.study_form {
                    Some(StudyForm::FullTime) => pb::StudyForm::FullTime,
                    Some(StudyForm::PartTime) => pb::StudyForm::PartTime,
                    Some(StudyForm::Distance) => pb::StudyForm::Distance,
                    None => pb::StudyForm::Unspecified,
                }
                .into(),
                dormitory: s.dormitory,
                since: date(s.since),
                until: date(s.until),
            })
            .collect(),
        evidence,
    }
}

/// A note's code as audit records name it (`LEGAL_BASIS_EXPIRED`).
pub(crate) fn note_name(code: ReasonCode) -> String {
    unprefixed(reason_code(code).as_str_name(), "REASON_CODE_").to_owned()
}

fn reason_code(code: ReasonCode) -> pb::ReasonCode {
    use pb::ReasonCode as P;
    match code {
        ReasonCode::OwnerMinor => P::OwnerMinor,
        ReasonCode::OwnerIncapable => P::OwnerIncapable,
        ReasonCode::OwnerLimitedCapacity => P::OwnerLimitedCapacity,
        ReasonCode::OwnerUnderGuardianship => P::OwnerUnderGuardianship,
        ReasonCode::OwnerUnderTrusteeship => P::OwnerUnderTrusteeship,
        ReasonCode::OwnerCapableAdult => P::OwnerCapableAdult,
        ReasonCode::OwnerIsOrganisation => P::OwnerIsOrganisation,
        ReasonCode::OwnerDeceased => P::OwnerDeceased,
        ReasonCode::OwnerNotFound => P::OwnerNotFound,
        ReasonCode::BirthDateDiffersFromIin => P::BirthDateDiffersFromIin,
        ReasonCode::MinorMarried => P::MinorMarried,
        ReasonCode::OwnerDeclaredMissing => P::OwnerDeclaredMissing,
        ReasonCode::OwnerHasDisability => P::OwnerHasDisability,
        ReasonCode::RegistryNotAnswered => P::RegistryNotAnswered,
        ReasonCode::CapacityStatusExpired => P::CapacityStatusExpired,
        ReasonCode::LegalBasisExpired => P::LegalBasisExpired,
        ReasonCode::LegalBasisNotYetInForce => P::LegalBasisNotYetInForce,
    }
}

/// How an answer is worded: in the caller's language, with the words of the act it cites.
pub struct Wording {
    pub lang: Lang,
    act: Act,
    in_force: bool,
    bundles: Option<Arc<Bundles>>,
}

impl Wording {
    /// The wording in `lang` of an answer dated `date` under `rules`.
    pub fn new(rules: &DecisionConfig, date: chrono::NaiveDate, lang: Lang) -> Wording {
        let basis = rules.legal_basis.on(date);
        Wording {
            lang,
            act: basis.act.clone(),
            in_force: basis.term == Term::InForce,
            bundles: basis.act.bundles(),
        }
    }

    fn say(&self, text: &Text) -> String {
        Catalogue::shipped().render(self.lang, text, self.bundles.as_deref())
    }

    fn legal_basis(&self) -> pb::LegalBasis {
        pb::LegalBasis {
            act: self.say(&Text::new("act-name")),
            act_id: self.act.id.clone(),
            effective_from: self.act.effective_from.to_string(),
            effective_until: date(self.act.effective_until),
            in_force: self.in_force,
        }
    }
}

fn reasons(list: Vec<decision::Reason>, w: &Wording) -> Vec<pb::Reason> {
    list.into_iter()
        .map(|r| pb::Reason {
            code: reason_code(r.code).into(),
            text: w.say(&r.text),
            source: r.source.map(registry_value).unwrap_or_default(),
        })
        .collect()
}

fn outcome(o: Outcome) -> pb::Outcome {
    match o {
        Outcome::OperationalHall => pb::Outcome::OperationalHall,
        Outcome::Online => pb::Outcome::Online,
        Outcome::RefusedHere => pb::Outcome::RefusedHere,
    }
}

fn service(s: StateService) -> i32 {
    match s {
        StateService::RegistrationAtResidence => pb::Service::RegistrationAtResidence,
        StateService::TemporaryRegistration => pb::Service::TemporaryRegistration,
    }
    .into()
}

fn order_step(s: Step) -> i32 {
    match s {
        Step::Reception => pb::OrderStep::Reception,
        Step::HallCheck => pb::OrderStep::HallCheck,
    }
    .into()
}

pub fn decision(check: &OwnerQuestion, d: Decision, w: &Wording) -> pb::CheckOwnerResponse {
    let owner = d.owner;
    let order = step::instruction(d.outcome, step::Ground::of(&d), check.step, check.service);
    pb::CheckOwnerResponse {
        decision_id: d.id,
        outcome: outcome(d.outcome).into(),
        reasons: reasons(d.reasons, w),
        notes: reasons(d.notes, w),
        owner: Some(pb::OwnerFacts {
            kind: if owner.organisation {
                pb::OwnerKind::Organisation
            } else {
                pb::OwnerKind::Person
            }
            .into(),
            age_years: owner.age_years,
            minor: owner.minor,
            capacity: owner
                .capacity
                .map(capacity_status)
                .unwrap_or_default()
                .into(),
            deceased: owner.deceased,
            under_guardianship: owner.under_guardianship,
            declared_missing: owner.declared_missing,
        }),
        representation: d.representation.map(|r| pb::Representation {
            role: match r.role {
                Role::NotConfirmed => pb::RepresentativeRole::NotConfirmed,
                Role::Mother => pb::RepresentativeRole::Mother,
                Role::Father => pb::RepresentativeRole::Father,
                Role::Guardian => pb::RepresentativeRole::Guardian,
                Role::Trustee => pb::RepresentativeRole::Trustee,
                Role::Owner => pb::RepresentativeRole::Self_,
            }
            .into(),
            source: r.source.map(registry_value).unwrap_or_default(),
            record_id: r.record_id,
            text: w.say(&r.text),
        }),
        evidence: d
            .evidence
            .into_iter()
            .map(|e| evidence(e.registry, e.status, e.record_id, e.source.as_ref()))
            .collect(),
        order_item: order.item.to_owned(),
        decision_date: check.date.to_string(),
        service: service(check.service),
        step: order_step(check.step),
        order_text: w.say(&order.text),
        warning: order.warning.map(|t| w.say(&t)).unwrap_or_default(),
        legal_basis: Some(w.legal_basis()),
        language: w.lang.tag().to_owned(),
    }
}

/// The answer for a dwelling: its decision, and each owner's (`owners`, in the request's
/// order; an owner's error only where the outcome stands without it).
pub fn dwelling(
    check: &DwellingQuestion,
    d: DwellingDecision,
    owners: Vec<Result<Decision, Error>>,
    w: &Wording,
) -> pb::CheckDwellingResponse {
    let first = &check.owners[0];
    let order = step::instruction(d.outcome, d.ground, first.step, first.service);
    let results = check
        .owners
        .iter()
        .zip(owners)
        .map(|(owner, result)| pb::OwnerResult {
            iin: owner.owner.as_str().to_owned(),
            result: Some(match result {
                Ok(decided) => pb::owner_result::Result::Decision(decision(owner, decided, w)),
                Err(e) => pb::owner_result::Result::Failure(owner_failure(&e)),
            }),
        })
        .collect();
    pb::CheckDwellingResponse {
        decision_id: d.id,
        outcome: outcome(d.outcome).into(),
        reasons: d
            .reasons
            .into_iter()
            .map(|r| dwelling_reason(r, w))
            .collect(),
        notes: d.notes.into_iter().map(|r| dwelling_reason(r, w)).collect(),
        owners: results,
        representative_confirmed: d.representative_confirmed,
        order_item: order.item.to_owned(),
        order_text: w.say(&order.text),
        warning: order.warning.map(|t| w.say(&t)).unwrap_or_default(),
        step: order_step(first.step),
        decision_date: first.date.to_string(),
        service: service(first.service),
        legal_basis: Some(w.legal_basis()),
        language: w.lang.tag().to_owned(),
    }
}

fn dwelling_reason(r: OwnerReason, w: &Wording) -> pb::DwellingReason {
    pb::DwellingReason {
        owner_index: u32::try_from(r.index).unwrap_or(u32::MAX),
        code: r.code.map(reason_code).unwrap_or_default().into(),
        text: w.say(&r.text),
    }
}

/// An owner without a decision, as the caller may be told it (the status CheckOwner would
/// have answered, without the request id).
fn owner_failure(e: &Error) -> pb::OwnerFailure {
    let registry_error = match e {
        Error::Registry(r) => Some(r),
        _ => None,
    };
    pb::OwnerFailure {
        registry: registry_error
            .map(|r| registry_value(r.registry))
            .unwrap_or_default(),
        message: e.to_status("").message().to_owned(),
        retry_delay: registry_error.map(|r| duration(r.retry_after)),
    }
}

/// What one owner's audit record says: its outcome, the registries used (with the digest of
/// each answer), the decision and the answers it rested on, as CheckOwner's record would; or
/// its error.
pub fn owner_audit(question: &OwnerQuestion, result: &Result<Decision, Error>) -> Decided {
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            return Decided::new(e.audit_outcome(), e.audit_registries());
        }
    };
    let envelope = |e: &decision::Evidence| e.source.as_ref().and_then(|s| s.envelope.clone());
    let service_name = pb::Service::try_from(service(question.service))
        .map(|s| unprefixed(s.as_str_name(), "SERVICE_").to_owned())
        .unwrap_or_default();
    let step_name = pb::OrderStep::try_from(order_step(question.step))
        .map(|s| unprefixed(s.as_str_name(), "ORDER_STEP_").to_owned())
        .unwrap_or_default();
    Decided {
        subject: None,
        outcome: d.outcome.into(),
        registries: d
            .evidence
            .iter()
            .map(|e| RegistryUse {
                registry: e.registry,
                status: e.status.into(),
                from_cache: e.source.as_ref().is_some_and(|s| s.from_cache),
                stale: e.source.as_ref().is_some_and(|s| s.stale),
                evidence: envelope(e).map(|e| e.digest_hex()),
            })
            .collect(),
        decision: Some(DecisionRef {
            id: d.id.clone(),
            service: service_name,
            step: step_name,
            rules: decision::rules::VERSION.to_owned(),
            notes: d.notes.iter().map(|n| note_name(n.code)).collect(),
        }),
        envelopes: d.evidence.iter().filter_map(envelope).collect(),
    }
}

/// A contract enum value's name without its type's prefix (`OUTCOME_ONLINE` → `ONLINE`): the
/// audit trail keeps the words it had before the contract's values took their prefix.
fn unprefixed<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// What an audit record needs of an evidence entry (none for a value the gateway never
/// gives: an unspecified registry or status).
fn registry_use(e: &pb::Evidence) -> Option<RegistryUse> {
    let status = match e.status() {
        pb::EvidenceStatus::Unspecified => return None,
        pb::EvidenceStatus::Found => RegistryOutcome::Found,
        pb::EvidenceStatus::NotFound => RegistryOutcome::NotFound,
        pb::EvidenceStatus::Unavailable => RegistryOutcome::Unavailable,
        pb::EvidenceStatus::NotConsulted => RegistryOutcome::NotConsulted,
    };
    Some(RegistryUse {
        registry: registry_of(e.registry())?,
        status,
        from_cache: e.from_cache,
        stale: e.stale,
        evidence: None,
    })
}

/// What a record names a CheckOwner or CheckDwelling outcome.
fn call_outcome(o: pb::Outcome) -> CallOutcome {
    match o {
        pb::Outcome::Unspecified => CallOutcome::Unspecified,
        pb::Outcome::OperationalHall => CallOutcome::OperationalHall,
        pb::Outcome::Online => CallOutcome::Online,
        pb::Outcome::RefusedHere => CallOutcome::RefusedHere,
    }
}

/// A decision's outcome as a record names it (here, not in `audit`, which does not depend
/// on `decision`; `explain` compares a re-derived outcome with the record's by it).
impl From<Outcome> for CallOutcome {
    fn from(o: Outcome) -> CallOutcome {
        match o {
            Outcome::OperationalHall => CallOutcome::OperationalHall,
            Outcome::Online => CallOutcome::Online,
            Outcome::RefusedHere => CallOutcome::RefusedHere,
        }
    }
}

/// A piece of evidence's status as a record names it.
impl From<EvidenceStatus> for RegistryOutcome {
    fn from(status: EvidenceStatus) -> RegistryOutcome {
        match status {
            EvidenceStatus::Found => RegistryOutcome::Found,
            EvidenceStatus::NotFound => RegistryOutcome::NotFound,
            EvidenceStatus::Unavailable => RegistryOutcome::Unavailable,
            EvidenceStatus::NotConsulted => RegistryOutcome::NotConsulted,
        }
    }
}

impl Audited for pb::CheckOwnerResponse {
    fn outcome(&self) -> CallOutcome {
        call_outcome(self.outcome())
    }
    fn registries(&self) -> Vec<RegistryUse> {
        self.evidence.iter().filter_map(registry_use).collect()
    }
}

/// A dwelling's records are per owner (see `api::dwelling`); this is only what a record
/// would say of the dwelling as a whole.
impl Audited for pb::CheckDwellingResponse {
    fn outcome(&self) -> CallOutcome {
        call_outcome(self.outcome())
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

/// A look-up's answer and the registry that gave it, for the audit.
pub struct FoundAnswer<R> {
    pub answer: R,
    pub used: RegistryUse,
}

/// What the audit records of a found answer from `registry`.
pub fn found_in(registry: Registry, source: &Source) -> RegistryUse {
    RegistryUse {
        registry,
        status: RegistryOutcome::Found,
        from_cache: source.from_cache,
        stale: source.stale,
        evidence: source.envelope.as_ref().map(|e| e.digest_hex()),
    }
}

impl<R> Audited for FoundAnswer<R> {
    fn outcome(&self) -> CallOutcome {
        CallOutcome::Found
    }
    fn registries(&self) -> Vec<RegistryUse> {
        vec![self.used.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_has_its_own_value_in_the_contract() {
        for r in Registry::ALL {
            assert_ne!(contract_registry(r), pb::Registry::Unspecified, "{r}");
            assert_eq!(registry_of(contract_registry(r)), Some(r), "{r}");
        }
        assert_eq!(registry_of(pb::Registry::Unspecified), None);
    }

    /// A record's words are the contract's value names without their prefix, as they were
    /// when the audit built them from those names.
    #[test]
    fn a_record_names_outcomes_and_registries_by_the_contracts_words() {
        for o in [
            pb::Outcome::Unspecified,
            pb::Outcome::OperationalHall,
            pb::Outcome::Online,
            pb::Outcome::RefusedHere,
        ] {
            let word = unprefixed(o.as_str_name(), "OUTCOME_");
            assert_eq!(call_outcome(o).to_string(), word);
        }
        for r in Registry::ALL {
            let word = unprefixed(contract_registry(r).as_str_name(), "REGISTRY_");
            assert_eq!(r.key(), word.to_ascii_lowercase());
        }
        for status in [
            pb::EvidenceStatus::Found,
            pb::EvidenceStatus::NotFound,
            pb::EvidenceStatus::Unavailable,
            pb::EvidenceStatus::NotConsulted,
        ] {
            let e = pb::Evidence {
                registry: registry_value(Registry::Zags),
                status: status.into(),
                ..pb::Evidence::default()
            };
            let used = serde_json::to_value(registry_use(&e).unwrap()).unwrap();
            let word = unprefixed(status.as_str_name(), "EVIDENCE_STATUS_");
            assert_eq!(used["status"], word.to_ascii_lowercase());
            assert_eq!(used["registry"], "zags");
        }
    }

    #[test]
    fn explain_names_the_legal_basis_notes_as_records_do() {
        for code in [
            ReasonCode::LegalBasisExpired,
            ReasonCode::LegalBasisNotYetInForce,
        ] {
            assert_eq!(crate::explain::note_name(code), note_name(code));
        }
    }
}
