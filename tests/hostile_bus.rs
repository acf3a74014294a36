//! Someone on the path between the gateway and the bus: a rewriting proxy in front of the mock
//! registries that signs their answers as the bus would (each registry with its own key), and
//! then, per test, steers them: a comment, a processing instruction or a CDATA split inside a
//! signed value, another person's genuine answer, an answer signed before its request, an
//! answer re-signed by another registry's key, by the gateway's own key, by a certificate a
//! non-CA issued or by a revoked one, 1,000 References, a huge `PrefixList` over thousands of
//! namespaces, 100,000 attributes, a 1 MB answer that must be read whole to be refused.
//!
//! Each: `CheckOwner` fails closed (never `ONLINE`) within its attempt timeout, or reads the
//! value whole and decides right; the refusal's counter moves with its reason; and while eight
//! of the costliest answers arrive at once, health checks and other callers stay within 2× of
//! their latency without them.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use common::signing::{signed_config, KeyFiles};
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::config::Config;
use registry_gateway::decision;
use registry_gateway::registry::{MessageIdEcho, PerRegistry, Registry};
use registry_mocks::{demo, demo_pki, Fixture, MockRegistries, MockSigning};
use shep_wss::Credentials;
use tonic::transport::Channel;
use tonic::Code;

/// What the proxy does to the answers of the registry under attack.
#[derive(Clone)]
enum Attack {
    /// Signed by the registry's own key, now, unchanged.
    Genuine,
    /// Genuine, then `split` put inside every occurrence of the IIN asked about.
    Split(&'static str),
    /// The genuine answer recorded earlier for this other IIN.
    AnswerOf(&'static str),
    /// Signed by the registry's own key this many seconds ago.
    SignedSecondsAgo(i64),
    /// Signed now by another key.
    SignedBy(Arc<Credentials>),
    /// Genuine, with the first Reference repeated to this many.
    References(usize),
    /// Genuine, with a `PrefixList` of this many prefixes in `SignedInfo`'s c14n method.
    Prefixes(usize),
    /// Genuine, with this many namespaces declared on the response over as many elements.
    Namespaces(usize),
    /// Genuine, with one element of this many attributes in the data.
    Attributes(usize),
    /// This answer, whatever was asked.
    Fixed(Arc<str>),
}

/// The proxy: forwards to the mocks, signs, steers.
struct Bus {
    http: reqwest::Client,
    mocks: PerRegistry<String>,
    keys: PerRegistry<Arc<Credentials>>,
    attack: Mutex<(Registry, Attack)>,
    /// The genuine signed answers seen, by registry and IIN asked.
    recorded: Mutex<HashMap<(Registry, String), String>>,
}

impl Bus {
    async fn start(mocks: &MockRegistries) -> (Arc<Bus>, SocketAddr) {
        let pki = demo_pki();
        let bus = Arc::new(Bus {
            http: reqwest::Client::new(),
            mocks: PerRegistry::from_fn(|r| mocks.get(r).endpoint()),
            keys: pki.registry_credentials(),
            attack: Mutex::new((Registry::GbdFl, Attack::Genuine)),
            recorded: Mutex::new(HashMap::new()),
        });
        let app = axum::Router::new()
            .route("/{registry}", axum::routing::post(forward))
            .with_state(bus.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (bus, addr)
    }

    fn attack(&self, registry: Registry, attack: Attack) {
        *self.attack.lock().unwrap() = (registry, attack);
    }

    fn sign(&self, key: &Credentials, seconds_ago: i64, xml: &str) -> String {
        let at = Utc::now() - chrono::Duration::seconds(seconds_ago);
        shep_wss::sign_envelope(xml, key, at, Duration::from_secs(300)).expect("signed")
    }
}

async fn forward(
    State(bus): State<Arc<Bus>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let registry: Registry = key.parse().expect("a registry key");
    if let (target, Attack::Fixed(answer)) = &*bus.attack.lock().unwrap() {
        if *target == registry {
            return (
                StatusCode::OK,
                [("Content-Type", "text/xml; charset=utf-8")],
                answer.to_string(),
            );
        }
    }
    let request = String::from_utf8_lossy(&body).into_owned();
    let asked = between(&request, "<iin>", "</iin>")
        .unwrap_or_default()
        .to_owned();
    let answer = bus
        .http
        .post(&bus.mocks[registry])
        .header("Content-Type", "text/xml; charset=utf-8")
        .header(
            "SOAPAction",
            headers
                .get("SOAPAction")
                .map_or("\"SendMessage\"", |v| v.to_str().unwrap()),
        )
        .body(body)
        .send()
        .await
        .expect("the mock answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let plain = answer.text().await.unwrap();
    let genuine = bus.sign(&bus.keys[registry], 0, &plain);
    bus.recorded
        .lock()
        .unwrap()
        .insert((registry, asked.clone()), genuine.clone());
    let (target, attack) = bus.attack.lock().unwrap().clone();
    let steered = if target != registry {
        genuine
    } else {
        steer(&bus, registry, &asked, &plain, genuine, attack)
    };
    (
        status,
        [("Content-Type", "text/xml; charset=utf-8")],
        steered,
    )
}

fn steer(
    bus: &Bus,
    registry: Registry,
    asked: &str,
    plain: &str,
    genuine: String,
    attack: Attack,
) -> String {
    match attack {
        Attack::Genuine => genuine,
        Attack::Split(split) => {
            genuine.replace(asked, &format!("{}{split}{}", &asked[..7], &asked[7..]))
        }
        Attack::AnswerOf(iin) => bus.recorded.lock().unwrap()[&(registry, iin.to_owned())].clone(),
        Attack::SignedSecondsAgo(s) => bus.sign(&bus.keys[registry], s, plain),
        Attack::SignedBy(key) => bus.sign(&key, 0, plain),
        Attack::References(n) => {
            let start = genuine.find("<ds:Reference ").unwrap();
            let end = genuine[start..].find("</ds:Reference>").unwrap() + start + 15;
            let one = &genuine[start..end];
            format!(
                "{}{}{}",
                &genuine[..start],
                one.repeat(n),
                &genuine[start..]
            )
        }
        Attack::Prefixes(n) => {
            let list: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            genuine.replacen(
                "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
                &format!(
                    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{}\"/>",
                    list.join(" ")
                ),
                1,
            )
        }
        Attack::Namespaces(n) => {
            let declarations: String = (0..n)
                .map(|i| format!(" xmlns:p{i}=\"urn:p{i}\""))
                .collect();
            let elements = "<x/>".repeat(n);
            genuine
                .replacen("<response>", &format!("<response{declarations}>"), 1)
                .replacen("<data>", &format!("<data>{elements}"), 1)
        }
        Attack::Attributes(n) => {
            let attributes: String = (0..n).map(|i| format!(" a{i}=\"\"")).collect();
            genuine.replacen("<data>", &format!("<data><x{attributes}/>"), 1)
        }
        Attack::Fixed(answer) => answer.to_string(),
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// Mocks that check the gateway's signatures but leave signing answers to the proxy, the
/// proxy, and a gateway verifying answers through it (pins of the demo registry keys).
struct SignedBus {
    mocks: MockRegistries,
    bus: Arc<Bus>,
    bus_addr: SocketAddr,
    keys: KeyFiles,
}

impl SignedBus {
    async fn start() -> SignedBus {
        let pki = demo_pki();
        let signing = MockSigning {
            credentials: pki.registry_credentials(),
            trust: pki.ca.trust_store(),
            require_signed_requests: true,
            sign_answers: false,
        };
        let mocks = MockRegistries::spawn_signed(
            Arc::new(Fixture::demo().with_today(decision::today())),
            Arc::new(signing),
        )
        .await
        .expect("mocks start");
        let (bus, bus_addr) = Bus::start(&mocks).await;
        SignedBus {
            mocks,
            bus,
            bus_addr,
            keys: KeyFiles::new(),
        }
    }

    /// A fresh gateway (empty caches) through the proxy; `tweak` changes its configuration.
    async fn gateway(&self, tweak: impl FnOnce(&mut Config)) -> Gateway {
        let mut config = signed_config(&self.mocks, &self.keys);
        let registries = config.registries.as_mut().unwrap();
        for registry in Registry::ALL {
            registries[registry].url = format!("http://{}/{}", self.bus_addr, registry.key());
        }
        tweak(&mut config);
        let (addr, stop) = common::serve(config).await;
        let channel = common::connect(addr).await;
        Gateway {
            client: RegistryGatewayServiceClient::new(channel.clone()),
            channel,
            _stop: stop,
        }
    }
}

struct Gateway {
    client: RegistryGatewayServiceClient<Channel>,
    channel: Channel,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Gateway {
    async fn check(&self, owner: &str) -> Result<pb::CheckOwnerResponse, tonic::Status> {
        self.client
            .clone()
            .check_owner(pb::CheckOwnerRequest {
                owner_iin: owner.into(),
                service: pb::Service::RegistrationAtResidence.into(),
                decision_date: decision::today().to_string(),
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The latency test measures alone: the other tests of this file hold it shared.
static ALONE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn counter(rendered: &str, name: &str, labels: &str) -> u64 {
    let prefix = format!("{name}{{{labels}}} ");
    rendered
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

fn refusals(registry: Registry, reason: &str) -> u64 {
    counter(
        &registry_gateway::metrics::install().render(),
        "gateway_shep_answer_signature_failures_total",
        &format!("registry=\"{}\",reason=\"{reason}\"", registry.key()),
    )
}

fn malformed(registry: Registry) -> u64 {
    counter(
        &registry_gateway::metrics::install().render(),
        "gateway_registry_calls_total",
        &format!("registry=\"{}\",outcome=\"malformed\"", registry.key()),
    )
}

/// `owner`'s check fails closed naming `registry`, within the attempt timeout, and the
/// refusal is counted under `reason` (a signature-failure reason, or `malformed`).
async fn refused(h: &SignedBus, registry: Registry, attack: Attack, owner: &str, reason: &str) {
    let count = || {
        if reason == "malformed" {
            malformed(registry)
        } else {
            refusals(registry, reason)
        }
    };
    let before = count();
    h.bus.attack(registry, attack);
    let gateway = h.gateway(|_| {}).await;
    let started = Instant::now();
    let status = gateway.check(owner).await.expect_err("never decided on it");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the attempt timeout"
    );
    assert_eq!(status.code(), Code::Unavailable, "{reason}: {status:?}");
    assert!(
        status.message().contains(registry.name()),
        "{reason}: {}",
        status.message()
    );
    assert!(count() > before, "{reason}: counted");
    h.bus.attack(registry, Attack::Genuine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_signed_is_what_is_read() {
    let _shared = ALONE.read().await;
    let h = SignedBus::start().await;
    let ward = demo::GUARDIANSHIP_ONLY; // a ward only E-social security knows about
    let gateway = h.gateway(|_| {}).await;
    let r = gateway.check(ward).await.expect("genuine answers");
    assert_eq!(r.outcome(), pb::Outcome::OperationalHall);
    // A comment or a CDATA split inside the signed wardIin: the signature holds (c14n reads
    // them away) and so does the decision, read from the canonical form.
    for split in ["<!---->", "<![CDATA[]]>"] {
        h.bus.attack(Registry::SocialSecurity, Attack::Split(split));
        let r = h.gateway(|_| {}).await.check(ward).await.expect(split);
        assert_eq!(r.outcome(), pb::Outcome::OperationalHall, "{split}");
    }
    // A processing instruction: refused before anything is read.
    refused(
        &h,
        Registry::SocialSecurity,
        Attack::Split("<?x y?>"),
        ward,
        "malformed",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_belongs_to_its_request() {
    let _shared = ALONE.read().await;
    let h = SignedBus::start().await;
    let gateway = h.gateway(|_| {}).await;
    // GBD FL's genuine signed answer about a capable adult, recorded on the way...
    let r = gateway.check(demo::CAPABLE_ADULT).await.unwrap();
    assert_eq!(r.outcome(), pb::Outcome::Online);
    let minor = demo::iin(demo::MINOR, decision::today());
    // ...returned for a minor: another request's answer (the echoed messageId differs).
    let replay = Attack::AnswerOf(demo::CAPABLE_ADULT);
    refused(&h, Registry::GbdFl, replay.clone(), &minor, "correlation").await;
    // Where the bus echoes nothing, the answer's subject gives it away.
    let before = refusals(Registry::GbdFl, "subject");
    h.bus.attack(Registry::GbdFl, replay);
    let no_echo = h
        .gateway(|c| {
            c.registries.as_mut().unwrap()[Registry::GbdFl].message_id_echo = MessageIdEcho::None
        })
        .await;
    let status = no_echo.check(&minor).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(refusals(Registry::GbdFl, "subject") > before);
    // This request's own answer, signed two minutes before the request left: a replay.
    refused(
        &h,
        Registry::GbdFl,
        Attack::SignedSecondsAgo(120),
        &minor,
        "timestamp",
    )
    .await;
    // Within the clock skew, the same answer is this request's.
    h.bus.attack(Registry::GbdFl, Attack::SignedSecondsAgo(10));
    let r = h
        .gateway(|_| {})
        .await
        .check(&minor)
        .await
        .expect("within the skew");
    assert_eq!(r.outcome(), pb::Outcome::OperationalHall);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_registrys_own_certificate_signs_its_answers() {
    let _shared = ALONE.read().await;
    let h = SignedBus::start().await;
    let pki = demo_pki();
    let incapable = demo::INCAPABLE_BY_COURT;
    let zags_key = Arc::new(pki.registries[Registry::Zags].credentials());
    refused(
        &h,
        Registry::GbdFl,
        Attack::SignedBy(zags_key),
        incapable,
        "signer",
    )
    .await;
    // The gateway's own key (issued by the same CA) re-signing E-social security's answer
    // about a ward: refused, and the ward is never answered ONLINE.
    let own_key = Arc::new(pki.gateway.credentials());
    let ward = demo::GUARDIANSHIP_ONLY;
    refused(
        &h,
        Registry::SocialSecurity,
        Attack::SignedBy(own_key),
        ward,
        "signer",
    )
    .await;
    // A certificate for GBD FL's own name, issued by a certificate that is not a CA.
    let gbd_name = pki.signer_of(Registry::GbdFl).subject;
    let cn = gbd_name.strip_prefix("CN=").unwrap();
    let forged = pki
        .gateway
        .issue_as_non_ca("registry-gateway demo sender (test)", cn);
    let forged = Arc::new(forged.credentials());
    let before = refusals(Registry::GbdFl, "certificate");
    h.bus.attack(Registry::GbdFl, Attack::SignedBy(forged));
    let by_subject = h
        .gateway(|c| {
            let pin = &mut c.registries.as_mut().unwrap()[Registry::GbdFl].answer_signers[0];
            pin.spki_sha256 = None;
            pin.subject = Some(gbd_name.clone());
        })
        .await;
    assert_eq!(
        by_subject.check(incapable).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert!(refusals(Registry::GbdFl, "certificate") > before);
    h.bus.attack(Registry::GbdFl, Attack::Genuine);
    // GBD FL's own certificate, revoked by the CA's CRL (crl_files).
    let crl = h.keys.dir.path().join("ca.crl");
    std::fs::write(&crl, pki.ca.crl(&[&pki.registries[Registry::GbdFl]])).unwrap();
    let before = refusals(Registry::GbdFl, "certificate");
    let revoked = h
        .gateway(|c| c.shep.signing.as_mut().unwrap().crl_files = vec![crl.clone()])
        .await;
    let status = revoked.check(incapable).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(refusals(Registry::GbdFl, "certificate") > before);
    // A trust store with a leaf in it does not start.
    let bundle = h.keys.dir.path().join("with-leaf.pem");
    std::fs::write(
        &bundle,
        format!("{}{}", pki.ca.cert_pem(), pki.gateway.cert_pem()),
    )
    .unwrap();
    let mut config = signed_config(&h.mocks, &h.keys);
    config.shep.signing.as_mut().unwrap().trust_store = Some(bundle);
    let e = match registry_gateway::server::Gateway::start(config).await {
        Ok(_) => panic!("started with a leaf in the trust store"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("is not a CA"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_answers_are_refused_at_a_bounded_cost() {
    let _shared = ALONE.read().await;
    let h = SignedBus::start().await;
    let owner = demo::CAPABLE_ADULT;
    // 1,000 References: more children than any list may have, refused by the pre-parse scan;
    // three: more than the profile signs, refused before any digest is computed.
    refused(
        &h,
        Registry::GbdFl,
        Attack::References(1000),
        owner,
        "malformed",
    )
    .await;
    refused(
        &h,
        Registry::GbdFl,
        Attack::References(3),
        owner,
        "structure",
    )
    .await;
    refused(
        &h,
        Registry::GbdFl,
        Attack::Prefixes(2000),
        owner,
        "structure",
    )
    .await;
    refused(
        &h,
        Registry::GbdFl,
        Attack::Namespaces(3000),
        owner,
        "malformed",
    )
    .await;
    refused(
        &h,
        Registry::GbdFl,
        Attack::Attributes(100_000),
        owner,
        "malformed",
    )
    .await;
}

/// The costliest answer within every limit: GBD FL's genuine signed answer padded to about
/// 1 MB inside its signed Body, within every limit of the pre-parse scan (so that only reading it whole finds the digest wrong).
fn heavy_answer(h: &SignedBus) -> String {
    let genuine =
        h.bus.recorded.lock().unwrap()[&(Registry::GbdFl, demo::CAPABLE_ADULT.to_owned())].clone();
    // 19 lists of 900 elements: under every count limit (1,000 a list, 20,000 in all).
    let list = format!("<p>{}</p>", "x".repeat(48)).repeat(900);
    let padding = format!("<pad>{list}</pad>").repeat(19);
    genuine.replacen("<data>", &format!("<data>{padding}"), 1)
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() * 99 / 100]
}

/// Latencies of health checks and of cached look-ups, `n` of each, one after the other.
async fn others(gateway: &Gateway, n: usize) -> (Duration, Duration) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(gateway.channel.clone());
    let mut client = gateway.client.clone();
    let (mut h, mut l) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap();
        h.push(t.elapsed());
        let t = Instant::now();
        client
            .get_school_enrolment(pb::GetSchoolEnrolmentRequest {
                iin: demo::MINOR_IN_CARE.into(),
            })
            .await
            .unwrap();
        l.push(t.elapsed());
    }
    (p99(h), p99(l))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_costly_answers_at_once_slow_only_their_own_calls() {
    let _alone = ALONE.write().await;
    let h = SignedBus::start().await;
    // Every check reaches GBD FL (no owner facts kept), so that each reads a costly answer.
    let gateway = h
        .gateway(|c| c.consent.check_owner_shared_cache = false)
        .await;
    gateway.check(demo::CAPABLE_ADULT).await.unwrap(); // records GBD FL's answer
    let heavy: Arc<str> = heavy_answer(&h).into();
    assert!(
        heavy.len() > 800_000 && heavy.len() < 1024 * 1024,
        "{}",
        heavy.len()
    );
    let (health_base, lookup_base) = others(&gateway, 200).await;

    let before = refusals(Registry::GbdFl, "digest");
    h.bus.attack(Registry::GbdFl, Attack::Fixed(heavy));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut attackers = Vec::new();
    for _ in 0..8 {
        let (client, stop) = (gateway.client.clone(), stop.clone());
        attackers.push(tokio::spawn(async move {
            let mut refused = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && refused < 500 {
                let started = Instant::now();
                let status = client
                    .clone()
                    .check_owner(pb::CheckOwnerRequest {
                        owner_iin: demo::CAPABLE_ADULT.into(),
                        service: pb::Service::RegistrationAtResidence.into(),
                        ..Default::default()
                    })
                    .await
                    .expect_err("never decided on a changed answer");
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "within the attempt timeout"
                );
                refused += 1;
            }
            refused
        }));
    }
    // Measure once the costly answers are being read (bounded wait).
    for _ in 0..1000 {
        if refusals(Registry::GbdFl, "digest") > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refusals(Registry::GbdFl, "digest") > before,
        "costly answers being read"
    );
    // Up to three rounds of 200 under attack, the best kept: a stall of the gateway's workers
    // (what this guards against) shows in every round; a scheduling spike of the test's own
    // proxy and callers on two cores shows in one.
    let floor = Duration::from_millis(5);
    let within = |(h, l): (Duration, Duration)| {
        h <= 2 * health_base.max(floor) && l <= 2 * lookup_base.max(floor)
    };
    let mut rounds = Vec::new();
    for _ in 0..3 {
        rounds.push(others(&gateway, 200).await);
        if within(*rounds.last().unwrap()) {
            break;
        }
    }
    let (health, lookup) = *rounds.iter().min_by_key(|(h, l)| (*h).max(*l)).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut refused = 0;
    for a in attackers {
        refused += a.await.unwrap();
    }
    assert!(refused >= 8, "{refused}");
    eprintln!(
        "{refused} costly answers refused; p99 health {health_base:?} -> {health:?}, cached look-up {lookup_base:?} -> {lookup:?} (rounds {rounds:?})"
    );
    // Within 2x. Baselines are floored at 5 ms: on two cores shared with the mocks, the proxy
    // and eight callers streaming 1 MB answers, a millisecond of scheduling noise is not the
    // gateway's. (Canonicalizing on the async workers, as before, stalled them for seconds.)
    for (what, base, now) in [
        ("health", health_base, health),
        ("cached look-up", lookup_base, lookup),
    ] {
        assert!(
            now <= 2 * base.max(floor),
            "{what} p99 {now:?} under attack vs {base:?} without"
        );
    }
}
