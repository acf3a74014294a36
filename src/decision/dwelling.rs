//! CheckDwelling: one answer for a dwelling with several owners, from each owner's CheckOwner
//! decision (pure, unit-tested; the table is in docs/decision.md).
//!
//! Precedence, first match wins:
//! 1. a caller's error about any owner (a consent GBD FL refused, a decision date before an
//!    owner's birth) fails the call, naming the owner;
//! 2. `REFUSED_HERE` when an owner is deceased or unknown to GBD FL and
//!    `decision.deceased_co_owner = "refuse"` (the default; see [`DeceasedCoOwner`]);
//! 3. `OPERATIONAL_HALL` when an owner is a minor, incapable, of limited capacity, a ward or
//!    declared missing by a court (or deceased / unknown with `deceased_co_owner = "hall"`). It stands without an owner
//!    whose registries did not answer (noted), as CheckOwner's hall stands without IS ZAGS:
//!    the employee sees every owner's documents in the hall, and the hall's check runs again;
//! 4. otherwise an owner without a decision fails the call with that owner's error (fail
//!    closed: never online unless every owner was cleared);
//! 5. `ONLINE`: every owner is a living capable adult or an organisation.

use super::DeceasedCoOwner;
use crate::error::Error;

use super::step::Ground;
use super::{Decision, Outcome, ReasonCode, Role};
use crate::i18n::Text;

/// The dwelling's answer, besides each owner's own decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DwellingDecision {
    pub id: String,
    pub outcome: Outcome,
    /// The owners that decide the outcome.
    pub reasons: Vec<OwnerReason>,
    /// Owners without a decision that the outcome stands without.
    pub notes: Vec<OwnerReason>,
    /// With an applicant and an owner that needs a representative (its own outcome is the
    /// hall): whether registries confirm the applicant as the representative of every such
    /// owner.
    pub representative_confirmed: Option<bool>,
    /// How the order's items 4 and 7 are worded for the dwelling: for owners declared missing
    /// when they are all the hall's owners, else the order's own categories.
    pub ground: Ground,
}

/// Why one owner counts for the dwelling's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerReason {
    /// The owner's index in the request.
    pub index: usize,
    /// The owner's decisive reason (the first of its decision); none for an owner without one.
    pub code: Option<ReasonCode>,
    pub text: Text,
}

/// The dwelling's answer from each owner's, or the error of the owner that is the call's
/// answer ([`Error::Owner`], naming it).
pub fn combine(
    owners: &[Result<Decision, Error>],
    convention: DeceasedCoOwner,
) -> Result<DwellingDecision, Error> {
    let owner_error = |(i, r): (usize, &Result<Decision, Error>)| {
        r.as_ref().err().map(|e| Error::of_owner(i, e.clone()))
    };
    // No legal basis in force (with `on_expired = "refuse"`): the dwelling's answer, not an
    // owner's.
    if let Some(e) = owners.iter().find_map(|r| {
        r.as_ref()
            .err()
            .filter(|e| matches!(e, Error::LegalBasis { .. }))
    }) {
        return Err(e.clone());
    }
    if let Some(e) = owners
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref().is_err_and(Error::is_callers))
        .find_map(owner_error)
    {
        return Err(e);
    }
    // What an owner's own outcome counts as for the dwelling.
    let counts_as = |d: &Decision| match (d.outcome, convention) {
        (Outcome::RefusedHere, DeceasedCoOwner::Hall) => Outcome::OperationalHall,
        (outcome, _) => outcome,
    };
    let with = |outcome: Outcome| -> Vec<OwnerReason> {
        owners
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().ok().map(|d| (i, d)))
            .filter(|(_, d)| counts_as(d) == outcome)
            .map(|(i, d)| owner_reason(i, d, convention))
            .collect()
    };
    let failed: Vec<(usize, &Error)> = owners
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
        .collect();
    let (outcome, reasons) = match [Outcome::RefusedHere, Outcome::OperationalHall]
        .into_iter()
        .map(|o| (o, with(o)))
        .find(|(_, reasons)| !reasons.is_empty())
    {
        Some(decided) => decided,
        // Fail closed: never online unless every owner was cleared.
        None => match owners.iter().enumerate().find_map(owner_error) {
            Some(e) => return Err(e),
            None => (Outcome::Online, with(Outcome::Online)),
        },
    };
    let ground = ground(owners, outcome, |d| {
        counts_as(d) == Outcome::OperationalHall
    });
    let notes = failed
        .iter()
        .map(|&(index, e)| OwnerReason {
            index,
            code: None,
            text: Text::new("dwelling-no-decision")
                .arg("index", index)
                .arg("error", e.to_status("").message()),
        })
        .collect();
    Ok(DwellingDecision {
        id: uuid::Uuid::new_v4().to_string(),
        outcome,
        reasons,
        notes,
        representative_confirmed: representative_confirmed(owners),
        ground,
    })
}

