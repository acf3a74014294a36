//! Legitimate clients keep their connections (issue 22, tests 3 and 4): a grpcio client whose
//! 200 concurrent calls all run out of time keeps its one connection (no GOAWAY) and its next
//! call succeeds, while a rapid-reset flood is still sent away; and silent sockets filling the
//! connection table do not keep a new caller waiting longer than the handshake timeout.
//!
//! Real gateway on 127.0.0.1:0 in front of the demo mocks; grpcio through
//! `tests/clients/grpcio_calls.py` (needs `pip install grpcio`) behind a TCP relay in this
//! test that counts connections and the GOAWAY frames the gateway sends; raw HTTP/2 through
//! the `h2` crate. Waits are bounded.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_mocks::demo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SERVICE: &str = "/registry_gateway.v1.RegistryGatewayService";

/// A TCP relay to the gateway that counts the connections through it and the GOAWAY frames
/// the gateway sends on them (its HTTP/2 frames read as they pass).
#[derive(Default)]
struct Relay {
    connections: AtomicUsize,
    goaways: AtomicUsize,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> (SocketAddr, Arc<Relay>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let relay = Arc::new(Relay::default());
        let counts = relay.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counts.connections.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(upstream).await.unwrap();
                tokio::spawn(counts.clone().pipe(client, server));
            }
        });
        (addr, relay)
    }

    async fn pipe(self: Arc<Relay>, client: TcpStream, server: TcpStream) {
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let up = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            let _ = server_write.shutdown().await;
        });
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = server_read.read(&mut buf).await {
            if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            // Whole frames: 3 bytes length, 1 type, 1 flags, 4 stream id, then the payload.
            while pending.len() >= 9 {
                let len = u32::from_be_bytes([0, pending[0], pending[1], pending[2]]) as usize;
                if pending.len() < 9 + len {
                    break;
                }
                if pending[3] == 0x7 {
                    self.goaways.fetch_add(1, Ordering::SeqCst);
                }
                pending.drain(..9 + len);
            }
        }
        up.abort();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gateway on a runtime of its own with one worker, which the test can keep busy (a
/// task that blocks it): the gateway as it is when its cores are saturated.
fn serve_on_own_runtime(
    config: registry_gateway::Config,
) -> (
    SocketAddr,
    tokio::runtime::Runtime,
    tokio::sync::oneshot::Sender<()>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(async move {
        let listener = TcpListener::from_std(listener).unwrap();
        let shutdown = async {
            let _ = stopped.await;
        };
        registry_gateway::run(listener, config, shutdown)
            .await
            .expect("gateway runs");
    });
    (addr, runtime, stop)
}

/// grpcio's `deadline` mode; once it is connected, `busy` runs, then its calls start.
fn grpcio_deadline_storm(args: &[String], busy: impl FnOnce()) -> Value {
    use std::io::{BufRead, Write};
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/grpcio_calls.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the grpcio tests: apt-get install -y python3");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    if first != "ready" {
        let status = child.wait().unwrap();
        assert!(
            status.code() != Some(3),
            "grpcio is needed: pip install grpcio"
        );
        panic!("grpcio client did not connect: {status}");
    }
    busy();
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let report = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(child.wait().unwrap().success(), "grpcio client failed");
    serde_json::from_str(&report).expect("the script prints one JSON line")
}

