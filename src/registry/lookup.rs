//! One shape for every registry: an answer type ([`Payload`]) knows its registry and how it is
//! asked for and read; a [`Lookup<T>`] fetches a `T` for a [`Query`]; [`ShepLookup<T>`] is the
//! one SHEP adapter, generic over the payload; [`Registries`] holds one look-up per registry,
//! found by answer type.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use roxmltree::Node;

use super::heap::HeapSize;
use super::shep::{iin_payload, ShepClient};
use super::{CodeTables, Fetched, PerRegistry, Query, Registry, RegistryResult};

/// A registry's answer: which registry gives it, how it is asked for, how it is read.
///
/// Its `Default` is the answer "no record" (the registry's not-found status, or an empty
/// record): such an answer is cached for the shorter `cache_negative_ttl`.
pub trait Payload: Clone + Default + PartialEq + HeapSize + Send + Sync + 'static {
    /// The registry that answers it.
    const REGISTRY: Registry;

    /// Where under the answer's `data` the registry names whom it answered about: the IIN
    /// asked for must be there, or the answer is about someone else and refused.
    const SUBJECT: &'static [&'static str];

    /// The request's `requestData/data`; by default `<iin>…</iin>`.
    fn request(query: &Query) -> String {
        iin_payload(&query.iin)
    }

    /// Reads the answer's `responseData/data`. Errors name the element, never its value.
    fn parse(data: Node, codes: &CodeTables) -> Result<Self, String>;

    /// Whether this is the answer "no record".
    fn is_negative(&self) -> bool {
        *self == Self::default()
    }
}

/// Fetches a `T` for a query: a registry's adapter, or the same behind its guard.
#[async_trait]
pub trait Lookup<T>: Send + Sync {
    async fn fetch(&self, query: &Query) -> RegistryResult<T>;

    /// `fetch`, and `then` with a successful answer. Behind a guard, `then` runs inside the
    /// call every caller for the person shares, before it ends: what it keeps is there before
    /// any later caller can start another call.
    async fn fetch_then(&self, query: &Query, then: Option<Then<T>>) -> RegistryResult<T>
    where
        T: Send + Sync + 'static,
    {
        let result = self.fetch(query).await;
        if let (Ok(answer), Some(then)) = (&result, then) {
            then(answer);
        }
        result
    }
}

/// What a caller does with an answer as soon as it arrives (see [`Lookup::fetch_then`]).
pub type Then<T> = Arc<dyn Fn(&Fetched<T>) + Send + Sync>;

/// The SHEP adapter of any registry: sends `T::request`, reads the answer with `T::parse`.
pub struct ShepLookup<T> {
    client: ShepClient,
    codes: Arc<CodeTables>,
    payload: PhantomData<fn() -> T>,
}

impl<T> ShepLookup<T> {
    pub fn new(client: ShepClient, codes: Arc<CodeTables>) -> ShepLookup<T> {
        ShepLookup {
            client,
            codes,
            payload: PhantomData,
        }
    }
}

#[async_trait]
impl<T: Payload> Lookup<T> for ShepLookup<T> {
    async fn fetch(&self, query: &Query) -> RegistryResult<T> {
        let codes = self.codes.clone();
        let fetched = self
            .client
            .call(&T::request(query), query, T::SUBJECT, move |data| {
                T::parse(data, &codes)
            })
            .await?;
        Ok(fetched.map(Option::unwrap_or_default))
    }
}

/// Something done for every registry with its answer type (see
/// [`for_each_payload`](super::for_each_payload)).
pub trait PayloadVisitor {
    fn visit<T: Payload>(&mut self);
}

/// One look-up per registry, found by its answer type.
#[derive(Clone)]
pub struct Registries(PerRegistry<Arc<dyn Any + Send + Sync>>);

impl Registries {
    /// The look-up of `T`'s registry.
    pub fn get<T: Payload>(&self) -> &dyn Lookup<T> {
        self.shared_ref::<T>().as_ref()
    }

    /// The look-up of `T`'s registry, to keep.
    pub fn shared<T: Payload>(&self) -> Arc<dyn Lookup<T>> {
        self.shared_ref::<T>().clone()
    }

    /// The same registries, with `lookup` for `T`'s registry.
    pub fn with<T: Payload>(mut self, lookup: Arc<dyn Lookup<T>>) -> Registries {
        self.0[T::REGISTRY] = Arc::new(lookup);
        self
    }

    fn shared_ref<T: Payload>(&self) -> &Arc<dyn Lookup<T>> {
        self.0[T::REGISTRY]
            .downcast_ref::<Arc<dyn Lookup<T>>>()
            .expect("built from a look-up of each payload type")
    }

    /// Registries from `make::<T>()` for every answer type.
    pub fn build(make: &mut impl MakeLookup) -> Registries {
        struct Build<'a, M> {
            make: &'a mut M,
            made: PerRegistry<Option<Arc<dyn Any + Send + Sync>>>,
        }
        impl<M: MakeLookup> PayloadVisitor for Build<'_, M> {
            fn visit<T: Payload>(&mut self) {
                let lookup: Arc<dyn Lookup<T>> = self.make.make::<T>();
                self.made[T::REGISTRY] = Some(Arc::new(lookup));
            }
        }
        let mut build = Build {
            make,
            made: PerRegistry::default(),
        };
        super::for_each_payload(&mut build);
        Registries(
            build
                .made
                .map(|r, made| made.unwrap_or_else(|| panic!("no payload type for {r}"))),
        )
    }
}

/// Makes the look-up of any answer type (see [`Registries::build`]).
pub trait MakeLookup {
    fn make<T: Payload>(&mut self) -> Arc<dyn Lookup<T>>;
}
