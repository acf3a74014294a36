//! `GET /status` on the admin port: one HTML page for an operator, built from the metrics the
//! gateway exports (so it shows nothing `/metrics` does not: no IIN, no name, no request id).
//!
//! Per registry: breaker state, p50 and p99 latency of attempts and their error rate over the
//! last few minutes, cache entries and hit ratio, stale answers served; the audit log
//! (writable, backlog, when records were last shipped); the signing certificates' expiry;
//! admission (calls in flight, shed, connections); version and uptime. The page reloads itself
//! every [`REFRESH_SECS`] seconds with a `<meta http-equiv="refresh">`: no script at all.
//!
//! "Recent" figures are differences against a snapshot of the exposition taken up to
//! [`WINDOW`] ago: a sampler keeps one every [`SAMPLE_EVERY`] while the admin port serves.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use registry_vocab::Registry;

/// Values of `gateway_breaker_state` (as `crate::metrics` sets them).
const BREAKER_CLOSED: u8 = 0;
const BREAKER_HALF_OPEN: u8 = 1;
const BREAKER_OPEN: u8 = 2;

/// The page reloads itself this often.
pub const REFRESH_SECS: u32 = 5;
/// How far back "recent" reaches.
pub const WINDOW: Duration = Duration::from_secs(300);
/// How often the sampler snapshots the exposition.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Outcomes of `gateway_registry_calls_total` that are answers, not failures of the registry.
const ANSWERS: [&str; 3] = ["ok", "not_found", "consent_refused"];

/// One series of the Prometheus text exposition.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the text exposition (comments skipped; label values without escaped quotes, as
/// this gateway's are).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
                None => (series, Vec::new()),
            };
            Some(Sample {
                name: name.to_owned(),
                labels,
                value,
            })
        })
        .collect()
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim_matches('"').to_owned()))
        })
        .collect()
}

/// The figures of one registry at one moment (counters as totals since start).
#[derive(Debug, Clone, Default, PartialEq)]
struct RegistryFigures {
    breaker: Option<f64>,
    calls: f64,
    failures: f64,
    /// `le` → cumulative count of `gateway_registry_call_duration_seconds`.
    buckets: Vec<(f64, f64)>,
    hits: f64,
    misses: f64,
    stale: f64,
    entries: Option<f64>,
    cert_expiry: Option<f64>,
}

/// What the page shows, read from one exposition.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    registries: BTreeMap<&'static str, RegistryFigures>,
    gauges: BTreeMap<String, f64>,
}

/// Gateway-wide series the page shows, by name.
const GAUGES: [&str; 10] = [
    "gateway_rpc_in_flight",
    "gateway_rpc_shed_total",
    "gateway_connections_open",
    "gateway_audit_writable",
    "gateway_audit_backlog_records",
    "gateway_audit_backlog_limit_records",
    "gateway_audit_postgres_up",
    "gateway_audit_shipped_total",
    "gateway_audit_write_failures_total",
    "gateway_legal_basis_days_left",
];

impl Snapshot {
    fn of(text: &str) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for registry in Registry::ALL {
            snapshot
                .registries
                .insert(registry.key(), RegistryFigures::default());
        }
        for sample in parse(text) {
            if GAUGES.contains(&sample.name.as_str()) {
                snapshot.gauges.insert(sample.name.clone(), sample.value);
            }
            let Some(figures) = sample
                .label("registry")
                .and_then(|r| snapshot.registries.get_mut(r))
            else {
                continue;
            };
            figures.add(&sample);
        }
        snapshot
    }
}

