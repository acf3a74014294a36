//! Per-registry answer cache: moka for bounded in-memory storage, with freshness judged on
//! tokio's clock so that tests can pause time.
//!
//! An entry is fresh for its TTL (a shorter one for "no such record"), then may still answer
//! for `max_stale` more when the registry fails (stale-if-error). Moka evicts it after both,
//! or earlier when the size bound is reached. Nothing is written to disk.
//!
//! The bound is in bytes (`cache_max_bytes`): each entry weighs what it costs in memory
//! ([`Entry::weight`]: moka's bookkeeping, the key, the entry and the answer with its heap),
//! and moka evicts the least useful entries when the total passes the bound.
//! `cache_max_entries` stays as a second bound: every entry weighs at least
//! `cache_max_bytes / cache_max_entries`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::sync::Cache as Moka;
use moka::Expiry;
use tokio::time::Instant;

use crate::iin::Iin;
use crate::registry::heap::{allocation, HeapSize};
use crate::registry::Registry;
use crate::registry::{Fetched, Source};

/// A cached answer, held by value in moka (a copy is a reference count and a few words).
#[derive(Clone)]
pub struct Entry<T> {
    /// Shared with every answer served from it: a hit copies no data.
    value: Arc<T>,
    source: Source,
    stored_at: Instant,
    ttl: Duration,
    /// How long moka keeps it: the TTL plus the stale allowance when it was stored.
    keep: Duration,
    /// What it costs in memory, in bytes ([`Entry::weight`]).
    weight: u32,
}

/// moka's own memory per entry: its hash table slot, the node in its access-order deque, the
/// entry's metadata and timer-wheel node. Measured with a 16-byte value and an
/// allocation-counting allocator: 353–401 bytes per entry, with moka 0.12.
pub const MOKA_ENTRY_BYTES: usize = 384;

/// What every entry costs whatever its answer: moka's bookkeeping and the key.
pub const ENTRY_BOOKKEEPING: usize = MOKA_ENTRY_BYTES + size_of::<Iin>();

impl<T: HeapSize> Entry<T> {
    /// What an entry costs in memory: moka's bookkeeping, the key, the entry as moka holds
    /// it, the answer's allocation and the heap it owns (`None`: the cache's one shared "no
    /// record" answer, counted once), the provenance's message id and the envelope as received (shared
    /// with every answer served from the entry, counted here once).
    pub fn weight(value: Option<&T>, source: &Source) -> usize {
        ENTRY_BOOKKEEPING
            + size_of::<Entry<T>>()
            + value.map_or(0, |v| {
                allocation(2 * size_of::<usize>() + size_of::<T>()) + v.heap_size()
            })
            + source.message_id.heap_size()
            + source.envelope.heap_size()
    }
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

impl<T> Expiry<Iin, Entry<T>> for Expire {
    fn expire_after_create(
        &self,
        _key: &Iin,
        entry: &Entry<T>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.keep)
    }

    /// A refreshed answer lives as long as a new one.
    fn expire_after_update(
        &self,
        _key: &Iin,
        entry: &Entry<T>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.keep)
    }
}

/// How much a cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Bounds {
    /// The least an entry weighs, so that `max_entries` holds too.
    fn least_weight(self) -> u32 {
        u32::try_from(self.max_bytes.div_ceil(self.max_entries.max(1))).unwrap_or(u32::MAX)
    }
}

pub struct AnswerCache<T> {
    store: Moka<Iin, Entry<T>>,
    is_negative: fn(&T) -> bool,
    /// The "no record" answer, shared by every entry that holds one (all such answers are
    /// equal): most persons have no record in most registries.
    negative: OnceLock<Arc<T>>,
}

impl<T: HeapSize + Clone + Send + Sync + 'static> AnswerCache<T> {
    /// `is_negative` tells a "no such record" answer, which gets the shorter TTL. Evictions
    /// (size bound or expiry) are counted under `registry`.
    pub fn new(bounds: Bounds, is_negative: fn(&T) -> bool, registry: Registry) -> Self {
        let least = bounds.least_weight();
        AnswerCache {
            store: Moka::builder()
                .max_capacity(bounds.max_bytes)
                .weigher(move |_key, entry: &Entry<T>| entry.weight.max(least))
                .expire_after(Expire)
                .eviction_listener(move |_key, _entry, cause| {
                    if cause.was_evicted() {
                        crate::metrics::cache_eviction(registry);
                    }
                })
                .build(),
            is_negative,
            negative: OnceLock::new(),
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
        let negative = (self.is_negative)(&answer.value);
        let ttl = if negative {
            lifetimes.negative_ttl
        } else {
            lifetimes.ttl
        };
        if ttl.is_zero() {
            return;
        }
        let (value, weight) = if negative {
            let shared = self.negative.get_or_init(|| answer.value.clone());
            (shared.clone(), Entry::<T>::weight(None, &answer.source))
        } else {
            let value = answer.value.clone();
            let weight = Entry::weight(Some(value.as_ref()), &answer.source);
            (value, weight)
        };
        self.store.insert(
            key,
            Entry {
                value,
                source: answer.source.clone(),
                stored_at: Instant::now(),
                ttl,
                keep: ttl + lifetimes.max_stale,
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
            },
        );
    }

    /// Drops the entry for `key`; `true` if there was one.
    pub fn invalidate(&self, key: &Iin) -> bool {
        self.store.remove(key).is_some()
    }

    /// How many entries it holds and what they weigh in bytes (after moka's pending
    /// evictions).
    pub fn size(&self) -> (u64, u64) {
        self.store.run_pending_tasks();
        (self.store.entry_count(), self.store.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::registry::{CivilActs, MessageId, Person, SocialStatus};

    fn source() -> Source {
        Source {
            message_id: MessageId::from("0b9f6c1e-2d4a-4f8e-9a63-5c7e1d2b3a4f"),
            fetched_at: Utc::now(),
            from_cache: false,
            stale: false,
            age: Duration::ZERO,
            envelope: None,
        }
    }

    /// The fixed part of each entry, as the weigher counts it (printed for the performance
    /// notes: `cargo test --lib cache::tests -- --nocapture`).
    #[test]
    fn an_entry_weighs_its_bookkeeping_and_its_answer() {
        let answer = SocialStatus::default();
        let empty = Entry::weight(Some(&answer), &source());
        println!(
            "entry: moka + key {ENTRY_BOOKKEEPING} B, entry {} B, answers inline: person {} B, \
             acts {} B, social {} B; an empty social answer weighs {empty} B",
            size_of::<Entry<SocialStatus>>(),
            size_of::<Option<Person>>(),
            size_of::<CivilActs>(),
            size_of::<SocialStatus>(),
        );
        assert_eq!(
            empty,
            ENTRY_BOOKKEEPING
                + size_of::<Entry<SocialStatus>>()
                + allocation(16 + size_of::<SocialStatus>())
        );
        let text = Source {
            message_id: MessageId::from("m-1"),
            ..source()
        };
        assert_eq!(
            Entry::weight(Some(&answer), &text),
            empty + allocation(16 + 3),
            "a message id that is not a UUID is counted"
        );
        assert_eq!(
            Entry::weight(None::<&SocialStatus>, &source()),
            ENTRY_BOOKKEEPING + size_of::<Entry<SocialStatus>>(),
            "the shared \"no record\" answer is not counted per entry"
        );
    }
}
