//! The owner-facts cache on paused time: lifetimes per registry and per kind of answer,
//! stale-if-error, invalidation, the bound in persons, sweeping, provenance kept exactly, and
//! one registry call per person through a real guard however many callers ask at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::future::join_all;
use tokio::time::advance;

use super::*;
use crate::registry::{
    BirthAct, CapacityStatus, Failure, LegalCapacity, PersonRef, RegistryResult,
};
use crate::resilience::GuardedRegistries;

/// A distinct valid IIN for each `n` below 3,333 (a stem without a valid check digit is
/// skipped).
fn iin(n: u32) -> Iin {
    (3 * n..3 * n + 3)
        .find_map(|m| {
            let stem = format!("8001013{m:04}");
            (0..10).find_map(|c| Iin::parse(&format!("{stem}{c}")).ok())
        })
        .unwrap()
}

fn policies() -> PerRegistry<Policy> {
    PerRegistry::from_fn(|r| Policy {
        cache_ttl: Duration::from_secs(if r == Registry::Zags { 30 } else { 60 }),
        cache_negative_ttl: Duration::from_secs(10),
        cache_max_stale: Duration::from_secs(300),
        ..Policy::default()
    })
}

fn cache(max_persons: u64) -> Arc<OwnerFactsCache> {
    OwnerFactsCache::new(&OwnerFactsConfig { max_persons }, &policies())
}

fn source(id: &str) -> Source {
    Source {
        message_id: MessageId::from(id),
        fetched_at: Utc::now(),
        from_cache: false,
        stale: false,
        age: Duration::ZERO,
        envelope: None,
    }
}

const UUID: &str = "0b9f6c1e-2d4a-4f8e-9a63-5c7e1d2b3a4f";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn person(owner: &Iin) -> Option<Person> {
    Some(Person {
        iin: owner.as_str().into(),
        surname: "S".into(),
        name: "N".into(),
        patronymic: None,
        birth_date: d("1980-01-01"),
        death_date: None,
        gender: None,
        citizenship: None,
        life_status: crate::registry::LifeStatus::Alive,
        life_status_code: "1".into(),
        capacity: LegalCapacity {
            status: CapacityStatus::Incapable,
            status_code: "2".into(),
            decided_on: Some(d("2020-05-05")),
            ends_on: None,
            case_number: Some("2-123/2020".into()),
            court: Some("Court".into()),
        },
        missing: None,
        reg_address: Some("Address".into()),
        birth_certificate: None,
        death_certificate: None,
    })
}

fn acts(owner: &Iin) -> CivilActs {
    let someone = |iin: &str| PersonRef {
        iin: iin.into(),
        full_name: "Name".into(),
    };
    CivilActs {
        birth_acts: vec![BirthAct {
            act_number: "ZAGS-B-0000451".into(),
            act_date: None,
            child: someone(owner.as_str()),
            mother: Some(someone("550930461147")),
            father: None,
        }],
        ..CivilActs::default()
    }
}

#[tokio::test(start_paused = true)]
async fn facts_live_by_their_registrys_lifetimes() {
    let c = cache(100);
    let owner = iin(1);
    c.insert(&owner, &Fetched::new(person(&owner), source(UUID)));
    c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
    c.insert(
        &owner,
        &Fetched::new(SocialStatus::default(), source("m-1")),
    );

    let hit = c.get::<Option<Person>>(&owner, false).expect("fresh");
    assert_eq!(hit.value.facts, person(&owner).facts(&owner));
    assert!(!hit.value.no_record);
    assert!(hit.source.from_cache && !hit.source.stale);
    assert_eq!(hit.source.message_id, MessageId::from(UUID));
    let social = c.get::<SocialStatus>(&owner, false).expect("fresh");
    assert!(social.value.no_record, "an empty answer is \"no record\"");
    assert_eq!(social.source.message_id, MessageId::from("m-1"));

    // "No record" lives 10 s, IS ZAGS 30 s, GBD FL 60 s.
    advance(Duration::from_secs(11)).await;
    assert!(c.get::<SocialStatus>(&owner, false).is_none());
    assert!(c.get::<CivilActs>(&owner, false).is_some());
    advance(Duration::from_secs(20)).await;
    assert!(c.get::<CivilActs>(&owner, false).is_none());
    let gbd = c.get::<Option<Person>>(&owner, false).expect("fresh");
    assert!(gbd.source.age >= Duration::from_secs(31));
    assert!(gbd.source.age <= Duration::from_secs(31) + TICK);

    // Past the TTL: stale only, until max_stale more.
    advance(Duration::from_secs(30)).await;
    assert!(c.get::<Option<Person>>(&owner, false).is_none());
    let stale = c
        .get::<Option<Person>>(&owner, true)
        .expect("within max_stale");
    assert!(stale.source.stale);
    advance(Duration::from_secs(300)).await;
    assert!(c.get::<Option<Person>>(&owner, true).is_none());
    c.sweep();
    assert_eq!(c.size().0, 0, "expired persons are swept");
}