impl RegistryFigures {
    fn add(&mut self, s: &Sample) {
        match s.name.as_str() {
            "gateway_breaker_state" => self.breaker = Some(s.value),
            "gateway_cache_entries" => self.entries = Some(s.value),
            "gateway_signing_certificate_expiry_seconds" => self.cert_expiry = Some(s.value),
            "gateway_registry_calls_total" => {
                // The caller's token refused, or no call made: not the registry's doing.
                if s.label("outcome") == Some("circuit_open") {
                    return;
                }
                self.calls += s.value;
                if !ANSWERS.contains(&s.label("outcome").unwrap_or_default()) {
                    self.failures += s.value;
                }
            }
            "gateway_registry_call_duration_seconds_bucket" => {
                let le = match s.label("le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => le.parse().unwrap_or(f64::INFINITY),
                    None => return,
                };
                self.buckets.push((le, s.value));
            }
            "gateway_cache_lookups_total" => match s.label("result") {
                Some("hit") => self.hits = s.value,
                Some("miss") => self.misses = s.value,
                Some("stale") => self.stale = s.value,
                _ => {}
            },
            _ => {}
        }
    }

    /// This moment's figures minus `earlier`'s, for the counters and the histogram.
    fn since(&self, earlier: &RegistryFigures) -> RegistryFigures {
        let mut buckets = self.buckets.clone();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (le, count) in &mut buckets {
            if let Some((_, before)) = earlier.buckets.iter().find(|(l, _)| l == le) {
                *count -= before;
            }
        }
        RegistryFigures {
            calls: self.calls - earlier.calls,
            failures: self.failures - earlier.failures,
            buckets,
            hits: self.hits - earlier.hits,
            misses: self.misses - earlier.misses,
            stale: self.stale - earlier.stale,
            ..self.clone()
        }
    }
}

/// The `q` quantile of a cumulative histogram, interpolated within its bucket as Prometheus'
/// `histogram_quantile` does; none without samples.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            let within = count - below;
            let share = if within > 0.0 {
                (rank - below) / within
            } else {
                1.0
            };
            return Some(lower + (le - lower) * share);
        }
        (lower, below) = (le, count);
    }
    Some(lower)
}

/// Snapshots of the last [`WINDOW`], oldest first, and when records were last seen shipped.
#[derive(Default)]
struct History {
    snapshots: VecDeque<(Instant, Snapshot)>,
    last_shipped: Option<(f64, SystemTime)>,
}

static HISTORY: OnceLock<Mutex<History>> = OnceLock::new();
static STARTED: OnceLock<(Instant, SystemTime)> = OnceLock::new();

fn history() -> &'static Mutex<History> {
    HISTORY.get_or_init(Default::default)
}

/// Marks the process's start for the page's uptime (first call wins).
pub fn mark_start() {
    STARTED.get_or_init(|| (Instant::now(), SystemTime::now()));
}

/// Records one snapshot of `exposition` (the sampler, and every page view).
fn record(exposition: &str) -> Snapshot {
    let snapshot = Snapshot::of(exposition);
    let now = Instant::now();
    let mut history = history().lock().unwrap_or_else(|e| e.into_inner());
    let shipped = snapshot.gauges.get("gateway_audit_shipped_total").copied();
    if let Some(shipped) = shipped {
        match history.last_shipped {
            Some((before, _)) if before >= shipped => {}
            _ if shipped > 0.0 => history.last_shipped = Some((shipped, SystemTime::now())),
            _ => {}
        }
    }
    while history
        .snapshots
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
    {
        history.snapshots.pop_front();
    }
    let spaced = history
        .snapshots
        .back()
        .is_none_or(|(at, _)| now.duration_since(*at) >= SAMPLE_EVERY / 2);
    if spaced {
        history.snapshots.push_back((now, snapshot.clone()));
    }
    snapshot
}

/// Snapshots the exposition every [`SAMPLE_EVERY`], for as long as the returned task runs.
/// `render` gives the exposition (the metrics module's handle; this module does not import
/// it, which imports this one).
pub fn spawn_sampler(render: impl Fn() -> String + Send + 'static) -> tokio::task::JoinHandle<()> {
    mark_start();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        loop {
            every.tick().await;
            record(&render());
        }
    })
}

