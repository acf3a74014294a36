//! The central audit store on PostgreSQL: `[audit.postgres]`, the schema and its migrations,
//! and reading a replica's chain back for `verify-audit`.
//!
//! Each replica ships its own chain (see [`super::shipper`]): table `audit_records` holds one
//! row per record, keyed `(replica, seq)`, with the line exactly as written locally;
//! `audit_checkpoints` the signed checkpoints. The gateway's role inserts and calls
//! `audit_head` (where its chain ends), nothing else: the schema is created and migrated by
//! `registry-gateway migrate` (or at start with `migrate = true`, by a role that may), with
//! refinery; the migrations are in `src/audit/migrations/`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use futures::{pin_mut, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Socket};
use tokio_rustls::rustls;

use super::checkpoint::PublicKey;
use super::timestamp::TsaCert;
use super::verify::{Chain, VerifyReport};
use crate::validate::{Invalid, Validate};

mod embedded {
    refinery::embed_migrations!("src/audit/migrations");
}

/// The migrations' own bookkeeping table.
const HISTORY_TABLE: &str = "audit_schema_history";

/// When an answer's record counts as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Once its batch is committed in PostgreSQL (the default): nothing acknowledged lives
    /// only on the pod. While PostgreSQL cannot be reached, answers are withheld.
    #[default]
    Postgres,
    /// Once it is in the local file; the shipper drains the file to PostgreSQL behind it.
    /// Answers go on while PostgreSQL is away, until `max_backlog` records wait; a pod lost
    /// with its disk before they are shipped loses them.
    Local,
}

/// `[audit.postgres]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// libpq-style URL or key=value string, without the password,
    /// e.g. `postgres://gateway_audit@audit-db:5432/audit`.
    pub url: String,
    /// A file holding the password (e.g. a mounted Secret); read at each connection.
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that signed PostgreSQL's server certificate. When set, the
    /// connection is TLS, required, and the server's certificate is checked against it and the
    /// URL's host name (libpq's `verify-full`).
    pub ca_file: Option<PathBuf>,
    pub durability: Durability,
    /// With `durability = "postgres"`: how long an answer waits for its record's commit.
    #[serde(with = "humantime_serde")]
    pub ack_timeout: Duration,
    /// Time allowed to connect, and for each batch to commit.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Records written locally but not yet in PostgreSQL at most; past it, records (and so
    /// answers) are refused until the shipper catches up.
    pub max_backlog: u64,
    /// On shutdown, how long to keep shipping what is left.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Create and migrate the schema at start (the role then needs the rights to); otherwise
    /// run `registry-gateway migrate` first.
    pub migrate: bool,
    /// Keep rotated local files whose records are all in PostgreSQL (default: removed, but
    /// the newest).
    pub keep_shipped_files: bool,
}

impl Default for PostgresConfig {
    fn default() -> PostgresConfig {
        PostgresConfig {
            url: String::new(),
            password_file: None,
            ca_file: None,
            durability: Durability::Postgres,
            ack_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_backlog: 100_000,
            drain_timeout: Duration::from_secs(10),
            migrate: false,
            keep_shipped_files: false,
        }
    }
}

impl PostgresConfig {
    /// Smallest accepted `max_backlog`: one full batch.
    pub const MIN_BACKLOG: u64 = super::MAX_BATCH as u64;
}

impl Validate for PostgresConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let rule = |field: &str, text: &str| Err(Invalid::new(field, text));
        if self.url.is_empty() {
            return rule(
                "url",
                "must name the database, e.g. postgres://gateway_audit@audit-db:5432/audit",
            );
        }
        let parsed = match tokio_postgres::Config::from_str(&self.url) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(Invalid::new(
                    "url",
                    format!("is not a PostgreSQL URL ({e})"),
                ))
            }
        };
        if parsed.get_password().is_some() {
            return rule(
                "url",
                "must not hold the password: put it in the file password_file names",
            );
        }
        if parsed.get_hosts().is_empty() {
            return rule("url", "must name the host");
        }
        if parsed.get_ssl_mode() == tokio_postgres::config::SslMode::Require
            && self.ca_file.is_none()
        {
            return rule(
                "ca_file",
                "must be set with sslmode=require: the CA that signed PostgreSQL's certificate \
                 (the server is verified, host name included)",
            );
        }
        if self.ack_timeout.is_zero() || self.timeout.is_zero() {
            return rule("timeout", "ack_timeout and timeout must be more than zero");
        }
        if self.max_backlog < Self::MIN_BACKLOG {
            return rule("max_backlog", "must be at least 1024 (one batch)");
        }
        Ok(())
    }
}

