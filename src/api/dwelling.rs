//! CheckDwelling at the edge. The owners' list is checked (1 to `decision.max_owners`, each a
//! valid IIN or BIN listed once, each with its consent token where the caller needs one),
//! every owner is decided in parallel as by CheckOwner, [`dwelling::combine`] gives the
//! dwelling's answer, and the audit gets one record per owner, all with the call's request id,
//! each saying what was decided about that owner.
//!
//! Admission counts the call once, whatever its number of owners: it bounds the calls the
//! gateway handles at once, and a dwelling is one question of one employee. The registries
//! are protected where their load arises: each owner's registry calls take their registry's
//! bulkhead slots, cache and single flight like any other call, so twenty owners cost twenty
//! owners' registry calls at most, never more than `max_concurrent` at a time per registry.

use std::collections::HashMap;

use tonic::{Request, Response, Status};

use super::call::{AuditSubject, ConsentMark, IncomingCall, SubjectOutcomes};
use super::{convert, parse_iin, pb, GatewayService, Question};
use crate::consent::ConsentToken;
use crate::decision::DecisionConfig;
use crate::decision::{dwelling, DwellingQuestion};
use crate::error::Error;
use crate::iin::Iin;
use crate::rpc::Rpc;

pub async fn check(
    gateway: &GatewayService,
    request: Request<pb::CheckDwellingRequest>,
) -> Result<Response<pb::CheckDwellingResponse>, Status> {
    let call = gateway.edge.begin(Rpc::CheckDwelling, &request);
    let rules = gateway.decider.rules();
    let lang = super::language(&request, rules.default_language);
    let r = request.into_inner();
    // Read once per owner listed (at most `max_owners`: a longer list is refused).
    let (tokens, marks): (Vec<_>, Vec<_>) = r
        .owners
        .iter()
        .take(rules.max_owners)
        .enumerate()
        .map(|(i, o)| call.read_consent(format!("owners[{i}].consent_token"), &o.consent_token))
        .unzip();
    let check = parse(&call, &r, &rules, tokens);
    let about = audited(&r, marks, check.as_ref().ok());
    let ledger = SubjectOutcomes::new(about.len());
    let decider = &gateway.decider;
    call.run_each(&gateway.edge, about, ledger.clone(), async {
        let check = check?;
        let owners = decider
            .decide_dwelling(&check, |i, result| {
                ledger.record(i, convert::owner_audit(&check.owners[i], result));
            })
            .await;
        let decided = dwelling::combine(&owners, rules.deceased_co_owner)?;
        tracing::debug!(
            outcome = ?decided.outcome,
            decision_id = %decided.id,
            owners = owners.len(),
            "decided"
        );
        let wording = convert::Wording::new(&rules, check.owners[0].date, lang);
        Ok(convert::dwelling(&check, decided, owners, &wording))
    })
    .await
}

/// The request, validated: owners first (by index), then the shared fields, then each owner's
/// consent.
fn parse(
    call: &IncomingCall,
    r: &pb::CheckDwellingRequest,
    rules: &DecisionConfig,
    tokens: Vec<Result<Option<ConsentToken>, Error>>,
) -> Result<DwellingQuestion, Error> {
    let owners = owner_iins(&r.owners, rules.max_owners)?;
    let question = Question::parse(
        r.service,
        &r.applicant_iin,
        &r.decision_date,
        r.step,
        rules.max_days_back,
    )?;
    let shared_cache = call.consent_settings().check_owner_shared_cache;
    let owners = owners
        .into_iter()
        .zip(tokens)
        .enumerate()
        .map(|(i, (owner, token))| {
            let token = token?;
            call.require_consent(&owner, token.as_ref())
                .map_err(|e| Error::of_owner(i, e))?;
            Ok(question.about(owner, token, shared_cache, call.deadline()))
        })
        .collect::<Result<_, Error>>()?;
    Ok(DwellingQuestion { owners })
}

/// The owners' numbers: 1 to `max`, each passing the FLK, none repeated.
fn owner_iins(owners: &[pb::DwellingOwner], max: usize) -> Result<Vec<Iin>, Error> {
    if owners.is_empty() {
        return Err(Error::invalid("owners", "at least one owner is required"));
    }
    if owners.len() > max {
        return Err(Error::invalid(
            "owners",
            format!(
                "at most {max} owners (decision.max_owners), got {}",
                owners.len()
            ),
        ));
    }
    let mut seen = HashMap::with_capacity(owners.len());
    owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let field = format!("owners[{i}].iin");
            let iin = parse_iin(field.clone(), &o.iin)?;
            if let Some(first) = seen.insert(iin, i) {
                return Err(Error::invalid(
                    field,
                    format!("repeats owners[{first}].iin: list each owner once"),
                ));
            }
            Ok(iin)
        })
        .collect()
}

/// One audit subject per owner listed (the first `max_owners` of a longer list, which is
/// refused), or one about no one for an empty list.
fn audited(
    r: &pb::CheckDwellingRequest,
    marks: Vec<ConsentMark>,
    check: Option<&DwellingQuestion>,
) -> Vec<AuditSubject> {
    let date = check.and_then(|c| c.owners.first()).map(|o| o.date);
    let about = |owner: &str| {
        let about = AuditSubject::decision(owner, &r.applicant_iin, &r.decision_date);
        match date {
            Some(date) => about.on(date),
            None => about,
        }
    };
    if r.owners.is_empty() {
        return vec![about("")];
    }
    r.owners
        .iter()
        .zip(marks)
        .map(|(o, mark)| about(&o.iin).with_consent(mark))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(iins: &[&str]) -> Vec<pb::DwellingOwner> {
        iins.iter()
            .map(|iin| pb::DwellingOwner {
                iin: (*iin).to_owned(),
                consent_token: String::new(),
            })
            .collect()
    }

    fn violation(e: Error) -> (String, String) {
        match e {
            Error::InvalidArgument { field, rule } => (field.into_owned(), rule),
            e => panic!("not INVALID_ARGUMENT: {e}"),
        }
    }

    const ADULT: &str = "860314310210";
    const MINOR: &str = "161016620441";
    const BIN: &str = "080540012342";

    #[test]
    fn owners_are_one_to_max_valid_and_listed_once() {
        assert_eq!(
            owner_iins(&owners(&[ADULT, BIN, MINOR]), 3).unwrap().len(),
            3
        );
        let (field, rule) = violation(owner_iins(&[], 3).unwrap_err());
        assert_eq!(field, "owners");
        assert!(rule.contains("at least one"), "{rule}");
        let (field, rule) = violation(owner_iins(&owners(&[ADULT, MINOR]), 1).unwrap_err());
        assert_eq!(field, "owners");
        assert!(
            rule.contains("at most 1 owners (decision.max_owners), got 2"),
            "{rule}"
        );
        let (field, rule) =
            violation(owner_iins(&owners(&[ADULT, MINOR, BIN, MINOR]), 20).unwrap_err());
        assert_eq!(field, "owners[3].iin");
        assert_eq!(rule, "repeats owners[1].iin: list each owner once");
        let (field, _) = violation(owner_iins(&owners(&[ADULT, "12345"]), 20).unwrap_err());
        assert_eq!(field, "owners[1].iin");
    }
}
