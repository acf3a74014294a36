//! The step of the order's algorithm at which IIS TsON asks, and what the order says there.
//!
//! The same outcome reads differently at the two moments of the appendix to joint order
//! 801/500: at **reception** (items 3-5) the worker sends the applicant to the operational hall
//! (item 4) or online (item 5); at the **hall's check** (items 6-8) a positive result means the
//! employee verifies the representative's documents (item 7) and a negative one means IIS TsON
//! warns that the service cannot be rendered here and the applicant is sent online (item 8).
//! [`instruction`] gives the cited item, the order's text for it (naming the service) and the
//! warning, for both services of the order. The texts are the order's (English rendering of
//! the appendix), not the gateway's; for an owner declared missing by a court, whom the order
//! does not name but whose representative the hall verifies all the same ([`Ground`]), items 4
//! and 7 say so instead of calling the owner a minor or incapacitated person.

use super::{Decision, Outcome, StateService};
use crate::i18n::Text;

/// The moment of the order's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Step {
    /// Items 3-5: the reception worker determines the owner and routes the applicant.
    #[default]
    Reception,
    /// Items 6-8: the employee of the operational hall enters the owner's IIN in IIS TsON.
    HallCheck,
}

/// Why an owner goes to the operational hall, for the wording of items 4 and 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ground {
    /// The order's own categories (item 4): a minor or an incapacitated person (court status,
    /// guardianship or trusteeship); also the wording of every other outcome.
    #[default]
    MinorOrIncapacitated,
    /// Declared missing by a court, and none of the order's own categories: the owner cannot
    /// apply in person, someone acts for the owner, and the hall verifies that person's powers.
    DeclaredMissing,
}

impl Ground {
    /// The ground of one owner's decision.
    pub fn of(d: &Decision) -> Ground {
        let o = &d.owner;
        let order_category = o.minor
            || o.under_guardianship
            || o.capacity
                .is_some_and(|c| c != crate::registry::CapacityStatus::Capable);
        if o.declared_missing && !order_category {
            Ground::DeclaredMissing
        } else {
            Ground::MinorOrIncapacitated
        }
    }
}

/// What the order says for an outcome at a step, worded by the act the answer cites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The item of the appendix that applies: "4", "5", "7" or "8".
    pub item: &'static str,
    /// The order's text for that item, naming the service.
    pub text: Text,
    /// The warning IIS TsON issues (item 8); none for the other items.
    pub warning: Option<Text>,
}

impl StateService {
    /// The service's name as the order gives it (a message of the act).
    pub fn title(self) -> Text {
        Text::new(match self {
            StateService::RegistrationAtResidence => "service-residence",
            StateService::TemporaryRegistration => "service-temporary",
        })
    }
}

/// The item, the order's text and the warning for `outcome` at `step` of `service`, the hall's
/// items worded for `ground`.
pub fn instruction(
    outcome: Outcome,
    ground: Ground,
    step: Step,
    service: StateService,
) -> Instruction {
    let missing = ground == Ground::DeclaredMissing;
    let (item, id) = match (step, outcome) {
        (Step::Reception, Outcome::OperationalHall) if missing => ("4", "item-4-missing"),
        (Step::HallCheck, Outcome::OperationalHall) if missing => ("7", "item-7-missing"),
        (Step::Reception, Outcome::OperationalHall) => ("4", "item-4"),
        (Step::Reception, Outcome::Online) => ("5", "item-5"),
        (Step::HallCheck, Outcome::OperationalHall) => ("7", "item-7"),
        (Step::HallCheck, Outcome::Online) => ("8", "item-8-online"),
        (_, Outcome::RefusedHere) => ("8", "item-8-refused"),
    };
    let named = |id| Text::new(id).text("service", service.title());
    Instruction {
        item,
        text: named(id),
        warning: (item == "8").then(|| named("warning")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_follow_the_step() {
        use Outcome::*;
        for service in [
            StateService::RegistrationAtResidence,
            StateService::TemporaryRegistration,
        ] {
            for (step, outcome, item) in [
                (Step::Reception, OperationalHall, "4"),
                (Step::Reception, Online, "5"),
                (Step::Reception, RefusedHere, "8"),
                (Step::HallCheck, OperationalHall, "7"),
                (Step::HallCheck, Online, "8"),
                (Step::HallCheck, RefusedHere, "8"),
            ] {
                let i = instruction(outcome, Ground::default(), step, service);
                assert_eq!(i.item, item, "{step:?} {outcome:?}");
                assert!(i.text.starts_with(&format!("Item {item}: ")), "{}", i.text);
                let title = service.title().english();
                assert!(i.text.contains(&title), "{}", i.text);
                assert_eq!(i.warning.is_none(), item != "8", "{step:?} {outcome:?}");
                if let Some(warning) = i.warning {
                    assert!(warning.contains(&title), "{warning}");
                    assert!(warning.contains("eGov Mobile"), "{warning}");
                }
            }
        }
    }

    #[test]
    fn the_hall_check_speaks_of_the_representative_s_documents() {
        let i = instruction(
            Outcome::OperationalHall,
            Ground::default(),
            Step::HallCheck,
            StateService::TemporaryRegistration,
        );
        assert!(i.text.contains("verifies the documents"), "{}", i.text);
        assert!(i.text.contains("Temporary registration"), "{}", i.text);
    }

    #[test]
    fn a_declared_missing_owner_is_worded_as_such_at_items_4_and_7() {
        let service = StateService::RegistrationAtResidence;
        let hall = |step| {
            instruction(
                Outcome::OperationalHall,
                Ground::DeclaredMissing,
                step,
                service,
            )
        };
        let reception = hall(Step::Reception);
        assert_eq!(reception.item, "4");
        assert!(reception
            .text
            .starts_with("Item 4: the owner is declared missing by a court"));
        assert!(
            !reception.text.contains("is a minor or incapacitated"),
            "{}",
            reception.text
        );
        assert!(reception
            .text
            .contains("sends the applicant to the operational hall"));
        let check = hall(Step::HallCheck);
        assert_eq!(check.item, "7");
        assert!(
            check
                .text
                .contains("powers of the person acting for the owner"),
            "{}",
            check.text
        );
        assert!(
            check.text.contains(&service.title().english()),
            "{}",
            check.text
        );
        assert!(check.warning.is_none());
        // Other outcomes read the same whatever the ground.
        for step in [Step::Reception, Step::HallCheck] {
            for outcome in [Outcome::Online, Outcome::RefusedHere] {
                assert_eq!(
                    instruction(outcome, Ground::DeclaredMissing, step, service),
                    instruction(outcome, Ground::MinorOrIncapacitated, step, service)
                );
            }
        }
    }
}