/// The page, for the exposition `text` as it is now.
pub fn page(text: &str) -> String {
    mark_start();
    let now = record(text);
    let (baseline, window, last_shipped) = {
        let history = history().lock().unwrap_or_else(|e| e.into_inner());
        let (at, first) = history.snapshots.front().cloned().unwrap_or_default_now();
        (first, at.elapsed(), history.last_shipped.map(|(_, t)| t))
    };
    let mut html = String::with_capacity(16 * 1024);
    head(&mut html);
    registries_table(&mut html, &now, &baseline, window);
    audit_section(&mut html, &now, last_shipped);
    admission_section(&mut html, &now, &baseline, window);
    about_section(&mut html, &now);
    html.push_str("</body></html>\n");
    html
}

trait OrNow {
    fn unwrap_or_default_now(self) -> (Instant, Snapshot);
}

impl OrNow for Option<(Instant, Snapshot)> {
    fn unwrap_or_default_now(self) -> (Instant, Snapshot) {
        self.unwrap_or_else(|| (Instant::now(), Snapshot::default()))
    }
}

const STYLE: &str = "body{font-family:DejaVu Sans,Arial,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.3em .6em;text-align:right}\
th{background:#eee}td.name{text-align:left;font-weight:bold}\
.up{background:#d9f2d9}.degraded{background:#fff2c2}.down{background:#f7c6c6;font-weight:bold}\
.muted{color:#777}";

fn head(html: &mut String) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>registry-gateway status</title><style>{STYLE}</style></head><body>\
         <h1>registry-gateway status</h1>\
         <p class=\"muted\">Reloads every {REFRESH_SECS} s. From the gateway's own metrics \
         (<a href=\"/metrics\">/metrics</a>): no personal data.</p>"
    );
}

/// A registry's state in a word, and its CSS class.
fn registry_state(breaker: Option<f64>, recent: &RegistryFigures) -> (&'static str, &'static str) {
    let error_rate = rate(recent.failures, recent.calls);
    match breaker.map(|b| b as u8) {
        Some(BREAKER_OPEN) => ("DOWN: breaker open", "down"),
        Some(BREAKER_HALF_OPEN) => ("recovering: breaker half-open", "degraded"),
        _ if error_rate.is_some_and(|r| r >= 0.5) => ("failing", "down"),
        _ if error_rate.is_some_and(|r| r >= 0.05) => ("degraded", "degraded"),
        _ => ("up", "up"),
    }
}

fn rate(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "–".to_owned(), |s| format!("{:.1} ms", s * 1000.0))
}

fn registries_table(html: &mut String, now: &Snapshot, baseline: &Snapshot, window: Duration) {
    let _ = write!(
        html,
        "<h2>Registries</h2><p class=\"muted\">Latency, error rate, hit ratio and stale answers: \
         the last {} s.</p><table id=\"registries\"><tr><th>registry</th><th>state</th>\
         <th>breaker</th><th>p50</th><th>p99</th><th>attempts</th><th>error rate</th>\
         <th>cache entries</th><th>hit ratio</th><th>stale answers (since start)</th></tr>",
        window.as_secs()
    );
    for registry in Registry::ALL {
        let key = registry.key();
        let current = now.registries.get(key).cloned().unwrap_or_default();
        let before = baseline.registries.get(key).cloned().unwrap_or_default();
        let recent = current.since(&before);
        let (state, class) = registry_state(current.breaker, &recent);
        let breaker = match current.breaker.map(|b| b as u8) {
            Some(BREAKER_CLOSED) => "closed",
            Some(BREAKER_HALF_OPEN) => "half-open",
            Some(BREAKER_OPEN) => "open",
            _ => "–",
        };
        let _ = write!(
            html,
            "<tr data-registry=\"{key}\" class=\"{class}\"><td class=\"name\">{name}</td>\
             <td class=\"state\">{state}</td><td>{breaker}</td><td>{p50}</td><td>{p99}</td>\
             <td>{calls}</td><td>{errors}</td><td>{entries}</td><td>{hits}</td>\
             <td>{stale} ({stale_total})</td></tr>",
            name = registry.name(),
            p50 = millis(quantile(0.5, &recent.buckets)),
            p99 = millis(quantile(0.99, &recent.buckets)),
            calls = recent.calls,
            errors = percent(rate(recent.failures, recent.calls)),
            entries = current.entries.map_or("–".to_owned(), |e| e.to_string()),
            hits = percent(rate(recent.hits, recent.hits + recent.misses)),
            stale = recent.stale,
            stale_total = current.stale,
        );
    }
    html.push_str("</table>");
}

