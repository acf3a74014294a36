//! A test time-stamp authority: `openssl ts -reply` behind a small HTTP server on
//! 127.0.0.1:0, with a TSA key and certificate (extendedKeyUsage timeStamping, critical) the
//! test generates. Needs the `openssl` program: the test fails naming the install command
//! when it is missing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

/// A running test TSA; stops when dropped (with the test's runtime).
pub struct TestTsa {
    pub addr: SocketAddr,
    /// The TSA's certificate (PEM), as `audit.timestamp.certificate` / `--tsa-cert` take it.
    pub cert: PathBuf,
    /// While false, every request is answered `503` (the TSA is "down").
    up: Arc<AtomicBool>,
    /// Requests answered with a token.
    pub granted: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

/// Runs `openssl` with `args` in `dir`; panics with its stderr when it fails, and with the
/// install command when it is missing.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the time-stamp tests need the openssl program ({e}): apt-get install -y openssl"
            )
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl TestTsa {
    /// A TSA whose certificate's subject is `CN=<name>`.
    pub async fn start(name: &str) -> TestTsa {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "tsa.key",
                "-out",
                "tsa.crt",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "extendedKeyUsage=critical,timeStamping",
                "-addext",
                "keyUsage=critical,digitalSignature",
            ],
        );
        std::fs::write(d.join("serial"), "01\n").unwrap();
        std::fs::write(d.join("tsa.cnf"), tsa_cnf(d)).unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let granted = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (work, up2, granted2) = (d.to_owned(), up.clone(), granted.clone());
        // One request at a time: openssl ts keeps its serial number in a file.
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let app = Router::new().route(
            "/",
            post(move |body: Bytes| {
                let (work, up, granted, lock) =
                    (work.clone(), up2.clone(), granted2.clone(), lock.clone());
                async move {
                    if !up.load(Ordering::SeqCst) {
                        return Err(StatusCode::SERVICE_UNAVAILABLE);
                    }
                    let _one = lock.lock().await;
                    let reply = tokio::task::spawn_blocking(move || reply(&work, &body))
                        .await
                        .unwrap();
                    granted.fetch_add(1, Ordering::SeqCst);
                    Ok(([("content-type", "application/timestamp-reply")], reply))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestTsa {
            addr,
            cert: d.join("tsa.crt"),
            up,
            granted,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Takes the TSA down (`503` to every request) or back up.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

/// `openssl ts -reply` for the request `query`.
fn reply(dir: &Path, query: &[u8]) -> Vec<u8> {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (tsq, tsr) = (format!("{n}.tsq"), format!("{n}.tsr"));
    std::fs::write(dir.join(&tsq), query).unwrap();
    openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            &tsq,
            "-out",
            &tsr,
        ],
    );
    std::fs::read(dir.join(&tsr)).unwrap()
}

fn tsa_cnf(dir: &Path) -> String {
    format!(
        "[ tsa ]\n\
         default_tsa = tsa_config\n\
         [ tsa_config ]\n\
         dir = {dir}\n\
         serial = $dir/serial\n\
         crypto_device = builtin\n\
         signer_cert = $dir/tsa.crt\n\
         signer_key = $dir/tsa.key\n\
         signer_digest = sha256\n\
         default_policy = 1.2.3.4.1\n\
         digests = sha256, sha384, sha512\n\
         accuracy = secs:1\n\
         ordering = no\n\
         tsa_name = no\n\
         ess_cert_id_chain = no\n\
         ess_cert_id_alg = sha256\n",
        dir = dir.display()
    )
}
