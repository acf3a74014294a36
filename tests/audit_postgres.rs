//! The audit trail in PostgreSQL, end to end against a real server (Debian's `postgresql`,
//! started by the test in a temporary directory, see `common/postgres.rs`): concurrent calls
//! give one contiguous chain per replica; a gateway killed with SIGKILL mid-burst loses no
//! acknowledged record; PostgreSQL stopped under load (answers go on or are withheld as
//! `durability` says, the backlog drains when it is back, nothing lost or repeated); a chain
//! recomputed without the signing key, or cut from the end, is caught by `verify-audit`; two
//! replicas write at once; the gateway's role can only insert.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::{self, AuditConfig, Durability, PostgresConfig, SigningConfig};
use registry_gateway::decision;
use registry_mocks::demo;
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

const BINARY: &str = env!("CARGO_BIN_EXE_registry-gateway");

/// An Ed25519 key pair in PEM files, as `openssl genpkey` / `openssl pkey -pubout` write them.
struct Key {
    private: PathBuf,
    public: PathBuf,
}

fn key(dir: &Path) -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let private = dir.join("audit-key.pem");
    let public = dir.join("audit-key.pub.pem");
    std::fs::write(&private, pair.serialize_pem()).unwrap();
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    Key { private, public }
}

/// A CheckOwner record with `id` as its request id.
fn record(id: &str) -> audit::AuditRecord {
    audit::AuditRecord {
        request_id: id.into(),
        ..audit::AuditRecord::new("CheckOwner", audit::CallOutcome::Found)
    }
}

/// `[audit]` for `replica` in `dir`, shipping to `pg` (migrating the schema as superuser).
fn audit_config(
    dir: &Path,
    replica: &str,
    pg: &Postgres,
    durability: Durability,
    key: &Key,
) -> AuditConfig {
    AuditConfig {
        path: dir.join(replica).join("audit.jsonl"),
        replica: Some(replica.into()),
        signing: Some(SigningConfig {
            key_file: key.private.clone(),
        }),
        postgres: Some(PostgresConfig {
            url: pg.superuser_url(),
            password_file: Some(pg.password_file()),
            durability,
            migrate: true,
            ..PostgresConfig::default()
        }),
        ..AuditConfig::default()
    }
}

