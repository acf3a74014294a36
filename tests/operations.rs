//! Operations: graceful drain (NOT_SERVING, new calls refused, calls in flight finish; the
//! admin port's `/readyz` follows readiness for probes) and configuration reload (TTLs and access rights change under load; a bad reload is refused
//! and the old configuration keeps serving).

mod common;

use common::Harness;

use std::time::Duration;

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::config::Config;
use registry_gateway::decision;
use registry_gateway::registry::Registry;
use registry_mocks::{demo, Faults, MockRegistries};
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// The configuration under test: `toml` plus endpoints of the running mocks.
fn config(toml: &str, mocks: &MockRegistries) -> Config {
    let mut config = Config::from_toml(toml).expect("valid test configuration");
    config.registries = common::config_for(mocks).registries;
    config
}

fn check_owner(owner: &str) -> pb::CheckOwnerRequest {
    pb::CheckOwnerRequest {
        owner_iin: owner.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        ..Default::default()
    }
}

impl Harness {
    /// The demo mocks, and the default configuration pointed at them with `toml` on top.
    async fn with_toml(toml: &str) -> Harness {
        let today = decision::today();
        let mocks = common::demo_mocks(today).await;
        let config = config(toml, &mocks);
        Harness::serve(mocks, config, today).await
    }

    fn gbd_fl_calls(&self) -> u64 {
        self.mocks.get(Registry::GbdFl).calls()
    }

    async fn health(&self, channel: Channel) -> Result<ServingStatus, tonic::Status> {
        let r = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: "registry_gateway.v1.RegistryGatewayService".into(),
            })
            .await?;
        Ok(r.into_inner().status())
    }

    /// `GET path` on the admin port: status and body.
    async fn admin_get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.metrics.expect("metrics_listen"));
        let response = reqwest::get(url).await.expect("the admin port answers");
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// Waits, bounded, until `condition` holds: for a state change another task causes.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..400 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn drain_finishes_calls_in_flight_and_refuses_new_ones() {
    let mut h = Harness::with_toml("shutdown_grace = \"10s\"\nshutdown_delay = \"1s\"").await;
    assert_eq!(
        h.health(h.channel.clone()).await.unwrap(),
        ServingStatus::Serving
    );
    h.mocks.get(Registry::GbdFl).set_faults(Faults {
        latency: Duration::from_millis(1500),
        ..Faults::default()
    });
    let mut slow_client = h.client();
    let slow = tokio::spawn(async move { slow_client.check_owner(check_owner(demo::MINOR)).await });
    eventually("the slow call to reach GBD FL", || h.gbd_fl_calls() == 1).await;

    h.stop.take().unwrap().send(()).unwrap();
    // During the shutdown delay the gateway still answers, and says it is going away.
    let mut status = ServingStatus::Serving;
    for _ in 0..100 {
        status = h.health(h.channel.clone()).await.unwrap();
        if status == ServingStatus::NotServing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(status, ServingStatus::NotServing);

    // After the delay, new calls are refused: no new connection is accepted.
    let addr = h.addr;
    let mut refused = false;
    for _ in 0..400 {
        let fresh = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await;
        let result = match fresh {
            Err(_) => Err(()),
            Ok(channel) => RegistryGatewayServiceClient::new(channel)
                .check_owner(check_owner(demo::CAPABLE_ADULT))
                .await
                .map_err(|_| ()),
        };
        if result.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refused,
        "a new call was still served after the shutdown delay"
    );

    // The call in flight still completes, with its answer.
    let answer = slow.await.unwrap().expect("the call in flight finishes");
    assert_eq!(answer.into_inner().outcome(), pb::Outcome::OperationalHall);
    h.served.await.unwrap().expect("serve returns cleanly");
}

