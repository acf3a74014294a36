//! What the end-to-end test binaries share: the demo mock registries, and a gateway in front
//! of them on 127.0.0.1:0 (the listener is bound before anything connects).
#![allow(dead_code)] // each test binary uses a part of it

pub mod pki;
pub mod postgres;
pub mod signing;
pub mod tsa;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use registry_gateway::api::pb::gateway_admin_service_client::GatewayAdminServiceClient;
use registry_gateway::api::pb::registry_gateway_service_client::RegistryGatewayServiceClient;
use registry_gateway::audit::AuditConfig;
use registry_gateway::config::Config;
use registry_gateway::iin::Iin;
use registry_gateway::registry::{local_endpoints, Registry, SignerPin};
use registry_gateway::server::{Gateway, Reloader};

use registry_mocks::{demo, Faults, Fixture, MockRegistries};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The five mock registries on the demo fixture, its relative dates pinned to `today`.
pub async fn demo_mocks(today: NaiveDate) -> MockRegistries {
    MockRegistries::spawn(Arc::new(Fixture::demo().with_today(today)))
        .await
        .expect("mocks start")
}

/// The default configuration, pointed at `mocks`, each registry's answers pinned to its demo
/// signing certificate (used when answers are verified).
pub fn config_for(mocks: &MockRegistries) -> Config {
    let pki = registry_mocks::demo_pki();
    Config {
        registries: Some(
            local_endpoints(|r| mocks.get(r).endpoint()).map(|r, mut e| {
                e.answer_signers = vec![SignerPin::of(&pki.signer_of(r))];
                e
            }),
        ),
        ..Config::default()
    }
}

/// `answer_signers = [...]` for a `[registries.<key>]` table: `registry`'s demo certificate.
pub fn pinned(registry: Registry) -> String {
    let signer = registry_mocks::demo_pki().signer_of(registry);
    format!(
        "answer_signers = [{{ spki_sha256 = \"{}\" }}]\n",
        signer.spki_sha256
    )
}

/// Serves `config` on a fresh loopback port until the returned sender fires or is dropped.
pub async fn serve(config: Config) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = registry_gateway::run(listener, config, shutdown).await {
            panic!("gateway failed: {e}");
        }
    });
    (addr, stop)
}

/// A gateway in this process, on a fresh loopback port, in front of mock registries: what
/// the end-to-end tests start. It stops when `stop` fires or the harness is dropped.
pub struct Harness {
    pub addr: SocketAddr,
    /// One connection to it; clients are made from it.
    pub channel: Channel,
    pub mocks: MockRegistries,
    pub reloader: Reloader,
    /// The admin port, with `metrics_listen` configured.
    pub metrics: Option<SocketAddr>,
    /// The day the demo's relative dates are pinned to, as requests carry it (YYYY-MM-DD).
    pub today: String,
    /// The audit log, of a gateway started by [`Harness::audited`].
    pub audit: Option<PathBuf>,
    /// The audit log's directory, removed with the harness.
    pub dir: Option<tempfile::TempDir>,
    pub stop: Option<oneshot::Sender<()>>,
    /// The gateway's serving task: its end, once `stop` fired.
    pub served: tokio::task::JoinHandle<Result<(), registry_gateway::BoxError>>,
}

impl Harness {
    /// The demo mocks (dates pinned to today) and the default configuration pointed at them,
    /// `configure` applied last.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Harness {
        let today = registry_gateway::decision::today();
        let mocks = demo_mocks(today).await;
        let mut config = config_for(&mocks);
        configure(&mut config);
        Harness::serve(mocks, config, today).await
    }

    /// As [`Harness::start`], writing an audit log in a directory of its own.
    pub async fn audited(configure: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit.jsonl");
        let path = audit.clone();
        let mut harness = Harness::start(|config| {
            config.audit = Some(AuditConfig {
                path,
                ..AuditConfig::default()
            });
            configure(config);
        })
        .await;
        harness.audit = Some(audit);
        harness.dir = Some(dir);
        harness
    }

    /// `config` (validated as at start) served in front of `mocks`, whose dates are pinned to
    /// `today`.
    pub async fn serve(mocks: MockRegistries, config: Config, today: NaiveDate) -> Harness {
        let gateway = Gateway::start(config).await.expect("the gateway starts");
        let reloader = gateway.reloader();
        let metrics = gateway.metrics_addr();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(gateway.serve(listener, async {
            let _ = stopped.await;
        }));
        Harness {
            addr,
            channel: connect(addr).await,
            mocks,
            reloader,
            metrics,
            today: today.to_string(),
            audit: None,
            dir: None,
            stop: Some(stop),
            served,
        }
    }

    pub fn client(&self) -> RegistryGatewayServiceClient<Channel> {
        RegistryGatewayServiceClient::new(self.channel.clone())
    }

    pub fn admin(&self) -> GatewayAdminServiceClient<Channel> {
        GatewayAdminServiceClient::new(self.channel.clone())
    }

    /// The audit log of a gateway started by [`Harness::audited`].
    pub fn audit_log(&self) -> &Path {
        self.audit
            .as_deref()
            .expect("a gateway started by Harness::audited")
    }
}

/// A new plaintext HTTP/2 connection to the gateway at `addr`.
pub async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("gateway accepts connections")
}

/// `status` names `registry` in its `ErrorInfo` and says when to retry (`RetryInfo`).
pub fn assert_retry_later_from(status: &tonic::Status, registry: &str) {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    assert_eq!(details.error_info().unwrap().metadata["registry"], registry);
    assert!(details.retry_info().unwrap().retry_delay.is_some());
}

/// A healthy mock that waits `latency` before each answer.
pub fn slow(latency: Duration) -> Faults {
    Faults {
        latency,
        ..Faults::none()
    }
}

/// `count` different valid IINs of persons the demo registries do not know.
pub fn strangers(count: usize) -> Vec<String> {
    let known: HashSet<&str> = demo::PERSONS.into_iter().collect();
    (0..100_000)
        .filter_map(|serial| {
            let stem = format!("700101{serial:05}");
            (0..10)
                .map(|c| format!("{stem}{c}"))
                .find(|s| Iin::parse(s).is_ok())
        })
        .filter(|s| !known.contains(s.as_str()))
        .take(count)
        .collect()
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `condition` every 20 ms until it holds; fails the test after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !condition().await {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The grpcio helper script; fails the test naming the install command when it cannot run.
pub fn grpcio(args: &[String]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/grpcio_calls.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the grpcio tests: apt-get install -y python3");
    assert!(
        out.status.code() != Some(3),
        "grpcio is needed: pip install grpcio ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "grpcio client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints one JSON line")
}
