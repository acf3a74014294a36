//! RFC 3161 time-stamps of the signed checkpoints (`[audit.timestamp]`), against a test TSA
//! (`openssl ts -reply`, see `common/tsa.rs`): checkpoints get tokens and `verify-audit`
//! verifies them and shows the time they prove; an altered or moved token, or one from
//! another TSA, fails naming the checkpoint; a TSA that is down does not stop decisions (the
//! checkpoint goes without a token, counted) and the tokens come back with it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use common::tsa::TestTsa;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::{SigningConfig, TimestampConfig};
use registry_mocks::demo;

const BINARY: &str = env!("CARGO_BIN_EXE_registry-gateway");

/// An Ed25519 key pair in PEM files: (private, public).
fn key(dir: &Path) -> (PathBuf, PathBuf) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let (private, public) = (dir.join("audit-key.pem"), dir.join("audit-key.pub.pem"));
    std::fs::write(&private, pair.serialize_pem()).unwrap();
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    (private, public)
}

/// A gateway with a signed audit log time-stamped at `url` (verified against `cert`); its
/// public key file.
async fn gateway(url: String, cert: &Path, retry_after: Duration) -> (common::Harness, PathBuf) {
    gateway_with(url, cert, retry_after, Duration::from_secs(5)).await
}

/// [`gateway`], requests to the TSA timing out after `timeout`.
async fn gateway_with(
    url: String,
    cert: &Path,
    retry_after: Duration,
    timeout: Duration,
) -> (common::Harness, PathBuf) {
    let keys = tempfile::tempdir().unwrap().keep();
    let (private, public) = key(&keys);
    let cert = cert.to_owned();
    let audited = common::Harness::audited(move |config| {
        let audit = config.audit.as_mut().unwrap();
        audit.replica = Some("gw-t".into());
        audit.signing = Some(SigningConfig { key_file: private });
        audit.timestamp = Some(TimestampConfig {
            url,
            certificate: cert,
            timeout,
            interval: Duration::ZERO,
            retry_after,
        });
    })
    .await;
    (audited, public)
}

/// `n` CheckOwner calls one after another: `n` batches, each with its checkpoint.
async fn decide(audited: &common::Harness, n: usize) {
    let mut client = RegistryGatewayServiceClient::new(common::connect(audited.addr).await);
    for _ in 0..n {
        let answer = client
            .check_owner(pb::CheckOwnerRequest {
                owner_iin: demo::CAPABLE_ADULT.into(),
                service: pb::Service::RegistrationAtResidence.into(),
                ..Default::default()
            })
            .await;
        assert!(answer.is_ok(), "decision refused: {answer:?}");
    }
}