/// A gateway in this process with `audit`, in front of the demo mocks.
struct InProcess {
    channel: Channel,
    client: RegistryGatewayServiceClient<Channel>,
    _mocks: registry_mocks::MockRegistries,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn in_process(audit: AuditConfig) -> InProcess {
    let mocks = common::demo_mocks(decision::today()).await;
    let mut config = common::config_for(&mocks);
    config.audit = Some(audit);
    let (addr, stop) = common::serve(config).await;
    let channel = common::connect(addr).await;
    InProcess {
        client: RegistryGatewayServiceClient::new(channel.clone()),
        channel,
        _mocks: mocks,
        _stop: stop,
    }
}

/// CheckOwner of the demo's capable adult, with `id` as its request id.
async fn check_owner(
    client: &mut RegistryGatewayServiceClient<Channel>,
    id: &str,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(pb::CheckOwnerRequest {
        owner_iin: demo::CAPABLE_ADULT.into(),
        service: pb::Service::RegistrationAtResidence.into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().unwrap());
    client.check_owner(request).await.map(drop)
}

/// `replica`'s records in the store: (seq, request id), in seq order.
async fn stored(pg: &Postgres, replica: &str) -> Vec<(u64, String)> {
    let client = pg.client().await;
    client
        .query(
            "SELECT seq, line FROM audit_records WHERE replica = $1 ORDER BY seq",
            &[&replica],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let line: serde_json::Value = serde_json::from_str(row.get(1)).unwrap();
            (
                row.get::<_, i64>(0) as u64,
                line["request_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts that `records` are seq 1, 2, … with no gap and no repeat; returns their ids.
fn contiguous(records: &[(u64, String)]) -> HashSet<String> {
    for (i, (seq, _)) in records.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "a gap or a repeat at position {i}");
    }
    records.iter().map(|(_, id)| id.clone()).collect()
}

/// Records in the local files of `live` (rotated ones included).
fn local_records(live: &Path) -> u64 {
    audit::chain_files(live)
        .unwrap()
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("{\"seq\":"))
                .count() as u64
        })
        .sum()
}

/// Polls `condition` every 20 ms for at most `limit`: for what another process or task does.
async fn until<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `verify-audit --postgres` through the real binary: exit code and output.
fn verify_cli(pg: &Postgres, extra: &[&str]) -> (i32, String) {
    let out = Command::new(BINARY)
        .arg("verify-audit")
        .args(["--postgres", &pg.superuser_url()])
        .arg("--password-file")
        .arg(pg.password_file())
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_give_one_contiguous_chain_in_postgres() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let audit = audit_config(dir.path(), "gw-0", &pg, Durability::Postgres, &key);
    let gateway = in_process(audit).await;
    const N: usize = 300;
    let calls = (0..N).map(|i| {
        let mut client = gateway.client.clone();
        async move { check_owner(&mut client, &format!("call-{i}")).await }
    });
    for answer in futures::future::join_all(calls).await {
        answer.expect("answered once its record is in PostgreSQL");
    }
    // durability = "postgres": every answer came after its record's commit, so all are
    // there now, without waiting.
    let records = stored(&pg, "gw-0").await;
    assert_eq!(records.len(), N);
    let ids = contiguous(&records);
    let expected: HashSet<String> = (0..N).map(|i| format!("call-{i}")).collect();
    assert_eq!(ids, expected);

    let client = pg.client().await;
    let public = audit::PublicKey::load(&key.public).unwrap();
    let report = audit::postgres::verify_replica(&client, "gw-0", &[public], &[])
        .await
        .expect("an intact, signed chain");
    assert_eq!(report.records, N as u64);
    assert!(report.checkpoints >= 1 && report.last_checkpoint == Some(N as u64));
    let batches: i64 = client
        .query_one("SELECT count(*) FROM audit_checkpoints", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        (batches as usize) < N,
        "group commit: {batches} batches (one checkpoint each) for {N} records"
    );
    drop(gateway);
}

/// With `[audit.timestamp]`: the time-stamped checkpoint lines are shipped as written, and
/// `verify-audit --postgres --tsa-cert` verifies their tokens and shows the time they prove; a
/// token altered in the store fails naming its checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn time_stamped_checkpoints_are_shipped_and_verified_from_postgres() {
    let pg = Postgres::start();
    let tsa = common::tsa::TestTsa::start("Test TSA").await;
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let mut audit = audit_config(dir.path(), "gw-ts", &pg, Durability::Postgres, &key);
    audit.timestamp = Some(audit::TimestampConfig {
        url: tsa.url(),
        certificate: tsa.cert.clone(),
        timeout: Duration::from_secs(5),
        interval: Duration::ZERO,
        retry_after: Duration::from_secs(30),
    });
    let mut gateway = in_process(audit).await;
    for i in 0..3 {
        check_owner(&mut gateway.client, &format!("ts-{i}"))
            .await
            .unwrap();
    }
    let client = pg.client().await;
    let lines: Vec<String> = client
        .query(
            "SELECT line FROM audit_checkpoints WHERE replica = 'gw-ts' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains(",\"tst\":\"")), "{lines:?}");
    let public = key.public.to_str().unwrap();
    let cert = tsa.cert.to_str().unwrap();
    let args = [
        "--replica",
        "gw-ts",
        "--public-key",
        public,
        "--tsa-cert",
        cert,
    ];
    let (code, out) = verify_cli(&pg, &args);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 checkpoint(s) time-stamped, tokens verified (TSA CN=Test TSA)")
            && out.contains("up to seq 3 at 20"),
        "{out}"
    );

    // The second checkpoint's token replaced by the first's in the store (by its owner, the
    // append-only trigger switched off).
    client
        .batch_execute(
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only",
        )
        .await
        .unwrap();
    let first_tst = lines[0].rsplit_once(",\"tst\":").unwrap().1;
    let (head, _) = lines[1].rsplit_once(",\"tst\":").unwrap();
    let moved = format!("{head},\"tst\":{first_tst}");
    client
        .execute(
            "UPDATE audit_checkpoints SET line = $1 WHERE replica = 'gw-ts' AND seq = 2",
            &[&moved],
        )
        .await
        .unwrap();
    let (code, out) = verify_cli(&pg, &args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("seq 2") && out.contains("message imprint differs"),
        "{out}"
    );
    drop(gateway);
}

