//! [`PerRegistry`]: one value for each registry, looked up by the registry itself.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Registry;

/// A `T` for every registry: endpoints, policies, guards, metrics. Indexed by [`Registry`],
/// built from a function of the registry, so no code depends on the list's order or length.
///
/// In configuration it is a table keyed by registry key (`[registries.gbd_fl]`): an unknown key
/// is refused, and a missing one is an error unless `T` can be absent (an `Option`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PerRegistry<T>([T; Registry::COUNT]);

impl<T> PerRegistry<T> {
    /// The value of `f(registry)` for each registry.
    pub fn from_fn(f: impl FnMut(Registry) -> T) -> PerRegistry<T> {
        PerRegistry(Registry::ALL.map(f))
    }

    /// As [`PerRegistry::from_fn`], stopping at the first error (in list order).
    pub fn try_from_fn<E>(
        mut f: impl FnMut(Registry) -> Result<T, E>,
    ) -> Result<PerRegistry<T>, E> {
        let mut values = Vec::with_capacity(Registry::COUNT);
        for registry in Registry::ALL {
            values.push(f(registry)?);
        }
        Ok(PerRegistry(
            values.try_into().ok().expect("one per registry"),
        ))
    }

    /// The value of `registry`.
    pub fn get(&self, registry: Registry) -> &T {
        &self.0[registry.index()]
    }

    /// Each registry with its value, in list order.
    pub fn iter(&self) -> impl Iterator<Item = (Registry, &T)> {
        Registry::ALL.into_iter().zip(&self.0)
    }

    /// The values, in list order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    /// The values, in list order, by value.
    pub fn into_values(self) -> impl Iterator<Item = T> {
        self.0.into_iter()
    }

    /// A new map from each registry and its value.
    pub fn map<U>(self, mut f: impl FnMut(Registry, T) -> U) -> PerRegistry<U> {
        let mut registries = Registry::ALL.into_iter();
        PerRegistry(
            self.0
                .map(|value| f(registries.next().expect("one per registry"), value)),
        )
    }

    /// References to the values.
    pub fn as_ref(&self) -> PerRegistry<&T> {
        PerRegistry::from_fn(|registry| self.get(registry))
    }
}

impl<T: Default> Default for PerRegistry<T> {
    fn default() -> PerRegistry<T> {
        PerRegistry::from_fn(|_| T::default())
    }
}

impl<T> Index<Registry> for PerRegistry<T> {
    type Output = T;
    fn index(&self, registry: Registry) -> &T {
        self.get(registry)
    }
}

impl<T> IndexMut<Registry> for PerRegistry<T> {
    fn index_mut(&mut self, registry: Registry) -> &mut T {
        &mut self.0[registry.index()]
    }
}

impl<T: fmt::Debug> fmt::Debug for PerRegistry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(r, v)| (r.key(), v)))
            .finish()
    }
}

impl<T: Serialize> Serialize for PerRegistry<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Registry::COUNT))?;
        for (registry, value) in self.iter() {
            map.serialize_entry(registry.key(), value)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerRegistry<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PerRegistry<T>, D::Error> {
        deserializer.deserialize_map(Table(PhantomData))
    }
}

struct Table<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Table<T> {
    type Value = PerRegistry<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table keyed by registry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PerRegistry<T>, A::Error> {
        let mut values: [Option<T>; Registry::COUNT] = Default::default();
        while let Some(registry) = map.next_key::<Registry>()? {
            let slot = &mut values[registry.index()];
            if slot.is_some() {
                return Err(de::Error::custom(format_args!(
                    "registry `{}` given twice",
                    registry.key()
                )));
            }
            *slot = Some(map.next_value()?);
        }
        let mut values = values.into_iter();
        PerRegistry::try_from_fn(|registry| match values.next().flatten() {
            Some(value) => Ok(value),
            // A missing registry is fine only where `T` may be absent (`Option`).
            None => T::deserialize(de::value::UnitDeserializer::<A::Error>::new())
                .map_err(|_: A::Error| de::Error::missing_field(registry.key())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looked_up_by_registry_whatever_the_order() {
        let keys = PerRegistry::from_fn(Registry::key);
        for registry in Registry::ALL {
            assert_eq!(keys[registry], registry.key());
        }
        let lengths = keys.clone().map(|_, key| key.len());
        assert_eq!(lengths[Registry::SocialSecurity], "social_security".len());
        let collected: Vec<_> = keys.iter().map(|(r, k)| (r, *k)).collect();
        assert_eq!(collected[0], (Registry::GbdFl, "gbd_fl"));
        let failed = PerRegistry::try_from_fn(|r| match r {
            Registry::Nobd => Err(r),
            _ => Ok(()),
        });
        assert_eq!(failed, Err(Registry::Nobd));
    }

    #[test]
    fn a_table_needs_every_registry_unless_values_may_be_absent() {
        let full = r#"{"gbd_fl":1,"zags":2,"social_security":3,"nobd":4,"epvo":5}"#;
        let table: PerRegistry<u32> = serde_json::from_str(full).unwrap();
        assert_eq!(table[Registry::Epvo], 5);
        assert_eq!(serde_json::to_string(&table).unwrap(), full);
        let e = serde_json::from_str::<PerRegistry<u32>>(r#"{"gbd_fl":1}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `zags`"), "{e}");
        let e = serde_json::from_str::<PerRegistry<u32>>(r#"{"gbd":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown registry `gbd`"), "{e}");
        let some: PerRegistry<Option<u32>> = serde_json::from_str(r#"{"nobd":4}"#).unwrap();
        assert_eq!(
            (some[Registry::Nobd], some[Registry::GbdFl]),
            (Some(4), None)
        );
    }
}
