//! The evidence archive end to end, against a real PostgreSQL (see `common/postgres.rs`) and
//! the demo mocks signing their answers: a decision per demo outcome is explained from the
//! archived answers and re-derived to the same outcome; one person decided twice within the
//! cache TTL is archived once; a blob altered in the store is reported as a signature failure;
//! a purge past retention removes the blobs, `verify-audit --postgres` still passes and
//! `explain` says the evidence was purged; blobs sealed under a key rotated out still open.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::postgres::Postgres;
use common::signing::{signed_config, KeyFiles};
use registry_gateway::access::{AccessConfig, ClientRights};
use registry_gateway::api::pb::gateway_admin_service_client::GatewayAdminServiceClient;
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::evidence::Keys;
use registry_gateway::audit::{AuditConfig, Durability, EvidenceConfig, PostgresConfig};
use registry_gateway::config::Config;
use registry_gateway::explain::Explainer;
use registry_mocks::demo;
use tonic::transport::Channel;

const BINARY: &str = env!("CARGO_BIN_EXE_registry-gateway");

/// A 256-bit evidence key in a file, as `openssl rand -hex 32` writes it.
fn key_file(dir: &Path, name: &str, byte: u8) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", format!("{byte:02x}").repeat(32))).unwrap();
    path
}

/// A gateway in this process in front of the demo mocks (answers signed and verified),
/// shipping to `pg` under `replica` with the evidence archive sealing with `keys[0]`.
struct Gateway {
    client: RegistryGatewayServiceClient<Channel>,
    admin: GatewayAdminServiceClient<Channel>,
    config: Config,
    _mocks: registry_mocks::MockRegistries,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn gateway(
    pg: &Postgres,
    dir: &Path,
    replica: &str,
    keys: &[PathBuf],
    signing: &KeyFiles,
    configure: impl FnOnce(&mut Config),
) -> Gateway {
    // The mocks sign their answers (and check the gateway's signatures).
    let mocks = registry_mocks::MockRegistries::spawn_signed(
        std::sync::Arc::new(
            registry_mocks::Fixture::demo().with_today(registry_gateway::decision::today()),
        ),
        registry_mocks::MockSigning::demo(),
    )
    .await
    .expect("mocks start");
    let mut config = signed_config(&mocks, signing);
    config.audit = Some(AuditConfig {
        path: dir.join(replica).join("audit.jsonl"),
        replica: Some(replica.into()),
        postgres: Some(PostgresConfig {
            url: pg.superuser_url(),
            password_file: Some(pg.password_file()),
            durability: Durability::Postgres,
            migrate: true,
            ..PostgresConfig::default()
        }),
        evidence: Some(EvidenceConfig {
            key_files: keys.to_vec(),
            retention: Duration::from_secs(365 * 24 * 3600),
        }),
        ..AuditConfig::default()
    });
    configure(&mut config);
    let (addr, stop) = common::serve(config.clone()).await;
    let channel = common::connect(addr).await;
    Gateway {
        client: RegistryGatewayServiceClient::new(channel.clone()),
        admin: GatewayAdminServiceClient::new(channel),
        config,
        _mocks: mocks,
        _stop: stop,
    }
}

/// CheckOwner of `owner` (applying: `applicant`); the decision id and outcome.
async fn decide(gw: &mut Gateway, owner: &str, applicant: &str) -> (String, String) {
    let answer = gw
        .client
        .check_owner(pb::CheckOwnerRequest {
            owner_iin: owner.into(),
            applicant_iin: applicant.into(),
            service: pb::Service::RegistrationAtResidence.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("CheckOwner {owner}: {e}"))
        .into_inner();
    let outcome = answer
        .outcome()
        .as_str_name()
        .trim_start_matches("OUTCOME_")
        .to_owned();
    (answer.decision_id, outcome)
}

/// `registry-gateway explain ID` through the real binary: exit code and output.
fn explain_cli(pg: &Postgres, id: &str, keys: &[PathBuf], trust: &str) -> (i32, String) {
    let mut cmd = Command::new(BINARY);
    cmd.args(["explain", id, "--postgres", &pg.superuser_url()])
        .arg("--password-file")
        .arg(pg.password_file())
        .args(["--trust-store", trust]);
    for key in keys {
        cmd.arg("--evidence-key").arg(key);
    }
    run(cmd)
}

fn run(mut cmd: Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The legal-basis note of decision `id` (taken today under `config`'s rules) re-derived by
/// rules whose act is in force on its date, and by rules whose act ended long before: one of
/// the two differs from the note recorded, and says so; rules refusing a date outside the
/// term re-derive a refusal.
async fn legal_basis_notes_are_rederived(config: &Config, db: &tokio_postgres::Client, id: &str) {
    use registry_gateway::decision::legal_basis::{Act, OnExpired};
    let today = registry_gateway::decision::today();
    let recorded = match config.decision.legal_basis.on(today).note(today) {
        Some(_) => "LEGAL_BASIS_EXPIRED",
        None => "none",
    };
    let line: String = db
        .query_one("SELECT line FROM audit_decision($1)", &[&id])
        .await
        .unwrap()
        .get(0);
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    let notes = &record["decision"]["notes"];
    match recorded {
        "none" => assert!(notes.is_null(), "{line}"),
        code => assert_eq!(notes, &serde_json::json!([code]), "{line}"),
    }
    let explain = |act: Act, on_expired: OnExpired| {
        let mut rules = config.clone();
        rules.decision.legal_basis.acts = vec![act];
        rules.decision.legal_basis.on_expired = on_expired;
        async move {
            let explainer = Explainer::from_config(&rules, &[], None).unwrap();
            explainer.explain(db, id).await.unwrap()
        }
    };
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let in_force = Act {
        effective_from: date("2000-01-01"),
        effective_until: None,
        ..Act::shipped()
    };
    let ended = Act {
        effective_until: Some(date("2001-01-01")),
        ..in_force.clone()
    };
    for (act, now) in [(in_force, "none"), (ended.clone(), "LEGAL_BASIS_EXPIRED")] {
        let e = explain(act, OnExpired::Answer).await;
        assert!(e.same_outcome(), "{}", e.text);
        assert_eq!(e.same_notes, now == recorded, "{}", e.text);
        let said = format!("legal-basis note by the current rules: {now} (act ");
        assert!(e.text.contains(&said), "{said} not in\n{}", e.text);
        let verdict = if now == recorded {
            "the same as recorded".to_owned()
        } else {
            format!("DIFFERENT from the recorded {recorded}")
        };
        assert!(e.text.contains(&verdict), "{verdict} not in\n{}", e.text);
    }
    let e = explain(ended, OnExpired::Refuse).await;
    assert_eq!(
        e.rederived.as_deref(),
        Some("FAILED_PRECONDITION"),
        "{}",
        e.text
    );
    assert!(!e.same_outcome());
    assert!(
        e.text.contains("legal_basis.on_expired = \"refuse\""),
        "{}",
        e.text
    );
}

/// Rows and bytes of the archive.
async fn archive(client: &tokio_postgres::Client) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT count(*), coalesce(sum(octet_length(blob)), 0)::int8 FROM audit_evidence",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// GBD FL asked with each CheckOwner's token (by default its facts come from the
/// owner-facts cache).
fn per_call(config: &mut Config) {
    config.consent.check_owner_shared_cache = false;
}

/// The evidence digests a decision's record names, in registry order.
async fn digests(db: &tokio_postgres::Client, id: &str) -> Vec<String> {
    let line: String = db
        .query_one("SELECT line FROM audit_decision($1)", &[&id])
        .await
        .unwrap()
        .get(0);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["registries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["evidence"].as_str().map(str::to_owned))
        .collect()
}

/// Prints the archive's bytes per decision, as stored (deduplicated) and as they would be
/// with a copy per decision (for docs/production.md).
async fn report_storage(db: &tokio_postgres::Client, what: &str) {
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM audit_records WHERE line LIKE '%\"decision\":{%'), \
                    (SELECT coalesce(sum(octet_length(blob)), 0)::int8 FROM audit_evidence), \
                    (SELECT coalesce(sum(octet_length(e.blob)), 0)::int8 FROM audit_records r \
                     CROSS JOIN LATERAL jsonb_array_elements((r.line::jsonb)->'registries') u \
                     JOIN audit_evidence e ON e.digest = u->>'evidence')",
            &[],
        )
        .await
        .unwrap();
    let (decisions, stored, copies): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    println!(
        "storage ({what}): {decisions} decisions; deduplicated {stored} B ({} B per decision); \
         a copy per decision {copies} B ({} B per decision)",
        stored / decisions.max(1),
        copies / decisions.max(1)
    );
}

/// The demo persons, one per outcome and edge, and who applies for each.
const CASES: [(&str, &str, &str); 9] = [
    (demo::CAPABLE_ADULT, "", "ONLINE"),
    (demo::MINOR, demo::MINOR_MOTHER, "OPERATIONAL_HALL"),
    (
        demo::INCAPABLE_BY_COURT,
        demo::INCAPABLE_GUARDIAN,
        "OPERATIONAL_HALL",
    ),
    (demo::GUARDIANSHIP_ONLY, "", "OPERATIONAL_HALL"),
    (demo::DECLARED_MISSING, "", "OPERATIONAL_HALL"),
    (demo::DECEASED_GBD, "", "REFUSED_HERE"),
    (demo::DECEASED_ZAGS_ONLY, "", "REFUSED_HERE"),
    (demo::UNKNOWN, "", "REFUSED_HERE"),
    (demo::ORGANISATION_BIN, "", "ONLINE"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn decisions_are_explained_from_their_archived_answers() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let signing = KeyFiles::new();
    let key = key_file(dir.path(), "evidence.key", 0x11);
    let mut gw = gateway(
        &pg,
        dir.path(),
        "gw-0",
        std::slice::from_ref(&key),
        &signing,
        per_call,
    )
    .await;
    let db = pg.client().await;

    // A decision per demo outcome, each re-derived from its archived answers.
    let explainer = Explainer::from_config(&gw.config, &[], None).unwrap();
    let mut decided = Vec::new();
    for (owner, applicant, expected) in CASES {
        let (id, outcome) = decide(&mut gw, owner, applicant).await;
        assert_eq!(outcome, expected, "{owner}");
        let e = explainer.explain(&db, &id).await.unwrap();
        assert!(e.same_outcome(), "{owner}: {}", e.text);
        assert_eq!(e.recorded, expected);
        if owner != demo::ORGANISATION_BIN {
            assert_eq!(
                e.text.matches("signature valid today: signer").count(),
                3,
                "{}",
                e.text
            );
            assert_eq!(
                e.text.matches("signature valid on the day").count(),
                3,
                "{}",
                e.text
            );
        }
        assert!(e.text.contains("the same outcome"), "{}", e.text);
        decided.push(id);
    }
    let (blobs, _) = archive(&db).await;
    assert!(
        blobs >= 8 * 2,
        "the answers of eight persons, none for the organisation: {blobs}"
    );

    legal_basis_notes_are_rederived(&gw.config, &db, &decided[0]).await;

    // The same person again within the TTL: IS ZAGS's and E-social security's answers come
    // from the owner-facts cache and are not stored again; GBD FL is asked afresh with
    // `check_owner_shared_cache = false`: one new blob.
    let (again, _) = decide(&mut gw, demo::CAPABLE_ADULT, "").await;
    assert_ne!(again, decided[0]);
    assert_eq!(archive(&db).await.0, blobs + 1, "deduplicated");
    let first = digests(&db, &decided[0]).await;
    let second = digests(&db, &again).await;
    assert_eq!(first.len(), 3);
    assert_eq!(first[1..], second[1..], "the cached answers' envelopes");
    assert_ne!(first[0], second[0], "GBD FL asked again");
    // The demo population decided twice more: the storage per decision.
    for _ in 0..2 {
        for (owner, applicant, _) in CASES {
            decide(&mut gw, owner, applicant).await;
        }
    }
    report_storage(&db, "GBD FL asked per decision").await;

    // The CLI says the same, and exits 0.
    let trust = signing.path("trust.pem");
    let (code, out) = explain_cli(&pg, &decided[1], std::slice::from_ref(&key), &trust);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OPERATIONAL_HALL, the same outcome"), "{out}");
    println!("{out}");

    // A blob altered in the store (re-sealed with the key, a value changed): the signature fails.
    let keys = Keys::load(std::slice::from_ref(&key)).unwrap();
    let minor = digests(&db, &decided[1]).await;
    let gbd = &minor[0];
    let blob: Vec<u8> = db
        .query_one("SELECT blob FROM audit_evidence WHERE digest = $1", &[gbd])
        .await
        .unwrap()
        .get(0);
    let envelope = String::from_utf8(keys.open(gbd, &blob).unwrap()).unwrap();
    let forged = envelope.replacen("<birthDate>20", "<birthDate>19", 1);
    assert_ne!(forged, envelope, "the GBD FL answer holds a birth date");
    db.execute(
        "UPDATE audit_evidence SET blob = $2 WHERE digest = $1",
        &[gbd, &keys.seal(gbd, forged.as_bytes())],
    )
    .await
    .unwrap();
    let (code, out) = explain_cli(&pg, &decided[1], std::slice::from_ref(&key), &trust);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIGEST MISMATCH"), "{out}");
    println!("{out}");
    assert!(out.contains("signature INVALID today"), "{out}");
    assert!(
        out.contains("not re-derived: the evidence of GBD FL is not used: its digest"),
        "a forged answer is not decided on: {out}"
    );
    // Altered without the key: the blob does not open.
    db.execute(
        "UPDATE audit_evidence SET blob = overlay(blob placing '\\x00'::bytea from 40) WHERE digest = $1",
        &[&minor[1]],
    )
    .await
    .unwrap();
    let (code, out) = explain_cli(&pg, &decided[1], std::slice::from_ref(&key), &trust);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot be opened"), "{out}");
    println!("{out}");

    // Purge past retention: blobs gone, the chain intact, explain says purged.
    db.execute(
        "UPDATE audit_evidence SET stored_at = now() - interval '400 days' WHERE digest = ANY($1)",
        &[&first],
    )
    .await
    .unwrap();
    let mut purge = Command::new(BINARY);
    purge
        .args(["purge-evidence", "--postgres", &pg.superuser_url()])
        .arg("--password-file")
        .arg(pg.password_file())
        .args(["--retention", "365d"]);
    let (code, out) = run(purge);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 3 evidence blob(s) purged"), "{out}");
    let purged: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_evidence WHERE blob IS NULL AND digest = ANY($1)",
            &[&first],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(purged, 3);
    let mut verify = Command::new(BINARY);
    verify
        .args(["verify-audit", "--postgres", &pg.superuser_url()])
        .arg("--password-file")
        .arg(pg.password_file());
    let (code, out) = run(verify);
    assert_eq!(code, 0, "{out}");
    let (code, out) = explain_cli(&pg, &decided[0], std::slice::from_ref(&key), &trust);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("evidence purged on").count(), 3, "{out}");
    println!("{out}");
    assert!(
        out.contains("not re-derived: the evidence of GBD FL is not available"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blobs_sealed_under_a_rotated_key_still_open() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let signing = KeyFiles::new();
    let old = key_file(dir.path(), "old.key", 0x21);
    let new = key_file(dir.path(), "new.key", 0x42);
    let mut before = gateway(
        &pg,
        dir.path(),
        "gw-0",
        std::slice::from_ref(&old),
        &signing,
        |_| {},
    )
    .await;
    let (old_id, _) = decide(&mut before, demo::MINOR, demo::MINOR_MOTHER).await;
    drop(before);
    // Rotated: the new key seals, the old one still opens.
    let rotated = [new.clone(), old.clone()];
    let mut after = gateway(&pg, dir.path(), "gw-1", &rotated, &signing, |_| {}).await;
    let (new_id, _) = decide(&mut after, demo::CAPABLE_ADULT, "").await;
    let db = pg.client().await;
    let ids = |key: &PathBuf| {
        Keys::load(std::slice::from_ref(key))
            .unwrap()
            .sealing_id()
            .to_owned()
    };
    let sealed: Vec<String> = db
        .query("SELECT DISTINCT convert_from(substring(blob from 1 for 16), 'UTF8') FROM audit_evidence", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sealed.len(), 2, "{sealed:?}");
    assert!(
        sealed.contains(&ids(&old)) && sealed.contains(&ids(&new)),
        "{sealed:?}"
    );
    let explainer = Explainer::from_config(&after.config, &[], None).unwrap();
    for id in [old_id.clone(), new_id.clone()] {
        let e = explainer.explain(&db, &id).await.unwrap();
        assert!(e.same_outcome(), "{}", e.text);
    }
    // With GBD FL's shared cache on, the same person decided again within the TTL stores
    // nothing new: one blob per answer, whatever the decisions resting on it.
    let (blobs, _) = archive(&db).await;
    let (again, _) = decide(&mut after, demo::CAPABLE_ADULT, "").await;
    assert_eq!(archive(&db).await.0, blobs, "one blob");
    assert_eq!(digests(&db, &again).await, digests(&db, &new_id).await);
    for _ in 0..3 {
        for (owner, applicant, _) in CASES {
            decide(&mut after, owner, applicant).await;
        }
    }
    report_storage(&db, "owner-facts cache (default)").await;
    // Without the old key, its blobs are named as sealed by an unknown key.
    let trust = signing.path("trust.pem");
    let (code, out) = explain_cli(&pg, &old_id, &[new], &trust);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("which is not among the configured keys"),
        "{out}"
    );
}

/// Plaintext callers taken to be the client system `ops`, with `rpcs` as its rights.
fn plaintext_rights(rpcs: &'static [&'static str]) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| {
        config.access = Some(AccessConfig {
            require_purpose: false,
            require_request_id: false,
            plaintext_client: Some("ops".into()),
            clients: [(
                "ops".to_owned(),
                ClientRights {
                    names: vec!["ops".into()],
                    rpcs: rpcs.iter().map(|r| r.to_string()).collect(),
                    consent_required: Vec::new(),
                },
            )]
            .into(),
        });
    }
}

/// The store's records of `rpc`, as JSON.
async fn records_of(db: &tokio_postgres::Client, rpc: &str) -> Vec<serde_json::Value> {
    db.query("SELECT line FROM audit_records ORDER BY replica, seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r.get(0)).unwrap())
        .filter(|v| v["rpc"] == rpc)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_rpc_needs_its_own_right_and_is_audited() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let signing = KeyFiles::new();
    let key = [key_file(dir.path(), "evidence.key", 0x33)];
    let without = plaintext_rights(&["CheckOwner", "InvalidatePerson", "GetRegistryStatus"]);
    let mut gw = gateway(&pg, dir.path(), "gw-0", &key, &signing, without).await;
    let (id, _) = decide(&mut gw, demo::MINOR, demo::MINOR_MOTHER).await;
    let request = || pb::ExplainDecisionRequest {
        decision_id: id.clone(),
    };
    let refused = gw.admin.explain_decision(request()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    let with = plaintext_rights(&["ExplainDecision"]);
    let mut ops = gateway(&pg, dir.path(), "gw-1", &key, &signing, with).await;
    let explained = ops
        .admin
        .explain_decision(request())
        .await
        .unwrap()
        .into_inner();
    assert!(explained.same_outcome, "{}", explained.text);
    assert_eq!(explained.recorded_outcome, "OPERATIONAL_HALL");
    assert_eq!(explained.rederived_outcome, "OPERATIONAL_HALL");
    // The demo keys of the gateway under test are in its trust store: verified again.
    assert!(
        explained.text.contains("signature valid today"),
        "{}",
        explained.text
    );
    let unknown = pb::ExplainDecisionRequest {
        decision_id: uuid::Uuid::new_v4().to_string(),
    };
    let status = ops.admin.explain_decision(unknown).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    let db = pg.client().await;
    let records = records_of(&db, "ExplainDecision").await;
    let outcomes: Vec<&str> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["PermissionDenied", "EXPLAINED", "InvalidArgument"],
        "{records:?}"
    );
    let explained = &records[1];
    assert_eq!(explained["subject"], demo::MINOR, "whose data was shown");
    assert_eq!(explained["caller"], "ops");
    assert_eq!(explained["decision"]["id"], id.as_str());
}
