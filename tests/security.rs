//! Security, end to end: mutual TLS in the handshake, per-client rights checked before the
//! cache and the registries, required purpose and request id, one hash-chained audit record per
//! personal-data call (and tampering caught by the real `verify-audit` binary), no answer when
//! the audit cannot be written, no plaintext off loopback, and no IIN in the logs.
//!
//! Certificates are made at test time with rcgen: a server CA (the server's certificate for
//! "localhost"), a client CA (clients "tson.test" and "edu.test"), and a stranger's
//! self-signed certificate. No private key is committed.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::Pki;
use registry_gateway::access::{AccessConfig, ClientRights, PURPOSE_KEY, REQUEST_ID_KEY};
use registry_gateway::api::pb::{
    self, gateway_admin_service_client::GatewayAdminServiceClient,
    registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::{self, AuditConfig, AuditLog, AuditRecord, RegistryUse};
use registry_gateway::config::Config;
use registry_gateway::decision;
use registry_gateway::registry::Registry;
use registry_mocks::{demo, MockRegistries};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Identity};
use tonic::{Code, Request};
use tonic_types::StatusExt;

const TSON: &str = "tson.test";
const EDU: &str = "edu.test";
const PURPOSE: &str = "registration at residence, application 42";

/// The gateway on 127.0.0.1:0 over its own mock registries (demo fixture, today's date).
struct Gateway {
    addr: SocketAddr,
    mocks: MockRegistries,
    _stop: oneshot::Sender<()>,
}

impl Gateway {
    async fn start(configure: impl FnOnce(&mut Config)) -> Gateway {
        let mocks = common::demo_mocks(decision::today()).await;
        let mut config = common::config_for(&mocks);
        configure(&mut config);
        config.validate().expect("a valid test configuration");
        let (addr, stop) = common::serve(config).await;
        Gateway {
            addr,
            mocks,
            _stop: stop,
        }
    }

    /// The production-like setup: mutual TLS, the two client systems' rights, the audit log.
    async fn secured(pki: &Pki) -> Gateway {
        // GetPerson needs the person's consent wherever it is granted.
        let rights = |name: &str, rpcs: [&str; 2]| ClientRights {
            names: vec![name.to_owned()],
            rpcs: rpcs.map(str::to_owned).to_vec(),
            consent_required: rpcs
                .iter()
                .filter(|r| **r == "GetPerson")
                .map(|r| r.to_string())
                .collect(),
        };
        let access = AccessConfig {
            require_purpose: true,
            require_request_id: true,
            plaintext_client: None,
            clients: BTreeMap::from([
                (
                    "iis-tson".to_owned(),
                    rights(TSON, ["CheckOwner", "GetPerson"]),
                ),
                (
                    "edu".to_owned(),
                    rights(EDU, ["GetSchoolEnrolment", "GetHigherEducation"]),
                ),
            ]),
        };
        Gateway::start(|c| {
            c.tls = Some(pki.tls());
            c.access = Some(access);
            // CheckOwner may answer from GBD FL's shared cache (the audit test checks that a
            // repeated check is cached; the default is in tests/consent.rs).
            c.consent.check_owner_shared_cache = true;
            c.audit = Some(AuditConfig {
                path: pki.audit_path(),
                ..AuditConfig::default()
            });
        })
        .await
    }

    async fn plaintext(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("gateway accepts connections")
    }

    async fn client(&self, pki: &Pki, cn: &str) -> RegistryGatewayServiceClient<Channel> {
        let channel = pki.connect(self.addr, Some(pki.client(cn))).await.unwrap();
        RegistryGatewayServiceClient::new(channel)
    }

    /// SendMessage calls received so far, per registry.
    fn registry_calls(&self) -> Vec<u64> {
        Registry::ALL
            .iter()
            .map(|r| self.mocks.get(*r).calls())
            .collect()
    }
}

