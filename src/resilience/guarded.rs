//! Every registry behind its guard: [`Guarded<T>`] is the look-up of one answer type through
//! its [`Guard`], whose adapter a reload may replace; [`GuardedRegistries`] builds one per
//! registry and keeps what operators and reloads need.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use futures::FutureExt;

use super::owner_facts::{OwnerFactsCache, OwnerFactsConfig};
use super::{Guard, GuardStatus, Policy};
use crate::iin::Iin;
use crate::registry::{
    Lookup, MakeLookup, Payload, PerRegistry, Query, Registries, RegistryResult, Then,
};

/// A look-up through its guard. The adapter behind it can be replaced (new endpoints on
/// reload) while the guard's state (cache, breaker, calls in flight) stays.
pub struct Guarded<T> {
    adapter: ArcSwap<Arc<dyn Lookup<T>>>,
    guard: Arc<Guard<T>>,
    /// Invalidating a person forgets the facts too.
    facts: Arc<OwnerFactsCache>,
}

#[async_trait]
impl<T: Payload> Lookup<T> for Guarded<T> {
    async fn fetch(&self, query: &Query) -> RegistryResult<T> {
        self.fetch_then(query, None).await
    }

    async fn fetch_then(&self, query: &Query, then: Option<Then<T>>) -> RegistryResult<T> {
        let adapter: Arc<dyn Lookup<T>> = Arc::clone(&self.adapter.load());
        let fetch = move |q: Query| {
            let adapter = adapter.clone();
            async move { adapter.fetch(&q).await }.boxed()
        };
        self.guard.get_then(query, fetch, then).await
    }
}

/// A guarded registry whatever its answer type: what operators and reloads do with it.
pub trait GuardAdmin: Send + Sync {
    /// Drops the cached answer and owner facts about `iin`; `true` if there was either.
    fn invalidate(&self, iin: &Iin) -> bool;
    fn status(&self) -> GuardStatus;
    /// Reload: the adapter of this registry from `adapters`, and `policy`.
    fn reconfigure(&self, adapters: &Registries, policy: Policy, retry_after: Duration);
}

impl<T: Payload> GuardAdmin for Guarded<T> {
    fn invalidate(&self, iin: &Iin) -> bool {
        let answer = self.guard.invalidate(iin);
        self.facts.invalidate(T::REGISTRY, iin) || answer
    }

    fn status(&self) -> GuardStatus {
        self.guard.status()
    }

    fn reconfigure(&self, adapters: &Registries, policy: Policy, retry_after: Duration) {
        self.adapter.store(Arc::new(adapters.shared::<T>()));
        self.guard.set_policy(policy, retry_after);
    }
}

/// Every registry behind its guard.
#[derive(Clone)]
pub struct GuardedRegistries {
    registries: Registries,
    guards: PerRegistry<Arc<dyn GuardAdmin>>,
    facts: Arc<OwnerFactsCache>,
}

impl GuardedRegistries {
    /// Guards `adapters` with `policies`, with an owner-facts cache of `facts`' size.
    pub fn new(
        adapters: &Registries,
        policies: &PerRegistry<Policy>,
        facts: &OwnerFactsConfig,
        retry_after: Duration,
    ) -> GuardedRegistries {
        struct Wrap<'a> {
            adapters: &'a Registries,
            policies: &'a PerRegistry<Policy>,
            retry_after: Duration,
            guards: PerRegistry<Option<Arc<dyn GuardAdmin>>>,
            facts: Arc<OwnerFactsCache>,
        }
        impl MakeLookup for Wrap<'_> {
            fn make<T: Payload>(&mut self) -> Arc<dyn Lookup<T>> {
                let registry = T::REGISTRY;
                let guard = Guard::new(
                    registry,
                    self.policies[registry].clone(),
                    self.retry_after,
                    T::is_negative,
                );
                let guarded = Arc::new(Guarded {
                    adapter: ArcSwap::from_pointee(self.adapters.shared::<T>()),
                    guard,
                    facts: self.facts.clone(),
                });
                self.guards[registry] = Some(guarded.clone());
                guarded
            }
        }
        let facts = OwnerFactsCache::new(facts, policies);
        if tokio::runtime::Handle::try_current().is_ok() {
            facts.sweep_in_background();
        }
        let mut wrap = Wrap {
            adapters,
            policies,
            retry_after,
            guards: PerRegistry::default(),
            facts: facts.clone(),
        };
        let registries = Registries::build(&mut wrap);
        GuardedRegistries {
            registries,
            guards: wrap
                .guards
                .map(|r, guard| guard.unwrap_or_else(|| panic!("{r} was guarded"))),
            facts,
        }
    }

    /// What the registries said about owners, for CheckOwner and CheckDwelling.
    pub fn owner_facts(&self) -> Arc<OwnerFactsCache> {
        self.facts.clone()
    }

    /// The registries as the rest of the gateway uses them: every call guarded.
    pub fn registries(&self) -> Registries {
        self.registries.clone()
    }

    /// The guards, for operators (status, invalidation) and health.
    pub fn admin(&self) -> PerRegistry<Arc<dyn GuardAdmin>> {
        self.guards.clone()
    }

    /// Reload: new adapters (endpoints, code tables) and policies; caches, breakers and
    /// calls in flight carry on.
    pub fn reconfigure(
        &self,
        adapters: &Registries,
        policies: &PerRegistry<Policy>,
        retry_after: Duration,
    ) {
        for (registry, guard) in self.guards.iter() {
            guard.reconfigure(adapters, policies[registry].clone(), retry_after);
        }
        self.facts.set_policies(policies);
    }
}
