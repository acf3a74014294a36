//! No registry read without its record (issue 22, test 1): callers that go away mid-call —
//! a tonic client dropping its call (RST_STREAM), a raw HTTP/2 client sending RST_STREAM
//! itself, grpcio cancelling, curl killed on the HTTP/JSON route — against registries that
//! answer in 3 s. Every registry read the mocks saw has its `CANCELLED` record, naming the
//! registry, and nothing else is recorded for those callers.
//!
//! Real gateway on 127.0.0.1:0 with an audit log, the demo mocks in this process; grpcio
//! through `tests/clients/grpcio_calls.py` (needs `pip install grpcio`), curl (needs
//! `apt-get install -y curl`). Waits are bounded polls.

mod common;

use common::Harness;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use prost::Message;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use serde_json::Value;
use tokio::net::TcpStream;

const SERVICE: &str = "/registry_gateway.v1.RegistryGatewayService";
const SLOW: [Registry; 3] = [Registry::GbdFl, Registry::Zags, Registry::SocialSecurity];
/// How long a caller waits before it goes away.
const PATIENCE: Duration = Duration::from_millis(500);

/// The records of the audit log at `path` (checkpoints left out).
pub fn audit_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r.get("rpc").is_some())
        .collect()
}

/// The three RPCs that read personal data, for fresh owners: (method, request bytes, the
/// subjects it is about).
struct Calls {
    owners: std::vec::IntoIter<String>,
    today: String,
}

impl Calls {
    fn get_person(&mut self) -> (&'static str, Vec<u8>, Vec<String>) {
        let iin = self.owners.next().unwrap();
        let request = pb::GetPersonRequest {
            consent_token: format!("kdp-demo-{iin}"),
            iin: iin.clone(),
        };
        ("GetPerson", request.encode_to_vec(), vec![iin])
    }

    fn check_owner(&mut self) -> (&'static str, Vec<u8>, Vec<String>) {
        let iin = self.owners.next().unwrap();
        let request = self.owner_request(&iin);
        ("CheckOwner", request.encode_to_vec(), vec![iin])
    }

    fn owner_request(&self, iin: &str) -> pb::CheckOwnerRequest {
        pb::CheckOwnerRequest {
            owner_iin: iin.to_owned(),
            service: pb::Service::RegistrationAtResidence.into(),
            decision_date: self.today.clone(),
            ..Default::default()
        }
    }

    fn check_dwelling(&mut self) -> (&'static str, Vec<u8>, Vec<String>) {
        let two: Vec<String> = (0..2).map(|_| self.owners.next().unwrap()).collect();
        let request = pb::CheckDwellingRequest {
            owners: two
                .iter()
                .map(|iin| pb::DwellingOwner {
                    iin: iin.clone(),
                    ..Default::default()
                })
                .collect(),
            service: pb::Service::RegistrationAtResidence.into(),
            decision_date: self.today.clone(),
            ..Default::default()
        };
        ("CheckDwelling", request.encode_to_vec(), two)
    }

    /// `n` of each RPC.
    fn each(&mut self, n: usize) -> Vec<(&'static str, Vec<u8>, Vec<String>)> {
        (0..n)
            .flat_map(|_| [self.get_person(), self.check_owner(), self.check_dwelling()])
            .collect()
    }
}

/// Registries each RPC of these reads for one subject.
fn reads(rpc: &str) -> &'static [Registry] {
    match rpc {
        "GetPerson" => &[Registry::GbdFl],
        _ => &SLOW,
    }
}

