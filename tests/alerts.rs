//! The Prometheus alert rules in `deploy/prometheus/alerts.yml`: checked and unit-tested by
//! the real `promtool` (`alerts_test.yml`: each alert fires on its first event and stays quiet
//! on healthy traffic), and every metric they name is one the gateway exports.
//!
//! Needs `promtool`: `apt-get install -y prometheus` (Debian) puts it on PATH. Without it this
//! test fails, saying so; it never skips.

use std::path::Path;
use std::process::Command;

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/alerts.yml");
const TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/prometheus/alerts_test.yml"
);

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(Path::new(RULES).parent().unwrap())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool not runnable ({e}): install it with \
                 `apt-get update && apt-get install -y prometheus` (Debian's package ships promtool)"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_pass_their_promtool_unit_tests() {
    let checked = promtool(&["check", "rules", RULES]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", TESTS]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn alert_rules_name_only_exported_metrics() {
    let rules = std::fs::read_to_string(RULES).unwrap();
    let exported = include_str!("../src/metrics.rs");
    let mut named = 0;
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("gateway_") {
            named += 1;
            assert!(
                exported.contains(&format!("\"{word}\"")),
                "{word} is not a metric of src/metrics.rs"
            );
        }
    }
    assert!(named >= 7, "{named}");
}
