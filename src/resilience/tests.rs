//! The guard on paused time with a scripted registry: cache lifetimes, stale-if-error, single
//! flight, retries and their budget and deadline, attempt timeouts, the breaker.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::future::{join_all, BoxFuture, FutureExt};
use tokio::time::{advance, sleep, Instant};

use super::*;
use crate::registry::Source;

/// A valid IIN for each `n`.
fn iin(n: u32) -> Iin {
    (0..)
        .map(|k| format!("800101300{:03}", (n * 7 + k) % 1000))
        .find_map(|s| {
            let stem = &s[..11];
            (0..10).find_map(|c| Iin::parse(&format!("{stem}{c}")).ok())
        })
        .unwrap()
}

fn answer(v: Option<u32>) -> Fetched<Option<u32>> {
    Fetched {
        value: Arc::new(v),
        source: Source {
            message_id: "m".into(),
            fetched_at: Utc::now(),
            from_cache: false,
            stale: false,
            age: Duration::ZERO,
            envelope: None,
        },
    }
}

fn fail(failure: Failure) -> RegistryError {
    RegistryError {
        registry: Registry::GbdFl,
        failure,
        retry_after: Duration::from_secs(5),
    }
}

/// One scripted step of the fake registry: how long it takes, then what it answers.
#[derive(Clone)]
enum Step {
    Answer(Option<u32>),
    Fail(Failure),
    Hang,
}

/// A fake registry: plays `script` in order (repeating the last step), counting calls.
#[derive(Clone)]
struct Fake {
    calls: Arc<AtomicU32>,
    script: Arc<Mutex<VecDeque<Step>>>,
    latency: Duration,
}

impl Fake {
    fn new(steps: &[Step], latency: Duration) -> Fake {
        Fake {
            calls: Arc::new(AtomicU32::new(0)),
            script: Arc::new(Mutex::new(steps.iter().cloned().collect())),
            latency,
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    fn fetch(
        &self,
    ) -> impl Fn(Query) -> BoxFuture<'static, Result<Fetched<Option<u32>>, RegistryError>>
           + Send
           + Sync
           + 'static {
        let fake = self.clone();
        move |_q| {
            let fake = fake.clone();
            async move {
                fake.calls.fetch_add(1, Ordering::SeqCst);
                let step = {
                    let mut script = fake.script.lock().unwrap();
                    if script.len() > 1 {
                        script.pop_front().unwrap()
                    } else {
                        script.front().cloned().unwrap()
                    }
                };
                sleep(fake.latency).await;
                match step {
                    Step::Answer(v) => Ok(answer(v)),
                    Step::Fail(f) => Err(fail(f)),
                    Step::Hang => futures::future::pending().await,
                }
            }
            .boxed()
        }
    }
}

fn policy() -> Policy {
    Policy {
        cache_ttl: Duration::from_secs(60),
        cache_negative_ttl: Duration::from_secs(10),
        cache_max_stale: Duration::from_secs(300),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(100),
        backoff_jitter: 0.0,
        ..Policy::default()
    }
}

fn guard(policy: Policy) -> Arc<Guard<Option<u32>>> {
    Guard::new(
        Registry::GbdFl,
        policy,
        Duration::from_secs(5),
        Option::is_none,
    )
}

fn query(n: u32) -> Query {
    Query::new(iin(n))
}

/// Queries for `count` different persons.
fn persons(count: usize) -> Vec<Query> {
    (0..1000)
        .filter_map(|serial| {
            let stem = format!("80010130{serial:03}");
            (0..10).find_map(|c| Iin::parse(&format!("{stem}{c}")).ok())
        })
        .take(count)
        .map(Query::new)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn answers_are_cached_for_the_ttl() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    let first = g.get(&query(1), fake.fetch()).await.unwrap();
    assert!(!first.source.from_cache);
    advance(Duration::from_secs(59)).await;
    let second = g.get(&query(1), fake.fetch()).await.unwrap();
    assert!(second.source.from_cache && !second.source.stale);
    assert_eq!(second.source.age, Duration::from_secs(59));
    assert_eq!(fake.calls(), 1);
    advance(Duration::from_secs(1)).await;
    g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(fake.calls(), 2, "expired after the TTL");
}

#[tokio::test(start_paused = true)]
async fn no_such_record_has_the_shorter_ttl() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(None)], Duration::ZERO);
    g.get(&query(1), fake.fetch()).await.unwrap();
    advance(Duration::from_secs(9)).await;
    g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(fake.calls(), 1);
    advance(Duration::from_secs(1)).await;
    g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(
        fake.calls(),
        2,
        "negative answers expire after cache_negative_ttl"
    );
}

