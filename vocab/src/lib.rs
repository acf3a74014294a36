//! What the registry gateway and the mock registries both say, in one place: which registries
//! there are ([`Registry`], the one list), a value per registry ([`PerRegistry`]), and the
//! fixed names of the SHEP sync-channel envelope ([`shep`]).
//!
//! Vocabulary only: reading and writing the envelope, and the IIN check, stay implemented twice
//! on purpose (the gateway's and the mocks' own), so that one cannot hide the other's mistake.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod per_registry;
pub mod shep;

use std::fmt;
use std::str::FromStr;

pub use per_registry::PerRegistry;

/// The registry list: each line gives a registry's variant, its key (configuration tables,
/// metric and health labels, fixture and fault names), its name in messages, and the serviceId
/// it has on the bus unless configured otherwise.
macro_rules! registries {
    ($($(#[$doc:meta])* $variant:ident = $key:literal, $name:literal, $service_id:literal;)+) => {
        /// A state registry behind the gateway.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Registry {
            $($(#[$doc])* $variant,)+
        }

        impl Registry {
            /// Every registry, in list order.
            pub const ALL: [Registry; Registry::COUNT] = [$(Registry::$variant),+];

            /// How many registries there are.
            pub const COUNT: usize = [$($key),+].len();

            /// The key: `gbd_fl`, `zags`, `social_security`, `nobd`, `epvo`.
            pub const fn key(self) -> &'static str {
                match self {
                    $(Registry::$variant => $key,)+
                }
            }

            /// The name in messages: "GBD FL", "IS ZAGS", "E-social security", …
            pub const fn name(self) -> &'static str {
                match self {
                    $(Registry::$variant => $name,)+
                }
            }

            /// The registry's serviceId on the bus, unless configuration says otherwise.
            pub const fn default_service_id(self) -> &'static str {
                match self {
                    $(Registry::$variant => $service_id,)+
                }
            }
        }
    };
}

registries! {
    /// GBD FL, the state database "Physical persons".
    GbdFl = "gbd_fl", "GBD FL", "GBDFL_PERSON";
    /// IS ZAGS, civil-status acts.
    Zags = "zags", "IS ZAGS", "ZAGS_CIVIL_ACTS";
    /// E-social security: disability, guardianship and trusteeship.
    SocialSecurity = "social_security", "E-social security", "ESOC_SOCIAL_STATUS";
    /// NOBD, the national educational database (schools, colleges).
    Nobd = "nobd", "NOBD", "NOBD_ENROLMENT";
    /// EPVO, the single platform of higher education.
    Epvo = "epvo", "EPVO", "EPVO_STUDY";
}

impl Registry {
    /// Position in [`Registry::ALL`].
    const fn index(self) -> usize {
        self as usize
    }
}

/// The name in messages ("GBD FL"); padding and alignment are honoured.
impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A string that is no registry's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRegistry(pub String);

impl fmt::Display for UnknownRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = Registry::ALL.iter().map(|r| r.key()).collect();
        write!(
            f,
            "unknown registry `{}` (expected one of {})",
            self.0,
            keys.join(", ")
        )
    }
}

impl std::error::Error for UnknownRegistry {}

/// From the key.
impl FromStr for Registry {
    type Err = UnknownRegistry;

    fn from_str(s: &str) -> Result<Registry, UnknownRegistry> {
        Registry::ALL
            .into_iter()
            .find(|r| r.key() == s)
            .ok_or_else(|| UnknownRegistry(s.to_owned()))
    }
}

/// As its key.
impl serde::Serialize for Registry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

/// From its key.
impl<'de> serde::Deserialize<'de> for Registry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Registry, D::Error> {
        struct Key;
        impl serde::de::Visitor<'_> for Key {
            type Value = Registry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a registry key")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Registry, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_order_is_the_index_and_keys_round_trip() {
        for (i, r) in Registry::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(r.key().parse::<Registry>(), Ok(r));
            let json = serde_json::to_string(&r).expect("serialise");
            assert_eq!(json, format!("\"{}\"", r.key()));
            assert_eq!(serde_json::from_str::<Registry>(&json).expect("parse"), r);
        }
        let e = "GBD_FL".parse::<Registry>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown registry `GBD_FL` (expected one of gbd_fl, zags"),
            "{e}"
        );
        assert!(Registry::ALL.iter().all(|r| e.contains(r.key())), "{e}");
        assert!(serde_json::from_str::<Registry>("\"x\"").is_err());
    }

    #[test]
    fn display_is_the_name_and_pads() {
        assert_eq!(Registry::Zags.to_string(), "IS ZAGS");
        assert_eq!(format!("{:<9}|", Registry::Nobd), "NOBD     |");
        assert_eq!(Registry::GbdFl.default_service_id(), "GBDFL_PERSON");
    }
}