#[tokio::test(start_paused = true)]
async fn a_reload_applies_to_kept_facts_and_a_zero_ttl_keeps_nothing() {
    let c = cache(100);
    let owner = iin(2);
    c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
    let mut p = policies();
    p[Registry::Zags].cache_ttl = Duration::from_secs(5);
    c.set_policies(&p);
    advance(Duration::from_secs(6)).await;
    assert!(c.get::<CivilActs>(&owner, false).is_none());
    p[Registry::GbdFl].cache_ttl = Duration::ZERO;
    p[Registry::GbdFl].cache_negative_ttl = Duration::ZERO;
    c.set_policies(&p);
    c.insert(&owner, &Fetched::new(person(&owner), source(UUID)));
    assert!(c.get::<Option<Person>>(&owner, true).is_none());
}

#[tokio::test(start_paused = true)]
async fn invalidation_forgets_one_registrys_facts() {
    let c = cache(100);
    let owner = iin(3);
    c.insert(&owner, &Fetched::new(person(&owner), source(UUID)));
    c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
    assert!(c.invalidate(Registry::GbdFl, &owner));
    assert!(!c.invalidate(Registry::GbdFl, &owner), "already gone");
    assert!(!c.invalidate(Registry::Nobd, &owner), "not kept here");
    assert!(c.get::<Option<Person>>(&owner, true).is_none());
    assert!(c.get::<CivilActs>(&owner, false).is_some());
    assert!(c.invalidate(Registry::Zags, &owner));
    assert_eq!(c.size().0, 0, "a person with nothing left is removed");
}

#[tokio::test(start_paused = true)]
async fn the_bound_in_persons_holds_and_keeps_the_persons_in_use() {
    let c = cache(300);
    let hot = iin(0);
    c.insert(&hot, &Fetched::new(acts(&hot), source(UUID)));
    for n in 1..2_000 {
        let owner = iin(n);
        c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
        assert!(c.get::<CivilActs>(&hot, false).is_some(), "in use: kept");
        // Looked for without using it: persons asked once give way to the one in use.
        assert!(holds(&c, &owner), "the newcomer is kept");
        // Over the bound only where the hand has no one to evict: a shard holding the person
        // in use alone, or none yet (the hasher's seed decides which persons share a shard).
        assert!(c.size().0 <= 300 + SHARDS as u64, "{}", c.size().0);
    }
    let (persons, bytes) = c.size();
    assert!(persons >= 290, "the bound is used: {persons}");
    assert!(bytes > persons * size_of::<Entry>() as u64);
    // Every key the index holds points at its own entry.
    for shard in c.shards.iter() {
        let shard = shard.lock().unwrap();
        for (pos, entry) in shard.entries.iter().enumerate() {
            let hash = c.hasher.hash_one(entry.key);
            let found = shard
                .index
                .find(hash, |&i| shard_key(&shard, i) == entry.key);
            assert_eq!(found.map(|&i| i as usize), Some(pos));
        }
    }
}

/// With fewer persons than shards, the person in use is mostly alone in its shard when a
/// newcomer lands there: the hand, with no one else to evict, passes the bound rather than
/// evict it (whatever the hasher's seed).
#[tokio::test(start_paused = true)]
async fn a_person_in_use_alone_in_its_shard_is_kept() {
    let c = cache(16);
    let hot = iin(0);
    c.insert(&hot, &Fetched::new(acts(&hot), source(UUID)));
    for n in 1..2_000 {
        let owner = iin(n);
        c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
        assert!(
            c.get::<CivilActs>(&hot, false).is_some(),
            "in use: kept after {n}"
        );
        assert!(c.size().0 <= 16 + SHARDS as u64, "{}", c.size().0);
    }
}

#[tokio::test(start_paused = true)]
async fn when_everyone_kept_is_in_use_the_bound_gives_one_person_per_shard_at_most() {
    let c = cache(100);
    let mut kept = Vec::new();
    for n in 0..2_000 {
        let owner = iin(n);
        c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
        kept.push(owner);
        // Everyone still kept is asked again before the next newcomer.
        kept.retain(|p| c.get::<CivilActs>(p, false).is_some());
        let persons = c.size().0;
        assert!(persons <= 100 + SHARDS as u64, "{persons} after {n}");
        assert_eq!(persons, kept.len() as u64);
    }
    assert!(c.size().0 >= 100, "the bound is used");
}