/// Where and how to reach the store: `[audit.postgres]`'s `url`, `password_file` and
/// `ca_file`, or the same given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub url: &'a str,
    pub password_file: Option<&'a Path>,
    pub ca_file: Option<&'a Path>,
}

impl PostgresConfig {
    pub fn target(&self) -> Target<'_> {
        Target {
            url: &self.url,
            password_file: self.password_file.as_deref(),
            ca_file: self.ca_file.as_deref(),
        }
    }
}

/// Connects to `target` within `timeout`: over TLS (required, the server verified against
/// `ca_file`) when it names a CA file, else in the clear.
pub async fn connect(target: Target<'_>, timeout: Duration) -> Result<Client, String> {
    let mut config =
        tokio_postgres::Config::from_str(target.url).map_err(|e| format!("bad URL ({e})"))?;
    if let Some(path) = target.password_file {
        let password = std::fs::read_to_string(path)
            .map_err(|e| format!("password file {}: {e}", path.display()))?;
        config.password(password.trim_end_matches(['\r', '\n']));
    }
    config
        .application_name("registry-gateway")
        .connect_timeout(timeout)
        .keepalives_idle(Duration::from_secs(30));
    match target.ca_file {
        Some(ca_file) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_tls(ca_file)?);
            connect_with(&config, tls, timeout).await
        }
        None => connect_with(&config, NoTls, timeout).await,
    }
}

/// Connects with `tls` within `timeout`; the connection is driven by a task of its own.
async fn connect_with<T>(
    config: &tokio_postgres::Config,
    tls: T,
    timeout: Duration,
) -> Result<Client, String>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = tokio::time::timeout(timeout, config.connect(tls))
        .await
        .map_err(|_| format!("cannot connect within {timeout:?}"))?
        .map_err(|e| format!("cannot connect: {}", error_text(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %error_text(&e), "audit store connection ended");
        }
    });
    Ok(client)
}

/// TLS settings that trust only the CA(s) in `ca_file`.
fn client_tls(ca_file: &Path) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let pem = std::fs::read(ca_file).map_err(|e| format!("ca_file {}: {e}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("ca_file {}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("ca_file {}: {e}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "ca_file {}: no certificate in it",
            ca_file.display()
        ));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An error with PostgreSQL's own message when there is one (tokio-postgres's `Display`
/// alone says only "db error").
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // tokio-postgres's own text is the step ("error performing TLS handshake"); the
            // reason is in its sources ("invalid peer certificate: UnknownIssuer").
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// Serializes migrations of replicas that start together (an advisory lock's key).
const MIGRATION_LOCK: i64 = 0x6175_6469_745f_6d67; // "audit_mg"

/// Creates or migrates the schema, one migrating session at a time; returns the versions
/// applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, String> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| format!("migration lock: {}", error_text(&e)))?;
    let report = embedded::migrations::runner()
        .set_migration_table_name(HISTORY_TABLE)
        .run_async(client)
        .await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    let report = report.map_err(|e| {
        let mut text = format!("migration failed: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            match cause.downcast_ref::<tokio_postgres::Error>() {
                Some(pg) => text.push_str(&format!(": {}", error_text(pg))),
                None => text.push_str(&format!(": {cause}")),
            }
            source = cause.source();
        }
        text
    })?;
    unlocked.map_err(|e| format!("migration unlock: {}", error_text(&e)))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.version())
        .collect())
}

/// Where a replica's chain ends in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    /// The last record's seq and hash (0 and the genesis hash: none).
    pub seq: u64,
    pub hash: String,
    /// The last checkpoint's seq (0: none).
    pub checkpoint: u64,
}

/// `audit_head(replica)`.
pub(super) async fn head(client: &Client, replica: &str) -> Result<Head, String> {
    let row = client
        .query_one(
            "SELECT seq, hash, checkpoint FROM audit_head($1)",
            &[&replica],
        )
        .await
        .map_err(|e| {
            let text = error_text(&e);
            if text.contains("42883") || text.contains("42P01") {
                format!(
                    "the audit schema is missing ({text}): run `registry-gateway migrate` (or set \
                     audit.postgres.migrate = true)"
                )
            } else {
                format!("reading where the chain ends: {text}")
            }
        })?;
    let seq: i64 = row.get(0);
    Ok(Head {
        seq: seq as u64,
        hash: row.get(1),
        checkpoint: row.get::<_, i64>(2) as u64,
    })
}

