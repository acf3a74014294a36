//! What stands between the gateway and a slow, rate-limited or failing registry, per registry:
//!
//! 1. the answer cache ([`cache`]): fresh answers skip the registry; concurrent misses for one
//!    person share one call (single flight); a failed call may be answered from a stale entry;
//! 2. a circuit breaker ([`breaker`]) that fails fast while the registry is down;
//! 3. a bulkhead: at most `max_concurrent` calls in flight to the registry; a call waits at
//!    most `queue_timeout` for a slot, and a call that gets none is the gateway's overload
//!    (`RESOURCE_EXHAUSTED`), never the registry's failure;
//! 4. retries of transient failures with exponential backoff and jitter, bounded attempts, a
//!    retry budget ([`budget`]: a share of recent calls plus a reserve), and never a retry that
//!    cannot finish before the caller's deadline;
//! 5. a per-attempt timeout, tightened to the caller's remaining deadline.
//!
//! A registry call runs in a task of its own that every caller asking for the same person
//! joins (single flight). Callers that go away stop waiting; the call stops when the last
//! waiter's deadline has passed (or after its attempts' timeouts when a waiter had none), so
//! nothing it holds — bulkhead slot, breaker probe, connection — outlives it. The breaker
//! counts calls as callers see them, after retries.
//!
//! Each guard marks its registry in the current call's [`reached::Reached`] when it makes or
//! joins a registry call, so that the edge can audit a call whose caller went away.
//!
//! [`Guard`] wraps each registry's look-up with this, configured by [`Policy`]:
//! `[resilience.defaults]` merged with `[resilience.<registry>]` overrides ([`config`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::{timeout_at, Instant};

use crate::iin::Iin;
use crate::metrics;
use crate::registry::heap::HeapSize;
use crate::registry::{Failure, Fetched, Query, Registry, RegistryError, Then};

pub mod breaker;
pub mod budget;
pub mod cache;
pub mod config;
mod guarded;
pub mod owner_facts;
pub mod reached;
pub mod retry;

use breaker::Breaker;
pub use breaker::{BreakerConfig, BreakerState};
use budget::RetryBudget;
use cache::{AnswerCache, Bounds, Lifetimes};
pub use config::{Policy, ResilienceConfig};
pub use guarded::{GuardAdmin, Guarded, GuardedRegistries};
use retry::RetryRules;
use tracing::Instrument as _;

fn budget(p: &Policy) -> RetryBudget {
    RetryBudget::new(
        p.retry_budget_window,
        p.retry_budget_min_per_sec,
        p.retry_budget_ratio,
    )
}

type SharedCall<T> = Shared<BoxFuture<'static, Result<Fetched<T>, RegistryError>>>;

/// How a guard reaches its registry: a query in, the answer's future out (run in a task of
/// its own, so owned and `'static`).
pub trait Fetch<T>:
    Fn(Query) -> BoxFuture<'static, Result<Fetched<T>, RegistryError>> + Send + Sync + 'static
{
}

impl<T, F> Fetch<T> for F where
    F: Fn(Query) -> BoxFuture<'static, Result<Fetched<T>, RegistryError>> + Send + Sync + 'static
{
}

/// How long anyone waits for a call in flight: the latest deadline among its waiters, `None`
/// while one of them has none. Attempts and retries are bounded by it, not by the deadline of
/// whoever started the call.
#[derive(Clone, Default)]
struct Horizon(Arc<Mutex<Option<Option<Instant>>>>);

impl Horizon {
    fn join(&self, deadline: Option<Instant>) {
        let mut h = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *h = Some(match (*h, deadline) {
            (None, d) => d,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
            (Some(_), _) => None,
        });
    }

    fn get(&self) -> Option<Instant> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flatten()
    }

    /// Resolves once no waiter has time left; a waiter joining late pushes it back.
    async fn passed(&self) {
        loop {
            match self.get() {
                None => futures::future::pending::<()>().await,
                Some(d) if d <= Instant::now() => return,
                Some(d) => tokio::time::sleep_until(d).await,
            }
        }
    }
}

/// The part of a guard that a configuration reload replaces.
struct Live {
    policy: Policy,
    /// Retry advice given to callers when the gateway itself refuses (deadline).
    retry_after: Duration,
    budget: Arc<RetryBudget>,
}

/// Cache, breaker, bulkhead and retries for one registry's answers of type `T`.
pub struct Guard<T> {
    registry: Registry,
    live: ArcSwap<Live>,
    /// Bulkhead size, fixed at start.
    max_concurrent: u32,
    cache: AnswerCache<T>,
    breaker: Arc<Breaker>,
    bulkhead: Semaphore,
    in_flight: Mutex<HashMap<FlightKey, (SharedCall<T>, Horizon)>>,
}