/// Whether `c` keeps `iin`, without marking it used.
fn holds(c: &OwnerFactsCache, iin: &Iin) -> bool {
    let key = iin.number();
    let (shard, hash) = c.shard(key);
    let found = shard.index.find(hash, |&i| shard_key(&shard, i) == key);
    found.is_some()
}

#[tokio::test(start_paused = true)]
async fn a_digest_is_kept_and_the_envelope_is_not() {
    let c = cache(100);
    let owner = iin(4);
    let mut s = source(UUID);
    s.envelope = Some(Arc::new(Envelope::new("<Envelope/>".into())));
    let digest = s.envelope.as_ref().unwrap().digest;
    c.insert(&owner, &Fetched::new(acts(&owner), s));
    let hit = c.get::<CivilActs>(&owner, false).unwrap();
    let envelope = hit.source.envelope.expect("the digest");
    assert_eq!(envelope.digest, digest);
    assert_eq!(envelope.bytes, None, "archived when it arrived");
    // A later answer without an envelope drops the digest (and the box).
    c.insert(&owner, &Fetched::new(acts(&owner), source(UUID)));
    assert!(c
        .get::<CivilActs>(&owner, false)
        .unwrap()
        .source
        .envelope
        .is_none());
    let (shard, _) = c.shard(owner.number());
    assert!(shard.entries.iter().all(|e| e.rare.is_none()));
}

#[test]
fn an_entry_is_small() {
    println!(
        "entry {} B: facts person {} B, acts {} B, social {} B",
        size_of::<Entry>(),
        size_of::<Option<PersonFacts>>(),
        size_of::<ActsFacts>(),
        size_of::<SocialFacts>(),
    );
    assert!(size_of::<Entry>() <= 168, "{}", size_of::<Entry>());
}

/// A registry that counts its calls and answers after a while (or fails).
struct Counting {
    calls: AtomicU32,
    fail: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl<T: Payload> Lookup<T> for Counting {
    async fn fetch(&self, _: &Query) -> RegistryResult<T> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.fail.load(Ordering::SeqCst) {
            return Err(RegistryError {
                registry: T::REGISTRY,
                failure: Failure::Timeout(Duration::from_secs(1)),
                retry_after: Duration::from_secs(1),
            });
        }
        Ok(Fetched::new(T::default(), source(UUID)))
    }
}

use crate::registry::Payload;

/// Through real guards: a thousand callers about ten persons, at once and again, make one
/// call per person; a failed call is answered from facts within the stale allowance, and
/// nothing goes into the look-ups' answer cache.
#[tokio::test(start_paused = true)]
async fn one_registry_call_per_person_however_many_ask() {
    let counting = Arc::new(Counting {
        calls: AtomicU32::new(0),
        fail: false.into(),
    });
    struct Make(Arc<Counting>);
    impl crate::registry::MakeLookup for Make {
        fn make<T: Payload>(&mut self) -> Arc<dyn Lookup<T>> {
            self.0.clone()
        }
    }
    let adapters = crate::registry::Registries::build(&mut Make(counting.clone()));
    let p = policies().map(|_, policy| Policy {
        max_attempts: 1,
        ..policy
    });
    let guarded = GuardedRegistries::new(
        &adapters,
        &p,
        &OwnerFactsConfig::default(),
        Duration::from_secs(1),
    );
    let facts = guarded.owner_facts();
    let registries = guarded.registries();
    let ask = |n: u32| {
        let (facts, registries) = (facts.clone(), registries.clone());
        async move {
            facts
                .fetch(
                    registries.get::<CivilActs>(),
                    &Query::new(iin(n % 10)),
                    true,
                )
                .await
        }
    };
    for round in 0..3 {
        let answers = join_all((0..1_000).map(ask)).await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(counting.calls.load(Ordering::SeqCst), 10, "round {round}");
    }
    assert_eq!(
        guarded.admin()[Registry::Zags].status().cache_entries,
        0,
        "the full-record cache is the look-ups'"
    );
    // Past the TTL the registry fails: the facts stand in, marked stale.
    advance(Duration::from_secs(31)).await;
    counting.fail.store(true, Ordering::SeqCst);
    let stale = ask(1).await.expect("stale-if-error");
    assert!(stale.source.stale && stale.source.from_cache);
    // Not shared: the registry is asked, and nothing is kept.
    counting.fail.store(false, Ordering::SeqCst);
    let before = counting.calls.load(Ordering::SeqCst);
    let q = Query::new(iin(99));
    for _ in 0..2 {
        facts
            .fetch(registries.get::<CivilActs>(), &q, false)
            .await
            .unwrap();
    }
    assert_eq!(counting.calls.load(Ordering::SeqCst), before + 2);
    assert!(facts.get::<CivilActs>(&iin(99), true).is_none());
}
