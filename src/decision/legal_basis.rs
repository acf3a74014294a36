//! `[decision.legal_basis]`: the act whose algorithm the answers follow and cite, as data.
//!
//! An act has an id, a term (effective from, until) and its texts per language (its name, the
//! names of the services, the wording of the items the answers cite, the warning of item 8),
//! as Fluent messages; an act that words only some of them takes the rest from the shipped
//! act, joint order 801/500 (`locales/<lang>/joint-order-801-500.ftl`). Several acts follow
//! one another (an extension, a successor): a configuration change, applied on reload.
//!
//! [`LegalBasisConfig::on`] is the rule (pure, unit-tested): the act in force on the decision
//! date words the answer; outside every term the latest act that ended before it does (or the
//! first act, before any term began), and the answer carries a note of its own
//! (`REASON_CODE_LEGAL_BASIS_EXPIRED` / `..._NOT_YET_IN_FORCE`), or, with
//! `on_expired = "refuse"`, the call fails with `FAILED_PRECONDITION`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::i18n::shipped_act_source;
use crate::i18n::{message_ids, Bundles, Lang, Text};
use crate::validate::{Invalid, Validate};

/// The id of the shipped act.
pub const SHIPPED_ACT: &str = "joint-order-801-500";

/// The messages an act words (each language of the shipped act has every one).
pub const ACT_MESSAGES: [&str; 11] = [
    "act-name",
    "service-residence",
    "service-temporary",
    "item-4",
    "item-4-missing",
    "item-5",
    "item-7",
    "item-7-missing",
    "item-8-online",
    "item-8-refused",
    "warning",
];

/// The acts in sequence, and what a decision outside every term gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegalBasisConfig {
    /// A decision dated outside every act's term: `answer` (default) with a note, or `refuse`
    /// with `FAILED_PRECONDITION`.
    pub on_expired: OnExpired,
    /// The acts, in order of their terms, which must not overlap.
    pub acts: Vec<Act>,
}

impl Default for LegalBasisConfig {
    fn default() -> LegalBasisConfig {
        LegalBasisConfig {
            on_expired: OnExpired::Answer,
            acts: vec![Act::shipped()],
        }
    }
}

/// What a decision dated outside every act's term gets.
///
/// Default `answer`: the answer still comes, worded by the latest act, with a note naming it
/// and its end date. Stopping every Service Centre because a pilot order lapsed (and the
/// gateway was not told of its extension) would be worse than answering by the algorithm the
/// employees know, saying so in every answer, with an alert for the operators. `refuse` is for
/// deployments that must not answer without a legal basis in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExpired {
    Answer,
    Refuse,
}

/// One act: its id, its term and its texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// A name for logs and `--check-config`, e.g. `joint-order-801-500`.
    pub id: String,
    /// The first day in force ("YYYY-MM-DD").
    pub effective_from: NaiveDate,
    /// The last day in force ("YYYY-MM-DD"); none: no end.
    #[serde(default)]
    pub effective_until: Option<NaiveDate>,
    /// Fluent messages per language (`kk`, `ru`, `en`) wording this act: any of
    /// [`ACT_MESSAGES`]; the others are the shipped act's.
    #[serde(default)]
    pub messages: BTreeMap<Lang, String>,
}

impl Act {
    /// Joint order 801/500 as shipped: in force till 30 June 2026 (item 6 of the order). It
    /// takes effect on its first official publication, a date the order does not give: the
    /// shipped term starts on 31 October 2025, the day of its later signature, the earliest
    /// it can be.
    pub fn shipped() -> Act {
        Act {
            id: SHIPPED_ACT.to_owned(),
            effective_from: NaiveDate::from_ymd_opt(2025, 10, 31).expect("a date"),
            effective_until: NaiveDate::from_ymd_opt(2026, 6, 30),
            messages: BTreeMap::new(),
        }
    }

    fn covers(&self, date: NaiveDate) -> bool {
        self.effective_from <= date && self.effective_until.is_none_or(|u| date <= u)
    }

    /// The act's own Fluent bundles (compiled once per distinct set of messages); `None` for an
    /// act worded entirely by the shipped texts.
    pub fn bundles(&self) -> Option<Arc<Bundles>> {
        if self.messages.is_empty() {
            return None;
        }
        static COMPILED: OnceLock<Mutex<Vec<Compiled>>> = OnceLock::new();
        let mut compiled = COMPILED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, b)) = compiled.iter().find(|(m, _)| *m == self.messages) {
            return Some(b.clone());
        }
        let messages = self.messages.clone();
        let bundles = Bundles::new(|lang| messages.get(&lang).cloned().into_iter().collect());
        // Validated at load: a configuration whose texts do not compile is refused.
        let bundles = Arc::new(bundles.ok()?);
        if compiled.len() >= 16 {
            compiled.clear();
        }
        compiled.push((self.messages.clone(), bundles.clone()));
        Some(bundles)
    }
}

