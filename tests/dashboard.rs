//! The Grafana dashboard `deploy/grafana/registry-gateway.json` and the alert rules
//! `deploy/prometheus/alerts.yml`: the dashboard has the shape Grafana imports (panels with
//! unique ids on the 24-column grid, Prometheus targets with a refId, the `datasource` and
//! `registry` variables); every PromQL expression of both parses (the real `promtool check
//! rules`, Grafana's `$__rate_interval` and `$registry` given values); and every metric they
//! name is in a scrape of a running gateway (in front of the demo mocks, with its audit log
//! shipped to a PostgreSQL of its own, after traffic: every series the expressions use).
//!
//! Needs `promtool` (`apt-get install -y prometheus`) and PostgreSQL's server
//! (`apt-get install -y postgresql`); tests/run.sh installs both. Without them it fails.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::audit::{AuditConfig, PostgresConfig};
use registry_gateway::server::Gateway;
use registry_mocks::demo;
use serde_json::Value;
use tokio::net::TcpListener;

const DASHBOARD: &str = include_str!("../deploy/grafana/registry-gateway.json");
const ALERTS: &str = include_str!("../deploy/prometheus/alerts.yml");

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("the dashboard is JSON")
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

/// The PromQL of every target.
fn expressions(dashboard: &Value) -> Vec<String> {
    panels(dashboard)
        .iter()
        .filter_map(|p| p["targets"].as_array())
        .flatten()
        .map(|t| {
            t["expr"]
                .as_str()
                .expect("every target has its expr")
                .to_owned()
        })
        .collect()
}

#[test]
fn the_dashboard_has_the_shape_grafana_imports() {
    let d = dashboard();
    for key in ["uid", "title"] {
        assert!(d[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion"
    );
    let variables: Vec<&str> = d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "registry"]);
    let mut ids = BTreeSet::new();
    for panel in panels(&d) {
        let id = panel["id"].as_u64().expect("every panel has a numeric id");
        assert!(ids.insert(id), "panel id {id} twice");
        let kind = panel["type"].as_str().expect("type");
        assert!(["row", "timeseries", "stat"].contains(&kind), "{kind}");
        let g = &panel["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(
            x + w <= 24 && g["h"].as_u64().unwrap() > 0,
            "panel {id} off the grid"
        );
        if kind == "row" {
            continue;
        }
        assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {id} has no query");
        for (i, t) in targets.iter().enumerate() {
            assert_eq!(
                t["refId"].as_str(),
                Some(&*char::from(b'A' + i as u8).to_string())
            );
            assert_eq!(t["datasource"]["uid"], "${datasource}");
        }
    }
    let all = expressions(&d).join("\n");
    for topic in [
        "gateway_rpc_requests_total",
        "gateway_rpc_duration_seconds_bucket",
        "gateway_registry_call_duration_seconds_bucket",
        "gateway_registry_calls_total",
        "gateway_breaker_state",
        "gateway_cache_lookups_total",
        "gateway_audit_backlog_records",
        "gateway_audit_write_failures_total",
        "gateway_shep_answer_signature_failures_total",
        "gateway_rpc_shed_total",
    ] {
        assert!(all.contains(topic), "the dashboard shows no {topic}");
    }
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool not runnable ({e}): `apt-get update && apt-get install -y prometheus`")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// Grafana's variables given values, as Grafana would before sending the query.
fn as_prometheus_sees_it(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$registry", ".*")
}

#[test]
fn every_dashboard_expression_parses() {
    let exprs = expressions(&dashboard());
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in exprs.iter().enumerate() {
        let expr = serde_json::to_string(&as_prometheus_sees_it(expr)).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {expr}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard_rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = promtool(&["check", "rules", file.to_str().unwrap()]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
    let alerts = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
    assert!(promtool(&["check", "rules", alerts.to_str().unwrap()]).contains("SUCCESS"));
}

/// `gateway_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("gateway_"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_named_is_exported_by_the_running_gateway() {
    let scrape = scrape_after_traffic().await;
    let exported: BTreeSet<&str> = scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let d = dashboard();
    let mut named = metric_names(&expressions(&d).join("\n"));
    named.extend(metric_names(&d["templating"].to_string()));
    let from_alerts = metric_names(ALERTS);
    assert!(
        from_alerts.len() >= 7 && named.len() >= 20,
        "{named:?} {from_alerts:?}"
    );
    let missing: Vec<&String> = named
        .iter()
        .chain(&from_alerts)
        .filter(|n| !exported.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "named but not exported: {missing:?}\nscrape:\n{scrape}"
    );
}

/// A gateway in front of the demo mocks, audited to PostgreSQL, after one call of each kind;
/// its `/metrics`.
async fn scrape_after_traffic() -> String {
    let pg = common::postgres::Postgres::start();
    let mocks = common::demo_mocks(registry_gateway::decision::today()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_for(&mocks);
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    config.audit = Some(AuditConfig {
        path: dir.path().join("audit.jsonl"),
        replica: Some("gw-0".into()),
        postgres: Some(PostgresConfig {
            url: pg.superuser_url(),
            password_file: Some(pg.password_file()),
            migrate: true,
            ..PostgresConfig::default()
        }),
        ..AuditConfig::default()
    });
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let admin = gateway.metrics_addr().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut client = RegistryGatewayServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let request = pb::CheckOwnerRequest {
        owner_iin: demo::CAPABLE_ADULT.into(),
        service: pb::Service::RegistrationAtResidence as i32,
        ..Default::default()
    };
    client
        .check_owner(request)
        .await
        .expect("CheckOwner answers");
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .unwrap();
    let _ = stop.send(());
    drop(pg);
    text
}