/// `message` with `x-request-id` and, if given, `x-purpose`.
fn meta<T>(message: T, purpose: Option<&str>, request_id: &str) -> Request<T> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert(REQUEST_ID_KEY, request_id.parse().unwrap());
    if let Some(purpose) = purpose {
        metadata.insert(PURPOSE_KEY, purpose.parse().unwrap());
    }
    request
}

/// A demo person's IIN today (daily for those born relative to today; see `demo::iin`).
fn today_iin(key: &str) -> String {
    demo::iin(key, decision::today())
}

fn check_owner(owner: &str, applicant: &str) -> pb::CheckOwnerRequest {
    pb::CheckOwnerRequest {
        owner_iin: today_iin(owner),
        applicant_iin: today_iin(applicant),
        service: pb::Service::RegistrationAtResidence.into(),
        ..Default::default()
    }
}

/// An outcome as the audit trail writes it: the contract's name without the `OUTCOME_` prefix.
fn unprefixed_outcome(outcome: pb::Outcome) -> String {
    outcome
        .as_str_name()
        .trim_start_matches("OUTCOME_")
        .to_owned()
}

/// GetPerson with the person's own (demo) consent token.
fn person(iin: &str) -> pb::GetPersonRequest {
    pb::GetPersonRequest {
        iin: today_iin(iin),
        consent_token: demo::consent(iin),
    }
}

fn school(iin: &str) -> pb::GetSchoolEnrolmentRequest {
    pb::GetSchoolEnrolmentRequest {
        iin: today_iin(iin),
    }
}

/// Whether `text` holds a run of 12 or more digits (an IIN's shape).
fn has_twelve_digits(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 12)
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A caller whose handshake the server must end with the TLS `alert`: no connection, or a
/// first RPC that fails in transport with it; nothing reaches the audit log or the registries.
async fn assert_refused_in_handshake(identity: Option<Identity>, alert: &str) {
    let pki = Pki::new();
    let gw = Gateway::secured(&pki).await;
    let before = gw.registry_calls();
    match pki.connect(gw.addr, identity).await {
        Err(e) => assert!(format!("{e:?}").contains(alert), "{e:?}"),
        Ok(channel) => {
            let status = RegistryGatewayServiceClient::new(channel)
                .check_owner(meta(check_owner(demo::MINOR, ""), Some(PURPOSE), "r-1"))
                .await
                .expect_err("served a caller without a valid client certificate");
            // Not the gateway's own PERMISSION_DENIED: the TLS layer ended the connection.
            let why = format!("{status:?}");
            assert!(why.contains(alert), "not refused in the handshake: {why}");
        }
    }
    assert_eq!(audit_lines(&pki.audit_path()).len(), 0, "an RPC ran");
    assert_eq!(gw.registry_calls(), before);
}

#[tokio::test]
async fn handshake_without_a_client_certificate_is_refused() {
    assert_refused_in_handshake(None, "CertificateRequired").await;
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    // Same CN as the authorised caller: only the chain to the client CA is wrong.
    assert_refused_in_handshake(Some(Pki::stranger(TSON)), "UnknownCA").await;
}

/// A client that starts a TLS handshake and goes silent is dropped after
/// `connections.tls_handshake_timeout`, not kept until the idle timeout (or for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_handshake_is_dropped_on_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new();
    let gw = Gateway::start(|c| {
        c.tls = Some(pki.tls());
        c.connections.tls_handshake_timeout = Duration::from_millis(500);
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    // The first bytes of a TLS record, then silence.
    tcp.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let started = std::time::Instant::now();
    let mut sink = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .expect("the gateway drops the stalled handshake");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "dropped after {took:?}"
    );
}