/// An act's messages and their bundles.
type Compiled = (BTreeMap<Lang, String>, Arc<Bundles>);

/// Where a date stands against an act's term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    InForce,
    /// The date is after the act's end (and no later act is in force on it).
    Ended,
    /// The date is before the act takes effect (and before every act).
    NotYet,
}

/// The act that words an answer for a date, and where the date stands against its term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Basis<'a> {
    pub act: &'a Act,
    pub term: Term,
}

impl Basis<'_> {
    /// The note an answer outside the act's term carries; none in force.
    pub fn note(&self, date: NaiveDate) -> Option<(super::ReasonCode, Text)> {
        let act = Text::new("act-name");
        let (code, text) = match self.term {
            Term::InForce => return None,
            Term::Ended => (
                super::ReasonCode::LegalBasisExpired,
                Text::new("note-legal-basis-expired").arg(
                    "until",
                    self.act
                        .effective_until
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
            ),
            Term::NotYet => (
                super::ReasonCode::LegalBasisNotYetInForce,
                Text::new("note-legal-basis-not-yet").arg("from", self.act.effective_from),
            ),
        };
        Some((code, text.arg("date", date).text("act", act)))
    }
}

impl LegalBasisConfig {
    /// The act that words an answer dated `date`: the act in force on it; else the latest act
    /// that ended before it; else (before every term) the first act.
    pub fn on(&self, date: NaiveDate) -> Basis<'_> {
        if let Some(act) = self.acts.iter().find(|a| a.covers(date)) {
            return Basis {
                act,
                term: Term::InForce,
            };
        }
        let ended = self
            .acts
            .iter()
            .rev()
            .find(|a| a.effective_until.is_some_and(|u| u < date));
        match ended {
            Some(act) => Basis {
                act,
                term: Term::Ended,
            },
            None => Basis {
                act: &self.acts[0],
                term: Term::NotYet,
            },
        }
    }

    /// Days from `today` to the last day of the legal basis in force (through acts that follow
    /// one another without a gap): 0 on the last day, negative once it has ended (or before
    /// it begins), infinite without an end.
    pub fn days_left(&self, today: NaiveDate) -> f64 {
        let basis = self.on(today);
        let days = |to: NaiveDate| (to - today).num_days() as f64;
        match basis.term {
            Term::NotYet => -days(basis.act.effective_from).abs(),
            Term::Ended => days(basis.act.effective_until.unwrap_or(today)),
            Term::InForce => {
                let mut end = basis.act.effective_until;
                while let Some(e) = end {
                    let next = self
                        .acts
                        .iter()
                        .find(|a| e.succ_opt() == Some(a.effective_from));
                    match next {
                        Some(a) => end = a.effective_until,
                        None => break,
                    }
                }
                end.map_or(f64::INFINITY, days)
            }
        }
    }
}

/// "from 2025-10-31 until 2026-06-30" (errors and logs, English).
pub fn term_words(act: &Act) -> String {
    match act.effective_until {
        Some(until) => format!("from {} until {until}", act.effective_from),
        None => format!("from {} without an end", act.effective_from),
    }
}

/// The act in force on `today` and when it ends, for `--check-config` (English).
pub fn describe(config: &LegalBasisConfig, today: NaiveDate) -> String {
    let basis = config.on(today);
    let days = config.days_left(today);
    let act = &basis.act.id;
    let acts = format!("{} act(s) configured", config.acts.len());
    match basis.term {
        Term::InForce if days.is_infinite() => {
            format!("{act} in force on {today}, without an end ({acts})")
        }
        Term::InForce => format!(
            "{act} in force on {today}, the legal basis ends in {days} days ({}; {acts})",
            term_words(basis.act)
        ),
        term => format!(
            "NONE in force on {today}: {} {act} {} {}; answers {} ({acts})",
            if term == Term::Ended {
                "the latest act,"
            } else {
                "the first act,"
            },
            if term == Term::Ended {
                "was in force"
            } else {
                "is in force"
            },
            term_words(basis.act),
            match config.on_expired {
                OnExpired::Answer => "carry REASON_CODE_LEGAL_BASIS_EXPIRED (on_expired = answer)",
                OnExpired::Refuse => "are refused with FAILED_PRECONDITION (on_expired = refuse)",
            }
        ),
    }
}

