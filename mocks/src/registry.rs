//! The five registries a mock can impersonate.

use std::fmt;
use std::str::FromStr;

/// One of the five state registries behind the gateway.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Registry {
    /// GBD FL, the state database "Physical persons".
    GbdFl,
    /// IS ZAGS, civil-status acts.
    Zags,
    /// E-social security: disability, guardianship and trusteeship.
    SocialSecurity,
    /// NOBD, the national educational database (schools, colleges).
    Nobd,
    /// EPVO, the single platform of higher education.
    Epvo,
}

impl Registry {
    /// All five, in a fixed order (the order the binary assigns ports in).
    pub const ALL: [Registry; 5] = [
        Registry::GbdFl,
        Registry::Zags,
        Registry::SocialSecurity,
        Registry::Nobd,
        Registry::Epvo,
    ];

    /// The snake_case name: `gbd_fl`, `zags`, `social_security`, `nobd`, `epvo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Registry::GbdFl => "gbd_fl",
            Registry::Zags => "zags",
            Registry::SocialSecurity => "social_security",
            Registry::Nobd => "nobd",
            Registry::Epvo => "epvo",
        }
    }

    /// Position in [`Registry::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            Registry::GbdFl => 0,
            Registry::Zags => 1,
            Registry::SocialSecurity => 2,
            Registry::Nobd => 3,
            Registry::Epvo => 4,
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown registry `{0}` (expected one of gbd_fl, zags, social_security, nobd, epvo)")]
pub struct UnknownRegistry(pub String);

impl FromStr for Registry {
    type Err = UnknownRegistry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Registry::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRegistry(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (i, r) in Registry::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(r.as_str().parse::<Registry>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
            let json = serde_json::to_string(&r).expect("serialise");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert!("GBD_FL".parse::<Registry>().is_err());
        assert_eq!(format!("{:<6}|", Registry::Zags), "zags  |");
    }
}
