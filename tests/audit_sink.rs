//! Readiness knows before callers do (issue 22, test 5): the audit directory on a small file
//! system that another process fills. The writer's probe (every `audit.probe_interval`) sees
//! the free space fall under `audit.min_free_bytes` before the disk is full: readiness turns
//! NOT_SERVING within the interval, the next request is refused before any registry is asked,
//! and readiness comes back when the space does.
//!
//! Real gateway on 127.0.0.1:0, demo mocks in this process, a tmpfs of 8 MiB mounted for the
//! test (needs root, or CAP_SYS_ADMIN, and `mount`/`umount` from util-linux:
//! `apt-get install -y mount`), `dd` (coreutils) as the other process.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::AuditConfig;
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use tonic::transport::Channel;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
use tonic_types::StatusExt;

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount is needed: apt-get install -y mount");
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root (or CAP_SYS_ADMIN): run the test as root ({})",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn status(channel: &Channel) -> ServingStatus {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status())
        .unwrap_or(ServingStatus::Unknown)
}

/// How long until readiness is `want`, at most `within`.
async fn until(channel: &Channel, want: ServingStatus, within: Duration) -> Duration {
    let started = Instant::now();
    while status(channel).await != want {
        assert!(started.elapsed() < within, "not {want:?} within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

fn get_person() -> pb::GetPersonRequest {
    pb::GetPersonRequest {
        iin: demo::CAPABLE_ADULT.into(),
        consent_token: format!("kdp-demo-{}", demo::CAPABLE_ADULT),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filling_disk_turns_readiness_before_a_caller_meets_it() {
    let fs = SmallFs::mount("8m");
    let probe = Duration::from_millis(200);
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    let mut config = common::config_for(&mocks);
    config.audit = Some(AuditConfig {
        path: fs.path().join("audit.jsonl"),
        probe_interval: probe,
        min_free_bytes: 2 * 1024 * 1024,
        ..AuditConfig::default()
    });
    let (addr, _stop) = common::serve(config).await;
    let channel = common::connect(addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    until(&channel, ServingStatus::Serving, Duration::from_secs(2)).await;
    client
        .get_person(get_person())
        .await
        .expect("answered while there is room");

    // Another process fills the file system to within 1 MiB of full.
    let fill: PathBuf = fs.path().join("fill");
    let dd = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=7", "status=none"])
        .arg(format!("of={}", fill.display()))
        .status()
        .expect("dd is needed: apt-get install -y coreutils");
    assert!(dd.success(), "dd wrote 7 MiB");
    let turned = until(&channel, ServingStatus::NotServing, 3 * probe).await;

    let gbd_fl = mocks.get(Registry::GbdFl);
    gbd_fl.reset_calls();
    let status = client.get_person(get_person()).await.expect_err("refused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "AUDIT_UNAVAILABLE"
    );
    assert_eq!(
        gbd_fl.calls(),
        0,
        "no registry asked for a call that could not be audited"
    );

    std::fs::remove_file(&fill).unwrap();
    let back = until(&channel, ServingStatus::Serving, 3 * probe).await;
    client
        .get_person(get_person())
        .await
        .expect("answered again");
    eprintln!(
        "issue 22 test 5: probe {probe:?}: NOT_SERVING {turned:?} after the disk filled, \
         next request refused with 0 registry calls, SERVING {back:?} after space came back"
    );
}

/// With `durability = "postgres"`, PostgreSQL frozen (processes stopped, connections hanging):
/// the shipper's probe query gets no answer within `ack_timeout`, so readiness turns within
/// `probe_interval + ack_timeout` (not PostgreSQL's connection `timeout`), calls are refused
/// before any registry is asked, and all comes back once it thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_postgres_turns_readiness_within_the_ack_timeout() {
    use registry_gateway::audit::{Durability, PostgresConfig};
    let pg = common::postgres::Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let probe = Duration::from_millis(200);
    let ack = Duration::from_millis(800);
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    let mut config = common::config_for(&mocks);
    config.audit = Some(AuditConfig {
        path: dir.path().join("audit.jsonl"),
        replica: Some("gw-frozen".into()),
        probe_interval: probe,
        postgres: Some(PostgresConfig {
            url: pg.superuser_url(),
            password_file: Some(pg.password_file()),
            durability: Durability::Postgres,
            migrate: true,
            ack_timeout: ack,
            timeout: Duration::from_secs(30),
            ..PostgresConfig::default()
        }),
        ..AuditConfig::default()
    });
    let (addr, _stop) = common::serve(config).await;
    let channel = common::connect(addr).await;
    let mut client = RegistryGatewayServiceClient::new(channel.clone());
    until(&channel, ServingStatus::Serving, Duration::from_secs(5)).await;
    client.get_person(get_person()).await.expect("answered");

    pg.freeze();
    let turned = until(&channel, ServingStatus::NotServing, probe + ack + 2 * probe).await;
    let gbd_fl = mocks.get(Registry::GbdFl);
    gbd_fl.reset_calls();
    let started = Instant::now();
    let status = client.get_person(get_person()).await.expect_err("refused");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        started.elapsed() < ack,
        "refused at once, not after the ack timeout"
    );
    assert_eq!(gbd_fl.calls(), 0);

    pg.thaw();
    let back = until(&channel, ServingStatus::Serving, Duration::from_secs(10)).await;
    client
        .get_person(get_person())
        .await
        .expect("answered again");
    eprintln!(
        "issue 22 test 5: PostgreSQL frozen: NOT_SERVING after {turned:?} (probe {probe:?}, \
         ack_timeout {ack:?}, connection timeout 30s), SERVING {back:?} after it thawed"
    );
}