/// Sets `gateway_legal_basis_days_left` for `today`, and once a day (the first call of a day,
/// in this process) logs a warning when the legal basis has ended or not begun.
pub fn report(config: &LegalBasisConfig, today: NaiveDate) {
    use std::sync::atomic::{AtomicI32, Ordering};
    static LOGGED_ON: AtomicI32 = AtomicI32::new(i32::MIN);
    let days = config.days_left(today);
    crate::metrics::legal_basis_days_left(days);
    let day = chrono::Datelike::num_days_from_ce(&today);
    if days < 0.0 && LOGGED_ON.swap(day, Ordering::Relaxed) != day {
        let basis = config.on(today);
        tracing::warn!(
            act = %basis.act.id,
            term = %term_words(basis.act),
            days_left = days,
            on_expired = ?config.on_expired,
            "no configured act is in force today: answers carry a note (or are refused with \
             on_expired = refuse); configure the act in force in [decision.legal_basis]"
        );
    }
}

impl Validate for LegalBasisConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.acts.is_empty() {
            return Err(Invalid::new("acts", "at least one act is required"));
        }
        for (i, act) in self.acts.iter().enumerate() {
            act.validate().map_err(|e| e.under(&format!("acts[{i}]")))?;
            let Some(previous) = i.checked_sub(1).map(|p| &self.acts[p]) else {
                continue;
            };
            if previous
                .effective_until
                .is_none_or(|until| until >= act.effective_from)
            {
                return Err(Invalid::new(
                    format!("acts[{i}].effective_from"),
                    format!(
                        "must be after acts[{}].effective_until: acts are listed in order of \
                         their terms, which must not overlap",
                        i - 1
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Validate for Act {
    fn validate(&self) -> Result<(), Invalid> {
        if self.id.trim().is_empty() {
            return Err(Invalid::new("id", "must not be empty"));
        }
        if self
            .effective_until
            .is_some_and(|u| u < self.effective_from)
        {
            return Err(Invalid::new(
                "effective_until",
                "must not be before effective_from",
            ));
        }
        let known: BTreeSet<&str> = ACT_MESSAGES.into_iter().collect();
        for (lang, source) in &self.messages {
            let at = format!("messages.{lang}");
            let ids = message_ids(source).map_err(|e| Invalid::new(&at, e))?;
            if let Some(unknown) = ids.iter().find(|id| !known.contains(id.as_str())) {
                return Err(Invalid::new(
                    at,
                    format!(
                        "`{unknown}` is not a message of an act (one of {})",
                        ACT_MESSAGES.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogue;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn act(id: &str, from: &str, until: Option<&str>) -> Act {
        Act {
            id: id.into(),
            effective_from: d(from),
            effective_until: until.map(d),
            messages: BTreeMap::new(),
        }
    }

    #[test]
    fn the_shipped_act_is_in_force_till_30_june_2026() {
        let c = LegalBasisConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.on(d("2026-06-30")).term, Term::InForce);
        let after = c.on(d("2026-07-01"));
        assert_eq!(
            (after.act.id.as_str(), after.term),
            (SHIPPED_ACT, Term::Ended)
        );
        assert_eq!(c.on(d("2025-10-30")).term, Term::NotYet);
        assert_eq!(c.days_left(d("2026-06-30")), 0.0);
        assert_eq!(c.days_left(d("2026-06-20")), 10.0);
        assert_eq!(c.days_left(d("2026-12-05")), -158.0);
        assert_eq!(c.days_left(d("2025-10-29")), -2.0);
    }

    #[test]
    fn check_config_says_which_act_is_in_force_and_when_it_ends() {
        let c = LegalBasisConfig::default();
        let now = describe(&c, d("2026-06-20"));
        assert!(
            now.starts_with("joint-order-801-500 in force on 2026-06-20"),
            "{now}"
        );
        assert!(
            now.contains("ends in 10 days (from 2025-10-31 until 2026-06-30"),
            "{now}"
        );
        let later = describe(&c, d("2026-12-05"));
        assert!(later.starts_with("NONE in force on 2026-12-05"), "{later}");
        assert!(later.contains("until 2026-06-30"), "{later}");
        assert!(later.contains("REASON_CODE_LEGAL_BASIS_EXPIRED"), "{later}");
    }

    #[test]
    fn acts_in_sequence_extend_the_basis() {
        let c = LegalBasisConfig {
            on_expired: OnExpired::Answer,
            acts: vec![
                act("a", "2025-10-31", Some("2026-06-30")),
                act("b", "2026-07-01", Some("2026-12-31")),
                act("c", "2027-03-01", None),
            ],
        };
        assert!(c.validate().is_ok());
        assert_eq!(c.on(d("2026-07-01")).act.id, "b");
        // Counted through b, which follows a without a gap.
        assert_eq!(c.days_left(d("2026-06-30")), 184.0);
        // The gap between b and c: b ended, the answer worded by b with a note.
        let gap = c.on(d("2027-01-15"));
        assert_eq!((gap.act.id.as_str(), gap.term), ("b", Term::Ended));
        assert_eq!(c.days_left(d("2027-01-15")), -15.0);
        assert_eq!(c.on(d("2030-01-01")).term, Term::InForce);
        assert_eq!(c.days_left(d("2030-01-01")), f64::INFINITY);
    }

    #[test]
    fn the_note_names_the_act_and_its_end_date() {
        let c = LegalBasisConfig::default();
        let (code, text) = c.on(d("2026-12-05")).note(d("2026-12-05")).unwrap();
        assert_eq!(code, super::super::ReasonCode::LegalBasisExpired);
        let en = text.english();
        for part in ["2026-12-05", "No. 801", "No. 500", "2026-06-30"] {
            assert!(en.contains(part), "{part}: {en}");
        }
        let ru = Catalogue::shipped().render(Lang::Ru, &text, None);
        assert!(ru.contains("№ 801") && ru.contains("2026-06-30"), "{ru}");
        assert_eq!(c.on(d("2026-06-01")).note(d("2026-06-01")), None);
        let (code, _) = c.on(d("2025-01-01")).note(d("2025-01-01")).unwrap();
        assert_eq!(code, super::super::ReasonCode::LegalBasisNotYetInForce);
    }

    #[test]
    fn overlapping_unordered_or_unknown_texts_are_refused_naming_the_key() {
        let err = |acts: Vec<Act>| {
            LegalBasisConfig {
                on_expired: OnExpired::Answer,
                acts,
            }
            .validate()
            .unwrap_err()
            .to_string()
        };
        assert!(err(vec![]).starts_with("acts: at least one"));
        let e = err(vec![
            act("a", "2025-10-31", Some("2026-06-30")),
            act("b", "2026-06-30", None),
        ]);
        assert!(
            e.starts_with("acts[1].effective_from: must be after"),
            "{e}"
        );
        let e = err(vec![
            act("a", "2025-10-31", None),
            act("b", "2027-01-01", None),
        ]);
        assert!(e.starts_with("acts[1].effective_from"), "{e}");
        let e = err(vec![act("a", "2026-10-31", Some("2026-06-30"))]);
        assert!(e.starts_with("acts[0].effective_until"), "{e}");
        let mut worded = act("a", "2025-10-31", None);
        worded
            .messages
            .insert(Lang::Ru, "item-9 = Пункт 9".to_owned());
        let e = err(vec![worded.clone()]);
        assert!(e.starts_with("acts[0].messages.ru: `item-9` is not"), "{e}");
        worded.messages.insert(Lang::Ru, "act-name = {".to_owned());
        let e = err(vec![worded]);
        assert!(
            e.starts_with("acts[0].messages.ru: Fluent syntax error"),
            "{e}"
        );
    }

    #[test]
    fn an_act_words_what_it_gives_and_the_shipped_act_the_rest() {
        let mut successor = act("successor", "2026-07-01", None);
        successor.messages.insert(
            Lang::En,
            "act-name = joint order No. 900 of 1 July 2026 (demo)".to_owned(),
        );
        let bundles = successor.bundles().unwrap();
        let c = Catalogue::shipped();
        let name = c.render(Lang::En, &Text::new("act-name"), Some(&bundles));
        assert_eq!(name, "joint order No. 900 of 1 July 2026 (demo)");
        let item = Text::new("item-4").arg("service", "S");
        assert!(c
            .render(Lang::En, &item, Some(&bundles))
            .starts_with("Item 4: "));
        // Russian not worded by the successor: the shipped act's.
        let ru = c.render(Lang::Ru, &Text::new("act-name"), Some(&bundles));
        assert!(ru.contains("№ 801"), "{ru}");
        assert!(Arc::ptr_eq(&bundles, &successor.bundles().unwrap()));
    }

    #[test]
    fn every_act_message_exists_in_every_language() {
        for lang in Lang::ALL {
            let ids = message_ids(shipped_act_source(lang)).unwrap();
            let expected: BTreeSet<String> = ACT_MESSAGES.iter().map(|s| s.to_string()).collect();
            assert_eq!(ids, expected, "{lang}");
            if lang != Lang::En {
                let marked = shipped_act_source(lang).matches("# needs-review").count();
                assert_eq!(marked, ACT_MESSAGES.len(), "{lang}: every message marked");
            }
        }
    }
}
