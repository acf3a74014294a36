//! What CheckOwner needs of each registry's answer, and nothing more: the owner facts.
//!
//! A registry's answer is reduced to them as soon as it arrives for a decision ([`Facts`]):
//! names, addresses, certificates, other persons' records are dropped; what remains is the
//! owner's dates and statuses, the IINs of the owner's parents and guardians (to confirm an
//! applicant as representative) and the record ids the evidence cites. They are what the
//! decision rules read and what the owner-facts cache keeps
//! ([`crate::resilience::owner_facts`]), so they are compact by construction: dates are
//! 4-byte day numbers, statuses bytes, IINs integers, act numbers inline; what few persons
//! have (a court's record, a death act, a guardianship) is boxed, so that it costs nothing
//! for everyone else.

use std::num::NonZeroU64;

use chrono::NaiveDate;
use compact_str::CompactString;

use super::{
    in_force, CapacityStatus, CivilActs, GuardianshipKind, LifeStatus, MissingRecord, Payload,
    Person, SocialStatus,
};
use crate::iin::Iin;

/// A registry answer that CheckOwner decides on, and the facts it keeps of it.
pub trait Facts: Payload {
    type Facts: Clone + Send + Sync + 'static;

    /// The facts of this answer about `owner`.
    fn facts(&self, owner: &Iin) -> Self::Facts;

    /// What the answer tells CheckOwner about `owner`.
    fn told(&self, owner: &Iin) -> Told<Self::Facts> {
        Told {
            facts: self.facts(owner),
            no_record: self.is_negative(),
        }
    }
}

/// A registry's answer as CheckOwner keeps it: its facts, and whether it was the answer
/// "no record" (the evidence's status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told<F> {
    pub facts: F,
    pub no_record: bool,
}

/// An IIN as a number (`None` for anything that is not 12 digits): what an applicant's IIN
/// is compared with. Stored plus one, so that no IIN is zero.
pub type IinNumber = Option<NonZeroU64>;

/// `text` as an [`IinNumber`].
pub fn iin_number(text: &str) -> IinNumber {
    if text.len() != 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>()
        .ok()
        .and_then(|n| NonZeroU64::new(n + 1))
}

/// GBD FL's facts about the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    pub birth_date: NaiveDate,
    pub death_date: Option<NaiveDate>,
    pub life_status: LifeStatus,
    pub capacity: CapacityStatus,
    /// When a court's limitation of capacity ends, if it does.
    pub capacity_ends_on: Option<NaiveDate>,
    /// The courts' records: for a person whose capacity a court removed or limited, or whom a
    /// court declared missing.
    pub courts: Option<Box<Courts>>,
}

/// A court's decision as GBD FL records it (each part only if GBD FL gives it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourtRecord {
    pub case_number: Option<Box<str>>,
    pub decided_on: Option<NaiveDate>,
    pub court: Option<Box<str>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Courts {
    /// The decision on legal capacity (empty for a capable person).
    pub capacity: CourtRecord,
    /// The declaration as missing, with the trustee of the property.
    pub missing: Option<MissingRecord>,
}

impl PersonFacts {
    pub fn of(p: &Person) -> PersonFacts {
        let c = &p.capacity;
        let capacity = (c.status != CapacityStatus::Capable).then(|| CourtRecord {
            case_number: c.case_number.clone(),
            decided_on: c.decided_on,
            court: c.court.clone(),
        });
        let missing = (p.life_status == LifeStatus::Missing)
            .then(|| p.missing.clone())
            .flatten();
        let courts = (capacity.is_some() || missing.is_some()).then(|| {
            Box::new(Courts {
                capacity: capacity.unwrap_or_default(),
                missing,
            })
        });
        PersonFacts {
            birth_date: p.birth_date,
            death_date: p.death_date,
            life_status: p.life_status,
            capacity: c.status,
            capacity_ends_on: c.ends_on,
            courts,
        }
    }

    pub fn is_deceased(&self) -> bool {
        self.life_status == LifeStatus::Deceased || self.death_date.is_some()
    }

    /// The court's decision on capacity (empty when GBD FL gives none).
    pub fn capacity_record(&self) -> &CourtRecord {
        static NONE: CourtRecord = CourtRecord {
            case_number: None,
            decided_on: None,
            court: None,
        };
        self.courts.as_ref().map_or(&NONE, |c| &c.capacity)
    }

    /// The declaration as missing, if GBD FL gives its record.
    pub fn missing_record(&self) -> Option<&MissingRecord> {
        self.courts.as_ref().and_then(|c| c.missing.as_ref())
    }
}

impl Facts for Option<Person> {
    type Facts = Option<PersonFacts>;

    fn facts(&self, _owner: &Iin) -> Option<PersonFacts> {
        self.as_ref().map(PersonFacts::of)
    }
}

/// IS ZAGS's facts about the owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActsFacts {
    /// The number of the first birth act of the answer: the evidence's record when there is
    /// no death act.
    pub first_birth_act: Option<CompactString>,
    /// The mother and father the first birth act names, when the owner is its child.
    pub parents: [IinNumber; 2],
    /// A marriage act not dissolved.
    pub married: bool,
    /// A death act, or the owner's further birth acts.
    pub rare: Option<Box<RareActs>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RareActs {
    /// The death act's number.
    pub death_act: Option<Box<str>>,
    /// Birth acts of the owner after the first act of the answer (or all of them, when the
    /// first is not the owner's).
    pub births: Vec<OwnBirth>,
}

