//! Which registries a call has reached: every guard marks its registry when it makes or joins
//! a registry call for the current call (a cache hit marks nothing). The edge scopes one
//! [`Reached`] around each call's work and reads it when the caller goes away, so the record of
//! an abandoned call names the registries that were asked on its behalf.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::registry::Registry;

tokio::task_local! {
    static REACHED: Reached;
}

/// The registries one call made or joined a call to; cheap to clone, clones share the marks.
#[derive(Clone, Default, Debug)]
pub struct Reached(Arc<AtomicU32>);

impl Reached {
    /// Runs `work` with this tracker as the current call's.
    pub async fn scope<F: std::future::Future>(&self, work: F) -> F::Output {
        REACHED.scope(self.clone(), work).await
    }

    /// Marks `registry` as reached by the current call, if a call is being tracked.
    pub fn mark(registry: Registry) {
        let bit = 1 << index(registry);
        let _ = REACHED.try_with(|r| r.0.fetch_or(bit, Ordering::SeqCst));
    }

    /// The registries marked, in the registry list's order.
    pub fn registries(&self) -> Vec<Registry> {
        let bits = self.0.load(Ordering::SeqCst);
        Registry::ALL
            .into_iter()
            .filter(|r| bits & (1 << index(*r)) != 0)
            .collect()
    }
}

fn index(registry: Registry) -> usize {
    Registry::ALL
        .iter()
        .position(|r| *r == registry)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_only_within_a_scope() {
        Reached::mark(Registry::GbdFl);
        let reached = Reached::default();
        reached
            .scope(async {
                Reached::mark(Registry::Zags);
                Reached::mark(Registry::GbdFl);
                Reached::mark(Registry::Zags);
            })
            .await;
        assert_eq!(reached.registries(), [Registry::GbdFl, Registry::Zags]);
    }
}
