//! Every registry behind its guard: [`Guarded<T>`] is the look-up of one answer type through
//! its [`Guard`], whose adapter a reload may replace; [`GuardedRegistries`] builds one per
//! registry and keeps what operators and reloads need.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use futures::FutureExt;

use super::{Guard, GuardStatus, Policy};
use crate::iin::Iin;
use crate::registry::{
    Lookup, MakeLookup, Payload, PerRegistry, Query, Registries, RegistryResult,
};

/// A look-up through its guard. The adapter behind it can be replaced (new endpoints on
/// reload) while the guard's state (cache, breaker, calls in flight) stays.
pub struct Guarded<T> {
    adapter: ArcSwap<Arc<dyn Lookup<T>>>,
    guard: Arc<Guard<T>>,
}

#[async_trait]
impl<T: Payload> Lookup<T> for Guarded<T> {
    async fn fetch(&self, query: &Query) -> RegistryResult<T> {
        let adapter: Arc<dyn Lookup<T>> = Arc::clone(&self.adapter.load());
        self.guard
            .get(query, move |q| {
                let adapter = adapter.clone();
                async move { adapter.fetch(&q).await }.boxed()
            })
            .await
    }
}

/// A guarded registry whatever its answer type: what operators and reloads do with it.
pub trait GuardAdmin: Send + Sync {
    /// Drops the cached answer about `iin`; `true` if there was one.
    fn invalidate(&self, iin: &Iin) -> bool;
    fn status(&self) -> GuardStatus;
    /// Reload: the adapter of this registry from `adapters`, and `policy`.
    fn reconfigure(&self, adapters: &Registries, policy: Policy, retry_after: Duration);
}

impl<T: Payload> GuardAdmin for Guarded<T> {
    fn invalidate(&self, iin: &Iin) -> bool {
        self.guard.invalidate(iin)
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
}

impl GuardedRegistries {
    /// Guards `adapters` with `policies`.
    pub fn new(
        adapters: &Registries,
        policies: &PerRegistry<Policy>,
        retry_after: Duration,
    ) -> GuardedRegistries {
        struct Wrap<'a> {
            adapters: &'a Registries,
            policies: &'a PerRegistry<Policy>,
            retry_after: Duration,
            guards: PerRegistry<Option<Arc<dyn GuardAdmin>>>,
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
                });
                self.guards[registry] = Some(guarded.clone());
                guarded
            }
        }
        let mut wrap = Wrap {
            adapters,
            policies,
            retry_after,
            guards: PerRegistry::default(),
        };
        let registries = Registries::build(&mut wrap);
        GuardedRegistries {
            registries,
            guards: wrap
                .guards
                .map(|r, guard| guard.unwrap_or_else(|| panic!("{r} was guarded"))),
        }
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
    }
}