/// The checkpoint lines of `audit`.
fn checkpoints(audit: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(audit)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("{\"checkpoint\":"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `verify-audit FILE --public-key PUB --tsa-cert CERT…`: exit code and output.
fn verify(audit: &Path, public: &Path, tsa_certs: &[&Path]) -> (i32, String) {
    let mut command = Command::new(BINARY);
    command
        .arg("verify-audit")
        .arg(audit)
        .arg("--public-key")
        .arg(public);
    for cert in tsa_certs {
        command.arg("--tsa-cert").arg(cert);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `audit` with the line of checkpoint `seq` changed by `change`, in a file of its own.
fn altered(audit: &Path, seq: u64, change: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let copy = audit.with_file_name(format!("altered-{seq}.jsonl"));
    let lines: Vec<String> = std::fs::read_to_string(audit)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["checkpoint"] == seq {
                change(&mut v);
                // The canonical member order: as the gateway writes it.
                let mut line = String::from("{");
                for key in ["checkpoint", "replica", "hash", "key", "signature", "tst"] {
                    line.push_str(&format!("\"{key}\":{},", v[key]));
                }
                line.pop();
                line.push('}');
                return line;
            }
            l.to_owned()
        })
        .collect();
    std::fs::write(&copy, lines.join("\n") + "\n").unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_get_tokens_and_verify_audit_shows_the_time_they_prove() {
    let tsa = TestTsa::start("Test TSA").await;
    let (audited, public) = gateway(tsa.url(), &tsa.cert, Duration::from_secs(30)).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    decide(&audited, 3).await;
    let cps = checkpoints(audited.audit_log());
    assert!(cps.len() >= 3, "a checkpoint per batch: {cps:?}");
    for cp in &cps {
        assert!(cp["tst"].is_string(), "a checkpoint without a token: {cp}");
    }
    assert!(tsa.granted.load(std::sync::atomic::Ordering::SeqCst) >= 3);

    let (code, out) = verify(audited.audit_log(), &public, &[&tsa.cert]);
    assert_eq!(code, 0, "{out}");
    let last = cps.last().unwrap()["checkpoint"].as_u64().unwrap();
    assert!(
        out.contains(&format!(
            "{} checkpoint(s) time-stamped, tokens verified (TSA CN=Test TSA)",
            cps.len()
        )),
        "{out}"
    );
    let proven = out
        .split(&format!("up to seq {last} at "))
        .nth(1)
        .and_then(|rest| rest.split([' ', '\n', ';', ',']).next())
        .unwrap_or_else(|| panic!("no proven time of seq {last} in: {out}"));
    let proven = chrono::DateTime::parse_from_rfc3339(proven).unwrap();
    let after = chrono::Utc::now() + chrono::Duration::seconds(2);
    assert!(
        before <= proven && proven <= after,
        "{proven} not around now: {out}"
    );

    // Without --tsa-cert the tokens are reported, not checked.
    let (code, out) = verify(audited.audit_log(), &public, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("tokens not checked (no --tsa-cert)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_moved_or_foreign_token_fails_naming_the_checkpoint() {
    let tsa = TestTsa::start("Test TSA").await;
    let other = TestTsa::start("Other TSA").await;
    let (audited, public) = gateway(tsa.url(), &tsa.cert, Duration::from_secs(30)).await;
    decide(&audited, 3).await;
    let cps = checkpoints(audited.audit_log());
    let (first, second) = (&cps[0], &cps[1]);
    let seq = second["checkpoint"].as_u64().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;

    // One byte of the token's signature (its last bytes) changed.
    let flipped = altered(audited.audit_log(), seq, |cp| {
        let mut token = b64.decode(cp["tst"].as_str().unwrap()).unwrap();
        *token.last_mut().unwrap() ^= 1;
        cp["tst"] = b64.encode(token).into();
    });
    let (code, out) = verify(&flipped, &public, &[&tsa.cert]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("(seq {seq})")), "{out}");
    assert!(
        out.contains("time-stamp token") && out.contains("does not verify"),
        "{out}"
    );

    // The first checkpoint's token on the second: another hash.
    let moved = altered(audited.audit_log(), seq, |cp| {
        cp["tst"] = first["tst"].clone()
    });
    let (code, out) = verify(&moved, &public, &[&tsa.cert]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("(seq {seq})")), "{out}");
    assert!(out.contains("message imprint differs"), "{out}");

    // Tokens checked against another TSA's certificate.
    let (code, out) = verify(audited.audit_log(), &public, &[&other.cert]);
    assert_eq!(code, 1, "{out}");
    let first_seq = first["checkpoint"].as_u64().unwrap();
    assert!(out.contains(&format!("(seq {first_seq})")), "{out}");
    assert!(
        out.contains("TSA certificate other than those given"),
        "{out}"
    );
    // Both certificates given (a TSA certificate rotated out): verified.
    let (code, out) = verify(audited.audit_log(), &public, &[&other.cert, &tsa.cert]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_tsa_is_not_stored() {
    let metrics = registry_gateway::metrics::install();
    let tsa = TestTsa::start("Test TSA").await;
    let impostor = TestTsa::start("Impostor TSA").await;
    // The gateway asks the impostor but trusts the configured TSA's certificate only.
    let (audited, public) = gateway(impostor.url(), &tsa.cert, Duration::from_millis(1)).await;
    decide(&audited, 2).await;
    assert!(impostor.granted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let cps = checkpoints(audited.audit_log());
    assert!(cps.iter().all(|cp| cp.get("tst").is_none()), "{cps:?}");
    assert!(failures(&metrics.render()) >= 1);
    let (code, out) = verify(audited.audit_log(), &public, &[&tsa.cert]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no time-stamped checkpoint"), "{out}");
}

/// `gateway_audit_timestamp_failures_total` in `rendered`.
fn failures(rendered: &str) -> u64 {
    rendered
        .lines()
        .find_map(|l| l.strip_prefix("gateway_audit_timestamp_failures_total "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no gateway_audit_timestamp_failures_total in\n{rendered}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsa_that_is_down_does_not_stop_decisions_and_tokens_come_back_with_it() {
    let metrics = registry_gateway::metrics::install();
    // Nothing listens on a port just released: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let tsa = TestTsa::start("Test TSA").await;
    let failed_before = failures(&metrics.render());
    let (audited, public) = gateway(
        format!("http://{closed}/"),
        &tsa.cert,
        Duration::from_millis(1),
    )
    .await;
    decide(&audited, 3).await;
    let cps = checkpoints(audited.audit_log());
    assert!(
        cps.len() >= 3 && cps.iter().all(|cp| cp.get("tst").is_none()),
        "{cps:?}"
    );
    assert!(
        failures(&metrics.render()) >= failed_before + 3,
        "{}",
        metrics.render()
    );
    let (code, out) = verify(audited.audit_log(), &public, &[&tsa.cert]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no time-stamped checkpoint"), "{out}");
    drop(audited);

    // A TSA that takes the connection and never answers: `timeout` bounds the wait, then
    // nothing is asked for `retry_after`.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", hanging.local_addr().unwrap());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = asked.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new(); // taken, never answered
        for connection in hanging.incoming() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(connection);
        }
    });
    let failed_before = failures(&metrics.render());
    let (audited, _) = gateway_with(
        url,
        &tsa.cert,
        Duration::from_secs(600),
        Duration::from_millis(300),
    )
    .await;
    decide(&audited, 3).await;
    let cps = checkpoints(audited.audit_log());
    assert!(
        cps.len() >= 3 && cps.iter().all(|cp| cp.get("tst").is_none()),
        "{cps:?}"
    );
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one request timed out, then none for retry_after"
    );
    assert!(failures(&metrics.render()) > failed_before);
    drop(audited);

    // A TSA that answers 503, then is back: the next checkpoint after retry_after has a token
    // again, covering the records before it.
    tsa.set_up(false);
    let (audited, public) = gateway(tsa.url(), &tsa.cert, Duration::from_millis(1)).await;
    decide(&audited, 2).await;
    assert!(checkpoints(audited.audit_log())
        .iter()
        .all(|cp| cp.get("tst").is_none()));
    tsa.set_up(true);
    common::eventually(
        Duration::from_secs(10),
        "a time-stamped checkpoint",
        || async {
            decide(&audited, 1).await;
            checkpoints(audited.audit_log())
                .last()
                .unwrap()
                .get("tst")
                .is_some()
        },
    )
    .await;
    let (code, out) = verify(audited.audit_log(), &public, &[&tsa.cert]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 checkpoint(s) time-stamped, tokens verified"),
        "{out}"
    );
}