fn audit_section(html: &mut String, now: &Snapshot, last_shipped: Option<SystemTime>) {
    html.push_str("<h2>Audit log</h2><table id=\"audit\">");
    let g = |name: &str| now.gauges.get(name).copied();
    let writable = match g("gateway_audit_writable") {
        None => ("not configured (no [audit]: the demo)", "muted"),
        Some(w) if w >= 1.0 => ("yes", "up"),
        Some(_) => ("NO: answers withheld, readiness NOT_SERVING", "down"),
    };
    row(html, "writable", writable.0, writable.1);
    let backlog = match (
        g("gateway_audit_backlog_records"),
        g("gateway_audit_backlog_limit_records"),
    ) {
        (Some(b), Some(l)) if l > 0.0 => format!("{b} of {l} records"),
        (Some(b), _) => format!("{b} records"),
        _ => "no [audit.postgres]".to_owned(),
    };
    row(html, "backlog (not yet in PostgreSQL)", &backlog, "");
    let postgres = match g("gateway_audit_postgres_up") {
        Some(u) if u >= 1.0 => ("connected", "up"),
        Some(_) => ("UNREACHABLE", "down"),
        None => ("–", "muted"),
    };
    row(html, "PostgreSQL", postgres.0, postgres.1);
    let shipped = match last_shipped {
        Some(t) => format!(
            "{} ago ({} records in all)",
            ago(t),
            g("gateway_audit_shipped_total").unwrap_or(0.0)
        ),
        None => "never, since this page's first view".to_owned(),
    };
    row(html, "last shipped", &shipped, "");
    let failures = g("gateway_audit_write_failures_total").unwrap_or(0.0);
    let class = if failures > 0.0 { "degraded" } else { "" };
    row(
        html,
        "write failures (since start)",
        &failures.to_string(),
        class,
    );
    html.push_str("</table>");
}

fn row(html: &mut String, what: &str, value: &str, class: &str) {
    let _ = write!(
        html,
        "<tr><td class=\"name\">{what}</td><td class=\"{class}\">{value}</td></tr>"
    );
}

