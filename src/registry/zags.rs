//! IS ZAGS, civil-status acts (payload modelled; the real one is not public): birth acts in
//! which the person is the child (the parents are a minor's legal representatives), marriage
//! acts, the death act, name changes.

use chrono::NaiveDate;
use roxmltree::Node;

use super::heap::HeapSize;
use super::shep::NodeExt;
use super::{CodeTables, Payload, Registry};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CivilActs {
    pub birth_acts: Vec<BirthAct>,
    pub marriage_acts: Vec<MarriageAct>,
    pub death_act: Option<DeathAct>,
    pub name_change_acts: Vec<NameChangeAct>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    pub iin: Box<str>,
    pub full_name: Box<str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthAct {
    pub act_number: Box<str>,
    pub act_date: Option<NaiveDate>,
    pub child: PersonRef,
    pub mother: Option<PersonRef>,
    pub father: Option<PersonRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarriageAct {
    pub act_number: Box<str>,
    pub act_date: Option<NaiveDate>,
    pub spouse: Option<PersonRef>,
    pub dissolved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeathAct {
    pub act_number: Box<str>,
    pub act_date: Option<NaiveDate>,
    pub death_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameChangeAct {
    pub act_number: Box<str>,
    pub act_date: Option<NaiveDate>,
    pub previous_full_name: Box<str>,
    pub new_full_name: Box<str>,
}

/// The acts of a person; a person with no acts gets empty lists.
impl Payload for CivilActs {
    const REGISTRY: Registry = Registry::Zags;
    const SUBJECT: &'static [&'static str] = &["civilActs", "iin"];

    fn parse(data: Node, _: &CodeTables) -> Result<CivilActs, String> {
        parse_acts(data)
    }
}

fn person_ref(n: Node, name: &str) -> Result<Option<PersonRef>, String> {
    n.child_el(name)
        .map(|p| {
            Ok(PersonRef {
                iin: p.req("iin")?.into(),
                full_name: p.owned("fullName").into(),
            })
        })
        .transpose()
}

fn parse_acts(data: Node) -> Result<CivilActs, String> {
    let Some(acts) = data.child_el("civilActs") else {
        return Err("data/civilActs missing".into());
    };
    Ok(CivilActs {
        birth_acts: acts
            .children_named("birthAct")
            .map(|a| {
                Ok(BirthAct {
                    act_number: a.req("actNumber")?.into(),
                    act_date: a.date_of("actDate")?,
                    child: person_ref(a, "child")?.ok_or("birthAct/child missing")?,
                    mother: person_ref(a, "mother")?,
                    father: person_ref(a, "father")?,
                })
            })
            .collect::<Result<_, String>>()?,
        marriage_acts: acts
            .children_named("marriageAct")
            .map(|a| {
                Ok(MarriageAct {
                    act_number: a.req("actNumber")?.into(),
                    act_date: a.date_of("actDate")?,
                    spouse: person_ref(a, "spouse")?,
                    dissolved: a.bool_of("dissolved")?,
                })
            })
            .collect::<Result<_, String>>()?,
        death_act: acts
            .child_el("deathAct")
            .map(|a| {
                Ok::<_, String>(DeathAct {
                    act_number: a.req("actNumber")?.into(),
                    act_date: a.date_of("actDate")?,
                    death_date: a.date_of("deathDate")?,
                })
            })
            .transpose()?,
        name_change_acts: acts
            .children_named("nameChangeAct")
            .map(|a| {
                Ok(NameChangeAct {
                    act_number: a.req("actNumber")?.into(),
                    act_date: a.date_of("actDate")?,
                    previous_full_name: a.owned("previousFullName").into(),
                    new_full_name: a.owned("newFullName").into(),
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

impl HeapSize for CivilActs {
    fn heap_size(&self) -> usize {
        self.birth_acts.heap_size()
            + self.marriage_acts.heap_size()
            + self.death_act.heap_size()
            + self.name_change_acts.heap_size()
    }
}

impl HeapSize for PersonRef {
    fn heap_size(&self) -> usize {
        self.iin.heap_size() + self.full_name.heap_size()
    }
}

impl HeapSize for BirthAct {
    fn heap_size(&self) -> usize {
        self.act_number.heap_size()
            + self.child.heap_size()
            + self.mother.heap_size()
            + self.father.heap_size()
    }
}

impl HeapSize for MarriageAct {
    fn heap_size(&self) -> usize {
        self.act_number.heap_size() + self.spouse.heap_size()
    }
}

impl HeapSize for DeathAct {
    fn heap_size(&self) -> usize {
        self.act_number.heap_size()
    }
}

impl HeapSize for NameChangeAct {
    fn heap_size(&self) -> usize {
        self.act_number.heap_size()
            + self.previous_full_name.heap_size()
            + self.new_full_name.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_birth_marriage_and_death_acts() {
        let xml = "<data><civilActs>\
            <birthAct><actNumber>B-1</actNumber><actDate>2016-05-02</actDate>\
              <child><iin>061211600012</iin><fullName>Child</fullName></child>\
              <mother><iin>980109050588</iin><fullName>Mother</fullName></mother></birthAct>\
            <marriageAct><actNumber>M-1</actNumber><dissolved>true</dissolved></marriageAct>\
            <deathAct><actNumber>D-1</actNumber><deathDate>2025-03-01</deathDate></deathAct>\
            </civilActs></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let acts = parse_acts(doc.root_element()).unwrap();
        assert_eq!(
            &*acts.birth_acts[0].mother.as_ref().unwrap().iin,
            "980109050588"
        );
        assert!(acts.birth_acts[0].father.is_none());
        assert!(acts.marriage_acts[0].dissolved);
        assert_eq!(&*acts.death_act.unwrap().act_number, "D-1");
    }

    #[test]
    fn a_birth_act_without_child_is_malformed() {
        let xml =
            "<data><civilActs><birthAct><actNumber>B-1</actNumber></birthAct></civilActs></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        assert!(parse_acts(doc.root_element())
            .unwrap_err()
            .contains("child"));
    }
}
