//! The owner-facts cache: what CheckOwner (and each owner of CheckDwelling) needs of GBD FL,
//! IS ZAGS and E-social security, one entry per person, shared by every caller.
//!
//! A registry's answer for a decision is reduced at once to its facts
//! ([`crate::registry::facts`]) and only those are kept: no names, addresses or documents.
//! That is what makes sharing them across callers defensible (docs/security.md), and what
//! makes an entry small: the IIN as an integer key, the three answers' provenance (message id,
//! when it came) and facts inline, about 170 bytes for most persons (docs/performance.md).
//! The look-up RPCs keep their full-record caches ([`super::cache`]); this cache never serves
//! them.
//!
//! Each registry's part of an entry lives by that registry's policy, as a full record would:
//! fresh for `cache_ttl` (`cache_negative_ttl` for "no record"), then a stand-in for a failed
//! call for `cache_max_stale` more; gone after that (swept on inserts and every
//! [`SWEEP_EVERY`]). A registry's call for a decision runs through its guard (breaker,
//! bulkhead, retries, single flight) like any other, and stores the facts before the call
//! leaves the single-flight table, so that no second call for the person can start in
//! between. The table is bounded in persons (`[resilience.owner_facts] max_persons`); when
//! full, the CLOCK hand evicts a person not used since it last passed (a person just added
//! counts as not used yet).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::cache::Lifetimes;
use super::Policy;
use crate::iin::Iin;
use crate::metrics;
use crate::registry::facts::{
    ActsFacts, DisabilityFacts, Facts, OwnBirth, PersonFacts, SocialFacts, Told, Ward,
};
use crate::registry::{
    CivilActs, Envelope, Fetched, Lookup, MessageId, PerRegistry, Person, Query, Registry,
    RegistryError, SocialStatus, Source,
};
use crate::validate::{Invalid, Validate};

/// How often expired facts are swept out of memory even when nothing is inserted.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The time unit of an entry's clock: ages are judged to within it, rounded towards older.
const TICK: Duration = Duration::from_millis(100);

const SHARDS: usize = 64;

/// `[resilience.owner_facts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnerFactsConfig {
    /// The most persons whose facts are kept (about 170 bytes each; at most 10,000,000).
    pub max_persons: u64,
}

impl Default for OwnerFactsConfig {
    fn default() -> OwnerFactsConfig {
        OwnerFactsConfig {
            max_persons: 1_000_000,
        }
    }
}

impl Validate for OwnerFactsConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if !(1..=10_000_000).contains(&self.max_persons) {
            return Err(Invalid::new(
                "max_persons",
                "must be between 1 and 10,000,000 (about 170 bytes each)",
            ));
        }
        Ok(())
    }
}

/// One registry's part of an entry: which answer, and when it came.
#[derive(Debug, Clone, Copy, Default)]
struct Said {
    /// The answer's SHEP message id, when it is a UUID (else in [`Rare::text_ids`]).
    uuid: [u8; 16],
    /// When it was stored, in ticks since the cache's epoch.
    at: u32,
    state: State,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Empty,
    Found,
    NoRecord,
}

/// What not every answer has: the SHA-256 of its envelope as received (answers over the bus;
/// 112 bytes for the three), a message id that is not a UUID (rarer still: boxed again).
#[derive(Debug, Default)]
struct Rare {
    digests: [[u8; 32]; 3],
    has_digest: [bool; 3],
    text_ids: Option<Box<[Option<Box<str>>; 3]>>,
}

impl Rare {
    fn digest(&self, slot: usize) -> Option<[u8; 32]> {
        self.has_digest[slot].then_some(self.digests[slot])
    }

    fn text_id(&self, slot: usize) -> Option<&str> {
        self.text_ids.as_ref().and_then(|t| t[slot].as_deref())
    }

    fn is_empty(&self) -> bool {
        !self.has_digest.contains(&true) && self.text_ids.is_none()
    }
}

/// One person: the three registries' answers, reduced to their facts. The parts of the
/// three [`Said`]s are laid out side by side (no padding between them).
pub struct Entry {
    key: u64,
    uuids: [[u8; 16]; 3],
    at: [u32; 3],
    states: [State; 3],
    /// The CLOCK bit: used since the hand last passed.
    used: bool,
    person: Option<PersonFacts>,
    acts: ActsFacts,
    social: SocialFacts,
    rare: Option<Box<Rare>>,
}

