//! docs/production.md followed word for word on a fresh PostgreSQL 15 cluster: the shell blocks
//! after its `<!-- tested: tests/production_doc.rs -->` markers run as written, in a directory
//! of their own, with `audit-db` the test cluster's address and `registry-gateway` the binary
//! under test — the roles and the database owned by the owner role (as the superuser), the
//! schema (`migrate` as the owner), the GRANTs (as the owner), the signing key (`openssl`; the
//! `kubectl` line is left out) — then the real gateway writes as `gateway_audit` and the
//! auditors' `verify-audit` of step 4 finds its chain intact and signed. And the reason the page
//! gives is checked: `migrate` as the owner role in a database it does not own stops at
//! "permission denied for schema public".
//!
//! Needs PostgreSQL's server and client (`apt-get install -y postgresql`; tests/run.sh installs
//! it) and `openssl`; without them it fails, saying so.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::postgres::{Postgres, SUPERUSER_PASSWORD};
use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};

const PAGE: &str = include_str!("../docs/production.md");
const MARKER: &str = "<!-- tested: tests/production_doc.rs";
const GATEWAY: &str = env!("CARGO_BIN_EXE_registry-gateway");

/// The ```sh blocks after each marker, in the page's order.
fn tested_blocks() -> Vec<String> {
    PAGE.split(MARKER)
        .skip(1)
        .map(|rest| {
            let start = rest.find("```sh\n").expect("a sh block after the marker") + 6;
            let end = rest[start..].find("```").expect("the block ends") + start;
            rest[start..end].to_owned()
        })
        .collect()
}

/// Runs `script` with bash in `dir`: `registry-gateway` on PATH, `audit-db` the cluster.
fn run(script: &str, dir: &Path, port: u16) -> Output {
    let script = script.replace("audit-db", &format!("127.0.0.1:{port}"));
    let bin = Path::new(GATEWAY).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir)
        .env("PATH", path)
        // psql's password prompt for the superuser, answered.
        .env("PGPASSWORD", SUPERUSER_PASSWORD)
        .output()
        .expect("run bash")
}

fn ok(out: Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn psql_superuser(port: u16, sql: &str) {
    let out = Command::new("psql")
        .env("PGPASSWORD", SUPERUSER_PASSWORD)
        .args(["-v", "ON_ERROR_STOP=1", "-q"])
        .arg(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .args(["-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql: {e}: apt-get install -y postgresql"));
    ok(out, sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_md_word_for_word_on_a_fresh_cluster() {
    let pg = Postgres::start();
    // The helper makes a database for the other tests: the page makes its own.
    psql_superuser(
        pg.port,
        &format!("DROP DATABASE {}", common::postgres::DATABASE),
    );
    let version = ok(
        Command::new("psql").arg("--version").output().unwrap(),
        "psql",
    );
    let blocks = tested_blocks();
    assert_eq!(blocks.len(), 3, "setup, verify, signing key");
    let (setup, verify, signing) = (&blocks[0], &blocks[1], &blocks[2]);
    let dir = tempfile::tempdir().unwrap();

    let out = ok(
        run(setup, dir.path(), pg.port),
        "steps 0-3 (roles, database, migrate, GRANTs)",
    );
    assert!(out.contains("ok: applied migration(s) [1, 2]"), "{out}");
    let signing: String = signing
        .lines()
        .filter(|l| !l.starts_with("kubectl"))
        .collect::<Vec<_>>()
        .join("\n");
    ok(run(&signing, dir.path(), pg.port), "the signing key");

    gateway_writes_as_gateway_audit(dir.path(), pg.port).await;

    let out = ok(run(verify, dir.path(), pg.port), "step 4 (verify-audit)");
    assert!(
        out.contains("ok: replica gw-0:") && out.contains("signatures verified"),
        "{out}"
    );
    eprintln!("docs/production.md ran on {version}");
    owner_without_the_database_is_refused(dir.path(), pg.port);
}

/// The gateway with the page's configuration (as `REGGW_*` variables), a few calls, drained.
async fn gateway_writes_as_gateway_audit(dir: &Path, port: u16) {
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("postgres://gateway_audit@127.0.0.1:{port}/audit");
    let mut gateway = Command::new(GATEWAY)
        .current_dir(dir)
        .env("REGGW_LISTEN", listen.to_string())
        .env("REGGW_AUDIT__PATH", dir.join("spool/audit.jsonl"))
        .env("REGGW_AUDIT__FSYNC", "interval")
        .env("REGGW_AUDIT__REPLICA", "gw-0")
        .env("REGGW_AUDIT__SIGNING__KEY_FILE", dir.join("ed25519.pem"))
        .env("REGGW_AUDIT__POSTGRES__URL", url)
        .env(
            "REGGW_AUDIT__POSTGRES__PASSWORD_FILE",
            dir.join("gateway-password"),
        )
        .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap())
        .spawn()
        .expect("start the gateway");
    let mut client = None;
    for _ in 0..100 {
        if let Ok(c) = RegistryGatewayServiceClient::connect(format!("http://{listen}")).await {
            client = Some(c);
            break;
        }
        assert!(
            gateway.try_wait().unwrap().is_none(),
            "gateway exited: {}",
            log(dir)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut client = client.unwrap_or_else(|| panic!("gateway never listened: {}", log(dir)));
    for iin in ["860314310210", "161016620441", "790505361139"] {
        let request = pb::CheckOwnerRequest {
            owner_iin: iin.into(),
            service: pb::Service::RegistrationAtResidence as i32,
            ..Default::default()
        };
        let answer = client.check_owner(request).await;
        assert!(answer.is_ok(), "{answer:?}\n{}", log(dir));
    }
    unsafe { libc::kill(gateway.id() as i32, libc::SIGTERM) };
    let status = gateway.wait().unwrap();
    assert!(status.success(), "gateway: {status}: {}", log(dir));
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
}

/// What the page warns of: the owner role migrating a database owned by someone else.
fn owner_without_the_database_is_refused(dir: &Path, port: u16) {
    psql_superuser(port, "CREATE DATABASE not_owned");
    let script = "registry-gateway migrate --url postgres://audit_owner@audit-db/not_owned \
                  --password-file owner-password";
    let out = run(script, dir, port);
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("permission denied for schema public"),
        "{text}"
    );
}