/// 200 grpcio calls on one channel, each with a 300 ms deadline, against a GBD FL answering in
/// 3 s, sent while the gateway's only worker is busy for a second (it reads each stream's
/// HEADERS and its RST_STREAM together, as a saturated gateway does): all DEADLINE_EXCEEDED,
/// one connection and no GOAWAY, and the next call on the same channel is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_calls_all_time_out_keeps_its_connection() {
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    mocks
        .get(Registry::GbdFl)
        .set_faults(common::slow(Duration::from_secs(3)));
    let (gateway, runtime, _stop) = serve_on_own_runtime(common::config_for(&mocks));
    let (addr, relay) = Relay::start(gateway).await;
    let slow = pb::GetPersonRequest {
        iin: demo::CAPABLE_ADULT.into(),
        consent_token: format!("kdp-demo-{}", demo::CAPABLE_ADULT),
    };
    let fast = pb::GetCivilActsRequest {
        iin: demo::MINOR.into(),
    };
    let args = [
        "deadline".to_owned(),
        addr.to_string(),
        "200".into(),
        "300".into(),
        format!("{SERVICE}/GetPerson"),
        hex(&slow.encode_to_vec()),
        format!("{SERVICE}/GetCivilActs"),
        hex(&fast.encode_to_vec()),
    ];
    let handle = runtime.handle().clone();
    let report = tokio::task::spawn_blocking(move || {
        grpcio_deadline_storm(&args, || {
            let (started, blocking) = std::sync::mpsc::channel();
            handle.spawn(async move {
                started.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(1));
            });
            blocking
                .recv_timeout(Duration::from_secs(5))
                .expect("the worker blocks");
        })
    })
    .await
    .unwrap();
    let connections = relay.connections.load(Ordering::SeqCst);
    let goaways = relay.goaways.load(Ordering::SeqCst);
    eprintln!("issue 22 test 3: grpcio {report}, connections {connections}, GOAWAY {goaways}");
    runtime.shutdown_background();
    assert_eq!(report["codes"]["DEADLINE_EXCEEDED"], 200, "{report}");
    assert_eq!(report["next"], "OK", "{report}");
    assert_eq!(goaways, 0, "the gateway sent GOAWAY");
    assert_eq!(connections, 1, "the client had to reconnect");
}

/// A rapid-reset flood (open a stream, reset it at once, again and again) is still sent away
/// with GOAWAY, and the gateway answers others afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_is_still_sent_away() {
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    let (gateway, _stop) = common::serve(common::config_for(&mocks)).await;
    let (addr, relay) = Relay::start(gateway).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(10) && sent < 100_000 {
        let Ok(ready) = send.clone().ready().await else {
            break;
        };
        send = ready;
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://gateway{SERVICE}/GetCivilActs"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let Ok((_, mut stream)) = send.send_request(request, false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        sent += 1;
    }
    let ended = tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("the gateway ended the connection")
        .unwrap();
    let goaways = relay.goaways.load(Ordering::SeqCst);
    eprintln!("issue 22 test 3: rapid reset: {sent} streams opened and reset, GOAWAY {goaways}, connection {ended:?}");
    assert!(goaways >= 1, "no GOAWAY for a rapid-reset flood");
    let mut client = RegistryGatewayServiceClient::new(common::connect(gateway).await);
    client
        .get_civil_acts(pb::GetCivilActsRequest {
            iin: demo::MINOR.into(),
        })
        .await
        .expect("others are answered");
    let _ = Bytes::new();
}

/// Connection limit 50, 200 sockets that connect and say nothing: a new caller is answered
/// within the handshake timeout (the oldest silent connections are closed to admit it), and
/// the silent sockets beyond the limit were closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_do_not_keep_a_caller_out() {
    let handshake = Duration::from_secs(2);
    let today = registry_gateway::decision::today();
    let mocks = common::demo_mocks(today).await;
    let mut config = common::config_for(&mocks);
    config.connections.max = 50;
    config.connections.tls_handshake_timeout = handshake;
    let (gateway, _stop) = common::serve(config).await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(gateway).await.unwrap());
    }
    let started = Instant::now();
    let call = async {
        let channel = common::connect(gateway).await;
        RegistryGatewayServiceClient::new(channel)
            .get_civil_acts(pb::GetCivilActsRequest {
                iin: demo::MINOR.into(),
            })
            .await
    };
    let answer = tokio::time::timeout(handshake, call)
        .await
        .expect("a new caller is answered within the handshake timeout");
    let took = started.elapsed();
    answer.expect("answered");
    // Closed by the gateway: a read sees the end of the stream.
    let closed = silent.iter().filter(|s| !would_block(s)).count();
    eprintln!("issue 22 test 4: limit 50, 200 silent sockets: new caller answered in {took:?}, {closed} silent sockets closed");
    assert!(closed >= 150, "{closed} closed");
}

/// Whether a read of `socket` would wait (it is open and silent).
fn would_block(socket: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(socket.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}
