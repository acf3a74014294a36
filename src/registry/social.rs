//! E-social security (payload modelled; the real one is not public): disability, and
//! guardianship (опека) or trusteeship (попечительство) records where the person is the ward or
//! the guardian.

use chrono::NaiveDate;
use roxmltree::Node;

use super::heap::{inline_only, HeapSize};
use super::shep::NodeExt;
use super::{in_force, CodeTables, Payload, Registry};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialStatus {
    pub disabilities: Vec<Disability>,
    pub guardianships: Vec<Guardianship>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disability {
    pub group: u32,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardianshipKind {
    /// Опека: wards under 14 or declared incapable.
    Guardianship,
    /// Попечительство: wards aged 14 to 18 or of limited capacity.
    Trusteeship,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardianship {
    pub kind: GuardianshipKind,
    pub record_id: Box<str>,
    pub ward_iin: Box<str>,
    pub guardian_iin: Box<str>,
    pub basis: Box<str>,
    pub since: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Guardianship {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        in_force(self.since, self.until, date)
    }
}

impl Disability {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        in_force(self.since, self.until, date)
    }
}

impl Payload for SocialStatus {
    const REGISTRY: Registry = Registry::SocialSecurity;
    const SUBJECT: &'static [&'static str] = &["socialStatus", "iin"];

    fn parse(data: Node, _: &CodeTables) -> Result<SocialStatus, String> {
        parse_status(data)
    }
}

fn parse_status(data: Node) -> Result<SocialStatus, String> {
    let status = data
        .child_el("socialStatus")
        .ok_or("data/socialStatus missing")?;
    Ok(SocialStatus {
        disabilities: status
            .children_named("disability")
            .map(|d| {
                Ok(Disability {
                    group: d
                        .req("group")?
                        .parse()
                        .map_err(|_| "disability/group is not a number")?,
                    since: d.req_date("since")?,
                    until: d.date_of("until")?,
                })
            })
            .collect::<Result<_, String>>()?,
        guardianships: status
            .children_named("guardianship")
            .map(|g| {
                Ok(Guardianship {
                    kind: match g.req("kind")? {
                        "GUARDIANSHIP" => GuardianshipKind::Guardianship,
                        "TRUSTEESHIP" => GuardianshipKind::Trusteeship,
                        _ => {
                            return Err(
                                "guardianship/kind is not GUARDIANSHIP or TRUSTEESHIP".into()
                            )
                        }
                    },
                    record_id: g.owned("recordId").into(),
                    ward_iin: g.req("wardIin")?.into(),
                    guardian_iin: g.req("guardianIin")?.into(),
                    basis: g.owned("basis").into(),
                    since: g.req_date("since")?,
                    until: g.date_of("until")?,
                })
            })
            .collect::<Result<_, String>>()?,
    })
}

impl HeapSize for SocialStatus {
    fn heap_size(&self) -> usize {
        self.disabilities.heap_size() + self.guardianships.heap_size()
    }
}

impl HeapSize for Guardianship {
    fn heap_size(&self) -> usize {
        self.record_id.heap_size()
            + self.ward_iin.heap_size()
            + self.guardian_iin.heap_size()
            + self.basis.heap_size()
    }
}

inline_only!(Disability, GuardianshipKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_guardianship_and_its_period() {
        let xml = "<data><socialStatus><disability><group>1</group><since>2020-01-01</since></disability>\
            <guardianship><kind>TRUSTEESHIP</kind><recordId>G-7</recordId><wardIin>061211600012</wardIin>\
            <guardianIin>980109050588</guardianIin><since>2024-01-01</since><until>2024-12-31</until>\
            </guardianship></socialStatus></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let s = parse_status(doc.root_element()).unwrap();
        assert_eq!(s.disabilities[0].group, 1);
        let g = &s.guardianships[0];
        assert_eq!(g.kind, GuardianshipKind::Trusteeship);
        let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
        assert!(g.in_force(d(1, 1)) && g.in_force(d(12, 31)));
        assert!(!g.in_force(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()));
        assert!(!g.in_force(NaiveDate::from_ymd_opt(2023, 12, 31).unwrap()));
    }

    #[test]
    fn unknown_kind_is_refused() {
        let xml = "<data><socialStatus><guardianship><kind>OTHER</kind></guardianship></socialStatus></data>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        assert!(parse_status(doc.root_element())
            .unwrap_err()
            .contains("kind"));
    }
}