/// A tonic client whose calls are dropped after [`PATIENCE`] (tonic resets their streams).
async fn tonic_drops(addr: SocketAddr, calls: &[(&'static str, Vec<u8>, Vec<String>)]) {
    let channel = common::connect(addr).await;
    let client = RegistryGatewayServiceClient::new(channel);
    let futures = calls.iter().map(|(rpc, bytes, _)| {
        let mut c = client.clone();
        let bytes = bytes.clone();
        async move {
            let _ = match *rpc {
                "GetPerson" => c
                    .get_person(pb::GetPersonRequest::decode(&bytes[..]).unwrap())
                    .await
                    .map(drop),
                "CheckOwner" => c
                    .check_owner(pb::CheckOwnerRequest::decode(&bytes[..]).unwrap())
                    .await
                    .map(drop),
                _ => c
                    .check_dwelling(pb::CheckDwellingRequest::decode(&bytes[..]).unwrap())
                    .await
                    .map(drop),
            };
        }
    });
    let answered = tokio::time::timeout(PATIENCE, join_all(futures)).await;
    assert!(
        answered.is_err(),
        "no call may be answered before the slow registries"
    );
}

/// A raw HTTP/2 client that sends `RST_STREAM(CANCEL)` on each stream after [`PATIENCE`].
async fn h2_resets(addr: SocketAddr, calls: &[(&'static str, Vec<u8>, Vec<String>)]) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut streams = Vec::new();
    for (rpc, bytes, _) in calls {
        let mut send = send.clone().ready().await.expect("a stream");
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://gateway{SERVICE}/{rpc}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let (response, mut stream) = send.send_request(request, false).unwrap();
        let mut framed = vec![0];
        framed.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        framed.extend_from_slice(bytes);
        stream.send_data(Bytes::from(framed), true).unwrap();
        streams.push((response, stream));
    }
    tokio::time::sleep(PATIENCE).await;
    for (_, stream) in &mut streams {
        stream.send_reset(h2::Reason::CANCEL);
    }
}

/// grpcio cancels every call after [`PATIENCE`] (one script run per RPC: one method each).
fn grpcio_cancels(addr: SocketAddr, calls: &[(&'static str, Vec<u8>, Vec<String>)]) {
    let mut by_rpc: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (rpc, bytes, _) in calls {
        by_rpc.entry(rpc).or_default().push(hex(bytes));
    }
    for (rpc, hexes) in by_rpc {
        let mut args = vec![
            "cancel".to_owned(),
            addr.to_string(),
            PATIENCE.as_millis().to_string(),
            format!("{SERVICE}/{rpc}"),
        ];
        args.extend(hexes);
        let n = args.len() - 4;
        let report = common::grpcio(&args);
        assert_eq!(report["cancelled"], n, "{report}");
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// curl on the HTTP/JSON route, killed after [`PATIENCE`].
fn curl_killed(addr: SocketAddr, calls: &Calls, owners: &[String]) {
    let mut children: Vec<_> = owners
        .iter()
        .map(|iin| {
            let body = serde_json::json!({
                "ownerIin": iin,
                "service": "SERVICE_REGISTRATION_AT_RESIDENCE",
                "decisionDate": calls.today,
            });
            Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-m",
                    "20",
                    "-H",
                    "content-type: application/json",
                ])
                .arg("-d")
                .arg(body.to_string())
                .arg(format!("http://{addr}/v1/owners:check"))
                .spawn()
                .expect("curl is needed: apt-get install -y curl")
        })
        .collect();
    std::thread::sleep(PATIENCE);
    for child in &mut children {
        child
            .kill()
            .expect("curl still running: not answered before the registries");
        let _ = child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registry_read_of_an_abandoned_call_has_its_cancelled_record() {
    let a = Harness::audited(|_| {}).await;
    for r in SLOW {
        a.mocks
            .get(r)
            .set_faults(common::slow(Duration::from_secs(3)));
        a.mocks.get(r).reset_calls();
    }
    let mut calls = Calls {
        owners: common::strangers(200).into_iter(),
        today: a.today.clone(),
    };
    let by_tonic = calls.each(3);
    let by_h2 = calls.each(3);
    let by_grpcio = calls.each(3);
    let by_curl: Vec<String> = (0..4).map(|_| calls.owners.next().unwrap()).collect();
    tokio::join!(h2_resets(a.addr, &by_h2), tonic_drops(a.addr, &by_tonic));
    let addr = a.addr;
    let grpcio_calls = by_grpcio.clone();
    tokio::task::spawn_blocking(move || grpcio_cancels(addr, &grpcio_calls))
        .await
        .unwrap();
    curl_killed(a.addr, &calls, &by_curl);

    // What was asked of each registry, and about whom.
    let mut expected: BTreeMap<Registry, u64> = BTreeMap::new();
    let mut subjects = HashSet::new();
    for (rpc, _, about) in by_tonic.iter().chain(&by_h2).chain(&by_grpcio) {
        for iin in about {
            subjects.insert(iin.clone());
            for r in reads(rpc) {
                *expected.entry(*r).or_default() += 1;
            }
        }
    }
    for iin in &by_curl {
        subjects.insert(iin.clone());
        for r in SLOW {
            *expected.entry(r).or_default() += 1;
        }
    }
    let wanted = subjects.len();
    common::eventually(
        Duration::from_secs(5),
        "a CANCELLED record per subject",
        || async { cancelled(a.audit_log()).len() >= wanted },
    )
    .await;
    let records = cancelled(a.audit_log());
    assert_eq!(records.len(), wanted, "one record per subject, no more");
    let mut recorded: BTreeMap<Registry, u64> = BTreeMap::new();
    for record in &records {
        let subject = record["subject"].as_str().unwrap();
        assert!(
            subjects.contains(subject),
            "a record about someone not asked for"
        );
        for used in record["registries"].as_array().unwrap() {
            let r: Registry = used["registry"].as_str().unwrap().parse().unwrap();
            *recorded.entry(r).or_default() += 1;
        }
    }
    for r in SLOW {
        let seen = a.mocks.get(r).calls();
        assert_eq!(seen, expected[&r], "{r}: the mock's calls");
        assert_eq!(
            recorded.get(&r).copied().unwrap_or(0),
            seen,
            "{r}: records vs reads"
        );
    }
    let by_rpc = records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["rpc"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        m
    });
    eprintln!(
        "issue 22 test 1: {} registry reads (gbd_fl {}, zags {}, social {}), {} CANCELLED records {by_rpc:?}",
        expected.values().sum::<u64>(),
        expected[&Registry::GbdFl],
        expected[&Registry::Zags],
        expected[&Registry::SocialSecurity],
        records.len()
    );
    // Nothing else was recorded about these callers (no second record per subject).
    let all = audit_records(a.audit_log());
    let about_them = all
        .iter()
        .filter(|r| subjects.contains(r["subject"].as_str().unwrap_or_default()))
        .count();
    assert_eq!(about_them, wanted);
}

fn cancelled(path: &Path) -> Vec<Value> {
    audit_records(path)
        .into_iter()
        .filter(|r| r["outcome"] == "CANCELLED")
        .collect()
}
