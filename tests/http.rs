//! The HTTP/JSON edge, end to end over real HTTP/1.1 (reqwest, HTTP/1.1 only): every RPC's
//! route, protobuf's JSON mapping on the wire, every error as a `google.rpc.Status` with its
//! HTTP status, mutual TLS and rights per client system, the audit record of an HTTP call, the
//! deadline header, admission, and the OpenAPI document checked by openapi-spec-validator.

mod common;

use common::Harness;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::pki::Pki;
use registry_gateway::access::{AccessConfig, ClientRights};
use registry_gateway::audit::AuditConfig;
use registry_gateway::decision;
use registry_gateway::registry::Registry;
use registry_mocks::{demo, FaultMode, Faults};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// An answer: status, headers, JSON body.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Answer {
    /// The `google.rpc.Status` detail of type `google.rpc.<name>`.
    fn detail(&self, name: &str) -> &Value {
        let ty = format!("type.googleapis.com/google.rpc.{name}");
        self.json["details"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["@type"] == ty.as_str()))
            .unwrap_or_else(|| panic!("no {name} in {}", self.json))
    }
}

impl Harness {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        send(request).await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        // A client of its own (HTTP/1.1 only), as a caller over HTTP/JSON has.
        let client = reqwest::Client::builder().http1_only().build().unwrap();
        client.request(method, format!("http://{}{path}", self.addr))
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.request(Method::GET, path)).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        let request = self
            .request(Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    async fn check_owner(&self, body: Value) -> Answer {
        self.post("/v1/owners:check", body).await
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the gateway answers");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
    if status != StatusCode::OK {
        assert_eq!(headers["content-type"], "application/json");
        assert!(
            json["code"].is_i64() && json["message"].is_string(),
            "{json}"
        );
    }
    Answer {
        status,
        headers,
        json,
    }
}

fn today_iin(key: &str) -> String {
    demo::iin(key, decision::today())
}

fn owner(iin: &str) -> Value {
    json!({"ownerIin": today_iin(iin), "service": "SERVICE_REGISTRATION_AT_RESIDENCE"})
}

/// Every RPC of both services at its route, answering what its gRPC form answers.
#[tokio::test]
async fn every_rpc_answers_at_its_route() {
    let h = Harness::start(|_| {}).await;
    let minor = today_iin(demo::MINOR);

    let check = h
        .check_owner(json!({
            "ownerIin": minor,
            "service": "SERVICE_REGISTRATION_AT_RESIDENCE",
            "applicantIin": demo::MINOR_MOTHER,
        }))
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.json);
    assert_eq!(check.json["outcome"], "OUTCOME_OPERATIONAL_HALL");
    assert_eq!(check.json["reasons"][0]["code"], "REASON_CODE_OWNER_MINOR");
    assert_eq!(
        check.json["representation"]["role"],
        "REPRESENTATIVE_ROLE_MOTHER"
    );
    assert_eq!(check.json["orderItem"], "4");

    let dwelling = h
        .post(
            "/v1/dwellings:check",
            json!({
                "owners": [{"iin": demo::MINOR_MOTHER}, {"iin": demo::MINOR_FATHER}, {"iin": minor}],
                "service": "SERVICE_REGISTRATION_AT_RESIDENCE",
                "applicantIin": demo::MINOR_MOTHER,
            }),
        )
        .await;
    assert_eq!(dwelling.status, StatusCode::OK, "{}", dwelling.json);
    assert_eq!(dwelling.json["outcome"], "OUTCOME_OPERATIONAL_HALL");
    assert_eq!(dwelling.json["reasons"][0]["ownerIndex"], 2);
    assert_eq!(dwelling.json["owners"].as_array().unwrap().len(), 3);
    assert_eq!(dwelling.json["representativeConfirmed"], true);
    let repeated = h
        .post(
            "/v1/dwellings:check",
            json!({"owners": [{"iin": minor}, {"iin": minor}], "service": "SERVICE_REGISTRATION_AT_RESIDENCE"}),
        )
        .await;
    assert_eq!(repeated.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        repeated.detail("BadRequest")["fieldViolations"][0]["field"],
        "owners[1].iin"
    );

    let person = format!("/v1/persons/{}", demo::INCAPABLE_BY_COURT);
    let token = demo::consent(demo::INCAPABLE_BY_COURT);
    let by_get = h.get(&format!("{person}?consentToken={token}")).await;
    assert_eq!(by_get.status, StatusCode::OK, "{}", by_get.json);
    assert_eq!(
        by_get.json["person"]["capacity"]["status"],
        "CAPACITY_STATUS_INCAPABLE"
    );
    assert_eq!(
        by_get.json["person"]["capacity"]["caseNumber"],
        "2-1234/2019"
    );
    let by_post = h
        .post(
            "/v1/persons:get",
            json!({"iin": demo::INCAPABLE_BY_COURT, "consentToken": token}),
        )
        .await;
    assert_eq!(
        by_post.json["person"], by_get.json["person"],
        "both routes, one RPC"
    );

    let acts = h.get(&format!("/v1/persons/{minor}/civil-acts")).await;
    assert_eq!(
        acts.json["birthActs"][0]["mother"]["iin"],
        demo::MINOR_MOTHER
    );
    let social = h
        .get(&format!(
            "/v1/persons/{}/social-status",
            demo::INCAPABLE_BY_COURT
        ))
        .await;
    assert_eq!(
        social.json["guardianships"][0]["kind"],
        "GUARDIANSHIP_KIND_GUARDIANSHIP"
    );
    assert_eq!(social.json["guardianships"][0]["active"], true);
    let pupil = today_iin(demo::MINOR_IN_CARE);
    let school = h
        .get(&format!("/v1/persons/{pupil}/school-enrolment"))
        .await;
    assert_eq!(school.json["enrolments"][0]["withoutParentalCare"], true);
    let studies = h
        .get(&format!("/v1/persons/{}/higher-education", demo::STUDENT))
        .await;
    assert_eq!(studies.json["studies"][0]["dormitory"], true);

    let status = h.get("/v1/admin/registries").await;
    let registries: Vec<&str> = status.json["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["registry"].as_str().unwrap())
        .collect();
    assert_eq!(
        registries,
        [
            "REGISTRY_GBD_FL",
            "REGISTRY_ZAGS",
            "REGISTRY_SOCIAL_SECURITY",
            "REGISTRY_NOBD",
            "REGISTRY_EPVO"
        ]
    );
    let invalidated = h
        .send(h.request(
            Method::POST,
            &format!("/v1/admin/persons/{minor}:invalidate"),
        ))
        .await;
    assert_eq!(invalidated.status, StatusCode::OK, "{}", invalidated.json);
    assert!(invalidated.json["invalidated"]
        .as_array()
        .unwrap()
        .contains(&json!("REGISTRY_ZAGS")));
}

/// The JSON is protobuf's JSON mapping, both ways.
#[tokio::test]
async fn json_follows_the_protobuf_mapping() {
    let h = Harness::start(|_| {}).await;
    let answer = h.check_owner(owner(demo::CAPABLE_ADULT)).await;
    let json = &answer.json;
    // lowerCamelCase names, enums by name, a proto3 `optional` kept, defaults left out.
    assert_eq!(json["orderItem"], "5");
    assert!(json["decisionDate"].is_string() && json["decisionId"].is_string());
    assert_eq!(json["outcome"], "OUTCOME_ONLINE");
    assert_eq!(json["owner"]["kind"], "OWNER_KIND_PERSON");
    assert!(json["owner"]["ageYears"].is_u64());
    assert!(
        json["owner"].get("minor").is_none(),
        "false is the default: left out"
    );
    assert!(json.get("order_item").is_none());
    let evidence = &json["evidence"][0];
    assert_eq!(evidence["registry"], "REGISTRY_GBD_FL");
    let fetched = evidence["fetchedAt"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(fetched).expect("a Timestamp is RFC 3339");
    assert!(fetched.ends_with('Z'));

    // 64-bit integers as strings (IS ZAGS's answer cached by a look-up).
    let acts = h
        .get(&format!("/v1/persons/{}/civil-acts", demo::CAPABLE_ADULT))
        .await;
    assert_eq!(acts.status, StatusCode::OK, "{}", acts.json);
    let status = h.get("/v1/admin/registries").await;
    let zags = &status.json["registries"][1];
    assert_eq!(zags["registry"], "REGISTRY_ZAGS");
    assert_eq!(zags["cacheEntries"], "1", "uint64 is a string: {zags}");

    // Proto field names and enum numbers are read too.
    let read = h
        .check_owner(json!({"owner_iin": demo::CAPABLE_ADULT, "service": 2}))
        .await;
    assert_eq!(
        read.json["service"], "SERVICE_TEMPORARY_REGISTRATION",
        "{}",
        read.json
    );

    // Unknown fields and enum names are refused, naming the field.
    for (body, field, rule) in [
        (
            json!({"ownerIIN": demo::CAPABLE_ADULT}),
            "ownerIIN",
            "is not a field of this request",
        ),
        (
            json!({"ownerIin": demo::CAPABLE_ADULT, "service": "OUTCOME_ONLINE"}),
            "service",
            "unrecognized enum value 'OUTCOME_ONLINE'",
        ),
        // The IIN a parser's message quotes is masked: the message goes to the log too.
        (
            json!({"860314310210": 1}),
            "<number>",
            "is not a field of this request",
        ),
        (
            json!({"ownerIin": 860314310210u64}),
            "owner_iin",
            "invalid type: integer `<number>`",
        ),
        (json!(["ownerIin"]), "body", "must be a JSON object"),
    ] {
        let refused = h.check_owner(body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.json["code"], 3);
        let violation = &refused.detail("BadRequest")["fieldViolations"][0];
        assert_eq!(violation["field"], field, "{body}");
        assert!(
            violation["description"].as_str().unwrap().contains(rule),
            "{violation}"
        );
    }
    let cut = h
        .send(
            h.request(Method::POST, "/v1/owners:check")
                .header("content-type", "application/json")
                .body(r#"{"ownerIin": "8603"#),
        )
        .await;
    assert_eq!(cut.status, StatusCode::BAD_REQUEST);
    assert!(cut.json["message"]
        .as_str()
        .unwrap()
        .starts_with("body: is not valid JSON"));
}

/// Each error is a `google.rpc.Status` with the details its gRPC form carries, under the HTTP
/// status its code maps to.
#[tokio::test]
async fn errors_are_google_rpc_status_with_their_http_status() {
    let h = Harness::start(|c| c.max_message_bytes = 4096).await;

    let bad = h.check_owner(owner(demo::BAD_CHECK_DIGIT)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let violation = &bad.detail("BadRequest")["fieldViolations"][0];
    assert_eq!(violation["field"], "owner_iin");
    assert!(violation["description"]
        .as_str()
        .unwrap()
        .contains("check digit"));

    let unknown = h
        .get(&format!(
            "/v1/persons/{0}?consentToken=kdp-demo-{0}",
            demo::UNKNOWN
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.detail("ErrorInfo")["reason"], "PERSON_NOT_FOUND");
    assert_eq!(
        unknown.detail("ErrorInfo")["metadata"]["registry"],
        "gbd_fl"
    );

    let no_consent = h.get(&format!("/v1/persons/{}", demo::CAPABLE_ADULT)).await;
    assert_eq!(
        no_consent.status,
        StatusCode::BAD_REQUEST,
        "FAILED_PRECONDITION"
    );
    assert_eq!(no_consent.json["code"], 9);
    assert_eq!(
        no_consent.detail("PreconditionFailure")["violations"][0]["subject"],
        "consent_token"
    );

    let wrong_type = h
        .send(
            h.request(Method::POST, "/v1/owners:check")
                .header("content-type", "text/plain")
                .body(owner(demo::CAPABLE_ADULT).to_string()),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        wrong_type.detail("BadRequest")["fieldViolations"][0]["field"],
        "content-type"
    );

    let huge =
        json!({"ownerIin": "1".repeat(5000), "service": "SERVICE_REGISTRATION_AT_RESIDENCE"});
    let too_large = h.check_owner(huge).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        too_large.detail("BadRequest")["fieldViolations"][0]["description"],
        "must be at most 4096 bytes"
    );

    let wrong_method = h.get("/v1/owners:check").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers["allow"], "POST");
    for path in ["/v1/nowhere", "/", "/owners:check"] {
        let no_route = h.get(path).await;
        assert_eq!(no_route.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(no_route.json["code"], 5);
    }

    let body_on_get = h
        .send(
            h.request(
                Method::GET,
                &format!("/v1/persons/{}/civil-acts", demo::MINOR_MOTHER),
            )
            .body("{}"),
        )
        .await;
    assert_eq!(body_on_get.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body_on_get.detail("BadRequest")["fieldViolations"][0]["field"],
        "body"
    );
    let unknown_query = h
        .get(&format!(
            "/v1/persons/{}/civil-acts?iin=1",
            demo::MINOR_MOTHER
        ))
        .await;
    assert_eq!(
        unknown_query.detail("BadRequest")["fieldViolations"][0]["field"],
        "iin",
        "a path field given again"
    );
}

/// A registry that does not answer: 503 naming it, with RetryInfo and Retry-After.
#[tokio::test]
async fn a_registry_down_is_503_with_when_to_retry() {
    let h = Harness::start(|_| {}).await;
    h.mocks
        .get(Registry::Zags)
        .set_faults(Faults::mode(FaultMode::Http503));
    let down = h
        .send(
            h.request(
                Method::GET,
                &format!("/v1/persons/{}/civil-acts", demo::STUDENT),
            )
            .header("x-request-id", "req-http-503"),
        )
        .await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.json
    );
    assert_eq!(down.json["code"], 14);
    let info = down.detail("ErrorInfo");
    assert_eq!(info["metadata"]["registry"], "zags");
    assert_eq!(info["metadata"]["request_id"], "req-http-503");
    let delay = down.detail("RetryInfo")["retryDelay"].as_str().unwrap();
    let seconds: f64 = delay.strip_suffix('s').unwrap().parse().unwrap();
    let retry_after: f64 = down.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, seconds.ceil().max(1.0), "{delay}");
}

/// `x-timeout-ms` is the caller's deadline: past it, 504 well before the slow registry answers.
#[tokio::test]
async fn the_deadline_header_gives_504_on_time() {
    let h = Harness::start(|_| {}).await;
    h.mocks
        .get(Registry::Zags)
        .set_faults(common::slow(Duration::from_secs(5)));
    let started = Instant::now();
    let late = h
        .send(
            h.request(
                Method::GET,
                &format!("/v1/persons/{}/civil-acts", demo::STUDENT),
            )
            .header("x-timeout-ms", "300"),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT, "{}", late.json);
    assert_eq!(late.json["code"], 4);
    assert!(took < Duration::from_secs(2), "answered after {took:?}");

    // gRPC's own header is refused over HTTP, so that only the gateway's deadline applies.
    let grpc_timeout = h
        .send(
            h.request(
                Method::GET,
                &format!("/v1/persons/{}/civil-acts", demo::STUDENT),
            )
            .header("grpc-timeout", "1S"),
        )
        .await;
    assert_eq!(grpc_timeout.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        grpc_timeout.detail("BadRequest")["fieldViolations"][0]["field"],
        "grpc-timeout"
    );
}

/// Past the in-flight limit an HTTP call is shed like a gRPC call: 429 with RetryInfo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_sheds_with_429() {
    let h = Harness::start(|c| c.max_in_flight = 1).await;
    let gbd_fl = h.mocks.get(Registry::GbdFl);
    gbd_fl.set_faults(common::slow(Duration::from_secs(2)));
    let first = tokio::spawn(send(
        h.request(Method::POST, "/v1/owners:check")
            .header("content-type", "application/json")
            .body(owner(demo::CAPABLE_ADULT).to_string()),
    ));
    // The first call holds the slot once it has reached the registry.
    let deadline = Instant::now() + Duration::from_secs(5);
    while gbd_fl.calls() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first call never reached GBD FL"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = h.check_owner(owner(demo::MINOR)).await;
    assert_eq!(shed.status, StatusCode::TOO_MANY_REQUESTS, "{}", shed.json);
    assert_eq!(shed.detail("ErrorInfo")["reason"], "GATEWAY_OVERLOADED");
    assert_eq!(shed.detail("RetryInfo")["retryDelay"], "1s");
    assert_eq!(shed.headers["retry-after"], "1");
    assert_eq!(first.await.unwrap().status, StatusCode::OK);
}

/// Over mutual TLS an HTTP caller is the client system its certificate names, with that
/// system's rights; its calls, refused ones included, are audited as gRPC calls are.
#[tokio::test]
async fn mtls_callers_have_their_rights_and_their_calls_are_audited() {
    let pki = Pki::new();
    let mocks = common::demo_mocks(decision::today()).await;
    let mut config = common::config_for(&mocks);
    let rights = |cn: &str, rpcs: &[&str]| ClientRights {
        names: vec![cn.to_owned()],
        rpcs: rpcs.iter().map(|r| r.to_string()).collect(),
        consent_required: Vec::new(),
    };
    config.tls = Some(pki.tls());
    config.access = Some(AccessConfig {
        require_purpose: true,
        require_request_id: false,
        plaintext_client: None,
        clients: [
            ("iis-tson".to_owned(), rights("tson.test", &["CheckOwner"])),
            (
                "edu".to_owned(),
                rights("edu.test", &["GetHigherEducation"]),
            ),
        ]
        .into(),
    });
    config.audit = Some(AuditConfig {
        path: pki.audit_path(),
        ..AuditConfig::default()
    });
    let (addr, _stop) = common::serve(config).await;
    let tson = https_client(&pki, Some("tson.test"));
    let url = |path: &str| format!("https://localhost:{}{path}", addr.port());
    let check = |client: &reqwest::Client, body: Value| {
        client
            .post(url("/v1/owners:check"))
            .header("content-type", "application/json")
            .header("x-purpose", "registration at residence, application 7")
            .header("x-request-id", "req-http-1")
            .body(body.to_string())
    };

    let answer = send(check(&tson, owner(demo::MINOR))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    assert_eq!(answer.json["outcome"], "OUTCOME_OPERATIONAL_HALL");

    let edu = https_client(&pki, Some("edu.test"));
    let denied = send(check(&edu, owner(demo::MINOR))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.json);
    assert_eq!(denied.json["message"], "caller edu may not call CheckOwner");
    // Refused before its content type is even looked at, as over gRPC.
    let denied = send(check(&edu, owner(demo::MINOR)).header("content-type", "text/plain")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let no_purpose = send(
        tson.post(url("/v1/owners:check"))
            .header("content-type", "application/json")
            .body(owner(demo::MINOR).to_string()),
    )
    .await;
    assert_eq!(no_purpose.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        no_purpose.detail("BadRequest")["fieldViolations"][0]["field"],
        "x-purpose"
    );

    let stranger = https_client(&pki, None)
        .get(url("/v1/admin/registries"))
        .send()
        .await;
    assert!(stranger.is_err(), "served without a client certificate");

    let records: Vec<Value> = std::fs::read_to_string(pki.audit_path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &records[0];
    assert_eq!(first["caller"], "iis-tson");
    assert_eq!(first["rpc"], "CheckOwner");
    assert_eq!(first["request_id"], "req-http-1");
    assert_eq!(first["purpose"], "registration at residence, application 7");
    assert_eq!(first["subject"], today_iin(demo::MINOR));
    assert_eq!(first["outcome"], "OPERATIONAL_HALL");
    let outcomes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["caller"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("iis-tson", "OPERATIONAL_HALL"),
            ("edu", "PermissionDenied"),
            ("edu", "PermissionDenied"),
            ("iis-tson", "InvalidArgument"),
        ]
    );
}

/// An HTTP/1.1-only client over TLS, trusting the test server CA, presenting the client
/// certificate of `cn` if any.
fn https_client(pki: &Pki, cn: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .http1_only()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.server_ca.as_bytes()).unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)));
    if let Some(cn) = cn {
        let (cert, key) = pki.client_pem(cn);
        let identity = reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap();
        builder = builder.identity(identity);
    }
    builder.build().unwrap()
}