/// The real binary, its address read from what it prints at start.
struct Process {
    child: Child,
    addr: std::net::SocketAddr,
}

fn spawn_gateway(config: &Path) -> Process {
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" on ").nth(1) {
                if line.contains("serving") {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(Ok(addr.parse().unwrap()));
                }
            } else if line.contains("registry-gateway:") {
                let _ = tx.send(Err(line));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => Process { child, addr },
        Ok(Err(line)) => panic!("the gateway did not start: {line}"),
        Err(_) => panic!("the gateway did not say where it serves within 60 s"),
    }
}

fn write_config(dir: &Path, replica: &str, pg: &Postgres, durability: &str, key: &Key) -> PathBuf {
    let config = dir.join(format!("{replica}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"
[audit]
path = "{}"
replica = "{replica}"
[audit.signing]
key_file = "{}"
[audit.postgres]
url = "{}"
password_file = "{}"
durability = "{durability}"
migrate = true
"#,
            dir.join(replica).join("audit.jsonl").display(),
            key.private.display(),
            pg.superuser_url(),
            pg.password_file().display(),
        ),
    )
    .unwrap();
    config
}

/// Calls from `clients` tasks, each with its own request ids, until `stop` is set; returns
/// the ids answered OK and the number of calls that were not.
async fn load(
    channel: Channel,
    clients: usize,
    prefix: &str,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) -> u64 {
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let mut client = RegistryGatewayServiceClient::new(channel.clone());
            let stop = stop.clone();
            let acked = acked.clone();
            let prefix = prefix.to_owned();
            tokio::spawn(async move {
                let mut failed = 0u64;
                for i in 0..100_000u64 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let id = format!("{prefix}-{c}-{i}");
                    match check_owner(&mut client, &id).await {
                        Ok(()) => acked.lock().unwrap().push(id),
                        Err(_) => {
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap();
    }
    failed
}

async fn kill_during_a_burst(durability: &str) {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let replica = format!("gw-kill-{durability}");
    let config = write_config(dir.path(), &replica, &pg, durability, &key);
    let live = dir.path().join(&replica).join("audit.jsonl");

    let mut gateway = spawn_gateway(&config);
    let channel = common::connect(gateway.addr).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let burst = tokio::spawn(load(channel, 16, "burst", stop.clone(), acked.clone()));
    let counted = acked.clone();
    until("400 acknowledged answers", Duration::from_secs(60), || {
        let n = counted.lock().unwrap().len();
        async move { n >= 400 }
    })
    .await;
    gateway.child.kill().unwrap(); // SIGKILL, mid-burst
    gateway.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = burst.await.unwrap();
    let acked: Vec<String> = acked.lock().unwrap().clone();

    // Restarted on the same disk: ships what the killed one had not.
    let mut restarted = spawn_gateway(&config);
    let written = local_records(&live);
    until(
        "the restarted gateway to ship the local backlog",
        Duration::from_secs(30),
        || {
            let pg = &pg;
            let replica = &replica;
            async move { stored(pg, replica).await.len() as u64 == written }
        },
    )
    .await;
    let records = stored(&pg, &replica).await;
    let ids = contiguous(&records);
    let missing: Vec<&String> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in PostgreSQL: {missing:?}"
    );
    let (code, out) = verify_cli(&pg, &["--public-key", key.public.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok: replica {replica}: {} records", records.len())),
        "{out}"
    );
    eprintln!(
        "kill -9 ({durability}): {} acknowledged, {failed} failed with the kill, {} records in \
         PostgreSQL after the restart, all acknowledged ones among them, chain verified",
        acked.len(),
        records.len()
    );
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_loses_no_acknowledged_record_durability_postgres() {
    kill_during_a_burst("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_burst_loses_no_acknowledged_record_durability_local() {
    kill_during_a_burst("local").await;
}

/// Stops PostgreSQL for a few seconds under load (long enough for several reconnection
/// attempts at the longest backoff), then starts it again.
async fn outage(durability: Durability) {
    let mut pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let audit = audit_config(dir.path(), "gw-out", &pg, durability, &key);
    let live = audit.path.clone();
    let gateway = in_process(audit).await;

    // Load before, during and after the outage.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let before = Arc::new(Mutex::new(Vec::new()));
    let loaded = tokio::spawn(load(
        gateway.channel.clone(),
        4,
        "before",
        stop.clone(),
        before.clone(),
    ));
    let count = before.clone();
    until("answers before the outage", Duration::from_secs(30), || {
        let n = count.lock().unwrap().len();
        async move { n >= 50 }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(loaded.await.unwrap(), 0, "no failure before the outage");

    tokio::task::block_in_place(|| pg.stop());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let during = Arc::new(Mutex::new(Vec::new()));
    let loaded = tokio::spawn(load(
        gateway.channel.clone(),
        4,
        "during",
        stop.clone(),
        during.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let failed_during = loaded.await.unwrap();
    let during: Vec<String> = during.lock().unwrap().clone();
    let written_during = local_records(&live);
    tokio::task::block_in_place(|| pg.restart());

    match durability {
        Durability::Local => {
            assert_eq!(failed_during, 0, "answers go on from the local file");
            assert!(
                during.len() >= 20,
                "{} answers during the outage",
                during.len()
            );
        }
        Durability::Postgres => {
            assert!(during.is_empty(), "answered without PostgreSQL: {during:?}");
            assert!(failed_during > 0);
        }
    }
    // Back: the backlog drains, and answers (again) come.
    until("the backlog to drain", Duration::from_secs(30), || {
        let pg = &pg;
        async move { stored(pg, "gw-out").await.len() as u64 >= written_during }
    })
    .await;
    let mut client = gateway.client.clone();
    check_owner(&mut client, "after")
        .await
        .expect("answers once PostgreSQL is back");
    until(
        "the last record to be shipped",
        Duration::from_secs(30),
        || {
            let (pg, live) = (&pg, &live);
            async move { stored(pg, "gw-out").await.len() as u64 == local_records(live) }
        },
    )
    .await;

    let records = stored(&pg, "gw-out").await;
    let ids = contiguous(&records);
    for id in before.lock().unwrap().iter().chain(&during) {
        assert!(ids.contains(id), "{id} acknowledged but not in PostgreSQL");
    }
    assert!(ids.contains("after"));
    let client = pg.client().await;
    let public = audit::PublicKey::load(&key.public).unwrap();
    audit::postgres::verify_replica(&client, "gw-out", &[public], &[])
        .await
        .expect("an intact, signed chain");
    eprintln!(
        "outage ({durability:?}): {} answered during it, {failed_during} withheld; {} records \
         in PostgreSQL after it, contiguous",
        during.len(),
        records.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_under_load_durability_local_answers_and_drains_the_backlog() {
    outage(Durability::Local).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_under_load_durability_postgres_withholds_answers_then_recovers() {
    outage(Durability::Postgres).await;
}

/// A record line with `edit` applied to its content, chained to `prev`, hashed again: what
/// someone who can write the store but has not the key can do.
fn rehash(line: &str, prev: &str, edit: impl Fn(&str) -> String) -> (String, String) {
    let (body, _) = line.rsplit_once(",\"hash\":\"").unwrap();
    let start = body.find("\"prev\":\"").unwrap() + 8;
    let body = format!("{}{prev}{}", &body[..start], &body[start + 64..]);
    let body = edit(&format!("{body}}}"));
    let hash: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let line = format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]);
    (line, hash)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_recomputed_without_the_key_or_cut_from_the_end_is_caught() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    for replica in ["gw-recomputed", "gw-cut"] {
        let gateway = in_process(audit_config(
            dir.path(),
            replica,
            &pg,
            Durability::Postgres,
            &key,
        ))
        .await;
        for i in 0..12 {
            let mut client = gateway.client.clone();
            check_owner(&mut client, &format!("{replica}-{i}"))
                .await
                .unwrap();
        }
    }
    let (code, out) = verify_cli(&pg, &["--public-key", key.public.to_str().unwrap()]);
    assert_eq!(code, 0, "intact before tampering: {out}");

    // Someone with the database's rights but not the key: record 5 changed, every hash after
    // it recomputed; elsewhere the last three records deleted.
    let client = pg.client().await;
    client
        .batch_execute(
            "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only;
             ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
             DELETE FROM audit_records WHERE replica = 'gw-cut' AND seq > 9;",
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT seq, line FROM audit_records WHERE replica = 'gw-recomputed' ORDER BY seq",
            &[],
        )
        .await
        .unwrap();
    let mut prev: String = rows[3]
        .get::<_, &str>(1)
        .rsplit_once("\"hash\":\"")
        .unwrap()
        .1[..64]
        .to_owned();
    for row in &rows[4..] {
        let seq: i64 = row.get(0);
        let old: &str = row.get(1);
        let old_hash = &old.rsplit_once("\"hash\":\"").unwrap().1[..64];
        let (line, hash) = rehash(old, &prev, |body| {
            if seq == 5 {
                body.replace("\"caller\":\"", "\"caller\":\"someone-else-")
            } else {
                body.to_owned()
            }
        });
        client
            .execute(
                "UPDATE audit_records SET line = $1, hash = $2 WHERE replica = 'gw-recomputed' AND seq = $3",
                &[&line, &hash, &seq],
            )
            .await
            .unwrap();
        // The checkpoints made to agree too: only their signatures cannot follow.
        client
            .execute(
                "UPDATE audit_checkpoints SET line = replace(line, $1, $2) WHERE replica = 'gw-recomputed' AND seq = $3",
                &[&old_hash, &hash, &seq],
            )
            .await
            .unwrap();
        prev = hash;
    }

    // Without the key the recomputed chain passes: only the signature shows it.
    let (code, out) = verify_cli(&pg, &["--replica", "gw-recomputed"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify_cli(&pg, &["--public-key", key.public.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "BROKEN: replica gw-recomputed, seq 5: the checkpoint's signature does not verify"
        ),
        "{out}"
    );
    assert!(
        out.contains("BROKEN: replica gw-cut, seq ") && out.contains("were cut"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_writing_at_once_keep_two_valid_chains() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let a = in_process(audit_config(
        dir.path(),
        "gw-a",
        &pg,
        Durability::Postgres,
        &key,
    ))
    .await;
    let b = in_process(audit_config(
        dir.path(),
        "gw-b",
        &pg,
        Durability::Local,
        &key,
    ))
    .await;
    const N: usize = 150;
    let calls = (0..N).flat_map(|i| {
        [
            (a.client.clone(), format!("a-{i}")),
            (b.client.clone(), format!("b-{i}")),
        ]
        .map(|(mut client, id)| async move { check_owner(&mut client, &id).await })
    });
    for answer in futures::future::join_all(calls).await {
        answer.unwrap();
    }
    let pg = &pg;
    until(
        "gw-b's backlog to drain",
        Duration::from_secs(30),
        || async move { stored(pg, "gw-b").await.len() == N },
    )
    .await;
    for (replica, prefix) in [("gw-a", "a-"), ("gw-b", "b-")] {
        let ids = contiguous(&stored(pg, replica).await);
        assert_eq!(ids.len(), N);
        assert!(ids.iter().all(|id| id.starts_with(prefix)), "{replica}");
    }
    let (code, out) = verify_cli(pg, &["--public-key", key.public.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok: replica gw-a: {N} records"))
            && out.contains(&format!("ok: replica gw-b: {N} records")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gateways_role_may_only_insert() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    // The schema by `migrate` as the owner; twice is a no-op.
    for expected in ["applied migration(s) [1, 2]", "up to date"] {
        let out = Command::new(BINARY)
            .args(["migrate", "--url", &pg.superuser_url(), "--password-file"])
            .arg(pg.password_file())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(expected), "{text}");
    }
    let owner = pg.client().await;
    owner
        .batch_execute(
            "CREATE ROLE gateway_audit LOGIN PASSWORD 'writer-secret';
             GRANT INSERT ON audit_records, audit_checkpoints TO gateway_audit;
             GRANT EXECUTE ON FUNCTION audit_head(text), audit_hash_at(text, bigint)
                 TO gateway_audit;",
        )
        .await
        .unwrap();
    let password = dir.path().join("writer-password");
    std::fs::write(&password, "writer-secret\n").unwrap();
    let as_writer = |disk: &Path, replica: &str| {
        let mut audit = audit_config(disk, replica, &pg, Durability::Postgres, &key);
        let postgres = audit.postgres.as_mut().unwrap();
        postgres.url = pg.url("gateway_audit");
        postgres.password_file = Some(password.clone());
        postgres.migrate = false;
        audit
    };
    let gateway = in_process(as_writer(dir.path(), "gw-role")).await;
    for i in 0..5 {
        let mut client = gateway.client.clone();
        check_owner(&mut client, &format!("role-{i}"))
            .await
            .unwrap();
    }
    assert_eq!(contiguous(&stored(&pg, "gw-role").await).len(), 5);
    // A disk behind the store: the role may read the hash it checks (audit_hash_at).
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (disk, id) in [(c.path(), "x"), (d.path(), "y"), (c.path(), "z")] {
        let log = audit::AuditLog::open(&as_writer(disk, "gw-role-2"))
            .await
            .unwrap();
        log.append(audit::AuditRecord {
            request_id: id.into(),
            ..audit::AuditRecord::new("CheckOwner", audit::CallOutcome::Found)
        })
        .await
        .unwrap();
        log.close().await.unwrap();
    }
    let ids: Vec<String> = stored(&pg, "gw-role-2")
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, ["x", "y", "z"]);

    let url = pg.url("gateway_audit");
    let target = audit::postgres::Target {
        url: &url,
        password_file: Some(&password),
        ca_file: None,
    };
    let writer = audit::postgres::connect(target, Duration::from_secs(5))
        .await
        .unwrap();
    for sql in [
        "SELECT line FROM audit_records",
        "UPDATE audit_records SET line = ''",
        "DELETE FROM audit_records",
        "DELETE FROM audit_checkpoints",
    ] {
        let refused = writer.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {refused}"
        );
    }
    // Not even the owner changes a record.
    let refused = owner
        .batch_execute("DELETE FROM audit_records")
        .await
        .unwrap_err();
    assert!(
        audit::postgres::error_text(&refused).contains("append-only"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disk_behind_the_store_goes_on_from_it_and_a_forked_one_is_refused() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let disks: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let config = |disk: usize| {
        audit_config(
            disks[disk].path(),
            "gw-same",
            &pg,
            Durability::Postgres,
            &key,
        )
    };
    let append = |disk: usize, id: &'static str| {
        let config = config(disk);
        async move {
            let log = audit::AuditLog::open(&config).await?;
            log.append(record(id)).await?;
            log.close().await
        }
    };
    append(0, "first").await.unwrap();
    // A new disk under the same id (the pod's volume was lost) continues the store's chain, and
    // so does the first disk, now behind the store.
    append(1, "second").await.unwrap();
    append(0, "third").await.unwrap();
    let records = stored(&pg, "gw-same").await;
    contiguous(&records);
    let ids: Vec<&str> = records.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["first", "second", "third"]);

    // Two pods under one id at once: the second's records cannot reach the store, and the
    // second disk, which now holds another seq 4, is refused at its next start.
    let a = audit::AuditLog::open(&config(0)).await.unwrap();
    let mut second = config(2);
    second.postgres.as_mut().unwrap().drain_timeout = Duration::from_millis(200);
    let b = audit::AuditLog::open(&second).await.unwrap();
    a.append(record("a")).await.unwrap();
    let refused = b.append(record("b")).await.unwrap_err().to_string();
    assert!(
        refused.contains("not known to be in PostgreSQL"),
        "{refused}"
    );
    a.close().await.unwrap();
    b.close().await.unwrap(); // its shipper cannot ship seq 4: left in its file
    let refused = audit::AuditLog::open(&config(2))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("differ at seq 4"), "{refused}");
    let ids: Vec<String> = stored(&pg, "gw-same")
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, ["first", "second", "third", "a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotated_files_ship_in_order_and_are_removed_once_shipped() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let mut config = audit_config(dir.path(), "gw-rot", &pg, Durability::Local, &key);
    config.rotate_bytes = AuditConfig::MIN_ROTATE_BYTES;
    let record = |i: u64| audit::AuditRecord {
        request_id: format!("rot-{i}"),
        purpose: "x".repeat(200),
        ..audit::AuditRecord::new("CheckOwner", audit::CallOutcome::Found)
    };
    let log = audit::AuditLog::open(&config).await.unwrap();
    for i in 0..300 {
        log.append(record(i)).await.unwrap();
    }
    log.close().await.unwrap(); // ships what is left
    let records = stored(&pg, "gw-rot").await;
    assert_eq!(contiguous(&records).len(), 300);
    assert!(records
        .iter()
        .enumerate()
        .all(|(i, (_, id))| *id == format!("rot-{i}")));
    let files = audit::chain_files(&config.path).unwrap();
    assert_eq!(
        files.len(),
        2,
        "the newest rotated file and the live one are left: {files:?}"
    );
    // A restart continues from the newest rotated file.
    let log = audit::AuditLog::open(&config).await.unwrap();
    log.append(record(300)).await.unwrap();
    log.close().await.unwrap();
    assert_eq!(contiguous(&stored(&pg, "gw-rot").await).len(), 301);
}

#[test]
fn a_postgres_config_that_breaks_a_rule_is_refused_naming_the_field() {
    for (toml, field) in [
        ("[audit.postgres]\nurl = \"\"", "audit.postgres.url"),
        (
            "[audit.postgres]\nurl = \"postgres://gw:secret@db/audit\"",
            "audit.postgres.url",
        ),
        (
            "[audit.postgres]\nurl = \"postgres://gw@db/audit\"\nmax_backlog = 10",
            "audit.postgres.max_backlog",
        ),
        (
            "[audit]\nreplica = \"no spaces please\"\n[audit.postgres]\nurl = \"postgres://gw@db/audit\"",
            "audit.replica",
        ),
        (
            "[audit.postgres]\nurl = \"postgres://gw@db/audit?sslmode=require\"",
            "audit.postgres.ca_file",
        ),
    ] {
        let err = registry_gateway::Config::from_toml(toml)
            .and_then(|c| c.validate().map(|()| c))
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{toml}: {err}");
    }
}

/// A test CA (PEM) and a server certificate and key (PEM) it signed for 127.0.0.1.
fn tls_pki(name: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), server.pem(), key.serialize_pem())
}

// The records travel over TLS when ca_file is set (PostgreSQL itself reports the gateway's
// connection as TLS), and a server whose certificate another CA signed is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_reached_over_tls_and_an_unknown_server_is_refused() {
    let (ca, cert, key_pem) = tls_pki("audit store test CA");
    let pg = Postgres::start_tls(&cert, &key_pem);
    let dir = tempfile::tempdir().unwrap();
    let key = key(dir.path());
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let mut config = audit_config(dir.path(), "gw-tls", &pg, Durability::Postgres, &key);
    let pg_config = config.postgres.as_mut().unwrap();
    pg_config.url = format!("{}?sslmode=require", pg.superuser_url());
    pg_config.ca_file = Some(ca_file.clone());

    let log = audit::AuditLog::open(&config).await.unwrap();
    for id in ["t1", "t2"] {
        log.append(record(id)).await.unwrap();
    }
    let row = pg
        .client()
        .await
        .query_one(
            "SELECT count(*), bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a \
             USING (pid) WHERE a.application_name = 'registry-gateway'",
            &[],
        )
        .await
        .unwrap();
    let (connections, all_tls): (i64, Option<bool>) = (row.get(0), row.get(1));
    assert!(connections >= 1, "the shipper is connected");
    assert_eq!(all_tls, Some(true), "every gateway connection is TLS");
    log.close().await.unwrap();
    let ids: Vec<String> = stored(&pg, "gw-tls")
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids, ["t1", "t2"]);

    let (other_ca, _, _) = tls_pki("another CA");
    std::fs::write(&ca_file, other_ca).unwrap();
    let refused = audit::AuditLog::open(&config)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("invalid peer certificate"), "{refused}");
}