/// A birth act whose child is the owner: its number and the parents it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnBirth {
    pub act_number: Box<str>,
    pub parents: [IinNumber; 2],
}

impl ActsFacts {
    pub fn of(acts: &CivilActs, owner: &Iin) -> ActsFacts {
        let parents = |act: &super::BirthAct| {
            [&act.mother, &act.father].map(|p| p.as_ref().and_then(|p| iin_number(&p.iin)))
        };
        let own = |act: &&super::BirthAct| &*act.child.iin == owner.as_str();
        let first = acts.birth_acts.first();
        let first_is_own = first.is_some_and(|a| own(&a));
        let skip = usize::from(first_is_own);
        let births: Vec<OwnBirth> = acts.birth_acts[skip.min(acts.birth_acts.len())..]
            .iter()
            .filter(own)
            .map(|act| OwnBirth {
                act_number: act.act_number.clone(),
                parents: parents(act),
            })
            .collect();
        let death_act = acts.death_act.as_ref().map(|d| d.act_number.clone());
        ActsFacts {
            first_birth_act: first.map(|a| CompactString::from(&*a.act_number)),
            parents: first.filter(own).map(parents).unwrap_or_default(),
            married: acts.marriage_acts.iter().any(|m| !m.dissolved),
            rare: (death_act.is_some() || !births.is_empty())
                .then(|| Box::new(RareActs { death_act, births })),
        }
    }

    pub fn death_act(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.death_act.as_deref())
    }

    /// The owner's birth acts: their numbers and the parents they name.
    pub fn own_births(&self) -> impl Iterator<Item = (&str, [IinNumber; 2])> {
        let first = self
            .first_birth_act
            .as_deref()
            .filter(|_| self.parents != [None, None])
            .map(|number| (number, self.parents));
        let rest = self.rare.iter().flat_map(|r| &r.births);
        first
            .into_iter()
            .chain(rest.map(|b| (&*b.act_number, b.parents)))
    }
}

impl Facts for CivilActs {
    type Facts = ActsFacts;

    fn facts(&self, owner: &Iin) -> ActsFacts {
        ActsFacts::of(self, owner)
    }
}

/// E-social security's facts about the owner: the owner's guardianships (as the ward) and
/// disabilities, whatever their dates (the decision date says which are in force).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialFacts(pub Option<Box<SocialRecords>>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialRecords {
    pub guardianships: Vec<Ward>,
    pub disabilities: Vec<DisabilityFacts>,
}

/// A guardianship or trusteeship over the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ward {
    pub kind: GuardianshipKind,
    pub record_id: Box<str>,
    pub guardian: IinNumber,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabilityFacts {
    pub group: u32,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Ward {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        in_force(self.since, self.until, date)
    }
}

impl DisabilityFacts {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        in_force(self.since, self.until, date)
    }
}

impl SocialFacts {
    pub fn of(social: &SocialStatus, owner: &Iin) -> SocialFacts {
        let guardianships: Vec<Ward> = social
            .guardianships
            .iter()
            .filter(|g| &*g.ward_iin == owner.as_str())
            .map(|g| Ward {
                kind: g.kind,
                record_id: g.record_id.clone(),
                guardian: iin_number(&g.guardian_iin),
                since: g.since,
                until: g.until,
            })
            .collect();
        let disabilities: Vec<DisabilityFacts> = social
            .disabilities
            .iter()
            .map(|d| DisabilityFacts {
                group: d.group,
                since: d.since,
                until: d.until,
            })
            .collect();
        let empty = guardianships.is_empty() && disabilities.is_empty();
        SocialFacts((!empty).then(|| {
            Box::new(SocialRecords {
                guardianships,
                disabilities,
            })
        }))
    }

    pub fn guardianships(&self) -> &[Ward] {
        self.0.as_deref().map_or(&[], |r| &r.guardianships)
    }

    pub fn disabilities(&self) -> &[DisabilityFacts] {
        self.0.as_deref().map_or(&[], |r| &r.disabilities)
    }
}

impl Facts for SocialStatus {
    type Facts = SocialFacts;

    fn facts(&self, owner: &Iin) -> SocialFacts {
        SocialFacts::of(self, owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_are_small() {
        assert_eq!(size_of::<Option<PersonFacts>>(), 24);
        assert!(size_of::<ActsFacts>() <= 56, "{}", size_of::<ActsFacts>());
        assert_eq!(size_of::<SocialFacts>(), 8);
    }

    #[test]
    fn iin_numbers_are_twelve_digits() {
        assert!(iin_number("860314310210").is_some());
        assert_eq!(iin_number("000000000000").map(NonZeroU64::get), Some(1));
        for not in [
            "",
            "86031431021",
            "8603143102100",
            "86031431021x",
            "８６0314310210",
        ] {
            assert_eq!(iin_number(not), None, "{not:?}");
        }
    }
}