fn ago(t: SystemTime) -> String {
    human(SystemTime::now().duration_since(t).unwrap_or_default())
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

fn admission_section(html: &mut String, now: &Snapshot, baseline: &Snapshot, window: Duration) {
    let g = |s: &Snapshot, name: &str| s.gauges.get(name).copied().unwrap_or(0.0);
    html.push_str("<h2>Admission</h2><table id=\"admission\">");
    let in_flight = g(now, "gateway_rpc_in_flight").to_string();
    row(html, "RPCs in flight", &in_flight, "");
    let shed = g(now, "gateway_rpc_shed_total") - g(baseline, "gateway_rpc_shed_total");
    let class = if shed > 0.0 { "degraded" } else { "up" };
    let text = format!(
        "{shed} in the last {} s ({} since start)",
        window.as_secs(),
        g(now, "gateway_rpc_shed_total")
    );
    row(html, "shed (RESOURCE_EXHAUSTED)", &text, class);
    let connections = g(now, "gateway_connections_open").to_string();
    row(html, "connections open", &connections, "");
    html.push_str("</table>");
}

fn about_section(html: &mut String, now: &Snapshot) {
    html.push_str("<h2>Signing certificates and the gateway</h2><table id=\"about\">");
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    for registry in Registry::ALL {
        let expiry = now
            .registries
            .get(registry.key())
            .and_then(|f| f.cert_expiry);
        let (text, class) = match expiry {
            None | Some(0.0) => ("no signing key (unsigned requests)".to_owned(), "muted"),
            Some(at) => cert_expiry(at, unix_now),
        };
        let what = format!("signing certificate for {}", registry.name());
        row(html, &what, &text, class);
    }
    let (started, wall) = STARTED
        .get()
        .copied()
        .unwrap_or((Instant::now(), SystemTime::now()));
    let since = chrono::DateTime::<chrono::Utc>::from(wall).format("%Y-%m-%d %H:%M UTC");
    let uptime = format!("{} (since {since})", human(started.elapsed()));
    row(html, "version", env!("CARGO_PKG_VERSION"), "");
    row(html, "uptime", &uptime, "");
    if let Some(days) = now.gauges.get("gateway_legal_basis_days_left") {
        let (text, class) = match *days {
            d if d.is_infinite() => ("no end".to_owned(), "up"),
            d if d < 0.0 => (format!("none in force (ended {} days ago)", -d), "degraded"),
            d => (
                format!("{d} days left"),
                if d < 30.0 { "degraded" } else { "up" },
            ),
        };
        row(html, "legal basis", &text, class);
    }
    html.push_str("</table>");
}

fn cert_expiry(at: f64, unix_now: f64) -> (String, &'static str) {
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp(at as i64, 0)
        .map_or_else(|| at.to_string(), |d| d.format("%Y-%m-%d").to_string());
    let left = Duration::from_secs_f64((at - unix_now).max(0.0));
    match at - unix_now {
        s if s <= 0.0 => (format!("EXPIRED on {date}"), "down"),
        s if s < 30.0 * 86_400.0 => (format!("{date}, in {}", human(left)), "degraded"),
        _ => (format!("{date}, in {}", human(left)), "up"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP x\n\
        gateway_breaker_state{registry=\"nobd\"} 2\n\
        gateway_registry_calls_total{registry=\"nobd\",outcome=\"connect\"} 6\n\
        gateway_registry_calls_total{registry=\"nobd\",outcome=\"ok\"} 2\n\
        gateway_registry_calls_total{registry=\"nobd\",outcome=\"circuit_open\"} 9\n\
        gateway_registry_call_duration_seconds_bucket{registry=\"nobd\",le=\"0.01\"} 4\n\
        gateway_registry_call_duration_seconds_bucket{registry=\"nobd\",le=\"0.1\"} 8\n\
        gateway_registry_call_duration_seconds_bucket{registry=\"nobd\",le=\"+Inf\"} 8\n\
        gateway_cache_lookups_total{registry=\"nobd\",result=\"hit\"} 3\n\
        gateway_cache_lookups_total{registry=\"nobd\",result=\"miss\"} 1\n\
        gateway_rpc_in_flight 0\n";

    #[test]
    fn figures_from_the_exposition() {
        let s = Snapshot::of(TEXT);
        let nobd = &s.registries["nobd"];
        assert_eq!(nobd.breaker, Some(2.0));
        assert_eq!((nobd.calls, nobd.failures), (8.0, 6.0));
        assert_eq!((nobd.hits, nobd.misses), (3.0, 1.0));
        assert_eq!(quantile(0.5, &nobd.buckets), Some(0.01));
        let p99 = quantile(0.99, &nobd.buckets).unwrap();
        assert!((0.09..0.1).contains(&p99), "{p99}");
        assert_eq!(
            registry_state(nobd.breaker, nobd),
            ("DOWN: breaker open", "down")
        );
        assert_eq!(s.registries.len(), Registry::COUNT);
    }

    #[test]
    fn the_page_names_every_registry_and_no_script() {
        let html = page(TEXT);
        for registry in Registry::ALL {
            assert!(html.contains(registry.name()), "{}", registry.name());
        }
        assert!(html.contains("DOWN: breaker open"));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(!html.contains("<script"));
    }
}
