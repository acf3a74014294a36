//! End-to-end resilience: the five mock registries and the gateway on 127.0.0.1:0 in this
//! process, with faults injected per mock and the resilience policy tweaked per test.
//!
//! Covered: single flight under 1000 concurrent identical CheckOwner calls; the caller's
//! deadline (DEADLINE_EXCEEDED, not CANCELLED, well before a slow registry answers); retries of
//! transient failures only; the circuit breaker failing fast with RetryInfo and showing OPEN in
//! GatewayAdminService; cache invalidation through GatewayAdminService; server-wide load shedding
//! (RESOURCE_EXHAUSTED); and two properties over random registry faults: a minor or
//! incapacitated owner is never sent online, and a capable adult is online only when every
//! registry the answer needs has answered.
//!
//! Real sockets, real time: no paused clock. Time ratios are large (a 2 s registry against a
//! 200 ms deadline) and nothing sleeps to wait for something; the tests await the RPCs.

mod common;

use common::Harness;

use std::time::{Duration, Instant};

use futures::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient, Outcome,
};
use registry_gateway::config::Config;
use registry_gateway::registry::Registry;
use registry_mocks::{demo, FaultMode, Faults, MockRegistry};
use tonic::{Code, Status};
use tonic_types::StatusExt;

// ---------------------------------------------------------------------------------------------
// Harness

/// The mocks on the demo fixture and a gateway in front of them, with `tweak` applied to the
/// default configuration.
/// `tweak` after what these tests are about: GBD FL's cache and single flight under
/// CheckOwner, which may use the shared cache (the default, without it, is tested in
/// tests/consent.rs).
fn shared_cache(tweak: impl FnOnce(&mut Config)) -> impl FnOnce(&mut Config) {
    move |config| {
        config.consent.check_owner_shared_cache = true;
        tweak(config);
    }
}

impl Harness {
    fn mock(&self, registry: Registry) -> &MockRegistry {
        self.mocks.get(registry)
    }

    fn set_faults(&self, registry: Registry, faults: Faults) {
        self.mock(registry).set_faults(faults);
    }

    /// Calls each mock has received, in [`Registry::ALL`] order.
    fn calls(&self) -> [u64; Registry::COUNT] {
        Registry::ALL.map(|r| self.mock(r).calls())
    }

    fn request(&self, owner: &str) -> pb::CheckOwnerRequest {
        pb::CheckOwnerRequest {
            // A demo person born relative to today is asked for by today's IIN.
            owner_iin: demo::iin(owner, self.today.parse().unwrap()),
            service: pb::Service::RegistrationAtResidence.into(),
            decision_date: self.today.clone(),
            ..Default::default()
        }
    }

    async fn check(&self, owner: &str) -> Result<pb::CheckOwnerResponse, Status> {
        self.client()
            .check_owner(self.request(owner))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn registry_status(&self) -> Vec<pb::RegistryStatus> {
        self.admin()
            .get_registry_status(pb::GetRegistryStatusRequest {})
            .await
            .expect("GetRegistryStatus")
            .into_inner()
            .registries
    }
}

/// `after - before`, per registry.
fn delta(after: [u64; Registry::COUNT], before: [u64; Registry::COUNT]) -> [u64; Registry::COUNT] {
    std::array::from_fn(|i| after[i] - before[i])
}

/// `google.rpc.ErrorInfo.metadata["registry"]` of an error, if any.
fn failed_registry(status: &Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get("registry").cloned())
}

fn evidence(r: &pb::CheckOwnerResponse, registry: pb::Registry) -> &pb::Evidence {
    r.evidence
        .iter()
        .find(|e| e.registry() == registry)
        .unwrap_or_else(|| panic!("no evidence from {registry:?}: {r:?}"))
}

/// Breaker thresholds that no test's failures reach.
fn breaker_never_opens(config: &mut Config) {
    let breaker = &mut config.resilience.defaults.breaker;
    breaker.consecutive_failures = 1_000_000;
    breaker.min_calls = 1_000_000;
}

