//! A real PostgreSQL server for a test (or the benchmark): its own cluster, made with initdb in
//! a temporary directory and started with pg_ctl on a free loopback port, stopped on drop.
//!
//! Needs Debian's `postgresql` (`tests/run.sh` installs it): the binaries are looked up on PATH,
//! then in `/usr/lib/postgresql/<version>/bin`. Without them the test fails, saying how to
//! install them; it never skips. initdb refuses to run as root, so as root the server runs as
//! the `postgres` user the package creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The superuser's password (TCP connections use scram-sha-256).
pub const SUPERUSER_PASSWORD: &str = "test-superuser";
/// The database the tests use.
pub const DATABASE: &str = "audit";

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    settings: Vec<String>,
}

const INSTALL: &str =
    "install PostgreSQL's server with `apt-get update && apt-get install -y postgresql` \
     (tests/run.sh does it when it is missing)";

/// The directory holding initdb, pg_ctl and postgres.
fn bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !found.is_empty() {
            let real = std::fs::canonicalize(&found).unwrap_or_else(|_| PathBuf::from(&found));
            return real.parent().unwrap().to_owned();
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| Some(e.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL's initdb is not installed: {INSTALL}"))
}

/// Whether this process runs as root (the owner of `/proc/self` is the process's user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program args…`, as the `postgres` user when running as root.
fn as_server_user(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run ({e}); {INSTALL}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// A new cluster with database [`DATABASE`], running; fsync off (the tests crash the
    /// gateway, never the server).
    pub fn start() -> Postgres {
        Postgres::start_with(&["fsync=off", "synchronous_commit=on"])
    }

    /// A new cluster with these `name=value` server settings.
    pub fn start_with(settings: &[&str]) -> Postgres {
        Postgres::create(settings, None)
    }

    /// A new cluster that also takes TLS connections, with this certificate and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Postgres {
        Postgres::create(&["fsync=off"], Some((cert_pem, key_pem)))
    }

    fn create(settings: &[&str], tls: Option<(&str, &str)>) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("superuser-password");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
        std::fs::write(dir.path().join("password"), SUPERUSER_PASSWORD).unwrap();
        let mut settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            let (cert_file, key_file) =
                (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert_file, cert).unwrap();
            std::fs::write(&key_file, key).unwrap();
            // The server refuses a key file others can read.
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            settings.push("ssl=on".into());
            settings.push(format!("ssl_cert_file={}", cert_file.display()));
            settings.push(format!("ssl_key_file={}", key_file.display()));
        }
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown the cluster directory to postgres (the user Debian's package creates)",
            );
        }
        let mut initdb = as_server_user(&bin, "initdb");
        initdb
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--no-sync", "-E", "UTF8", "--locale=C"]);
        run(initdb, "initdb");
        let mut pg = Postgres {
            dir,
            bin,
            port: 0,
            settings,
        };
        pg.start_server();
        pg.sql_as_superuser("postgres", &format!("CREATE DATABASE {DATABASE}"));
        pg
    }

    /// Starts the server (again), on a fresh free port the first time and on the same one after.
    fn start_server(&mut self) {
        for attempt in 0..5 {
            if self.port == 0 || attempt > 0 {
                self.port = free_port();
            }
            if self.pg_ctl_start() {
                return;
            }
        }
        panic!("PostgreSQL did not start: see {}", self.log().display());
    }

    fn pg_ctl_start(&self) -> bool {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        for s in &self.settings {
            options.push_str(&format!(" -c {s}"));
        }
        let mut cmd = as_server_user(&self.bin, "pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        cmd.output().map(|o| o.status.success()).unwrap_or(false)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Stops the server (fast shutdown: connections are cut), waiting until it is down.
    pub fn stop(&self) {
        let mut cmd = as_server_user(&self.bin, "pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-w", "-t", "60", "-m", "fast", "stop"]);
        run(cmd, "pg_ctl stop");
    }

    /// Freezes the server (SIGSTOP to the postmaster and every backend): connections stay
    /// open and nothing answers, as when its host hangs. [`Postgres::thaw`] undoes it.
    pub fn freeze(&self) {
        self.signal_all(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal_all(libc::SIGCONT);
    }

    /// `signal` to the postmaster (its pid from `postmaster.pid`) and its children.
    fn signal_all(&self, signal: libc::c_int) {
        let pidfile = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .expect("postmaster.pid");
        let postmaster: i32 = pidfile.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'.
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            // SAFETY: sends a signal to a process of this test's own cluster.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&mut self) {
        assert!(
            self.pg_ctl_start(),
            "PostgreSQL did not start again on port {}: see {}",
            self.port,
            self.log().display()
        );
    }

    /// A URL for `user` on the test database (no password: see [`Postgres::password_file`]).
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The superuser's URL on the test database.
    pub fn superuser_url(&self) -> String {
        self.url("postgres")
    }

    /// A file holding the superuser's password.
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }

    /// Runs `sql` (one or more statements) as the superuser on `database`.
    fn sql_as_superuser(&self, database: &str, sql: &str) {
        let mut psql = match self.bin.join("psql") {
            local if local.exists() => Command::new(local),
            _ => Command::new("psql"),
        };
        psql.env("PGPASSWORD", SUPERUSER_PASSWORD)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-c", sql]);
        run(psql, &format!("psql -c {sql:?}"));
    }

    /// A connection as the superuser to the test database.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(SUPERUSER_PASSWORD)
            .dbname(DATABASE)
            .connect_timeout(Duration::from_secs(10))
            .connect(tokio_postgres::NoTls)
            .await
            .expect("the test PostgreSQL accepts the superuser");
        tokio::spawn(connection);
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut cmd = as_server_user(&self.bin, "pg_ctl");
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-w", "-m", "immediate", "stop"]);
        let _ = cmd.output();
    }
}