#[tokio::test]
async fn readyz_follows_readiness_for_probes_through_the_drain() {
    let toml = "metrics_listen = \"127.0.0.1:0\"\nshutdown_delay = \"2s\"";
    let mut h = Harness::with_toml(toml).await;
    assert_eq!(h.admin_get("/readyz").await, (200, "ready".to_owned()));
    assert_eq!(h.admin_get("/healthz").await, (200, "ok".to_owned()));

    h.stop.take().unwrap().send(()).unwrap();
    // During the shutdown delay: not ready (as gRPC health says), still alive and answering.
    let mut readyz = (200, String::new());
    for _ in 0..200 {
        readyz = h.admin_get("/readyz").await;
        if readyz.0 != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(readyz, (503, "not ready".to_owned()));
    assert_eq!(
        h.health(h.channel.clone()).await.unwrap(),
        ServingStatus::NotServing
    );
    assert_eq!(h.admin_get("/healthz").await, (200, "ok".to_owned()));
    h.served.await.unwrap().expect("serve returns cleanly");
}

// CheckOwner may use GBD FL's shared cache, so that the TTL shows in GBD FL's calls.
const OPEN_TO_OPS: &str = r#"
[consent]
check_owner_shared_cache = true
[access]
plaintext_client = "ops"
[access.clients.ops]
rpcs = ["CheckOwner", "GetPerson", "GetCivilActs"]
"#;

const TTL_ZERO_AND_CHECK_OWNER_REVOKED: &str = r#"
[consent]
check_owner_shared_cache = true
[resilience.defaults]
cache_ttl = "0s"
cache_negative_ttl = "0s"
[access]
plaintext_client = "ops"
[access.clients.ops]
rpcs = ["GetPerson", "GetCivilActs"]
"#;

#[tokio::test]
async fn reload_changes_ttl_and_access_rights_and_refuses_a_bad_config() {
    let h = Harness::with_toml(OPEN_TO_OPS).await;
    let mut client = h.client();

    // Before: answers are cached (default TTL), CheckOwner allowed.
    client
        .check_owner(check_owner(demo::CAPABLE_ADULT))
        .await
        .unwrap();
    client
        .check_owner(check_owner(demo::CAPABLE_ADULT))
        .await
        .unwrap();
    assert_eq!(h.gbd_fl_calls(), 1);

    let restart = h
        .reloader
        .reload(config(TTL_ZERO_AND_CHECK_OWNER_REVOKED, &h.mocks))
        .unwrap();
    assert!(restart.is_empty(), "{restart:?}");

    // After: CheckOwner is denied; look-ups are no longer cached (TTL 0). (GetPerson never
    // is: a person's record follows its consent.)
    let denied = client
        .check_owner(check_owner(demo::MINOR))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains("CheckOwner"),
        "{}",
        denied.message()
    );
    let person = || pb::GetPersonRequest {
        iin: demo::MINOR_MOTHER.into(),
        ..Default::default()
    };
    let before = h.gbd_fl_calls();
    client.get_person(person()).await.unwrap();
    client.get_person(person()).await.unwrap();
    assert_eq!(
        h.gbd_fl_calls() - before,
        2,
        "TTL 0: every call reaches GBD FL"
    );
    let zags = h.mocks.get(Registry::Zags);
    let before = zags.calls();
    for _ in 0..2 {
        client
            .get_civil_acts(pb::GetCivilActsRequest {
                iin: demo::MINOR.into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        zags.calls() - before,
        2,
        "TTL 0: every call reaches IS ZAGS"
    );

    // A configuration that fails validation is refused and changes nothing.
    let bad = Config::from_toml("[resilience.defaults]\nretry_budget_ratio = 1.5");
    assert!(bad.is_err());
    let mut invalid = config(OPEN_TO_OPS, &h.mocks);
    invalid.resilience.defaults.retry_budget_ratio = 1.5;
    let e = h.reloader.reload(invalid).unwrap_err();
    assert!(e.to_string().contains("retry_budget_ratio"), "{e}");
    let still_denied = client
        .check_owner(check_owner(demo::MINOR))
        .await
        .unwrap_err();
    assert_eq!(still_denied.code(), Code::PermissionDenied);

    // Keys that need a restart are named and keep their running values.
    let mut moved = config(TTL_ZERO_AND_CHECK_OWNER_REVOKED, &h.mocks);
    moved.listen = "127.0.0.1:1".parse().unwrap();
    let restart = h.reloader.reload(moved).unwrap();
    assert_eq!(restart, ["listen"]);
    assert_ne!(h.reloader.current().listen.port(), 1);
}

/// OTLP over HTTP is not built in: asking for it stops the start with a clear message instead
/// of losing every span.
#[test]
fn otlp_over_http_is_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_registry-gateway"))
        .args(["--listen", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .output()
        .unwrap();
    assert!(!out.status.success(), "started anyway");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is not supported"),
        "{stderr}"
    );
}