#[tokio::test]
async fn rights_are_per_client_and_rpc_and_checked_before_the_registries() {
    let pki = Pki::new();
    let gw = Gateway::secured(&pki).await;
    let mut tson = gw.client(&pki, TSON).await;
    let mut edu = gw.client(&pki, EDU).await;

    let r = tson
        .check_owner(meta(check_owner(demo::MINOR, ""), Some(PURPOSE), "r-1"))
        .await
        .expect("iis-tson may call CheckOwner")
        .into_inner();
    assert_eq!(r.outcome(), pb::Outcome::OperationalHall);

    // Persons not asked before, so that a registry call could not hide in the cache.
    let before = gw.registry_calls();
    let denied = tson
        .get_school_enrolment(meta(school(demo::MINOR_IN_CARE), Some(PURPOSE), "r-2"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let message = denied.message();
    assert!(message.contains("GetSchoolEnrolment"), "{message}");
    assert!(message.contains("iis-tson"), "{message}");
    assert!(!has_twelve_digits(message), "{message}");

    let denied = edu
        .check_owner(meta(
            check_owner(demo::CAPABLE_ADULT, ""),
            Some(PURPOSE),
            "r-3",
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("edu"), "{denied:?}");
    assert_eq!(
        gw.registry_calls(),
        before,
        "a denied call reached a registry"
    );

    // The same look-up by the client that may make it does reach NOBD.
    edu.get_school_enrolment(meta(school(demo::MINOR_IN_CARE), Some(PURPOSE), "r-4"))
        .await
        .expect("edu may call GetSchoolEnrolment");
    assert_ne!(gw.registry_calls(), before);
}

#[tokio::test]
async fn purpose_and_request_id_are_required() {
    let pki = Pki::new();
    let gw = Gateway::secured(&pki).await;
    let mut tson = gw.client(&pki, TSON).await;
    let before = gw.registry_calls();

    let no_purpose = meta(check_owner(demo::MINOR, ""), None, "r-1");
    let mut no_request_id = Request::new(check_owner(demo::MINOR, ""));
    no_request_id
        .metadata_mut()
        .insert(PURPOSE_KEY, PURPOSE.parse().unwrap());
    for (key, request) in [(PURPOSE_KEY, no_purpose), (REQUEST_ID_KEY, no_request_id)] {
        let status = tson.check_owner(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{key}: {status:?}");
        assert!(status.message().contains(key), "{key}: {status:?}");
        let details = status.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            key
        );
    }
    assert_eq!(gw.registry_calls(), before);
}

#[tokio::test]
async fn every_call_is_audited_once_in_a_verifiable_chain() {
    fn found<T>(_: tonic::Response<T>) -> String {
        "FOUND".into()
    }
    let pki = Pki::new();
    let today = decision::today().to_string();
    let gw = Gateway::secured(&pki).await;
    let mut tson = gw.client(&pki, TSON).await;
    let mut edu = gw.client(&pki, EDU).await;
    // (request id, client certificate, rpc, subject, purpose)
    let calls = [
        ("tson-1", TSON, "CheckOwner", demo::MINOR, PURPOSE),
        ("tson-2", TSON, "CheckOwner", demo::MINOR, ""),
        ("tson-3", TSON, "CheckOwner", demo::MINOR, PURPOSE),
        ("tson-4", TSON, "GetPerson", demo::CAPABLE_ADULT, PURPOSE),
        (
            "tson-5",
            TSON,
            "GetSchoolEnrolment",
            demo::MINOR_IN_CARE,
            PURPOSE,
        ),
        (
            "edu-1",
            EDU,
            "GetSchoolEnrolment",
            demo::MINOR_IN_CARE,
            PURPOSE,
        ),
        ("edu-2", EDU, "CheckOwner", demo::STUDENT, PURPOSE),
    ];
    let mut outcomes = Vec::new();
    for (id, cn, rpc, subject, purpose) in calls {
        let client = if cn == TSON { &mut tson } else { &mut edu };
        let purpose = (!purpose.is_empty()).then_some(purpose);
        let answer = match rpc {
            "CheckOwner" => client
                .check_owner(meta(check_owner(subject, demo::MINOR_MOTHER), purpose, id))
                .await
                .map(|r| unprefixed_outcome(r.into_inner().outcome())),
            "GetPerson" => client
                .get_person(meta(person(subject), purpose, id))
                .await
                .map(found),
            _ => client
                .get_school_enrolment(meta(school(subject), purpose, id))
                .await
                .map(found),
        };
        outcomes.push(answer.unwrap_or_else(|s| format!("{:?}", s.code())));
    }
    assert_eq!(
        outcomes,
        [
            "OPERATIONAL_HALL",
            "InvalidArgument",
            "OPERATIONAL_HALL",
            "FOUND",
            "PermissionDenied",
            "FOUND",
            "PermissionDenied"
        ]
    );
    let path = pki.audit_path();
    let records = audit_lines(&path);
    assert_eq!(records.len(), calls.len(), "one record per call");
    for (((id, cn, rpc, subject, purpose), outcome), record) in
        calls.iter().zip(&outcomes).zip(&records)
    {
        let caller = if *cn == TSON { "iis-tson" } else { "edu" };
        assert_eq!(record["request_id"], *id, "{record}");
        assert_eq!(record["caller"], caller, "{record}");
        assert_eq!(record["rpc"], *rpc, "{record}");
        assert_eq!(record["subject"], today_iin(subject), "{record}");
        assert_eq!(record["purpose"], *purpose, "{record}");
        assert_eq!(record["outcome"], outcome.as_str(), "{record}");
        if *rpc == "CheckOwner" {
            // What was decided, for whom, on which day.
            assert_eq!(record["applicant"], demo::MINOR_MOTHER, "{record}");
            assert_eq!(record["decision_date"], today, "{record}");
        } else {
            assert!(record.get("applicant").is_none(), "{record}");
            assert!(record.get("decision_date").is_none(), "{record}");
        }
    }
    // The words as the log holds them.
    let registries = |i: usize| -> Vec<RegistryUse<String, String>> {
        let mut used: Vec<RegistryUse<String, String>> =
            serde_json::from_value(records[i]["registries"].clone()).unwrap();
        for u in &mut used {
            // Each answer's digest (its evidence), for every registry that answered.
            let answered = u.status == "found" || u.status == "not_found";
            assert_eq!(u.evidence.is_some(), answered, "{u:?}");
            u.evidence = None;
        }
        used
    };
    let use_of = |registry: &str, status: &str, from_cache: bool| RegistryUse::<String, String> {
        registry: registry.into(),
        status: status.into(),
        from_cache,
        stale: false,
        evidence: None,
    };
    let check = |from_cache| {
        vec![
            use_of("gbd_fl", "found", from_cache),
            use_of("zags", "found", from_cache),
            use_of("social_security", "not_found", from_cache),
            use_of("nobd", "not_consulted", false),
            use_of("epvo", "not_consulted", false),
        ]
    };
    assert_eq!(registries(0), check(false));
    assert!(registries(1).is_empty(), "refused before any registry");
    assert_eq!(registries(2), check(true), "the second check is from cache");
    assert!(registries(4).is_empty(), "denied before any registry");
    // The basis of each access: a consent token presented (by reference) or not; look-ups
    // that take no token say nothing about consent.
    assert_eq!(records[0]["consent"], "absent");
    assert!(records[0].get("consent_ref").is_none());
    assert_eq!(records[3]["consent"], "presented");
    assert!(records[3]["consent_ref"]
        .as_str()
        .is_some_and(|r| r.starts_with("kdp#") && r.len() == 36));
    assert!(records[4].get("consent").is_none());

    let report = audit::verify(&audit::chain_files(&path).unwrap()).expect("an intact chain");
    assert_eq!(report.records, calls.len() as u64);
}

/// A caller with no rights sending garbage cannot fill the audit disk: the subject is a marker,
/// not what was sent, and its refused calls are recorded one by one only a few per second, the
/// rest counted in a summary record.
#[tokio::test]
async fn refused_calls_cannot_flood_the_audit_log() {
    const CALLS: u64 = 200;
    let pki = Pki::new();
    let gw = Gateway::secured(&pki).await;
    let mut edu = gw.client(&pki, EDU).await;
    let garbage = "9".repeat(30_000);
    let started = std::time::Instant::now();
    for i in 0..CALLS {
        let status = edu
            .check_owner(meta(
                check_owner(&garbage, &garbage),
                Some(PURPOSE),
                &format!("edu-{i}"),
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let seconds = started.elapsed().as_secs() + 1;
    // Every call is accounted for once the last second's summary is written (within ~1 s).
    let path = pki.audit_path();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let records = loop {
        let records = audit_lines(&path);
        let accounted: u64 = records
            .iter()
            .map(|r| r["count"].as_u64().unwrap_or(1))
            .sum();
        if accounted == CALLS {
            break records;
        }
        assert!(accounted < CALLS, "{accounted} calls recorded");
        assert!(
            std::time::Instant::now() < deadline,
            "{accounted} of {CALLS} recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // At most 3 records one by one and 1 summary per second of refused calls.
    assert!(
        records.len() as u64 <= 4 * (seconds + 1),
        "{} records in {seconds} s",
        records.len()
    );
    assert!(
        records.iter().any(|r| r["count"].as_u64() > Some(1)),
        "a summary"
    );
    for r in &records {
        assert_eq!(r["caller"], "edu");
        assert_eq!(r["subject"], audit::MALFORMED, "{r}");
        assert_eq!(r["applicant"], audit::MALFORMED, "{r}");
    }
    let bytes = std::fs::metadata(&path).unwrap().len();
    assert!(bytes < 1024 * records.len() as u64, "{bytes} bytes");
    audit::verify(&audit::chain_files(&path).unwrap()).expect("an intact chain");
}

/// `line` with `purpose` replaced, and its hash recomputed when `rehash` (a forger who knows
/// the format but cannot change the next record's `prev`).
fn forge(line: &str, rehash: bool) -> String {
    let edited = line.replacen(PURPOSE, "curiosity", 1);
    assert_ne!(edited, line);
    if !rehash {
        return edited;
    }
    let cut = edited.rfind(",\"hash\":\"").unwrap();
    let body = format!("{}}}", &edited[..cut]);
    let hash: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{},\"hash\":\"{hash}\"}}", &edited[..cut])
}

#[tokio::test]
async fn tampering_is_found_by_verify_audit_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&AuditConfig {
        path: path.clone(),
        ..AuditConfig::default()
    })
    .await
    .unwrap();
    for (i, subject) in [demo::MINOR, demo::CAPABLE_ADULT, demo::STUDENT, demo::MINOR]
        .into_iter()
        .enumerate()
    {
        log.append(AuditRecord {
            request_id: format!("r-{i}"),
            caller: "iis-tson".into(),
            subject: subject.into(),
            purpose: PURPOSE.into(),
            ..AuditRecord::new("CheckOwner", audit::CallOutcome::Online)
        })
        .await
        .unwrap();
    }
    log.close().await.unwrap();
    let original: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(original.len(), 4);

    let verify_audit = |lines: &[String]| {
        let case = tempfile::tempdir_in(dir.path()).unwrap();
        let file = case.path().join("audit.jsonl");
        let mut f = std::fs::File::create(&file).unwrap();
        for line in lines {
            writeln!(f, "{line}").unwrap();
        }
        let out = Command::new(env!("CARGO_BIN_EXE_registry-gateway"))
            .arg("verify-audit")
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let (code, stdout) = verify_audit(&original);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: 4 records"), "{stdout}");

    let replaced = |line: String| {
        let mut lines = original.clone();
        lines[1] = line;
        lines
    };
    let mut copied = original.clone();
    copied.insert(2, original[1].clone());
    let mut deleted = original.clone();
    deleted.remove(1);
    let cases = [
        (
            "a field of line 2 edited",
            replaced(forge(&original[1], false)),
            2,
        ),
        (
            "line 2 edited, hash recomputed",
            replaced(forge(&original[1], true)),
            3,
        ),
        ("line 2 copied after itself", copied, 3),
        ("line 2 deleted", deleted, 2),
    ];
    for (what, lines, broken_at) in cases {
        let (code, stdout) = verify_audit(&lines);
        assert_eq!(code, Some(1), "{what}: {stdout}");
        assert!(stdout.starts_with("BROKEN: "), "{what}: {stdout}");
        let line = stdout
            .split_once(", line ")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok());
        assert_eq!(line, Some(broken_at), "{what}: {stdout}");
    }
}

#[tokio::test]
async fn an_audit_write_failure_withholds_the_answer() {
    let gw = Gateway::start(|c| {
        c.audit = Some(AuditConfig {
            path: "/dev/full".into(),
            ..AuditConfig::default()
        })
    })
    .await;
    let mut client = RegistryGatewayServiceClient::new(gw.plaintext().await);
    for _ in 0..2 {
        let status = client
            .check_owner(meta(check_owner(demo::MINOR, ""), Some(PURPOSE), "r-1"))
            .await
            .expect_err("answered without an audit record");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("audit log"), "{status:?}");
        assert!(!status.message().contains("OPERATIONAL_HALL"), "{status:?}");
    }
    // Readiness follows: load balancers stop sending calls that could only fail.
    use tonic_health::pb::health_check_response::ServingStatus;
    let mut health = tonic_health::pb::health_client::HealthClient::new(gw.plaintext().await);
    for service in ["", "registry_gateway.v1.RegistryGatewayService"] {
        let mut updates = health
            .watch(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        let not_serving = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(update) = updates.message().await.unwrap() {
                if update.status() == ServingStatus::NotServing {
                    return;
                }
            }
        })
        .await;
        assert!(not_serving.is_ok(), "{service:?} still SERVING");
    }
}

#[test]
fn plaintext_off_loopback_needs_the_insecure_switch() {
    let e = Config::from_toml("listen = \"0.0.0.0:1\"").unwrap_err();
    assert!(e.to_string().starts_with("listen:"), "{e}");
    let c = Config::from_toml("listen = \"0.0.0.0:1\"\nallow_insecure_plaintext = true").unwrap();
    assert!(c.allow_insecure_plaintext);
    Config::from_toml("listen = \"127.0.0.1:1\"").unwrap();
}

/// Everything written to the log, for one test.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

// One thread: the gateway's and the mocks' tasks run where the scoped subscriber is set.
#[tokio::test(flavor = "current_thread")]
async fn no_iin_reaches_the_logs() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,registry_gateway=trace,registry_mocks=trace",
        ))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    // With a single registered dispatcher, tracing-core asks only the registering thread's
    // default about a new callsite, so one first hit by a concurrent test on another thread
    // would be cached as "never" for ours too. A second one makes it ask every dispatcher.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _guard = tracing::subscriber::set_default(subscriber);

    let gw = Gateway::start(|_| {}).await;
    let channel = gw.plaintext().await;
    let mut c = RegistryGatewayServiceClient::new(channel.clone());
    let mut admin = GatewayAdminServiceClient::new(channel);
    let invalid = ["12345", demo::BAD_CHECK_DIGIT, demo::NEVER_ISSUED];
    let looked_up = demo::PERSONS
        .iter()
        .chain(&[demo::UNKNOWN, demo::ORGANISATION_BIN])
        .chain(&invalid);
    for iin in looked_up.map(|k| today_iin(k)) {
        let iin = iin.as_str();
        let _ = c.get_person(person(iin)).await;
        let _ = c
            .get_civil_acts(pb::GetCivilActsRequest { iin: iin.into() })
            .await;
        let _ = c
            .get_social_status(pb::GetSocialStatusRequest { iin: iin.into() })
            .await;
        let _ = c.get_school_enrolment(school(iin)).await;
        let _ = c
            .get_higher_education(pb::GetHigherEducationRequest { iin: iin.into() })
            .await;
    }
    // Every outcome of the demo fixture (see tests/e2e.rs), with and without applicants.
    let checks = [
        (demo::CAPABLE_ADULT, ""),
        (demo::MINOR, demo::MINOR_MOTHER),
        (demo::MINOR, demo::MINOR_FATHER),
        (demo::MINOR, demo::CAPABLE_ADULT),
        (demo::TURNS_18_TODAY, ""),
        (demo::TURNS_18_TOMORROW, ""),
        (demo::LEAP_DAY_BORN, ""),
        (demo::INCAPABLE_BY_COURT, demo::INCAPABLE_GUARDIAN),
        (demo::LIMITED_CAPACITY, demo::LIMITED_TRUSTEE),
        (demo::GUARDIANSHIP_ONLY, demo::GUARDIANSHIP_ONLY_GUARDIAN),
        (demo::MINOR_IN_CARE, demo::MINOR_IN_CARE_TRUSTEE),
        (demo::DECEASED_GBD, ""),
        (demo::DECEASED_ZAGS_ONLY, ""),
        (demo::UNKNOWN, ""),
        (demo::ORGANISATION_BIN, ""),
        (demo::STUDENT, demo::STUDENT_SPOUSE),
        (demo::MARRIED_MINOR, demo::MARRIED_MINOR_SPOUSE),
        (demo::BAD_CHECK_DIGIT, ""),
        (demo::NEVER_ISSUED, ""),
        (demo::CAPABLE_ADULT, demo::ORGANISATION_BIN),
        (demo::CAPABLE_ADULT, demo::BAD_CHECK_DIGIT),
    ];
    let mut outcomes = std::collections::BTreeSet::new();
    for (owner, applicant) in checks {
        match c.check_owner(check_owner(owner, applicant)).await {
            Ok(r) => outcomes.insert(format!("{:?}", r.into_inner().outcome())),
            Err(s) => outcomes.insert(format!("{:?}", s.code())),
        };
    }
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        [
            "InvalidArgument",
            "Online",
            "OperationalHall",
            "RefusedHere"
        ]
    );
    let _ = admin
        .invalidate_person(pb::InvalidatePersonRequest {
            iin: demo::MINOR.into(),
        })
        .await;
    // A caller that puts an IIN in its request id or purpose, on an answer and on a refusal.
    for owner in [demo::CAPABLE_ADULT, demo::BAD_CHECK_DIGIT] {
        let mut request = tonic::Request::new(check_owner(owner, ""));
        let id = format!("req-{}", demo::MINOR_MOTHER);
        request
            .metadata_mut()
            .insert("x-request-id", id.parse().unwrap());
        let purpose = format!("registration of {}", demo::MINOR_FATHER);
        request
            .metadata_mut()
            .insert("x-purpose", purpose.parse().unwrap());
        let _ = c.check_owner(request).await;
    }
    drop(gw); // its shutdown is logged too
    tokio::task::yield_now().await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("CheckOwner") && text.contains("iin#"),
        "{text}"
    );
    let known = demo::PERSONS.iter().chain(&[
        demo::UNKNOWN,
        demo::ORGANISATION_BIN,
        demo::BAD_CHECK_DIGIT,
        demo::NEVER_ISSUED,
        demo::SCHOOL_BIN,
        demo::BOARDING_SCHOOL_BIN,
        demo::UNIVERSITY_BIN,
    ]);
    let daily: Vec<String> = demo::DAILY.iter().map(|k| today_iin(k)).collect();
    let leaks: Vec<String> = known
        .copied()
        .chain(daily.iter().map(String::as_str))
        .filter(|iin| text.contains(*iin))
        .map(|iin| {
            let line = text.lines().find(|l| l.contains(iin)).unwrap();
            format!("{iin}: {line}")
        })
        .collect();
    assert!(leaks.is_empty(), "IINs in the log:\n{}", leaks.join("\n"));
}