/// [`Ground::DeclaredMissing`] for a hall dwelling whose hall owners (`in_hall`) are all
/// declared missing and nothing else.
fn ground(
    owners: &[Result<Decision, Error>],
    outcome: Outcome,
    in_hall: impl Fn(&Decision) -> bool,
) -> Ground {
    let mut hall = owners
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|d| in_hall(d))
        .peekable();
    let missing_only =
        hall.peek().is_some() && hall.all(|d| Ground::of(d) == Ground::DeclaredMissing);
    if outcome == Outcome::OperationalHall && missing_only {
        Ground::DeclaredMissing
    } else {
        Ground::MinorOrIncapacitated
    }
}

fn owner_reason(index: usize, d: &Decision, convention: DeceasedCoOwner) -> OwnerReason {
    let code = d.reasons.first().map(|r| r.code);
    let who = match code {
        Some(ReasonCode::OwnerDeceased) => "who-deceased",
        Some(ReasonCode::OwnerNotFound) => "who-unknown",
        Some(ReasonCode::OwnerIsOrganisation) => "who-organisation",
        Some(ReasonCode::OwnerCapableAdult) => "who-adult",
        Some(ReasonCode::OwnerDeclaredMissing) => "who-missing",
        _ => "who-minor",
    };
    let then = match (d.outcome, convention) {
        (Outcome::RefusedHere, DeceasedCoOwner::Refuse) => "then-refuse",
        (Outcome::RefusedHere, DeceasedCoOwner::Hall) => "then-heirs",
        (Outcome::OperationalHall, _) => "then-hall",
        (Outcome::Online, _) => "then-online",
    };
    OwnerReason {
        index,
        code,
        text: Text::new("dwelling-owner")
            .arg("index", index)
            .text("who", Text::new(who))
            .text("then", Text::new(then)),
    }
}