/// `audit_hash_at(replica, seq)`: the hash of record `seq` in the store, if it is there.
pub(super) async fn hash_at(
    client: &Client,
    replica: &str,
    seq: u64,
) -> Result<Option<String>, String> {
    let row = client
        .query_one("SELECT audit_hash_at($1, $2)", &[&replica, &(seq as i64)])
        .await
        .map_err(|e| format!("reading the hash of seq {seq}: {}", error_text(&e)))?;
    Ok(row.get(0))
}

/// The records and the checkpoints of a batch, the common end of [`INSERT`] and
/// [`INSERT_WITH_EVIDENCE`] (a macro: `concat!` takes literals only).
macro_rules! insert_records_and_checkpoints {
    () => {
        "records AS (
    INSERT INTO audit_records (replica, seq, time, hash, line)
    SELECT $1, r.seq, r.time::timestamptz, r.hash, r.line
    FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[]) AS r(seq, time, hash, line)
), checkpoints AS (
    INSERT INTO audit_checkpoints (replica, seq, line)
    SELECT $1, c.seq, c.line FROM unnest($6::int8[], $7::text[]) AS c(seq, line)
)
SELECT 1"
    };
}

/// One batch in one statement (an implicit transaction, one round trip): the records and
/// the checkpoints that follow them.
pub(super) const INSERT: &str = concat!("WITH ", insert_records_and_checkpoints!());

/// [`INSERT`] with the batch's evidence blobs (`[audit.evidence]`): one row per digest,
/// whichever replica or batch stored it first (`ON CONFLICT DO NOTHING` needs no more than
/// `INSERT`).
pub(super) const INSERT_WITH_EVIDENCE: &str = concat!(
    "\
WITH evidence AS (
    INSERT INTO audit_evidence (digest, blob)
    SELECT e.digest, e.blob FROM unnest($8::text[], $9::bytea[]) AS e(digest, blob)
    ON CONFLICT DO NOTHING
), ",
    insert_records_and_checkpoints!()
);

/// Where a chain in PostgreSQL breaks: the replica, and the first record (or checkpoint)
/// that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replica {replica}{}: {reason}", .seq.map(|s| format!(", seq {s}")).unwrap_or_default())]
pub struct PgBroken {
    pub replica: String,
    pub seq: Option<u64>,
    pub reason: String,
}

/// The replicas with records or checkpoints in the store.
pub async fn replicas(client: &Client) -> Result<Vec<String>, String> {
    let rows = client
        .query(
            "SELECT replica FROM audit_records UNION SELECT replica FROM audit_checkpoints ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| error_text(&e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Checks the chain of `replica` as [`super::verify_signed`] checks files: records and
/// checkpoints in seq order, each line canonical, the stored seq and hash columns those of
/// the line.
pub async fn verify_replica(
    client: &Client,
    replica: &str,
    keys: &[PublicKey],
    tsa: &[TsaCert],
) -> Result<VerifyReport, PgBroken> {
    let broken = |seq: Option<u64>, reason: String| PgBroken {
        replica: replica.to_owned(),
        seq,
        reason,
    };
    let rows = client
        .query_raw(
            "SELECT seq, line, false AS checkpoint, hash FROM audit_records WHERE replica = $1 \
             UNION ALL \
             SELECT seq, line, true, NULL FROM audit_checkpoints WHERE replica = $1 \
             ORDER BY seq, checkpoint",
            [replica],
        )
        .await
        .map_err(|e| broken(None, format!("cannot read: {}", error_text(&e))))?;
    pin_mut!(rows);
    let mut chain = Chain::new(keys, Some(replica)).with_tsa(tsa);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| broken(None, format!("cannot read: {}", error_text(&e))))?
    {
        let seq = row.get::<_, i64>(0) as u64;
        let line: &str = row.get(1);
        let pushed = chain
            .push(line.as_bytes())
            .map_err(|f| broken(f.seq.or(Some(seq)), f.reason))?;
        if pushed != seq {
            return Err(broken(
                Some(seq),
                format!("the row's seq is {seq} but its line says {pushed}: moved"),
            ));
        }
        if let Some(hash) = row.get::<_, Option<&str>>(3) {
            if Some(hash) != line_hash(line) {
                return Err(broken(
                    Some(seq),
                    "the row's hash column differs from its line's hash".into(),
                ));
            }
        }
    }
    chain.finish().map_err(|f| broken(f.seq, f.reason))?;
    Ok(chain.report(0))
}

/// The `hash` member that ends a record line.
fn line_hash(line: &str) -> Option<&str> {
    line.strip_suffix("\"}")?
        .rsplit_once("\"hash\":\"")
        .map(|(_, h)| h)
}