#[tokio::test(start_paused = true)]
async fn stale_if_error_within_max_stale_and_not_beyond() {
    let g = guard(Policy {
        max_attempts: 1,
        ..policy()
    });
    let fake = Fake::new(
        &[Step::Answer(Some(7)), Step::Fail(Failure::Http(503))],
        Duration::ZERO,
    );
    g.get(&query(1), fake.fetch()).await.unwrap();
    advance(Duration::from_secs(60 + 299)).await;
    let stale = g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(*stale.value, Some(7));
    assert!(stale.source.stale && stale.source.from_cache);
    assert_eq!(stale.source.age, Duration::from_secs(359));
    advance(Duration::from_secs(1)).await;
    let e = g.get(&query(1), fake.fetch()).await.unwrap_err();
    assert!(matches!(e.failure, Failure::Http(503)), "{e}");
    assert_eq!(fake.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_call() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::from_secs(1));
    let calls = (0..1000).map(|_| {
        let g = g.clone();
        let fetch = fake.fetch();
        async move { g.get(&query(1), fetch).await }
    });
    let results = join_all(calls).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_ok_and(|a| *a.value == Some(1))));
    assert_eq!(fake.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_share_one_failure_too() {
    let g = guard(Policy {
        max_attempts: 1,
        ..policy()
    });
    let fake = Fake::new(&[Step::Fail(Failure::Http(503))], Duration::from_secs(1));
    let calls = (0..100).map(|_| {
        let g = g.clone();
        let fetch = fake.fetch();
        async move { g.get(&query(1), fetch).await }
    });
    assert!(join_all(calls).await.iter().all(Result::is_err));
    assert_eq!(fake.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn each_transient_failure_is_retried() {
    let transient = [
        Failure::Connect("refused".into()),
        Failure::Timeout(Duration::from_secs(5)),
        Failure::Http(503),
        Failure::Status {
            code: "TEMP_UNAVAILABLE".into(),
            message: String::new(),
            transient: true,
        },
    ];
    for (n, failure) in transient.into_iter().enumerate() {
        let g = guard(policy());
        let fake = Fake::new(
            &[Step::Fail(failure.clone()), Step::Answer(Some(1))],
            Duration::ZERO,
        );
        let got = g.get(&query(n as u32), fake.fetch()).await;
        assert!(got.is_ok(), "{failure}");
        assert_eq!(fake.calls(), 2, "{failure}");
    }
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_not_retried() {
    let permanent = [
        Failure::Malformed("no person".into()),
        Failure::Fault("bad request".into()),
        Failure::Http(400),
        Failure::Status {
            code: "DENIED".into(),
            message: String::new(),
            transient: false,
        },
    ];
    for (n, failure) in permanent.into_iter().enumerate() {
        let g = guard(policy());
        let fake = Fake::new(
            &[Step::Fail(failure.clone()), Step::Answer(Some(1))],
            Duration::ZERO,
        );
        assert!(
            g.get(&query(n as u32), fake.fetch()).await.is_err(),
            "{failure}"
        );
        assert_eq!(fake.calls(), 1, "{failure}");
    }
}

#[tokio::test(start_paused = true)]
async fn attempts_are_bounded() {
    let g = guard(Policy {
        max_attempts: 4,
        ..policy()
    });
    let fake = Fake::new(&[Step::Fail(Failure::Http(503))], Duration::ZERO);
    assert!(g.get(&query(1), fake.fetch()).await.is_err());
    assert_eq!(fake.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_a_retry_storm() {
    let policy = Policy {
        max_attempts: 3,
        retry_budget_ratio: 0.1,
        retry_budget_min_per_sec: 1,
        retry_budget_window: Duration::from_secs(10),
        // Keep the breaker out of the way: this is about the budget.
        breaker: BreakerConfig {
            consecutive_failures: 1_000_000,
            min_calls: 1_000_000,
            ..BreakerConfig::default()
        },
        ..policy()
    };
    let g = guard(policy);
    let fake = Fake::new(&[Step::Fail(Failure::Http(503))], Duration::ZERO);
    for n in 0..200 {
        let _ = g.get(&query(n), fake.fetch()).await;
    }
    // Without a budget: 600 calls. With 10 % of 200 calls plus the per-second floor, far fewer.
    let calls = fake.calls();
    assert!((200..=240).contains(&calls), "{calls} calls");
}

#[tokio::test(start_paused = true)]
async fn no_retry_that_cannot_finish_before_the_deadline() {
    // Each attempt takes 1 s to fail; after a 100 ms backoff a retry would end at 2.1 s.
    let fake = Fake::new(&[Step::Fail(Failure::Http(503))], Duration::from_secs(1));
    let g = guard(policy());
    let mut q = query(1);
    q.callers_deadline = Some(Instant::now() + Duration::from_millis(2000));
    let e = g.get(&q, fake.fetch()).await.unwrap_err();
    assert!(matches!(e.failure, Failure::Http(503)), "{e}");
    assert_eq!(fake.calls(), 1);

    // With room for it, the retry happens.
    let fake = Fake::new(
        &[Step::Fail(Failure::Http(503)), Step::Answer(Some(1))],
        Duration::from_secs(1),
    );
    let mut q = query(2);
    q.callers_deadline = Some(Instant::now() + Duration::from_millis(2200));
    assert!(g.get(&q, fake.fetch()).await.is_ok());
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_and_caller_deadline() {
    let g = guard(Policy {
        max_attempts: 1,
        attempt_timeout: Duration::from_secs(2),
        ..policy()
    });
    let fake = Fake::new(&[Step::Hang], Duration::ZERO);
    let started = Instant::now();
    let e = g.get(&query(1), fake.fetch()).await.unwrap_err();
    assert!(matches!(e.failure, Failure::Timeout(_)), "{e}");
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    let mut q = query(2);
    q.callers_deadline = Some(Instant::now() + Duration::from_millis(500));
    let started = Instant::now();
    let e = g.get(&q, fake.fetch()).await.unwrap_err();
    assert!(matches!(e.failure, Failure::DeadlineExceeded), "{e}");
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_without_calling() {
    let g = guard(Policy {
        max_attempts: 1,
        breaker: BreakerConfig {
            consecutive_failures: 3,
            open_for: Duration::from_secs(30),
            ..BreakerConfig::default()
        },
        ..policy()
    });
    let fake = Fake::new(
        &[Step::Fail(Failure::Connect("refused".into()))],
        Duration::ZERO,
    );
    for n in 0..3 {
        let _ = g.get(&query(n), fake.fetch()).await;
    }
    assert_eq!(g.status().breaker, BreakerState::Open);
    let e = g.get(&query(10), fake.fetch()).await.unwrap_err();
    assert!(matches!(e.failure, Failure::CircuitOpen), "{e}");
    assert_eq!(e.retry_after, Duration::from_secs(30));
    assert_eq!(fake.calls(), 3);

    // Half-open after open_for: a successful probe closes it.
    advance(Duration::from_secs(30)).await;
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    assert!(g.get(&query(11), fake.fetch()).await.is_ok());
    assert_eq!(g.status().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn invalidation_forces_a_fresh_call() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    g.get(&query(1), fake.fetch()).await.unwrap();
    assert!(g.invalidate(&iin(1)));
    assert!(!g.invalidate(&iin(1)));
    g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_with_a_later_deadline_is_not_cut_short_by_the_first() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::from_secs(1));
    let mut hasty = query(1);
    hasty.callers_deadline = Some(Instant::now() + Duration::from_millis(200));
    let patient = query(1);
    let (a, b) = tokio::join!(g.get(&hasty, fake.fetch()), async {
        sleep(Duration::from_millis(50)).await;
        g.get(&patient, fake.fetch()).await
    });
    assert!(matches!(a.unwrap_err().failure, Failure::DeadlineExceeded));
    assert_eq!(*b.unwrap().value, Some(1));
    assert_eq!(fake.calls(), 1);
    assert_eq!(g.status().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_entry_gets_a_new_lifetime() {
    let g = guard(Policy {
        cache_ttl: Duration::from_secs(10),
        cache_negative_ttl: Duration::from_secs(10),
        cache_max_stale: Duration::ZERO,
        ..policy()
    });
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    g.get(&query(1), fake.fetch()).await.unwrap();
    advance(Duration::from_secs(10)).await;
    g.get(&query(1), fake.fetch()).await.unwrap();
    advance(Duration::from_secs(5)).await;
    let hit = g.get(&query(1), fake.fetch()).await.unwrap();
    assert!(hit.source.from_cache);
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_callers_budget_is_passed_down_and_the_attempt_is_bounded_by_its_timeout() {
    let g = guard(policy());
    let seen = Arc::new(Mutex::new(None));
    let fetch = {
        let seen = seen.clone();
        move |q: Query| {
            *seen.lock().unwrap() = Some((q.attempt_deadline, q.callers_deadline));
            async { Ok(answer(Some(1))) }.boxed()
        }
    };
    let mut q = query(1);
    let caller = Instant::now() + Duration::from_millis(800);
    q.callers_deadline = Some(caller);
    g.get(&q, fetch).await.unwrap();
    let (attempt, budget) = seen.lock().unwrap().expect("fetched");
    assert_eq!(budget, Some(caller));
    assert_eq!(attempt, Some(Instant::now() + policy().attempt_timeout));
}

/// Lets spawned tasks run on the paused clock without moving it.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_callers_all_left_gives_its_slot_back() {
    let g = guard(Policy {
        max_concurrent: 2,
        ..policy()
    });
    let fake = Fake::new(&[Step::Hang], Duration::ZERO);
    // Two callers with a 1 s deadline, killed after 100 ms: nothing polls their futures again.
    for mut q in persons(2) {
        let (g, fetch) = (g.clone(), fake.fetch());
        q.callers_deadline = Some(Instant::now() + Duration::from_secs(1));
        let caller = tokio::spawn(async move { g.get(&q, fetch).await });
        settle().await;
        advance(Duration::from_millis(100)).await;
        caller.abort();
    }
    settle().await;
    assert_eq!(
        g.status().calls_in_flight,
        2,
        "the calls run on without their callers"
    );
    advance(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(
        g.status().calls_in_flight,
        0,
        "past the last waiter's deadline the slots are free"
    );
    assert_eq!(
        g.status().breaker,
        BreakerState::Closed,
        "the callers' clock, not the registry's fault"
    );
    let healthy = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    assert!(g.get(&query(5), healthy.fetch()).await.is_ok());

    // A caller without a deadline that goes away: its call ends by its attempt timeout.
    let (g2, fetch) = (g.clone(), fake.fetch());
    let caller = tokio::spawn(async move { g2.get(&query(6), fetch).await });
    settle().await;
    caller.abort();
    assert_eq!(g.status().calls_in_flight, 1);
    advance(Duration::from_secs(60)).await;
    settle().await;
    assert_eq!(g.status().calls_in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_late_caller_gets_the_answer_of_a_call_whose_first_caller_left() {
    let g = guard(policy());
    let fake = Fake::new(&[Step::Answer(Some(3))], Duration::from_secs(2));
    let (g1, fetch) = (g.clone(), fake.fetch());
    let first = tokio::spawn(async move { g1.get(&query(1), fetch).await });
    settle().await;
    advance(Duration::from_millis(500)).await;
    first.abort();
    let answer = g.get(&query(1), fake.fetch()).await.unwrap();
    assert_eq!(*answer.value, Some(3));
    assert_eq!(
        fake.calls(),
        1,
        "the second caller joined the call in flight"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_does_not_leave_the_breaker_half_open() {
    let g = guard(Policy {
        max_attempts: 1,
        breaker: BreakerConfig {
            consecutive_failures: 2,
            open_for: Duration::from_secs(10),
            ..BreakerConfig::default()
        },
        ..policy()
    });
    let down = Fake::new(&[Step::Fail(Failure::Http(503))], Duration::ZERO);
    for n in 0..2 {
        let _ = g.get(&query(n), down.fetch()).await;
    }
    assert_eq!(g.status().breaker, BreakerState::Open);
    advance(Duration::from_secs(10)).await;

    // The probe hangs and its caller is killed.
    let hanging = Fake::new(&[Step::Hang], Duration::ZERO);
    let (g1, fetch) = (g.clone(), hanging.fetch());
    let mut q = query(10);
    q.callers_deadline = Some(Instant::now() + Duration::from_millis(500));
    let probe = tokio::spawn(async move { g1.get(&q, fetch).await });
    settle().await;
    advance(Duration::from_millis(100)).await;
    probe.abort();
    advance(Duration::from_millis(400)).await;
    settle().await;

    // The registry is back: the next call is the new probe, and closes the breaker.
    let healthy = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    let answer = g.get(&query(11), healthy.fetch()).await;
    assert!(answer.is_ok(), "{:?}", answer.err());
    assert_eq!(g.status().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn waiting_for_a_slot_is_the_gateways_overload_not_the_registrys_failure() {
    let g = guard(Policy {
        max_concurrent: 1,
        queue_timeout: Duration::from_secs(1),
        attempt_timeout: Duration::from_secs(20),
        breaker: BreakerConfig {
            consecutive_failures: 2,
            ..BreakerConfig::default()
        },
        ..policy()
    });
    let slow = Fake::new(&[Step::Answer(Some(1))], Duration::from_secs(10));
    let calls = persons(20).into_iter().map(|q| {
        let (g, fetch) = (g.clone(), slow.fetch());
        async move {
            let started = Instant::now();
            (g.get(&q, fetch).await, started.elapsed())
        }
    });
    let results = join_all(calls).await;
    let answered = results.iter().filter(|(r, _)| r.is_ok()).count();
    assert_eq!(answered, 1);
    for (result, waited) in results.iter().filter(|(r, _)| r.is_err()) {
        let e = result.as_ref().unwrap_err();
        assert!(matches!(e.failure, Failure::Overloaded(_)), "{e}");
        assert_eq!(*waited, Duration::from_secs(1));
    }
    assert_eq!(slow.calls(), 1, "a refused call never reached the registry");
    assert_eq!(g.status().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_counts_calls_after_their_retries() {
    let g = guard(Policy {
        max_attempts: 3,
        retry_budget_min_per_sec: 100,
        ..policy()
    });
    // Every other attempt fails: each call fails once, then succeeds on its retry.
    let steps: Vec<Step> = (0..200)
        .flat_map(|_| [Step::Fail(Failure::Http(503)), Step::Answer(Some(1))])
        .collect();
    let flaky = Fake::new(&steps, Duration::ZERO);
    for q in persons(100) {
        let answer = g.get(&q, flaky.fetch()).await;
        assert!(answer.is_ok(), "{:?}", answer.err());
    }
    assert_eq!(flaky.calls(), 200);
    assert_eq!(g.status().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_cache_stays_within_its_bytes() {
    let max_bytes = 64 * 1024;
    let g = guard(Policy {
        cache_max_bytes: max_bytes,
        ..policy()
    });
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    for q in persons(1000) {
        g.get(&q, fake.fetch()).await.unwrap();
        assert!(g.status().cache_bytes <= max_bytes, "{:?}", g.status());
    }
    let status = g.status();
    assert!(
        status.cache_entries > 50 && status.cache_entries < 1000,
        "filled, then evicted by weight: {status:?}"
    );
    assert!(status.cache_bytes > max_bytes / 2, "{status:?}");
}

#[tokio::test(start_paused = true)]
async fn the_entry_count_still_bounds_the_cache() {
    let g = guard(Policy {
        cache_max_entries: 100,
        ..policy()
    });
    let fake = Fake::new(&[Step::Answer(Some(1))], Duration::ZERO);
    for q in persons(1000) {
        g.get(&q, fake.fetch()).await.unwrap();
    }
    let status = g.status();
    assert!(
        status.cache_entries <= 100 && status.cache_entries > 50,
        "{status:?}"
    );
}