impl Entry {
    fn new(key: u64) -> Entry {
        Entry {
            key,
            uuids: [[0; 16]; 3],
            at: [0; 3],
            states: [State::Empty; 3],
            used: false,
            person: None,
            acts: ActsFacts::default(),
            social: SocialFacts::default(),
            rare: None,
        }
    }

    fn said(&self, slot: usize) -> Said {
        Said {
            uuid: self.uuids[slot],
            at: self.at[slot],
            state: self.states[slot],
        }
    }

    fn set_said(&mut self, slot: usize, said: Said) {
        self.uuids[slot] = said.uuid;
        self.at[slot] = said.at;
        self.states[slot] = said.state;
    }

    /// Whether no part can serve any more.
    fn expired(&self, cache: &OwnerFactsCache, now: u32) -> bool {
        (0..3).all(|s| cache.alive(&self.said(s), s, now, false).is_none())
    }

    /// The heap it owns beyond its slot in the table, for the operators' figure.
    fn heap(&self) -> usize {
        use crate::registry::heap::allocation;
        let courts = self.person.as_ref().and_then(|p| p.courts.as_ref());
        courts.map_or(0, |c| allocation(size_of_val(&**c)))
            + self.acts.rare.as_ref().map_or(0, |r| {
                allocation(size_of_val(&**r))
                    + allocation(r.births.capacity() * size_of::<OwnBirth>())
            })
            + self.social.0.as_ref().map_or(0, |s| {
                allocation(size_of_val(&**s))
                    + allocation(s.guardianships.capacity() * size_of::<Ward>())
                    + allocation(s.disabilities.capacity() * size_of::<DisabilityFacts>())
            })
            + self.rare.as_ref().map_or(0, |r| {
                allocation(size_of_val(&**r))
                    + r.text_ids
                        .as_ref()
                        .map_or(0, |t| allocation(size_of_val(&**t)))
            })
    }
}

/// Which part of an entry holds a registry's facts.
pub trait Kept: Facts {
    const SLOT: usize;
    fn get(entry: &Entry) -> &Self::Facts;
    fn set(entry: &mut Entry, facts: Self::Facts);
}

impl Kept for Option<Person> {
    const SLOT: usize = 0;
    fn get(entry: &Entry) -> &Option<PersonFacts> {
        &entry.person
    }
    fn set(entry: &mut Entry, facts: Option<PersonFacts>) {
        entry.person = facts;
    }
}

impl Kept for CivilActs {
    const SLOT: usize = 1;
    fn get(entry: &Entry) -> &ActsFacts {
        &entry.acts
    }
    fn set(entry: &mut Entry, facts: ActsFacts) {
        entry.acts = facts;
    }
}

impl Kept for SocialStatus {
    const SLOT: usize = 2;
    fn get(entry: &Entry) -> &SocialFacts {
        &entry.social
    }
    fn set(entry: &mut Entry, facts: SocialFacts) {
        entry.social = facts;
    }
}

const REGISTRIES: [Registry; 3] = [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity];

#[derive(Default)]
struct Shard {
    /// Positions in `entries`, by key.
    index: HashTable<u32>,
    entries: Vec<Entry>,
    /// The CLOCK hand: the next position to look at.
    hand: usize,
    /// What the entries' boxes hold.
    heap: usize,
}

/// A registry's answer for a decision: its facts and provenance, or why there is none.
pub type ToldResult<F> = Result<Fetched<Told<F>>, RegistryError>;

/// The shared table. See the module's documentation.
pub struct OwnerFactsCache {
    shards: Box<[Mutex<Shard>]>,
    /// The bound, and how many persons the shards hold together.
    max_persons: usize,
    persons: AtomicUsize,
    hasher: hashbrown::DefaultHashBuilder,
    /// The clock's start, on tokio's clock (tests pause it) and on the wall.
    epoch: Instant,
    epoch_wall: DateTime<Utc>,
    /// GBD FL's, IS ZAGS's and E-social security's, replaced on reload.
    lifetimes: ArcSwap<[Lifetimes; 3]>,
}

fn lifetimes_of(policies: &PerRegistry<Policy>) -> [Lifetimes; 3] {
    REGISTRIES.map(|r| {
        let p = &policies[r];
        Lifetimes {
            ttl: p.cache_ttl,
            negative_ttl: p.cache_negative_ttl,
            max_stale: p.cache_max_stale,
        }
    })
}

