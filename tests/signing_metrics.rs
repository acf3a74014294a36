//! The signing metrics exist from the start: the certificate expiry per registry, and the
//! answer-verification failure counters at zero (a metric that alerts must exist before its
//! first event). Alone in its binary: the expiry gauge is process-wide.

mod common;

use std::sync::Arc;

use registry_gateway::config::Config;
use registry_gateway::decision;
use registry_mocks::{demo_pki, Fixture, MockRegistries, MockSigning};

#[tokio::test]
async fn expiry_gauge_and_zeroed_failure_counters() {
    let metrics = registry_gateway::metrics::install();
    let mocks = MockRegistries::spawn_signed(
        Arc::new(Fixture::demo().with_today(decision::today())),
        MockSigning::demo(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = demo_pki();
    std::fs::write(dir.path().join("k.p12"), pki.gateway.pkcs12("pw")).unwrap();
    std::fs::write(dir.path().join("pw"), "pw").unwrap();
    std::fs::write(dir.path().join("ca.pem"), pki.ca.cert_pem()).unwrap();
    let mut config = common::config_for(&mocks);
    let mut text = format!(
        "[shep.signing]\npkcs12 = \"{}\"\npassword_file = \"{}\"\ntrust_store = \"{}\"\n",
        dir.path().join("k.p12").display(),
        dir.path().join("pw").display(),
        dir.path().join("ca.pem").display()
    );
    for r in registry_gateway::registry::Registry::ALL {
        text.push_str(&format!(
            "[registries.{}]\nurl = \"http://127.0.0.1:1/\"\nservice_id = \"S\"\nsender_id = \"s\"\n{}",
            r.key(),
            common::pinned(r)
        ));
    }
    config.shep.signing = Config::from_toml(&text).unwrap().shep.signing;
    let (_addr, _stop) = common::serve(config).await;
    // The gateway has started once the gauge is there; bounded wait, no fixed sleep.
    let expected = "gateway_signing_certificate_expiry_seconds{registry=\"epvo\"} 2208988800";
    let mut rendered = String::new();
    for _ in 0..200 {
        rendered = metrics.render();
        if rendered.contains(expected) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for r in ["gbd_fl", "zags", "social_security", "nobd", "epvo"] {
        // 2040-01-01T00:00:00Z, the test certificates' end.
        let line =
            format!("gateway_signing_certificate_expiry_seconds{{registry=\"{r}\"}} 2208988800");
        assert!(rendered.contains(&line), "{line} missing in\n{rendered}");
        let zero = format!(
            "gateway_shep_answer_signature_failures_total{{registry=\"{r}\",reason=\"digest\"}} 0"
        );
        assert!(rendered.contains(&zero), "{zero} missing");
    }
    assert!(rendered.contains("gateway_shep_signatures_total{signer=\"http\",outcome=\"error\"} 0"));
}
