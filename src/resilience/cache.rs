//! Per-registry answer cache: moka for bounded in-memory storage, with freshness judged on
//! tokio's clock so that tests can pause time.
//!
//! An entry is fresh for its TTL (a shorter one for "no such record"), then may still answer
//! for `max_stale` more when the registry fails (stale-if-error). Moka evicts it after both,
//! or earlier when the size bound is reached. Nothing is written to disk.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache as Moka;
use moka::Expiry;
use tokio::time::Instant;

use crate::iin::Iin;
use crate::registry::{Fetched, Source};

/// A cached answer.
pub struct Entry<T> {
    /// Shared with every answer served from it: a hit copies no data.
    value: Arc<T>,
    source: Source,
    stored_at: Instant,
    ttl: Duration,
    /// How long moka keeps it: the TTL plus the stale allowance when it was stored.
    keep: Duration,
}

impl<T> Entry<T> {
    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.stored_at)
    }

    /// The answer as served from the cache.
    fn served(&self, now: Instant, stale: bool) -> Fetched<T> {
        Fetched {
            value: self.value.clone(),
            source: Source {
                from_cache: true,
                stale,
                age: self.age(now),
                ..self.source.clone()
            },
        }
    }
}

/// How long entries live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub max_stale: Duration,
}

struct Expire;

impl<T> Expiry<Iin, Arc<Entry<T>>> for Expire {
    fn expire_after_create(
        &self,
        _key: &Iin,
        entry: &Arc<Entry<T>>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.keep)
    }

    /// A refreshed answer lives as long as a new one.
    fn expire_after_update(
        &self,
        _key: &Iin,
        entry: &Arc<Entry<T>>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.keep)
    }
}

pub struct AnswerCache<T> {
    store: Moka<Iin, Arc<Entry<T>>>,
    is_negative: fn(&T) -> bool,
}

impl<T: Clone + Send + Sync + 'static> AnswerCache<T> {
    /// `is_negative` tells a "no such record" answer, which gets the shorter TTL. Evictions
    /// (size bound or expiry) are counted under `registry`.
    pub fn new(max_entries: u64, is_negative: fn(&T) -> bool, registry: &'static str) -> Self {
        AnswerCache {
            store: Moka::builder()
                .max_capacity(max_entries)
                .expire_after(Expire)
                .eviction_listener(move |_key, _entry, cause| {
                    if cause.was_evicted() {
                        crate::metrics::cache_eviction(registry);
                    }
                })
                .build(),
            is_negative,
        }
    }

    /// Whether `value` is a "no such record" answer.
    pub fn is_negative(&self, value: &T) -> bool {
        (self.is_negative)(value)
    }

    /// A fresh answer, if there is one.
    pub fn fresh(&self, key: &Iin) -> Option<Fetched<T>> {
        let now = Instant::now();
        self.store
            .get(key)
            .filter(|e| e.age(now) < e.ttl)
            .map(|e| e.served(now, false))
    }

    /// A stale answer still within `max_stale` past its TTL, for when the registry failed.
    pub fn stale(&self, key: &Iin, max_stale: Duration) -> Option<Fetched<T>> {
        let now = Instant::now();
        self.store
            .get(key)
            .filter(|e| e.age(now) < e.ttl + max_stale)
            .map(|e| e.served(now, true))
    }

    pub fn insert(&self, key: Iin, answer: &Fetched<T>, lifetimes: Lifetimes) {
        let ttl = if (self.is_negative)(&answer.value) {
            lifetimes.negative_ttl
        } else {
            lifetimes.ttl
        };
        if ttl.is_zero() {
            return;
        }
        self.store.insert(
            key,
            Arc::new(Entry {
                value: answer.value.clone(),
                source: answer.source.clone(),
                stored_at: Instant::now(),
                ttl,
                keep: ttl + lifetimes.max_stale,
            }),
        );
    }

    /// Drops the entry for `key`; `true` if there was one.
    pub fn invalidate(&self, key: &Iin) -> bool {
        self.store.remove(key).is_some()
    }

    pub fn entry_count(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.entry_count()
    }
}
