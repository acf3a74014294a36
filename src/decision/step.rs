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

use super::{Decision, Outcome, Service};

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

/// What the order says for an outcome at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The item of the appendix that applies: "4", "5", "7" or "8".
    pub item: &'static str,
    /// The order's text for that item, naming the service.
    pub text: String,
    /// The warning IIS TsON issues (item 8); empty for the other items.
    pub warning: String,
}

impl Service {
    /// The service's name as the order gives it.
    pub fn title(self) -> &'static str {
        match self {
            Service::RegistrationAtResidence => {
                "Registration at the place of residence of citizens of the Republic of Kazakhstan"
            }
            Service::TemporaryRegistration => {
                "Temporary registration at the place of temporary stay (accommodation) of \
                 citizens of the Republic of Kazakhstan"
            }
        }
    }
}

/// The item, the order's text and the warning for `outcome` at `step` of `service`, the hall's
/// items worded for `ground`.
pub fn instruction(outcome: Outcome, ground: Ground, step: Step, service: Service) -> Instruction {
    let service = service.title();
    let (item, text) = match (step, outcome) {
        (Step::Reception, Outcome::OperationalHall) if ground == Ground::DeclaredMissing => (
            "4",
            format!(
                "Item 4: the owner is declared missing by a court and cannot apply in person; as \
                 for a minor or incapacitated owner, the reception worker sends the applicant to \
                 the operational hall for the service \"{service}\""
            ),
        ),
        (Step::HallCheck, Outcome::OperationalHall) if ground == Ground::DeclaredMissing => (
            "7",
            format!(
                "Item 7: positive result of the check: the owner is declared missing by a court; \
                 the employee verifies the documents confirming the powers of the person acting \
                 for the owner (the trustee managing the owner's property by the court's \
                 decision) and, if they comply, draws up the request for the service \
                 \"{service}\" in IIS TsON"
            ),
        ),
        (Step::Reception, Outcome::OperationalHall) => (
            "4",
            format!(
                "Item 4: the owner is a minor or incapacitated person: the reception worker \
                 sends the applicant to the operational hall for the service \"{service}\""
            ),
        ),
        (Step::Reception, Outcome::Online) => (
            "5",
            format!(
                "Item 5: the owner is not a minor or incapacitated person: the reception worker \
                 informs the applicant that the service \"{service}\" is received online, \
                 including at the self-service sector of the department of the State corporation"
            ),
        ),
        (Step::HallCheck, Outcome::OperationalHall) => (
            "7",
            format!(
                "Item 7: positive result of the check: the employee verifies the documents \
                 confirming the powers of the owner's legal representative and, if they comply, \
                 draws up the request for the service \"{service}\" in IIS TsON"
            ),
        ),
        (Step::HallCheck, Outcome::Online) => (
            "8",
            format!(
                "Item 8: negative result of the check: the owner is not a minor or \
                 incapacitated person; the employee refuses the service \"{service}\" here and \
                 informs the applicant that it is received online"
            ),
        ),
        (_, Outcome::RefusedHere) => (
            "8",
            format!(
                "Item 8: an owner is deceased or unknown to GBD FL: the employee refuses the \
                 service \"{service}\" here"
            ),
        ),
    };
    let warning = if item == "8" {
        format!(
            "The service \"{service}\" cannot be rendered here. Receive it online through the \
             e-government portal (egov.kz), the eGov Mobile application or other objects of \
             informatization, per order No. 267 of the Minister of Internal Affairs of \
             30 March 2020"
        )
    } else {
        String::new()
    };
    Instruction {
        item,
        text,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_follow_the_step() {
        use Outcome::*;
        for service in [
            Service::RegistrationAtResidence,
            Service::TemporaryRegistration,
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
                assert!(i.text.contains(service.title()), "{}", i.text);
                assert_eq!(i.warning.is_empty(), item != "8", "{step:?} {outcome:?}");
                if item == "8" {
                    assert!(i.warning.contains(service.title()), "{}", i.warning);
                    assert!(i.warning.contains("eGov Mobile"), "{}", i.warning);
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
            Service::TemporaryRegistration,
        );
        assert!(i.text.contains("verifies the documents"), "{}", i.text);
        assert!(i.text.contains("Temporary registration"), "{}", i.text);
    }

    #[test]
    fn a_declared_missing_owner_is_worded_as_such_at_items_4_and_7() {
        let service = Service::RegistrationAtResidence;
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
        assert!(check.text.contains(service.title()), "{}", check.text);
        assert!(check.warning.is_empty());
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
