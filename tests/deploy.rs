//! The shipped deployment: `--check-config` accepts the production example `deploy/gateway.toml`
//! and refuses a broken one naming the key and the rule; the Kubernetes Deployment mounts every
//! file that example names (the audit store's key and password included), exposes its ports,
//! and gives the drain (audit shipping included) the time it needs.
//! (hadolint and kubernetes-validate run in `.ci/run`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use registry_gateway::Config;

const EXAMPLE: &str = "deploy/gateway.toml";
const DEPLOYMENT: &str = "deploy/deployment.yaml";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `registry-gateway --check-config file`, without the caller's REGGW_* variables.
fn check_config(file: &Path) -> Output {
    check_config_with(file, &[])
}

/// ... with these variables set.
fn check_config_with(file: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-gateway"));
    command.arg("--check-config").arg(file);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REGGW_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("the gateway binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example() -> Config {
    let toml = std::fs::read_to_string(repo(EXAMPLE)).unwrap();
    Config::from_toml(&toml).expect("the shipped example is valid")
}

#[test]
fn check_config_accepts_the_shipped_production_example() {
    let out = check_config(&repo(EXAMPLE));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("gateway.toml: valid"), "{stdout}");
    for line in [
        "listen 0.0.0.0:50051 (mutual TLS); metrics 0.0.0.0:9464",
        "access: 3 client systems (edu, iis-tson, ops)",
        "registries: configured, requests signed (pkcs12), answers verified (required)",
        "gbd_fl answers signed by: CN=GBD FL, O=Example, C=KZ (SPKI SHA-256 1a71f127",
        "epvo answers signed by: CN=EPVO",
        "messageId echoed in correlationId",
        "legal basis: ",
        "joint-order-801-500",
        "not checked: the files it names",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn check_config_refuses_a_broken_file_naming_the_key_and_the_rule() {
    let shipped = std::fs::read_to_string(repo(EXAMPLE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "max_in_flight = 1024",
            "max_in_flight = 0",
            "max_in_flight: must be at least 1",
        ),
        ("json = true", "jsn = true", "unknown field: found `jsn`"),
        (
            "url = \"https://shep.example.kz/bip-sync-wss-gost/\"",
            "url = \"http://shep.example.kz/\"",
            "registries.gbd_fl.url: plain http:// only to a loopback address",
        ),
        (
            "effective_until = \"2026-06-30\"",
            "effective_until = \"2025-06-30\"",
            "decision.legal_basis.acts[0].effective_until: must not be before effective_from",
        ),
    ];
    for (good, bad, expected) in cases {
        assert!(shipped.contains(good), "the example has {good:?}");
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, shipped.replacen(good, bad, 1)).unwrap();
        let out = check_config(&broken);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{bad}: {stdout}{stderr}");
        assert!(stderr.contains("broken.toml: "), "{stderr}");
        assert!(stderr.contains(expected), "{bad}: {stderr}");
        assert!(!stdout.contains("valid"), "{stdout}");
    }
    let out = check_config(&dir.path().join("absent.toml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
}

/// The values of `key: value` lines of a YAML file (indentation and comments dropped).
fn yaml_values<'a>(yaml: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}:");
    yaml.lines()
        .map(|l| l.trim_start().trim_start_matches("- "))
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.split(" #").next().unwrap().trim())
        .collect()
}

#[test]
fn the_deployment_mounts_every_file_the_example_names() {
    let config = example();
    let yaml = std::fs::read_to_string(repo(DEPLOYMENT)).unwrap();
    let mounts: Vec<&Path> = yaml_values(&yaml, "mountPath")
        .into_iter()
        .map(Path::new)
        .collect();
    let tls = config.tls.as_ref().expect("[tls]");
    let signing = config.shep.signing.as_ref().expect("[shep.signing]");
    let bus_tls = config.shep.tls.as_ref().expect("[shep.tls]");
    let audit = config.audit.as_ref().expect("[audit]");
    let mut files: Vec<&PathBuf> = vec![&tls.cert, &tls.key, &tls.client_ca];
    files.extend(
        [
            &signing.pkcs12,
            &signing.password_file,
            &signing.trust_store,
        ]
        .into_iter()
        .flatten(),
    );
    files.extend(
        [
            &bus_tls.ca_bundle,
            &bus_tls.client_cert,
            &bus_tls.client_key,
        ]
        .into_iter()
        .flatten(),
    );
    files.push(&audit.path);
    files.push(&audit.signing.as_ref().expect("[audit.signing]").key_file);
    let store = audit.postgres.as_ref().expect("[audit.postgres]");
    files.extend(&store.password_file);
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        assert!(
            mounts.iter().any(|m| file.parent() == Some(m)),
            "{} is in no volume of {DEPLOYMENT} (mounts: {mounts:?})",
            file.display()
        );
    }
    // The configuration itself: the ConfigMap generated from gateway.toml, at the path of args.
    let args = yaml_values(&yaml, "args");
    assert_eq!(
        args,
        [r#"["--config", "/etc/registry-gateway/config/gateway.toml"]"#]
    );
    assert!(mounts.contains(&Path::new("/etc/registry-gateway/config")));
    let kustomization = std::fs::read_to_string(repo("deploy/kustomization.yaml")).unwrap();
    assert!(kustomization.contains("- name: registry-gateway-config\n  files:\n  - gateway.toml"));
}

#[test]
fn the_deployment_sets_only_configuration_keys_the_gateway_knows() {
    // A REGGW_* variable that names no key would stop every pod at start (unknown keys are
    // refused): each one the Deployment sets must pass --check-config with the example.
    let yaml = std::fs::read_to_string(repo(DEPLOYMENT)).unwrap();
    let names: Vec<&str> = yaml_values(&yaml, "name")
        .into_iter()
        .filter(|n| n.starts_with("REGGW_"))
        .collect();
    assert!(names.contains(&"REGGW_CONSENT__REFERENCE_KEY"), "{names:?}");
    let value = "0123456789abcdef0123456789abcdef";
    let env: Vec<(&str, &str)> = names.iter().map(|n| (*n, value)).collect();
    let out = check_config_with(&repo(EXAMPLE), &env);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{names:?}: {stderr}");
    assert!(
        stdout.contains(&format!("environment overrides: {}", names.join(", "))),
        "{stdout}"
    );
    assert!(!stdout.contains(value), "a value was printed: {stdout}");
}

#[test]
fn the_deployment_matches_the_example_ports_and_drain() {
    let config = example();
    let yaml = std::fs::read_to_string(repo(DEPLOYMENT)).unwrap();
    let ports = yaml_values(&yaml, "containerPort");
    let metrics = config
        .metrics_listen
        .expect("metrics_listen: the probes use it");
    assert_eq!(
        ports,
        [config.listen.port().to_string(), metrics.port().to_string()]
    );
    let grace: u64 = yaml_values(&yaml, "terminationGracePeriodSeconds")[0]
        .parse()
        .unwrap();
    // NOT_SERVING, calls in flight, then the audit's last records shipped to PostgreSQL.
    let store = config.audit.as_ref().and_then(|a| a.postgres.as_ref());
    let drain = config.shutdown_delay
        + config.shutdown_grace
        + store.expect("[audit.postgres]").drain_timeout;
    assert!(
        grace > drain.as_secs() + 5,
        "terminationGracePeriodSeconds {grace} leaves no room after the drain ({drain:?})"
    );
    assert!(
        !config.shutdown_delay.is_zero(),
        "endpoints need time to drop the pod"
    );
    // Readiness, liveness, startup: the admin port (mutual TLS bars the kubelet's gRPC probe).
    let probes: Vec<&str> = yaml_values(&yaml, "path")
        .into_iter()
        .filter(|p| p.starts_with('/'))
        .collect();
    assert_eq!(probes, ["/readyz", "/healthz", "/healthz"]);
    assert_eq!(yaml_values(&yaml, "readOnlyRootFilesystem"), ["true"]);
    assert_eq!(
        yaml_values(&yaml, "automountServiceAccountToken"),
        ["false"]
    );
}