fn representative_confirmed(owners: &[Result<Decision, Error>]) -> Option<bool> {
    let needing: Vec<_> = owners
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|d| d.outcome == Outcome::OperationalHall)
        .map(|d| d.representation.as_ref())
        .collect::<Option<_>>()?;
    (!needing.is_empty()).then(|| {
        needing.iter().all(|r| {
            matches!(
                r.role,
                Role::Mother | Role::Father | Role::Guardian | Role::Trustee
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::decision::{OwnerFacts, Reason, Representation};
    use crate::registry::{Failure, Registry, RegistryError};

    use DeceasedCoOwner::{Hall, Refuse};
    use Outcome::{Online, OperationalHall, RefusedHere};

    fn decided(outcome: Outcome, code: ReasonCode) -> Result<Decision, Error> {
        Ok(Decision {
            id: String::new(),
            outcome,
            reasons: vec![Reason {
                code,
                text: Text::new("then-online"),
                source: None,
            }],
            notes: Vec::new(),
            owner: OwnerFacts::default(),
            representation: None,
            evidence: Vec::new(),
        })
    }

    fn adult() -> Result<Decision, Error> {
        decided(Online, ReasonCode::OwnerCapableAdult)
    }
    fn organisation() -> Result<Decision, Error> {
        decided(Online, ReasonCode::OwnerIsOrganisation)
    }
    fn minor() -> Result<Decision, Error> {
        decided(OperationalHall, ReasonCode::OwnerMinor)
    }
    fn ward() -> Result<Decision, Error> {
        decided(OperationalHall, ReasonCode::OwnerUnderGuardianship)
    }
    fn missing() -> Result<Decision, Error> {
        let mut d = decided(OperationalHall, ReasonCode::OwnerDeclaredMissing)?;
        d.owner.declared_missing = true;
        Ok(d)
    }
    fn deceased() -> Result<Decision, Error> {
        decided(RefusedHere, ReasonCode::OwnerDeceased)
    }
    fn unknown() -> Result<Decision, Error> {
        decided(RefusedHere, ReasonCode::OwnerNotFound)
    }
    fn down(registry: Registry) -> Result<Decision, Error> {
        Err(Error::Registry(RegistryError {
            registry,
            failure: Failure::Timeout(Duration::from_secs(5)),
            retry_after: Duration::from_secs(5),
        }))
    }
    fn consent_refused() -> Result<Decision, Error> {
        Err(Error::Registry(RegistryError {
            registry: Registry::GbdFl,
            failure: Failure::ConsentRefused {
                code: "KDP_REFUSED".into(),
            },
            retry_after: Duration::from_secs(60),
        }))
    }

    /// The outcome, or the owner whose error is the answer.
    fn outcome(owners: &[Result<Decision, Error>], c: DeceasedCoOwner) -> Result<Outcome, String> {
        combine(owners, c).map(|d| d.outcome).map_err(|e| match e {
            Error::Owner { owner, .. } => owner,
            e => panic!("not an owner's error: {e}"),
        })
    }

    /// The table of docs/decision.md, row by row, under both conventions.
    #[test]
    fn the_table() {
        let social = || down(Registry::SocialSecurity);
        let owner = |i: usize| Err(format!("owners[{i}]"));
        type Row = (
            Vec<Result<Decision, Error>>,
            Result<Outcome, String>,
            Result<Outcome, String>,
        );
        let rows: Vec<Row> = vec![
            (vec![adult()], Ok(Online), Ok(Online)),
            (vec![adult(), adult()], Ok(Online), Ok(Online)),
            (vec![adult(), organisation()], Ok(Online), Ok(Online)),
            (
                vec![adult(), minor()],
                Ok(OperationalHall),
                Ok(OperationalHall),
            ),
            (
                vec![adult(), ward()],
                Ok(OperationalHall),
                Ok(OperationalHall),
            ),
            (
                vec![adult(), missing()],
                Ok(OperationalHall),
                Ok(OperationalHall),
            ),
            (
                vec![missing(), deceased()],
                Ok(RefusedHere),
                Ok(OperationalHall),
            ),
            (
                vec![adult(), deceased()],
                Ok(RefusedHere),
                Ok(OperationalHall),
            ),
            (
                vec![adult(), unknown()],
                Ok(RefusedHere),
                Ok(OperationalHall),
            ),
            (
                vec![minor(), deceased()],
                Ok(RefusedHere),
                Ok(OperationalHall),
            ),
            (vec![adult(), social()], owner(1), owner(1)),
            (
                vec![social(), adult(), down(Registry::Zags)],
                owner(0),
                owner(0),
            ),
            (
                vec![minor(), social()],
                Ok(OperationalHall),
                Ok(OperationalHall),
            ),
            (
                vec![social(), deceased()],
                Ok(RefusedHere),
                Ok(OperationalHall),
            ),
            (
                vec![adult(), minor(), consent_refused()],
                owner(2),
                owner(2),
            ),
            (vec![deceased(), consent_refused()], owner(1), owner(1)),
        ];
        for (i, (owners, refuse, hall)) in rows.iter().enumerate() {
            assert_eq!(outcome(owners, Refuse), *refuse, "row {i}, refuse");
            assert_eq!(outcome(owners, Hall), *hall, "row {i}, hall");
        }
    }

    #[test]
    fn reasons_name_the_deciding_owners_and_notes_the_silent_ones() {
        let d = combine(
            &[adult(), minor(), down(Registry::SocialSecurity), ward()],
            Refuse,
        )
        .unwrap();
        let reasons: Vec<_> = d.reasons.iter().map(|r| (r.index, r.code)).collect();
        assert_eq!(
            reasons,
            [
                (1, Some(ReasonCode::OwnerMinor)),
                (3, Some(ReasonCode::OwnerUnderGuardianship))
            ]
        );
        assert!(d.reasons[0].text.starts_with("owners[1] is a minor"));
        assert_eq!(d.notes.len(), 1);
        assert_eq!(d.notes[0].index, 2);
        assert!(
            d.notes[0].text.contains("E-social security"),
            "{}",
            d.notes[0].text
        );

        let d = combine(&[adult(), deceased()], Refuse).unwrap();
        assert_eq!(d.reasons.len(), 1);
        assert!(
            d.reasons[0].text.contains("deceased_co_owner = refuse"),
            "{}",
            d.reasons[0].text
        );
        let d = combine(&[adult(), deceased()], Hall).unwrap();
        assert!(d.reasons[0].text.contains("heirs"), "{}", d.reasons[0].text);

        let d = combine(&[adult(), organisation()], Refuse).unwrap();
        assert_eq!(d.reasons.len(), 2, "every owner clears an online dwelling");
        assert!(d.notes.is_empty());
    }

    #[test]
    fn a_co_owner_declared_missing_sends_the_dwelling_to_the_hall_worded_as_such() {
        let d = combine(&[adult(), missing()], Refuse).unwrap();
        assert_eq!(d.outcome, OperationalHall);
        assert_eq!(d.reasons.len(), 1);
        assert_eq!(
            (d.reasons[0].index, d.reasons[0].code),
            (1, Some(ReasonCode::OwnerDeclaredMissing))
        );
        assert!(
            d.reasons[0]
                .text
                .starts_with("owners[1] is declared missing by a court"),
            "{}",
            d.reasons[0].text
        );
        assert_eq!(d.ground, Ground::DeclaredMissing);
        // With a minor in the hall too, the order's own categories word the dwelling.
        let d = combine(&[minor(), missing()], Refuse).unwrap();
        assert_eq!(d.ground, Ground::MinorOrIncapacitated);
        assert_eq!(d.reasons.len(), 2);
        // A deceased co-owner refuses the dwelling whatever the missing one.
        let d = combine(&[missing(), deceased()], Refuse).unwrap();
        assert_eq!(d.ground, Ground::MinorOrIncapacitated);
        // The applicant confirmed as the trustee counts as the representative.
        let mut trustee = missing().unwrap();
        trustee.representation = Some(Representation {
            role: Role::Trustee,
            source: Some(Registry::GbdFl),
            record_id: "2-1/2024".into(),
            text: Text::new("then-online"),
        });
        let d = combine(&[adult(), Ok(trustee)], Refuse).unwrap();
        assert_eq!(d.representative_confirmed, Some(true));
    }

    #[test]
    fn no_legal_basis_is_the_dwelling_s_error_not_an_owner_s() {
        let none = || {
            Err(Error::LegalBasis {
                act: "joint-order-801-500".into(),
                term: "from 2025-10-31 until 2026-06-30".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            })
        };
        let e = combine(&[consent_refused(), none(), none()], Refuse).unwrap_err();
        assert!(matches!(e, Error::LegalBasis { .. }), "{e}");
        assert!(e
            .to_string()
            .starts_with("no legal basis in force on 2026-12-05"));
    }

    fn represented(role: Option<Role>) -> Result<Decision, Error> {
        let mut d = minor()?;
        d.representation = role.map(|role| Representation {
            role,
            source: None,
            record_id: String::new(),
            text: Text::new("then-online"),
        });
        Ok(d)
    }

    #[test]
    fn the_applicant_must_represent_every_owner_that_needs_it() {
        let confirmed = |owners: &[Result<Decision, Error>]| {
            combine(owners, Refuse).unwrap().representative_confirmed
        };
        // No applicant, or no owner that needs a representative: nothing to say.
        assert_eq!(confirmed(&[represented(None)]), None);
        assert_eq!(confirmed(&[adult()]), None);
        let mother = || represented(Some(Role::Mother));
        let guardian = || represented(Some(Role::Guardian));
        let nobody = || represented(Some(Role::NotConfirmed));
        let himself = || represented(Some(Role::Owner));
        assert_eq!(confirmed(&[mother(), adult()]), Some(true));
        assert_eq!(confirmed(&[mother(), guardian()]), Some(true));
        assert_eq!(confirmed(&[mother(), nobody()]), Some(false));
        assert_eq!(confirmed(&[himself()]), Some(false));
    }
}
