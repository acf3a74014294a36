//! What reading one registry answer costs, worst cases included: the pre-parse scan, the
//! parse, the signature check (exclusive c14n of the Body and the Timestamp, digests, RSA) and
//! the parse of the canonical Body the gateway reads from — the steps of
//! `registry::shep::AnswerReader`, timed on answers shaped as an attacker on the bus would
//! shape them, each within or just past the default limits.
//!
//! `cargo bench --bench answer` prints, per shape, its size, the median time of 9 runs and the
//! time per megabyte. docs/security.md quotes a run.

use std::time::{Duration, Instant};

use chrono::Utc;
use registry_gateway::registry::limits::AnswerLimits;
use shep_wss::testpki::{TestCa, Validity};
use shep_wss::{TrustStore, VerifyOptions};

const ENVELOPE: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>m-1</messageId><correlationId>req-1</correlationId><responseDate>2026-12-05T10:00:00+05:00</responseDate><status><code>SCSS001</code><message>ok</message></status></responseInfo><responseData><data>DATA</data></responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>"#;

/// One answer's full read: `Ok` with the canonical Body's length, or where it was refused.
fn read(body: &str, trust: &TrustStore) -> Result<usize, String> {
    AnswerLimits::default().scan(body)?;
    let doc = roxmltree::Document::parse(body).map_err(|e| e.to_string())?;
    let options = VerifyOptions {
        max_skew: Duration::from_secs(30),
        max_age: Duration::from_secs(60),
        sent_at: Some(Utc::now() - chrono::Duration::seconds(1)),
    };
    let verdict = shep_wss::verify_envelope(&doc, body, trust, Utc::now(), &options)
        .map_err(|e| e.kind.label().to_owned())?;
    let shep_wss::Verdict::Signed(signed) = verdict else {
        return Err("unsigned".into());
    };
    let canonical = roxmltree::Document::parse(&signed.body).map_err(|e| e.to_string())?;
    Ok(canonical.descendants().count())
}

fn main() {
    let ca = TestCa::generate("Bench CA");
    let key = ca.issue("GBD FL", Validity::Current).credentials();
    let trust = ca.trust_store();
    let sign = |data: &str| {
        shep_wss::sign_envelope(
            &ENVELOPE.replace("DATA", data),
            &key,
            Utc::now(),
            Duration::from_secs(300),
        )
        .unwrap()
    };
    let person = "<person><iin>061211600012</iin><surname>Ахметов</surname><birthDate>2006-12-11</birthDate><lifeStatus><code>1</code></lifeStatus></person>";
    let genuine = sign(person);
    // 19 lists of 900 elements of 48 bytes: every count limit met, about 1 MB, read whole.
    let list = format!("<p>{}</p>", "x".repeat(48)).repeat(900);
    let padded = sign(&format!(
        "{person}{}",
        format!("<pad>{list}</pad>").repeat(19)
    ));
    let changed = padded.replacen("<p>x", "<p>y", 1);
    let references = {
        let start = genuine.find("<ds:Reference ").unwrap();
        let end = genuine[start..].find("</ds:Reference>").unwrap() + start + 15;
        format!(
            "{}{}{}",
            &genuine[..start],
            genuine[start..end].repeat(999),
            &genuine[start..]
        )
    };
    let namespaces = {
        let declarations: String = (0..3000)
            .map(|i| format!(" xmlns:p{i}=\"urn:p{i}\""))
            .collect();
        genuine.replacen("<response>", &format!("<response{declarations}>"), 1)
    };
    let attributes = {
        let attributes: String = (0..90_000).map(|i| format!(" a{i}=\"\"")).collect();
        genuine.replacen("<data>", &format!("<data><x{attributes}/>"), 1)
    };
    let prefixes = {
        let list: Vec<String> = (0..2000).map(|i| format!("p{i}")).collect();
        genuine.replacen(
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
            &format!("<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{}\"/>", list.join(" ")),
            1,
        )
    };
    println!("| answer | bytes | result | median of 9 | per MB |");
    println!("|---|---|---|---|---|");
    for (name, body) in [
        ("genuine person", &genuine),
        ("1 MB within every limit, genuine", &padded),
        ("1 MB within every limit, one byte changed", &changed),
        ("1,000 References", &references),
        ("3,000 namespaces in scope", &namespaces),
        ("90,000 attributes on one element", &attributes),
        ("2,000 prefixes in a PrefixList", &prefixes),
    ] {
        let mut times = Vec::new();
        let mut result = String::new();
        for _ in 0..9 {
            let started = Instant::now();
            let r = read(body, &trust);
            times.push(started.elapsed());
            result = match r {
                Ok(_) => "read".into(),
                Err(e) => format!("refused: {}", e.chars().take(48).collect::<String>()),
            };
        }
        times.sort();
        let median = times[4];
        let per_mb = median.as_secs_f64() * 1e3 * (1024.0 * 1024.0) / body.len() as f64;
        println!(
            "| {name} | {} | {result} | {:.2} ms | {per_mb:.1} ms |",
            body.len(),
            median.as_secs_f64() * 1e3
        );
    }
}