/// Calls in flight are shared per person and consent token: a caller never joins a call made
/// with another caller's token (nor one made without a token when it brings one).
type FlightKey = (Iin, Option<String>);

fn flight_key(query: &Query) -> FlightKey {
    (
        query.iin,
        query
            .consent_token
            .as_ref()
            .map(|t| t.reference().to_owned()),
    )
}

/// What an operator sees of a guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardStatus {
    pub registry: Registry,
    pub breaker: BreakerState,
    pub cache_entries: u64,
    /// What the cached answers cost in memory, by the cache's weigher.
    pub cache_bytes: u64,
    pub calls_in_flight: u32,
}

/// Removes a call from the guard's single-flight table when the call's task ends, however it
/// ends (answer, error, panic, runtime shutdown).
struct Leave<'a, T> {
    guard: &'a Guard<T>,
    key: FlightKey,
}

impl<T> Drop for Leave<'_, T> {
    fn drop(&mut self) {
        self.guard
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl<T: HeapSize + Clone + Send + Sync + 'static> Guard<T> {
    pub fn new(
        registry: Registry,
        policy: Policy,
        retry_after: Duration,
        is_negative: fn(&T) -> bool,
    ) -> Arc<Guard<T>> {
        Arc::new(Guard {
            registry,
            cache: AnswerCache::new(
                Bounds {
                    max_bytes: policy.cache_max_bytes,
                    max_entries: policy.cache_max_entries,
                },
                is_negative,
                registry,
            ),
            breaker: Breaker::new(policy.breaker),
            bulkhead: Semaphore::new(policy.max_concurrent as usize),
            max_concurrent: policy.max_concurrent,
            live: ArcSwap::from_pointee(Live {
                budget: Arc::new(budget(&policy)),
                policy,
                retry_after,
            }),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    fn lifetimes(&self) -> Lifetimes {
        let p = &self.live.load().policy;
        Lifetimes {
            ttl: p.cache_ttl,
            negative_ttl: p.cache_negative_ttl,
            max_stale: p.cache_max_stale,
        }
    }

    /// Applies a reloaded policy: lifetimes of answers cached from now on, timeouts, retries
    /// and their budget, breaker thresholds. The cache size and the bulkhead stay as started.
    pub fn set_policy(&self, policy: Policy, retry_after: Duration) {
        let old = self.live.load();
        let same_budget = (
            old.policy.retry_budget_window,
            old.policy.retry_budget_min_per_sec,
            old.policy.retry_budget_ratio,
        ) == (
            policy.retry_budget_window,
            policy.retry_budget_min_per_sec,
            policy.retry_budget_ratio,
        );
        let budget = if same_budget {
            old.budget.clone()
        } else {
            Arc::new(budget(&policy))
        };
        self.breaker.set_config(policy.breaker);
        self.live.store(Arc::new(Live {
            policy,
            retry_after,
            budget,
        }));
    }

    fn error(&self, failure: Failure, retry_after: Duration) -> RegistryError {
        RegistryError {
            registry: self.registry,
            failure,
            retry_after,
        }
    }

    /// The answer for `query`: from the cache, from a call already in flight, or from `fetch`
    /// with retries. A failure falls back to a stale entry when one is young enough. A query
    /// without `shared_cache` neither reads nor fills the cache and gets no stale answer: it
    /// reaches the registry (or joins a call in flight with the same consent token).
    ///
    /// The registry call runs in a task of its own, not in the caller's future: a caller that
    /// goes away (deadline, disconnect) only stops waiting. The call ends by itself, at the
    /// latest when every waiter's deadline has passed or its attempts time out, and then gives
    /// back its bulkhead slot, its breaker permit and its connection.
    pub async fn get<F>(
        self: &Arc<Self>,
        query: &Query,
        fetch: F,
    ) -> Result<Fetched<T>, RegistryError>
    where
        F: Fetch<T>,
    {
        self.get_then(query, fetch, None).await
    }

    /// [`Guard::get`], and `then` with the registry's answer inside the shared call, before
    /// it leaves the single-flight table (not with a cached or stale answer).
    pub async fn get_then<F>(
        self: &Arc<Self>,
        query: &Query,
        fetch: F,
        then: Option<Then<T>>,
    ) -> Result<Fetched<T>, RegistryError>
    where
        F: Fetch<T>,
    {
        if let Some(hit) = self.cached(query) {
            return Ok(hit);
        }
        reached::Reached::mark(self.registry);
        let call = self.join_or_start(query, fetch, then);
        let result = match query.callers_deadline {
            Some(deadline) => timeout_at(deadline, call).await.unwrap_or_else(|_| {
                Err(self.error(Failure::DeadlineExceeded, self.live.load().retry_after))
            }),
            None => call.await,
        };
        result.or_else(|e| self.stale_instead_of(e, query))
    }

    /// A fresh cached answer, when the query may use the cache.
    fn cached(&self, query: &Query) -> Option<Fetched<T>> {
        if !query.shared_cache {
            return None;
        }
        let key = self.registry.key();
        let hit = self.cache.fresh(&query.iin);
        metrics::cache_lookup(self.registry, if hit.is_some() { "hit" } else { "miss" });
        if hit.is_some() {
            tracing::debug!(registry = key, cache = "hit", "answered from the cache");
        }
        hit
    }

    /// The call in flight for this person and token, joined with the query's deadline, or a
    /// new one started in a task of its own.
    fn join_or_start<F>(
        self: &Arc<Self>,
        query: &Query,
        fetch: F,
        then: Option<Then<T>>,
    ) -> SharedCall<T>
    where
        F: Fetch<T>,
    {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let flight = flight_key(query);
        let (call, horizon) = in_flight
            .entry(flight.clone())
            .or_insert_with(|| self.start(query, flight, fetch, then));
        horizon.join(query.callers_deadline);
        call.clone()
    }

    /// Starts the call for `query` in a task; it leaves the single-flight table when it ends,
    /// after the answer went into the cache and to `then`.
    fn start<F>(
        self: &Arc<Self>,
        query: &Query,
        flight: FlightKey,
        fetch: F,
        then: Option<Then<T>>,
    ) -> (SharedCall<T>, Horizon)
    where
        F: Fetch<T>,
    {
        let guard = self.clone();
        let query = query.clone();
        let horizon = Horizon::default();
        let waiters = horizon.clone();
        let task = tokio::spawn(
            async move {
                let _leave = Leave {
                    guard: &guard,
                    key: flight,
                };
                let result = guard.call(&query, &waiters, fetch).await;
                if let Ok(answer) = &result {
                    if query.shared_cache {
                        guard.cache.insert(query.iin, answer, guard.lifetimes());
                    }
                    if let Some(then) = then {
                        then(answer);
                    }
                }
                result
            }
            .in_current_span(),
        );
        let registry = self.registry;
        let call = async move {
            task.await.unwrap_or_else(|e| {
                tracing::error!(registry = registry.key(), error = %e, "registry call task failed");
                Err(RegistryError {
                    registry,
                    failure: Failure::Connect("the gateway's call task failed".into()),
                    retry_after: Duration::from_secs(1),
                })
            })
        }
        .boxed()
        .shared();
        (call, horizon)
    }

    /// A stale cached answer for a failed call, when the failure and the query allow one.
    fn stale_instead_of(
        &self,
        e: RegistryError,
        query: &Query,
    ) -> Result<Fetched<T>, RegistryError> {
        if !query.shared_cache || !e.failure.allows_stale() {
            return Err(e);
        }
        let max_stale = self.live.load().policy.cache_max_stale;
        let stale = self.cache.stale(&query.iin, max_stale).ok_or(e)?;
        let key = self.registry.key();
        metrics::cache_lookup(self.registry, "stale");
        tracing::info!(registry = key, age = ?stale.source.age, "registry failed: answered from a stale entry");
        Ok(stale)
    }

    /// One call as its callers see it: the breaker is asked once, and told once how the call
    /// ended after its retries. Failures that are not the registry's (the callers' deadline,
    /// the gateway's own queue) leave the breaker as it was; a half-open probe that ends so
    /// frees the probe slot for the next call.
    async fn call<F: Fetch<T>>(
        &self,
        query: &Query,
        horizon: &Horizon,
        fetch: F,
    ) -> Result<Fetched<T>, RegistryError> {
        let permit = self.breaker.allow().map_err(|wait| {
            metrics::registry_call(self.registry.key(), Failure::CircuitOpen.label(), 0.0);
            self.error(Failure::CircuitOpen, wait)
        })?;
        let result = self.attempts(query, horizon, fetch).await;
        match &result {
            Ok(_) => permit.record(true),
            Err(e) if e.failure.is_registry_failure() => permit.record(false),
            Err(_) => drop(permit),
        }
        result
    }

    /// Attempts until one answers or [`RetryRules::should_retry`] and the retry budget say
    /// to stop.
    async fn attempts<F: Fetch<T>>(
        &self,
        query: &Query,
        horizon: &Horizon,
        fetch: F,
    ) -> Result<Fetched<T>, RegistryError> {
        let live = self.live.load();
        let rules = RetryRules::new(&live.policy);
        let key = self.registry.key();
        live.budget.deposit();
        let mut attempt = 1;
        loop {
            let (error, took) = match self.attempt(query, horizon, &fetch, attempt, &live).await {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            let time_left = horizon
                .get()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let Some(pause) = rules.should_retry(&error.failure, attempt, took, time_left) else {
                return Err(error);
            };
            if !live.budget.withdraw() {
                tracing::debug!(registry = key, "no retry: retry budget exhausted");
                return Err(error);
            }
            metrics::registry_retry(key);
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One attempt: a bulkhead slot, then `fetch` within the attempt's timeout and the
    /// waiters' deadline. A failure comes with how long the attempt took (zero when it never
    /// reached the registry).
    async fn attempt<F, Fut>(
        &self,
        query: &Query,
        horizon: &Horizon,
        fetch: &F,
        attempt: u32,
        live: &Live,
    ) -> Result<Fetched<T>, (RegistryError, Duration)>
    where
        F: Fn(Query) -> Fut,
        Fut: Future<Output = Result<Fetched<T>, RegistryError>>,
    {
        let not_started = |e| (e, Duration::ZERO);
        let _slot = self.slot(horizon, live).await.map_err(not_started)?;
        let p = &live.policy;
        let key = self.registry.key();
        let started = Instant::now();
        let span = self.attempt_span(attempt);
        let mut q = query.clone();
        q.attempt_deadline = Some(started + p.attempt_timeout);
        q.callers_deadline = horizon.get();
        let call = timeout_at(started + p.attempt_timeout, fetch(q)).instrument_with(span.clone());
        let result = tokio::select! {
            outcome = call => match outcome {
                Ok(answer) => answer,
                Err(_) => Err(self.error(Failure::Timeout(p.attempt_timeout), live.retry_after)),
            },
            // The waiters' clock, not the registry's health.
            () = horizon.passed() => Err(self.error(Failure::DeadlineExceeded, live.retry_after)),
        };
        let status = match &result {
            Ok(answer) if self.cache.is_negative(&answer.value) => "not_found",
            Ok(_) => "ok",
            Err(e) => {
                span.record("otel.status_code", "ERROR");
                e.failure.label()
            }
        };
        span.record("status", status);
        metrics::registry_call(key, status, started.elapsed().as_secs_f64());
        result.map_err(|e| (e, started.elapsed()))
    }

    /// A bulkhead slot. Time spent waiting for one is the gateway's own queue, bounded on its
    /// own and never counted as the registry's.
    async fn slot(
        &self,
        horizon: &Horizon,
        live: &Live,
    ) -> Result<SemaphorePermit<'_>, RegistryError> {
        if horizon.get().is_some_and(|d| d <= Instant::now()) {
            return Err(self.error(Failure::DeadlineExceeded, live.retry_after));
        }
        let queue_timeout = live.policy.queue_timeout;
        tokio::select! {
            slot = tokio::time::timeout(queue_timeout, self.bulkhead.acquire()) => match slot {
                Ok(Ok(slot)) => Ok(slot),
                _ => {
                    let key = self.registry.key();
                    metrics::registry_queue_full(key);
                    tracing::warn!(registry = key, "no call slot free within queue_timeout: shed");
                    Err(self.error(Failure::Overloaded(queue_timeout), queue_timeout))
                }
            },
            () = horizon.passed() => Err(self.error(Failure::DeadlineExceeded, live.retry_after)),
        }
    }

    fn attempt_span(&self, attempt: u32) -> tracing::Span {
        tracing::info_span!(
            "registry_attempt",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            registry = self.registry.key(),
            attempt,
            cache = "miss",
            breaker = self.breaker.state().as_str(),
            status = tracing::field::Empty,
        )
    }

    pub fn invalidate(&self, iin: &Iin) -> bool {
        self.cache.invalidate(iin)
    }

    pub fn status(&self) -> GuardStatus {
        let (cache_entries, cache_bytes) = self.cache.size();
        GuardStatus {
            registry: self.registry,
            breaker: self.breaker.state(),
            cache_entries,
            cache_bytes,
            calls_in_flight: self.max_concurrent - self.bulkhead.available_permits() as u32,
        }
    }
}

/// `Future::instrument` without importing the trait at every call site.
trait InstrumentWith: Sized {
    fn instrument_with(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self>;
}

impl<F: Future> InstrumentWith for F {
    fn instrument_with(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, span)
    }
}

#[cfg(test)]
mod tests;
