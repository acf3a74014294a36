//! `/status` on the admin port, as an operator's browser shows it: headless Chromium (Debian's
//! `chromium`) loads the page of a gateway in front of the demo mocks, after traffic and with
//! NOBD taken down in the mocks; the rendered page names every registry, shows NOBD down and
//! the others up, and holds no IIN. With `STATUS_SCREENSHOT=path.png` the test also keeps its
//! screenshot there (docs/status.png is made so).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use registry_gateway::api::pb::{
    self, registry_gateway_service_client::RegistryGatewayServiceClient,
};
use registry_gateway::registry::Registry;
use registry_gateway::server::Gateway;
use registry_mocks::{demo, FaultMode, Faults};
use tokio::net::TcpListener;

/// The browser, or a failure naming how to install it.
fn chromium() -> &'static str {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name;
        }
    }
    panic!("headless Chromium is needed for this test: apt-get install -y chromium (tests/run.sh installs it)");
}

/// Runs headless Chromium on `url` with `args`; its stdout.
fn browse(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `<tr data-registry="key" …>` row of the rendered page.
fn row<'a>(dom: &'a str, key: &str) -> &'a str {
    let start = dom
        .find(&format!("data-registry=\"{key}\""))
        .unwrap_or_else(|| panic!("no row for {key} in the rendered page:\n{dom}"));
    let end = dom[start..].find("</tr>").expect("row ends") + start;
    &dom[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_every_registry_and_one_taken_down() {
    chromium();
    let mocks = common::demo_mocks(registry_gateway::decision::today()).await;
    let mut config = common::config_for(&mocks);
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    // Once open, the breaker stays open until the page is read, however slow the machine.
    config.resilience.defaults.breaker.open_for = std::time::Duration::from_secs(600);
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let admin = gateway.metrics_addr().expect("admin port bound");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve(listener, async {
        let _ = stopped.await;
    }));
    let mut client = RegistryGatewayServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    // Traffic: misses, then hits, in every registry CheckOwner asks.
    for iin in [
        demo::CAPABLE_ADULT,
        demo::MINOR,
        demo::CAPABLE_ADULT,
        demo::STUDENT,
    ] {
        let request = pb::CheckOwnerRequest {
            owner_iin: iin.into(),
            service: pb::Service::RegistrationAtResidence as i32,
            ..Default::default()
        };
        client
            .check_owner(request)
            .await
            .expect("CheckOwner answers");
    }
    // NOBD taken down: it reads each request and closes the connection. Persons not cached
    // yet, until its breaker opens.
    mocks
        .get(Registry::Nobd)
        .set_faults(Faults::mode(FaultMode::Down));
    let higher = pb::GetHigherEducationRequest {
        iin: demo::STUDENT.into(),
    };
    client
        .get_higher_education(higher)
        .await
        .expect("EPVO answers");
    let persons = [
        demo::CAPABLE_ADULT,
        demo::MINOR,
        demo::MINOR_MOTHER,
        demo::MINOR_FATHER,
        demo::INCAPABLE_BY_COURT,
        demo::LIMITED_CAPACITY,
        demo::GUARDIANSHIP_ONLY,
        demo::STUDENT,
    ];
    for iin in persons {
        let request = pb::GetSchoolEnrolmentRequest { iin: iin.into() };
        let _ = client.get_school_enrolment(request).await;
    }

    let url = format!("http://{admin}/status");
    // The breaker's gauge follows its state on the health tick: wait for it (bounded).
    for _ in 0..200 {
        let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
        if row(&page, "nobd").contains("DOWN") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        move || browse(&url, &["--dump-dom", "--virtual-time-budget=2000"])
    })
    .await
    .unwrap();
    assert!(dom.contains("registry-gateway status"), "{dom}");
    for registry in Registry::ALL {
        assert!(
            dom.contains(registry.name()),
            "{} missing:\n{dom}",
            registry.name()
        );
    }
    let nobd = row(&dom, "nobd");
    assert!(
        nobd.contains("class=\"down\"") && nobd.contains("DOWN"),
        "NOBD not shown down: {nobd}"
    );
    for registry in [
        Registry::GbdFl,
        Registry::Zags,
        Registry::SocialSecurity,
        Registry::Epvo,
    ] {
        let row = row(&dom, registry.key());
        assert!(
            row.contains("class=\"up\""),
            "{} not shown up: {row}",
            registry.key()
        );
    }
    assert!(!dom.contains("<script"), "the page needs no script");
    let digits = regex_free_iin(&dom);
    assert!(
        digits.is_none(),
        "a 12-digit number on the page: {digits:?}"
    );

    // The screenshot: a PNG, kept where asked.
    let dir = tempfile::tempdir().unwrap();
    let png = std::env::var("STATUS_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("status.png"));
    let shot = png.clone();
    tokio::task::spawn_blocking(move || {
        let arg = format!("--screenshot={}", shot.display());
        browse(
            &url,
            &[
                &arg,
                "--window-size=1280,1250",
                "--virtual-time-budget=2000",
            ],
        )
    })
    .await
    .unwrap();
    assert_png(&png);
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
        "not a PNG"
    );
}

/// The first run of 12 or more digits in `text` (an IIN would be one).
fn regex_free_iin(text: &str) -> Option<String> {
    let mut run = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_ascii_digit() {
            run.push(c);
        } else if run.len() >= 12 {
            return Some(run);
        } else {
            run.clear();
        }
    }
    None
}
