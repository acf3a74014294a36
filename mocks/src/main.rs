//! `registry-mocks`: runs the mock registries until Ctrl-C.
//!
//! `cargo run -p registry-mocks -- --fixture PATH --bind 127.0.0.1 --base-port 18080`

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use registry_mocks::{Fixture, MockRegistries, PerRegistry, Registry};
use tokio::net::TcpListener;

/// Mock state registries (GBD FL, IS ZAGS, E-social security, NOBD, EPVO) speaking the SHEP
/// SOAP envelope.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Fixture file (TOML); the embedded demo population when omitted.
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// First port; the mocks take consecutive ports in the registry list's order (gbd_fl,
    /// zags, social_security, nobd, epvo). 0 gives each an ephemeral port.
    #[arg(long, default_value_t = 18080)]
    base_port: u16,
    /// Pin "today" (YYYY-MM-DD) for relative fixture dates; default: the current date in UTC+5.
    #[arg(long)]
    today: Option<chrono::NaiveDate>,
    /// Print the IIN the person KEY (a `[[person]]` `iin`) has today and exit: a person born
    /// relative to today has a new IIN each day, one that agrees with that day's birth date.
    #[arg(long, value_name = "KEY")]
    iin_of: Option<String>,
    /// Require signed requests and sign answers (WS-Security) with test keys generated now,
    /// and write into this directory what a gateway needs to talk to them: `ca.pem` (trust
    /// store), `gateway.p12` (the sender's key and certificate), `gateway.p12.password` and
    /// `gateway.toml` (a gateway configuration for these mocks: `[shep.signing]` with those
    /// files, and every registry's URL and pinned answer signer).
    #[arg(long)]
    signing_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("registry-mocks: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut fixture = match &args.fixture {
        Some(path) => Fixture::load(path)?,
        None => Fixture::demo(),
    };
    if let Some(today) = args.today {
        fixture = fixture.with_today(today);
    }
    if let Some(key) = &args.iin_of {
        println!("{}", fixture.iin_on(key, fixture.today()));
        return Ok(());
    }
    let fixture = Arc::new(fixture);

    let mut listeners = Vec::with_capacity(Registry::ALL.len());
    for (i, registry) in Registry::ALL.into_iter().enumerate() {
        let port = if args.base_port == 0 {
            0
        } else {
            u16::try_from(i)
                .ok()
                .and_then(|i| args.base_port.checked_add(i))
                .ok_or("--base-port too high for a port per registry")?
        };
        let listener = TcpListener::bind((args.bind, port))
            .await
            .map_err(|e| format!("binding {} to {}:{port}: {e}", registry.key(), args.bind))?;
        listeners.push(listener);
    }
    let mut listeners = listeners.into_iter();
    let listeners = PerRegistry::from_fn(|_| listeners.next().expect("one per registry"));
    let signing = match &args.signing_dir {
        Some(dir) => {
            let pki = registry_mocks::demo_pki();
            let write = |name: &str, bytes: &[u8]| {
                std::fs::write(dir.join(name), bytes).map_err(|e| {
                    format!("--signing-dir: writing {}: {e}", dir.join(name).display())
                })
            };
            write("ca.pem", pki.ca.cert_pem().as_bytes())?;
            write("gateway.p12", &pki.gateway.pkcs12("demo"))?;
            write("gateway.p12.password", b"demo\n")?;
            let urls: Vec<String> = listeners
                .iter()
                .map(|(_, l)| {
                    let addr = l.local_addr().expect("bound");
                    format!("http://{addr}{}", registry_mocks::SHEP_PATH)
                })
                .collect();
            write("gateway.toml", gateway_toml(dir, &urls, pki).as_bytes())?;
            println!("signing: keys for the gateway in {}", dir.display());
            Some(registry_mocks::MockSigning::demo())
        }
        None => None,
    };
    let mocks = MockRegistries::spawn_on_signed(fixture, listeners, signing).await;
    for mock in mocks.iter() {
        println!("{:<16} {}", mock.registry().key(), mock.endpoint());
    }
    tokio::signal::ctrl_c().await?;
    println!("stopping");
    mocks.shutdown().await;
    Ok(())
}

/// A gateway configuration for signing mocks at `urls` (in registry order), with the files
/// `--signing-dir` wrote into `dir`.
fn gateway_toml(
    dir: &std::path::Path,
    urls: &[String],
    pki: &registry_mocks::signing::DemoPki,
) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    let mut text = format!(
        "# Written by registry-mocks --signing-dir: a gateway in front of these mocks.\n\
         [shep.signing]\npkcs12 = {:?}\npassword_file = {:?}\ntrust_store = {:?}\n\
         verify_responses = \"required\"\n",
        path("gateway.p12"),
        path("gateway.p12.password"),
        path("ca.pem"),
    );
    for (registry, url) in Registry::ALL.iter().zip(urls) {
        let signer = pki.signer_of(*registry);
        text.push_str(&format!(
            "\n[registries.{}]\nurl = {url:?}\nservice_id = {:?}\nsender_id = \"registry-gateway\"\n\
             answer_signers = [{{ subject = {:?}, spki_sha256 = {:?} }}]\n",
            registry.key(),
            registry.default_service_id(),
            signer.subject,
            signer.spki_sha256,
        ));
    }
    text
}
