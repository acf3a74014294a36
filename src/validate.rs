//! The one shape of a configuration check. Each part of the configuration (a module's own
//! settings type) implements [`Validate`]: it names the first rule it breaks, with the key
//! relative to its own table (`limits.max_depth` for `[shep]`); the loader ([`crate::config`])
//! puts the table's name in front (`shep.limits.max_depth`). A leaf module: it imports nothing
//! from the crate, so any module can implement it without depending on the loader.

use registry_vocab::PerRegistry;

/// A setting that breaks a rule: where (a dotted key) and which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {rule}")]
pub struct Invalid {
    pub key: String,
    pub rule: String,
}

impl Invalid {
    pub fn new(key: impl Into<String>, rule: impl Into<String>) -> Invalid {
        Invalid {
            key: key.into(),
            rule: rule.into(),
        }
    }

    /// The same rule, its key inside `table`.
    pub fn under(self, table: &str) -> Invalid {
        let key = match self.key.as_str() {
            "" => table.to_owned(),
            key => format!("{table}.{key}"),
        };
        Invalid { key, ..self }
    }
}

/// Settings that check themselves.
pub trait Validate {
    /// The first rule broken, its key relative to these settings' table.
    fn validate(&self) -> Result<(), Invalid>;
}

/// Absent settings break no rule.
impl<T: Validate> Validate for Option<T> {
    fn validate(&self) -> Result<(), Invalid> {
        self.as_ref().map_or(Ok(()), Validate::validate)
    }
}

/// Each registry's settings, under the registry's key.
impl<T: Validate> Validate for PerRegistry<T> {
    fn validate(&self) -> Result<(), Invalid> {
        self.iter()
            .try_for_each(|(registry, value)| value.validate().map_err(|e| e.under(registry.key())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct AtLeastOne(u32);

    impl Validate for AtLeastOne {
        fn validate(&self) -> Result<(), Invalid> {
            match self.0 {
                0 => Err(Invalid::new("count", "must be at least 1")),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn keys_are_prefixed_by_their_tables() {
        let per = PerRegistry::from_fn(|r| AtLeastOne(u32::from(r.key() != "nobd")));
        let e = per.validate().unwrap_err().under("registries");
        assert_eq!(e.to_string(), "registries.nobd.count: must be at least 1");
        assert_eq!(Invalid::new("", "rule").under("log").key, "log");
        assert_eq!(None::<AtLeastOne>.validate(), Ok(()));
    }
}
