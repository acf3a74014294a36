//! The resilience settings: `[resilience.defaults]` for every registry, and
//! `[resilience.<registry>]` tables that override some of its keys
//! (`[resilience.gbd_fl] cache_ttl = "1m"`).

use std::time::Duration;

use figment::providers::Serialized;
use figment::value::Dict;
use figment::Figment;
use serde::{Deserialize, Serialize};

use super::owner_facts::OwnerFactsConfig;
use super::BreakerConfig;
use crate::registry::{PerRegistry, Registry};
use crate::validate::{Invalid, Validate};

/// Caching, retries, timeouts, breaker and bulkhead: `defaults` for every registry, then
/// per-registry tables that override some of its keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResilienceConfig {
    pub defaults: Policy,
    /// `[resilience.owner_facts]`: the size of CheckOwner's owner-facts cache.
    pub owner_facts: OwnerFactsConfig,
    /// `[resilience.<registry>]`: keys that differ from the defaults. An unknown table name
    /// is refused (it is no registry).
    #[serde(flatten)]
    pub overrides: PerRegistry<Option<Dict>>,
}

impl ResilienceConfig {
    /// The defaults with `registry`'s overrides, validated; the key of a broken rule is
    /// relative to `[resilience]`.
    pub fn policy(&self, registry: Registry) -> Result<Policy, Invalid> {
        let mut figment = Figment::from(Serialized::defaults(&self.defaults));
        if let Some(overrides) = &self.overrides[registry] {
            figment = figment.merge(Serialized::defaults(overrides));
        }
        let policy: Policy = figment
            .extract()
            .map_err(|e| Invalid::new(registry.key(), e.to_string()))?;
        policy.validate().map_err(|e| e.under(registry.key()))?;
        Ok(policy)
    }

    /// Every registry's policy.
    pub fn policies(&self) -> Result<PerRegistry<Policy>, Invalid> {
        PerRegistry::try_from_fn(|registry| self.policy(registry))
    }
}

impl Validate for ResilienceConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.owner_facts
            .validate()
            .map_err(|e| e.under("owner_facts"))?;
        self.policies().map(drop)
    }
}

/// Resilience settings of one registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// How long an answer is served from the cache.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// ... an answer "no such record" (GBD FL: unknown IIN; others: no records).
    #[serde(with = "humantime_serde")]
    pub cache_negative_ttl: Duration,
    /// How long past its TTL an entry may answer when the registry fails (stale-if-error).
    #[serde(with = "humantime_serde")]
    pub cache_max_stale: Duration,
    /// Bound on the memory of this registry's cached answers, in bytes (each answer weighed
    /// with moka's and the allocator's bookkeeping).
    pub cache_max_bytes: u64,
    /// Bound on cached persons for this registry (a second bound; the bytes usually bind).
    pub cache_max_entries: u64,
    /// Timeout of one attempt.
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub backoff_min: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Random extra delay, as a share of the backoff (0 = none, 1 = up to double).
    pub backoff_jitter: f64,
    /// Retries allowed as a share of recent calls, 0 to 1.
    pub retry_budget_ratio: f32,
    /// Retries always allowed per second, whatever the ratio.
    pub retry_budget_min_per_sec: u32,
    /// How far back "recent calls" reach.
    #[serde(with = "humantime_serde")]
    pub retry_budget_window: Duration,
    /// Calls in flight to this registry at most (bulkhead).
    pub max_concurrent: u32,
    /// How long a call waits for one of those slots before it is refused as the gateway's
    /// own overload (`RESOURCE_EXHAUSTED`, not counted against the registry).
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    pub breaker: BreakerConfig,
}

/// 64 MiB per registry: 320 MiB for the five, which leaves room for the rest of the gateway
/// in the 768 MiB pod of `deploy/` (docs/performance.md).
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            cache_ttl: Duration::from_secs(600),
            cache_negative_ttl: Duration::from_secs(60),
            cache_max_stale: Duration::from_secs(3600),
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            cache_max_entries: 1_000_000,
            attempt_timeout: Duration::from_secs(5),
            max_attempts: 3,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            backoff_jitter: 0.5,
            retry_budget_ratio: 0.2,
            retry_budget_min_per_sec: 10,
            retry_budget_window: Duration::from_secs(10),
            max_concurrent: 64,
            queue_timeout: Duration::from_secs(1),
            breaker: BreakerConfig::default(),
        }
    }
}

impl Validate for Policy {
    fn validate(&self) -> Result<(), Invalid> {
        let rule = |field: &str, text: &str| Err(Invalid::new(field, text));
        if self.cache_negative_ttl > self.cache_ttl {
            return rule("cache_negative_ttl", "must not be longer than cache_ttl");
        }
        if self.attempt_timeout.is_zero() {
            return rule("attempt_timeout", "must be more than zero");
        }
        if self.max_attempts == 0 {
            return rule("max_attempts", "must be at least 1");
        }
        if self.backoff_max.is_zero() || self.backoff_min > self.backoff_max {
            return rule(
                "backoff_max",
                "must be more than zero and at least backoff_min",
            );
        }
        if !(0.0..=10.0).contains(&self.backoff_jitter) {
            return rule("backoff_jitter", "must be between 0 and 10");
        }
        if !(0.0..=1.0).contains(&self.retry_budget_ratio) {
            return rule("retry_budget_ratio", "must be between 0 and 1");
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.retry_budget_window) {
            return rule("retry_budget_window", "must be between 1s and 60s");
        }
        if self.max_concurrent == 0 {
            return rule("max_concurrent", "must be at least 1");
        }
        if self.queue_timeout.is_zero() {
            return rule("queue_timeout", "must be more than zero");
        }
        let b = &self.breaker;
        if b.consecutive_failures == 0 || b.window == 0 || b.min_calls == 0 {
            return rule(
                "breaker",
                "consecutive_failures, window and min_calls must be at least 1",
            );
        }
        if !(b.failure_rate > 0.0 && b.failure_rate <= 1.0) {
            return rule("breaker.failure_rate", "must be in (0, 1]");
        }
        if b.open_for.is_zero() {
            return rule("breaker.open_for", "must be more than zero");
        }
        Ok(())
    }
}