/// The served OpenAPI document lists every route and passes openapi-spec-validator.
#[tokio::test]
async fn the_openapi_document_is_valid() {
    let h = Harness::start(|_| {}).await;
    let document = h.get("/v1/openapi.json").await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.json["openapi"], "3.0.3");
    let paths = document.json["paths"].as_object().unwrap();
    for path in [
        "/v1/owners:check",
        "/v1/dwellings:check",
        "/v1/persons/{iin}",
        "/v1/persons:get",
        "/v1/persons/{iin}/civil-acts",
        "/v1/persons/{iin}/social-status",
        "/v1/persons/{iin}/school-enrolment",
        "/v1/persons/{iin}/higher-education",
        "/v1/admin/persons/{iin}:invalidate",
        "/v1/admin/registries",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), document.json.to_string()).unwrap();
    let install = "python3 -m pip install openapi-spec-validator==0.9.0 (tests/run.sh does)";
    let validated = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}); then: {install}"));
    let stderr = String::from_utf8_lossy(&validated.stderr);
    assert!(
        !stderr.contains("No module named"),
        "openapi-spec-validator is not installed: {install}"
    );
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}

/// A request whose body never arrives whole is ended after `request_arrival_timeout` with 408,
/// as a gRPC stream would be: a stranger cannot hold it open.
#[tokio::test]
async fn a_body_that_never_arrives_is_ended_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::start(|c| c.connections.request_arrival_timeout = Duration::from_millis(300))
        .await;
    let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let head =
        "POST /v1/owners:check HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
                content-length: 100\r\n\r\n{\"ownerIin\":";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("}") {
            let n = tcp.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body is missing");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_arrival_timeout"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}