// ---------------------------------------------------------------------------------------------
// Single flight, deadlines, retries, breaker, invalidation, shedding

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_cold_check_owner_calls_make_one_call_per_registry() {
    const N: usize = 1000;
    let h = Harness::start(shared_cache(|c| {
        c.max_in_flight = 4 * N;
        c.max_in_flight_per_caller = 4 * N;
    }))
    .await;
    for r in [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity] {
        h.set_faults(r, common::slow(Duration::from_millis(200)));
    }
    let mut channels = Vec::new();
    for _ in 0..8 {
        channels.push(common::connect(h.addr).await);
    }
    let calls = (0..N).map(|i| {
        let mut client = RegistryGatewayServiceClient::new(channels[i % channels.len()].clone());
        let request = h.request(demo::CAPABLE_ADULT);
        async move { client.check_owner(request).await }
    });
    let answers = join_all(calls).await;

    let mut shared = 0;
    for answer in answers {
        let r = answer.expect("every caller gets an answer").into_inner();
        assert_eq!(r.outcome(), Outcome::Online, "{r:?}");
        shared += usize::from(!evidence(&r, pb::Registry::GbdFl).from_cache);
    }
    assert_eq!(h.calls(), [1, 1, 1, 0, 0]);
    // More than one caller got the registry's own answer (not the cache's): they shared the
    // call in flight.
    assert!(shared > 1, "only {shared} caller(s) saw the live answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_shorter_than_registry_latency_is_deadline_exceeded() {
    let h = Harness::start(shared_cache(|_| {})).await;
    h.set_faults(Registry::GbdFl, common::slow(Duration::from_secs(2)));
    let mut request = tonic::Request::new(h.request(demo::CAPABLE_ADULT));
    // The gateway answers a tenth of the deadline early (at most 50 ms) so that its
    // DEADLINE_EXCEEDED beats the client's own timer; 500 ms leaves it 50 ms on a busy machine.
    request.set_timeout(Duration::from_millis(500));

    let started = Instant::now();
    let status = h.client().check_owner(request).await.unwrap_err();
    let elapsed = started.elapsed();

    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failure_is_retried_permanent_is_not() {
    let h = Harness::start(shared_cache(|c| {
        let p = &mut c.resilience.defaults;
        p.max_attempts = 3;
        p.backoff_min = Duration::from_millis(10);
        p.backoff_max = Duration::from_millis(20);
        breaker_never_opens(c);
    }))
    .await;
    // A different capable adult per case: the cache is per person.
    for (owner, mode, calls) in [
        (demo::CAPABLE_ADULT, FaultMode::Http503, 3),
        (demo::MINOR_MOTHER, FaultMode::MalformedXml, 1),
    ] {
        h.set_faults(Registry::SocialSecurity, Faults::mode(mode.clone()));
        let before = h.calls();
        let status = h.check(owner).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{mode:?}: {status:?}");
        assert_eq!(
            failed_registry(&status).as_deref(),
            Some("social_security"),
            "{mode:?}: {status:?}"
        );
        assert_eq!(delta(h.calls(), before), [1, 1, calls, 0, 0], "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_and_fails_fast() {
    let h = Harness::start(shared_cache(|c| {
        let p = &mut c.resilience.defaults;
        p.max_attempts = 1;
        p.breaker.consecutive_failures = 3;
        p.breaker.open_for = Duration::from_secs(60);
    }))
    .await;
    h.set_faults(Registry::Zags, Faults::mode(FaultMode::Down));

    // Adults need IS ZAGS (death act) for any answer: each of these fails on it.
    for owner in [demo::CAPABLE_ADULT, demo::MINOR_MOTHER, demo::MINOR_FATHER] {
        let status = h.check(owner).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert_eq!(failed_registry(&status).as_deref(), Some("zags"));
    }
    let zags_calls = h.mock(Registry::Zags).calls();
    assert_eq!(zags_calls, 3);

    let status = h.check(demo::INCAPABLE_GUARDIAN).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(failed_registry(&status).as_deref(), Some("zags"));
    assert!(status.message().contains("circuit breaker"), "{status:?}");
    // The wait until the breaker lets a probe through, not the 5 s of a transient failure.
    let retry = status.get_error_details().retry_info().cloned();
    let delay = retry.and_then(|r| r.retry_delay);
    assert!(
        delay.is_some_and(|d| d > Duration::from_secs(30)),
        "{delay:?}"
    );
    assert_eq!(
        h.mock(Registry::Zags).calls(),
        zags_calls,
        "ZAGS was called"
    );

    for s in h.registry_status().await {
        let expected = match s.registry() {
            pb::Registry::Zags => pb::BreakerState::Open,
            _ => pb::BreakerState::Closed,
        };
        assert_eq!(s.breaker(), expected, "{s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_invalidate_forces_a_fresh_call() {
    let h = Harness::start(shared_cache(|_| {})).await;
    let consulted = [
        pb::Registry::GbdFl,
        pb::Registry::Zags,
        pb::Registry::SocialSecurity,
    ];

    let first = h.check(demo::CAPABLE_ADULT).await.unwrap();
    assert!(consulted.iter().all(|r| !evidence(&first, *r).from_cache));
    let after_first = h.calls();
    assert_eq!(after_first, [1, 1, 1, 0, 0]);

    let second = h.check(demo::CAPABLE_ADULT).await.unwrap();
    assert_eq!(second.outcome(), Outcome::Online);
    assert!(
        consulted.iter().all(|r| evidence(&second, *r).from_cache),
        "{second:?}"
    );
    assert_eq!(h.calls(), after_first);

    let invalidated: Vec<pb::Registry> = h
        .admin()
        .invalidate_person(pb::InvalidatePersonRequest {
            iin: demo::CAPABLE_ADULT.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .invalidated()
        .collect();
    assert_eq!(invalidated, consulted);

    let third = h.check(demo::CAPABLE_ADULT).await.unwrap();
    assert_eq!(third.outcome(), Outcome::Online);
    assert!(
        consulted.iter().all(|r| !evidence(&third, *r).from_cache),
        "{third:?}"
    );
    assert_eq!(delta(h.calls(), after_first), [1, 1, 1, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_with_resource_exhausted() {
    let h = Harness::start(shared_cache(|c| c.max_in_flight = 2)).await;
    let latency = Duration::from_secs(1);
    h.set_faults(Registry::GbdFl, common::slow(latency));

    let calls = (0..10).map(|_| {
        let mut client = h.client();
        let request = h.request(demo::CAPABLE_ADULT);
        async move {
            let started = Instant::now();
            let result = client.check_owner(request).await;
            (result, started.elapsed())
        }
    });
    let (mut ok, mut shed) = (0, 0);
    for (result, elapsed) in join_all(calls).await {
        match result {
            Ok(r) => {
                assert_eq!(r.into_inner().outcome(), Outcome::Online);
                ok += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                // Refused at once, not queued behind the slow registry.
                assert!(elapsed < latency / 2, "shed after {elapsed:?}");
                shed += 1;
            }
        }
    }
    assert!(ok >= 2, "{ok} succeeded, {shed} shed");
    assert!(shed >= 1, "{ok} succeeded, {shed} shed");
}

// ---------------------------------------------------------------------------------------------
// Properties over random registry faults

/// Every failure mode of a mock, and a healthy one.
fn fault_mode() -> impl Strategy<Value = FaultMode> {
    prop::sample::select(vec![
        FaultMode::None,
        FaultMode::Down,
        FaultMode::Http503,
        FaultMode::SoapFault,
        FaultMode::MalformedXml,
        FaultMode::WrongStatus {
            code: "TEMP_UNAVAILABLE".into(),
        },
        FaultMode::WrongStatus {
            code: "WHATEVER".into(),
        },
    ])
}

/// A mode per registry, in [`Registry::ALL`] order.
fn fault_modes() -> impl Strategy<Value = [FaultMode; Registry::COUNT]> {
    prop::array::uniform5(fault_mode())
}

/// The test's runtime, and a gateway on it with no cache, one attempt per call and a breaker
/// that never opens, so that one case's faults do not leak into the next.
fn isolated_gateway() -> (tokio::runtime::Runtime, Harness) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(Harness::start(shared_cache(|c| {
        let p = &mut c.resilience.defaults;
        p.cache_ttl = Duration::ZERO;
        p.cache_negative_ttl = Duration::ZERO;
        p.cache_max_stale = Duration::ZERO;
        p.max_attempts = 1;
        breaker_never_opens(c);
    })));
    (rt, h)
}

/// Runs `property` on 64 cases of (faults per registry, owner from `owners`).
fn check_property(
    owners: &[&'static str],
    property: impl Fn(
        &[FaultMode; Registry::COUNT],
        Result<pb::CheckOwnerResponse, Status>,
    ) -> Result<(), TestCaseError>,
) {
    let (rt, h) = isolated_gateway();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (fault_modes(), prop::sample::select(owners.to_vec()));
    let result = runner.run(&strategy, |(modes, owner)| {
        let answer = rt.block_on(async {
            for (r, mode) in Registry::ALL.iter().zip(&modes) {
                h.set_faults(*r, Faults::mode(mode.clone()));
            }
            h.check(owner).await
        });
        property(&modes, answer).map_err(|e| TestCaseError::fail(format!("owner {owner}: {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The keys of the registries whose mock is faulted.
fn faulted<'a>(modes: &[FaultMode; Registry::COUNT]) -> Vec<&'a str> {
    Registry::ALL
        .iter()
        .zip(modes)
        .filter(|(_, m)| **m != FaultMode::None)
        .map(|(r, _)| r.key())
        .collect()
}

/// A failure is UNAVAILABLE or DEADLINE_EXCEEDED and names a registry that was faulted.
fn names_a_faulted_registry(
    modes: &[FaultMode; Registry::COUNT],
    status: &Status,
) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{status:?}"
    );
    let registry = failed_registry(status);
    let faulted = faulted(modes);
    prop_assert!(
        registry.as_deref().is_some_and(|r| faulted.contains(&r)),
        "names {registry:?}, faulted {faulted:?}: {status:?}"
    );
    Ok(())
}

#[test]
fn a_proptest_never_online_for_minor_or_incapacitated() {
    let protected = [
        demo::MINOR,
        demo::TURNS_18_TOMORROW,
        demo::INCAPABLE_BY_COURT,
        demo::LIMITED_CAPACITY,
        demo::GUARDIANSHIP_ONLY,
        demo::MINOR_IN_CARE,
        demo::MARRIED_MINOR,
    ];
    check_property(&protected, |modes, answer| match answer {
        // Neither online nor refused: these owners are alive.
        Ok(r) => {
            prop_assert_eq!(r.outcome(), Outcome::OperationalHall, "{:?}", r);
            Ok(())
        }
        Err(status) => names_a_faulted_registry(modes, &status),
    });
}

#[test]
fn a_proptest_capable_adult_is_online_only_when_every_needed_registry_answered() {
    check_property(&[demo::CAPABLE_ADULT], |modes, answer| {
        // GBD FL, IS ZAGS and E-social security are needed; NOBD and EPVO are never asked.
        let needed_healthy = modes[..3].iter().all(|m| *m == FaultMode::None);
        match answer {
            Ok(r) => {
                prop_assert_eq!(r.outcome(), Outcome::Online, "{:?}", r);
                prop_assert!(needed_healthy, "online although a needed registry failed");
                Ok(())
            }
            Err(status) => names_a_faulted_registry(modes, &status),
        }
    });
}