impl OwnerFactsCache {
    pub fn new(config: &OwnerFactsConfig, policies: &PerRegistry<Policy>) -> Arc<Self> {
        let max = usize::try_from(config.max_persons).unwrap_or(usize::MAX);
        // Each shard's slab is reserved at its share of the bound (and an eighth more for an
        // uneven share): address space, touched only as persons come, and never moved, so
        // that growing leaves no freed copies behind in the resident memory.
        let share = max.div_ceil(SHARDS) + max.div_ceil(SHARDS * 8);
        Arc::new(OwnerFactsCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: Vec::with_capacity(share),
                        ..Shard::default()
                    })
                })
                .collect(),
            max_persons: max.max(1),
            persons: AtomicUsize::new(0),
            hasher: hashbrown::DefaultHashBuilder::default(),
            epoch: Instant::now(),
            epoch_wall: Utc::now(),
            lifetimes: ArcSwap::from_pointee(lifetimes_of(policies)),
        })
    }

    /// Reload: lifetimes apply at once to what is kept.
    pub fn set_policies(&self, policies: &PerRegistry<Policy>) {
        self.lifetimes.store(Arc::new(lifetimes_of(policies)));
    }

    /// Sweeps expired facts every [`SWEEP_EVERY`] while the cache is in use.
    pub fn sweep_in_background(self: &Arc<Self>) {
        let cache = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let Some(cache) = cache.upgrade() else { return };
                cache.sweep();
            }
        });
    }

    fn now(&self) -> u32 {
        let ticks = Instant::now().duration_since(self.epoch).as_millis() / TICK.as_millis();
        u32::try_from(ticks).unwrap_or(u32::MAX)
    }

    /// How old a part stored at `at` is (rounded up to the tick).
    fn age(now: u32, at: u32) -> Duration {
        TICK * (now.saturating_sub(at) + 1)
    }

    fn shard(&self, key: u64) -> (MutexGuard<'_, Shard>, u64) {
        let hash = self.hasher.hash_one(key);
        let shard = &self.shards[(hash >> 58) as usize % SHARDS];
        (shard.lock().unwrap_or_else(|p| p.into_inner()), hash)
    }

    /// Whether a part may still serve: `fresh` (within its TTL) or within the stale allowance.
    fn alive(&self, said: &Said, slot: usize, now: u32, fresh: bool) -> Option<Duration> {
        let l = self.lifetimes.load()[slot];
        let ttl = match said.state {
            State::Empty => return None,
            State::Found => l.ttl,
            State::NoRecord => l.negative_ttl,
        };
        let age = Self::age(now, said.at);
        let limit = if fresh { ttl } else { ttl + l.max_stale };
        (age <= limit).then_some(age)
    }

    /// `T`'s facts about `iin` when fresh (`stale`: or within the stale allowance).
    pub fn get<T: Kept>(&self, iin: &Iin, stale: bool) -> Option<Fetched<Told<T::Facts>>> {
        let key = iin.number();
        let (mut shard, hash) = self.shard(key);
        let now = self.now();
        let pos = *shard.index.find(hash, |&i| shard_key(&shard, i) == key)? as usize;
        let entry = &mut shard.entries[pos];
        let said = entry.said(T::SLOT);
        let age = self.alive(&said, T::SLOT, now, !stale)?;
        entry.used = true;
        let rare = entry.rare.as_deref();
        let message_id = match rare.and_then(|r| r.text_id(T::SLOT)) {
            Some(text) => MessageId::Text(text.into()),
            None => MessageId::Uuid(uuid::Uuid::from_bytes(said.uuid)),
        };
        let envelope = rare.and_then(|r| r.digest(T::SLOT)).map(|digest| {
            Arc::new(Envelope {
                digest,
                bytes: None,
            })
        });
        let stored = TICK * said.at;
        Some(Fetched::new(
            Told {
                facts: T::get(entry).clone(),
                no_record: said.state == State::NoRecord,
            },
            Source {
                message_id,
                fetched_at: self.epoch_wall
                    + chrono::Duration::from_std(stored).unwrap_or_default(),
                from_cache: true,
                stale: stale && age > self.ttl_of(&said, T::SLOT),
                age,
                envelope,
            },
        ))
    }

    fn ttl_of(&self, said: &Said, slot: usize) -> Duration {
        let l = self.lifetimes.load()[slot];
        if said.state == State::NoRecord {
            l.negative_ttl
        } else {
            l.ttl
        }
    }

    /// Keeps the facts of `answer` about `iin` (nothing when its TTL is zero).
    pub fn insert<T: Kept>(&self, iin: &Iin, answer: &Fetched<T>) {
        let told = answer.value.told(iin);
        let l = self.lifetimes.load()[T::SLOT];
        if (if told.no_record {
            l.negative_ttl
        } else {
            l.ttl
        })
        .is_zero()
        {
            return;
        }
        let said = Said {
            uuid: match &answer.source.message_id {
                MessageId::Uuid(u) => *u.as_bytes(),
                MessageId::Text(_) => [0; 16],
            },
            at: self.now(),
            state: if told.no_record {
                State::NoRecord
            } else {
                State::Found
            },
        };
        let text_id = match &answer.source.message_id {
            MessageId::Text(t) => Some(Box::<str>::from(&**t)),
            MessageId::Uuid(_) => None,
        };
        let digest = answer.source.envelope.as_ref().map(|e| e.digest);
        let key = iin.number();
        let (mut shard, hash) = self.shard(key);
        // A person already kept is in use; a new one starts unused, so that persons asked
        // once (a bulk run) give way before persons asked again.
        let (pos, used) = match shard.index.find(hash, |&i| shard_key(&shard, i) == key) {
            Some(&pos) => (pos as usize, true),
            None => match self.add(&mut shard, hash, key) {
                Some(pos) => (pos, false),
                None => return,
            },
        };
        let shard = &mut *shard;
        let entry = &mut shard.entries[pos];
        shard.heap -= entry.heap();
        entry.set_said(T::SLOT, said);
        entry.used |= used;
        T::set(entry, told.facts);
        set_rare(&mut entry.rare, T::SLOT, digest, text_id);
        shard.heap += entry.heap();
    }

    /// A new entry for `key` in a shard, room made first when it is full; `None` when the
    /// table is over its bound by one person per shard and this shard has no one to evict
    /// (the person is then not kept).
    fn add(&self, shard: &mut Shard, hash: u64, key: u64) -> Option<usize> {
        let now = self.now();
        // Every insert sweeps two positions of expired persons, full or not.
        for _ in 0..2 {
            self.step_hand(shard, now, false);
        }
        // At the bound, room is made in this shard (the others are not locked). One turn of
        // the hand clears the bits of the persons in use; a shard where everyone is in use
        // lets the count pass the bound, by one person per shard at most: past that, the hand
        // turns again and evicts.
        let turn = shard.entries.len();
        let mut steps = 0;
        while self.persons.load(Ordering::Relaxed) >= self.max_persons {
            let over = self.persons.load(Ordering::Relaxed) >= self.max_persons + SHARDS;
            match (shard.entries.is_empty(), over) {
                (true, true) => return None,
                (true, false) => break,
                (false, false) if steps >= turn => break,
                (false, _) => self.step_hand(shard, now, true),
            }
            steps += 1;
        }
        let pos = shard.entries.len();
        shard.entries.push(Entry::new(key));
        self.persons.fetch_add(1, Ordering::Relaxed);
        let hasher = &self.hasher;
        let entries = &shard.entries;
        shard.index.insert_unique(hash, pos as u32, |&i| {
            hasher.hash_one(entries[i as usize].key)
        });
        Some(pos)
    }

    /// The CLOCK hand looks at one position: removes an expired person, or (`evict`) one not
    /// used since it last passed evicting, else moves on. Only an evicting pass clears the
    /// bit: a person the sweep just passed is not evicted by the same insert's turn.
    fn step_hand(&self, shard: &mut Shard, now: u32, evict: bool) {
        if shard.entries.is_empty() {
            return;
        }
        let pos = shard.hand % shard.entries.len();
        let entry = &mut shard.entries[pos];
        let expired = entry.expired(self, now);
        if expired || (evict && !entry.used) {
            self.evict_at(shard, pos);
        } else {
            entry.used &= !evict;
            shard.hand = pos + 1;
        }
    }

    /// Removes the entry at `pos` by the bound or expiry, counted as an eviction of each
    /// registry's part.
    fn evict_at(&self, shard: &mut Shard, pos: usize) {
        let entry = &shard.entries[pos];
        for (s, r) in REGISTRIES.iter().enumerate() {
            if entry.states[s] != State::Empty {
                metrics::cache_eviction(*r);
            }
        }
        self.remove_at(shard, pos);
    }

    /// Removes the entry at `pos` (the last entry takes its place).
    fn remove_at(&self, shard: &mut Shard, pos: usize) {
        let key = shard.entries[pos].key;
        let hash = self.hasher.hash_one(key);
        if let Ok(found) = shard.index.find_entry(hash, |&i| i as usize == pos) {
            found.remove();
        }
        let removed = shard.entries.swap_remove(pos);
        self.persons.fetch_sub(1, Ordering::Relaxed);
        shard.heap -= removed.heap();
        if pos < shard.entries.len() {
            let moved = shard.entries[pos].key;
            let last = shard.entries.len() as u32;
            if let Some(i) = shard
                .index
                .find_mut(self.hasher.hash_one(moved), |&i| i == last)
            {
                *i = pos as u32;
            }
        }
    }

    /// Forgets `registry`'s facts about `iin`; `true` if there were some.
    pub fn invalidate(&self, registry: Registry, iin: &Iin) -> bool {
        let Some(slot) = REGISTRIES.iter().position(|r| *r == registry) else {
            return false;
        };
        let key = iin.number();
        let (mut shard, hash) = self.shard(key);
        let Some(&pos) = shard.index.find(hash, |&i| shard_key(&shard, i) == key) else {
            return false;
        };
        let entry = &mut shard.entries[pos as usize];
        let had = entry.states[slot] != State::Empty;
        entry.set_said(slot, Said::default());
        if entry.states.iter().all(|s| *s == State::Empty) {
            self.remove_at(&mut shard, pos as usize);
        }
        had
    }

    /// Removes every expired person.
    pub fn sweep(&self) {
        let now = self.now();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            let mut pos = 0;
            while pos < shard.entries.len() {
                if shard.entries[pos].expired(self, now) {
                    self.evict_at(&mut shard, pos);
                } else {
                    pos += 1;
                }
            }
        }
    }

    /// How many persons it holds and about what they cost in memory (entries, their boxes
    /// and the index).
    pub fn size(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(n, bytes), shard| {
            let s = shard.lock().unwrap_or_else(|p| p.into_inner());
            let table = s.index.capacity() * (size_of::<u32>() + 1);
            let entries = s.entries.len() * size_of::<Entry>();
            (
                n + s.entries.len() as u64,
                bytes + (table + entries + s.heap) as u64,
            )
        })
    }

    /// `T`'s facts about the query's person for a decision: kept facts when fresh (and
    /// `shared`), else the registry's answer through `lookup` (its guard), whose facts are
    /// kept before its call ends; a failed call may be answered by facts within the stale
    /// allowance. `shared = false` neither reads nor keeps facts: the registry sees the
    /// query, token included.
    pub async fn fetch<T: Kept>(
        self: &Arc<Self>,
        lookup: &dyn Lookup<T>,
        query: &Query,
        shared: bool,
    ) -> ToldResult<T::Facts> {
        let iin = query.iin;
        if shared {
            let hit = self.get::<T>(&iin, false);
            metrics::cache_lookup(T::REGISTRY, if hit.is_some() { "hit" } else { "miss" });
            if let Some(hit) = hit {
                return Ok(hit);
            }
        }
        let query = Query {
            shared_cache: false,
            ..query.clone()
        };
        let keep = shared.then(|| {
            let cache = self.clone();
            Arc::new(move |answer: &Fetched<T>| cache.insert(&iin, answer))
                as crate::registry::Then<T>
        });
        match lookup.fetch_then(&query, keep).await {
            Ok(answer) => Ok(Fetched {
                value: Arc::new(answer.value.told(&iin)),
                source: answer.source,
            }),
            Err(e) if shared && e.failure.allows_stale() => {
                let stale = self.get::<T>(&iin, true).ok_or(e)?;
                metrics::cache_lookup(T::REGISTRY, "stale");
                Ok(stale)
            }
            Err(e) => Err(e),
        }
    }
}

fn shard_key(shard: &Shard, pos: u32) -> u64 {
    shard.entries[pos as usize].key
}

/// Records (or clears) a part's digest and text message id in the entry's rare box.
fn set_rare(
    rare: &mut Option<Box<Rare>>,
    slot: usize,
    digest: Option<[u8; 32]>,
    text_id: Option<Box<str>>,
) {
    if digest.is_none() && text_id.is_none() && rare.is_none() {
        return;
    }
    let r = rare.get_or_insert_with(Box::default);
    r.has_digest[slot] = digest.is_some();
    r.digests[slot] = digest.unwrap_or_default();
    if text_id.is_some() || r.text_ids.is_some() {
        let ids = r.text_ids.get_or_insert_with(Box::default);
        ids[slot] = text_id;
        if ids.iter().all(Option::is_none) {
            r.text_ids = None;
        }
    }
    if r.is_empty() {
        *rare = None;
    }
}

#[cfg(test)]
mod tests;
