//! The tamper-evident audit trail of personal-data access.
//!
//! Every personal-data RPC, allowed or denied, appends one [`AuditRecord`] through
//! [`AuditLog::append`]; the RPC may answer only after `append` returned `Ok` (the record is
//! written, and fsynced under [`FsyncPolicy::Always`]). If it returns `Err`, the RPC fails:
//! there is no unaudited answer. This is the one place where a subject's IIN appears in the
//! clear; [`AuditError`] messages and the record's `Debug` never show it.
//!
//! # Format
//!
//! JSON lines, one record a line, fields in this order:
//!
//! ```text
//! {"seq":42,"time":"2026-11-25T18:40:00.123+05:00","prev":"<64 hex>","request_id":"…",
//!  "caller":"…","rpc":"…","subject":"…","applicant":"…","decision_date":"2026-11-25",
//!  "purpose":"…","consent":"presented","consent_ref":"kdp#<32 hex>","outcome":"…","count":3,
//!  "decision":{"id":"…","service":"…","step":"…","rules":"1","notes":["LEGAL_BASIS_EXPIRED"]},
//!  "registries":[{"registry":"gbd_fl","status":"found","from_cache":false,"stale":false,
//!                 "evidence":"<64 hex>"}],
//!  "hash":"<64 hex>"}
//! ```
//!
//! `decision` (a decision's id, service, step, rules version and the notes its answer carried,
//! `notes` left out when none) and `registries[].evidence`
//! (the SHA-256 of the answer's envelope as received, see [`evidence`]) are left out when
//! empty, like the fields below.
//!
//! `applicant`, `decision_date` (CheckOwner), `consent` and `consent_ref` (GetPerson and
//! CheckOwner: whether a consent token was presented, and its keyed-hash reference, see
//! [`crate::consent`]) and `count` (a summary of refused calls, see [`RefusalGate`]) are left
//! out when empty; a line without them is the same record as before they existed, so older
//! files still verify. Whether an answer came from a registry or the cache is in
//! `registries[].from_cache` (and `stale`).
//!
//! `time` is when the writer took the record's batch (UTC+5, milliseconds); `seq`, `time`,
//! `prev` and `hash` are set by the log, the rest is the [`AuditRecord`].
//! `hash` is the lowercase hex SHA-256 of the record's canonical bytes: the line exactly as
//! written but without its `,"hash":"…"` member, i.e. the compact `serde_json` serialization
//! of the fields `seq` to `registries` in the order above. Those bytes include `prev`, the
//! `hash` of the record before (64 zeros for the first record, seq 1), so editing, inserting,
//! deleting or reordering a record breaks the chain. `seq` grows by one across files. A line
//! must be byte-for-byte the canonical serialization of its fields plus `hash`; the verifier
//! re-serializes each parsed line and refuses anything else.
//!
//! # Files
//!
//! The live file (`audit/audit.jsonl`) is rotated when it grows past `rotate_bytes`: it is
//! renamed to `audit-<seq of its first record, 12 digits>.jsonl` beside it and a new live file
//! is started whose first record's `prev` is the rotated file's last `hash`. [`chain_files`]
//! lists the files oldest first; [`verify`] checks them and names the first broken record.
//!
//! # Writer
//!
//! One dedicated thread owns the file. `append` takes one of 4,096 slots (waiting, without
//! blocking the runtime, when the writer is behind) and queues the record; the writer takes
//! whatever is queued (up to 1,024 records) as one batch, chains and writes it with one
//! `write`, fsyncs it per [`FsyncPolicy`], and only then acknowledges each record: group
//! commit, with the no-unaudited-answer rule intact. A failed write is truncated back to the
//! last complete line and every record of the batch gets the error; the next batch retries,
//! and while no batch comes the writer probes every second whether it could write (it appends
//! a few bytes and cuts them off). [`AuditLog::writable`] says which (readiness follows it).
//! A failed fsync, or a failed write that cannot be truncated, stops the log: every later
//! `append` fails until the gateway is restarted (which re-checks the tail).
//!
//! At open, a torn final line (no newline at its end: a write interrupted by a crash, whose
//! records were never acknowledged under `fsync = "always"`) is cut off with a warning and
//! `gateway_audit_torn_tail_cut_total`; the line before it must then be a valid record, like
//! any last line, or the log refuses to open.
//!
//! Deleting whole records from the end of the newest file leaves a valid, shorter chain:
//! anchor [`VerifyReport::last_hash`] and `records` outside the host to detect that, or sign.
//!
//! # Signed checkpoints
//!
//! With `[audit.signing]`, each batch ends with a checkpoint line signed with an Ed25519 key
//! the gateway reads at start ([`checkpoint`]); [`verify_signed`] (`verify-audit
//! --public-key`) then detects a chain recomputed without the key, and records cut from the
//! end before the last checkpoint. With `[audit.timestamp]` too, each checkpoint carries an
//! RFC 3161 time-stamp token of a third party ([`timestamp`]) when the authority answered;
//! [`verify_stamped`] (`verify-audit --tsa-cert`) verifies the tokens and reports the times.
//!
//! # PostgreSQL
//!
//! With `[audit.postgres]`, the local files are a spool: a shipper task ([`shipper`]) drains
//! them into PostgreSQL, one chain per replica ([`AuditConfig::replica`]), one statement per
//! batch. Under `durability = "postgres"` (the default) `append` resolves only once the
//! record's batch is committed there; under `"local"`, once it is in the local file. At
//! start the gateway reads where its replica's chain ends in the store and refuses to start
//! if the local files disagree (two pods under one replica id). [`postgres`] holds the
//! schema, [`postgres::verify_replica`] checks a chain in the store.
//!
//! # Evidence
//!
//! With `[audit.evidence]`, the registries' answers a decision rested on are sealed
//! (AES-256-GCM) into a local spool by `append` and shipped with the record to
//! `audit_evidence`, one row per digest ([`evidence`]); `crate::explain` reads them back.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::validate::{Invalid, Validate};

mod checkpoint;
pub mod evidence;
mod format;
pub mod postgres;
mod refusals;
mod shipper;
mod spool;
pub mod timestamp;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub use checkpoint::{PublicKey, Signer};
pub use evidence::EvidenceConfig;
pub use postgres::{Durability, PostgresConfig};
pub use refusals::{RefusalGate, MAX_REFUSED_RECORD_BYTES, RECORDED_PER_SECOND};
pub use timestamp::{Stamp, TimestampConfig, TsaCert};
pub use verify::{chain_files, verify, verify_signed, verify_stamped, Broken, VerifyReport};

/// Records that may wait for the writer before `append` waits for a slot.
const QUEUE: usize = 4096;
/// Records written (and fsynced) together at most.
const MAX_BATCH: usize = 1024;

/// When the writer fsyncs the live file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Fsync each batch before acknowledging its records (the default).
    #[default]
    Always,
    /// Acknowledge after the write; fsync at most every `fsync_interval` (a crash may lose
    /// up to that much of acknowledged records).
    Interval,
    /// Leave it to the operating system (tests, or a file system that syncs by itself).
    Never,
}

/// `[audit]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The live file; rotated files sit beside it.
    pub path: PathBuf,
    pub fsync: FsyncPolicy,
    /// With `fsync = "interval"`: the longest time written records stay unsynced.
    #[serde(with = "humantime_serde")]
    pub fsync_interval: Duration,
    /// Rotate when the live file has grown past this many bytes (checked after each batch).
    pub rotate_bytes: u64,
    /// This replica's chain in PostgreSQL and in checkpoints (see [`AuditConfig::replica_id`]).
    pub replica: Option<String>,
    /// Sign a checkpoint after each batch.
    pub signing: Option<SigningConfig>,
    /// Time-stamp signed checkpoints at an RFC 3161 authority (needs `[audit.signing]`).
    pub timestamp: Option<TimestampConfig>,
    /// Ship the chain to PostgreSQL.
    pub postgres: Option<PostgresConfig>,
    /// How often the log is probed, busy or idle: a write (appended and cut off again), the
    /// free space of its file system, and with `[audit.postgres]` the store (a query that must
    /// answer within `ack_timeout`). Readiness follows within this interval.
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// Free space the audit file system must keep: below it the log counts as not writable
    /// (readiness `NOT_SERVING`, no registry asked) while records of calls under way still
    /// fit. 0: no floor.
    pub min_free_bytes: u64,
    /// Archive the registries' answers decisions rest on (needs `[audit.postgres]`).
    pub evidence: Option<EvidenceConfig>,
}

/// `[audit.signing]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// The Ed25519 private key, PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
    pub key_file: PathBuf,
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            path: PathBuf::from("audit/audit.jsonl"),
            fsync: FsyncPolicy::Always,
            fsync_interval: Duration::from_secs(1),
            rotate_bytes: 64 * 1024 * 1024,
            replica: None,
            signing: None,
            timestamp: None,
            postgres: None,
            probe_interval: Duration::from_secs(1),
            min_free_bytes: 64 * 1024 * 1024,
            evidence: None,
        }
    }
}

impl AuditConfig {
    /// Smallest accepted `rotate_bytes`.
    pub const MIN_ROTATE_BYTES: u64 = 4096;
}

impl Validate for AuditConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let rule = |field: &str, text: &str| Err(Invalid::new(field, text));
        if self.path.as_os_str().is_empty() || self.path.file_name().is_none() {
            return rule("path", "must name a file, e.g. audit/audit.jsonl");
        }
        if self.fsync == FsyncPolicy::Interval && self.fsync_interval.is_zero() {
            return rule(
                "fsync_interval",
                "must be more than zero with fsync = \"interval\"",
            );
        }
        if self.probe_interval.is_zero() {
            return rule("probe_interval", "must be more than zero");
        }
        if self.rotate_bytes < Self::MIN_ROTATE_BYTES {
            return rule("rotate_bytes", "must be at least 4096");
        }
        if let Some(replica) = &self.replica {
            if !is_replica_id(replica) {
                return rule(
                    "replica",
                    "must be 1 to 63 letters, digits, '.', '_' or '-' (e.g. the pod name)",
                );
            }
        }
        if let Some(signing) = &self.signing {
            if signing.key_file.as_os_str().is_empty() {
                return rule("signing.key_file", "must name the Ed25519 private key file");
            }
        }
        if let Some(timestamp) = &self.timestamp {
            if self.signing.is_none() {
                return rule(
                    "timestamp",
                    "needs [audit.signing]: the signed checkpoints are what is time-stamped",
                );
            }
            if let Err((field, text)) = timestamp.check() {
                return rule(&format!("timestamp.{field}"), text);
            }
        }
        if let Some(evidence) = &self.evidence {
            if self.postgres.is_none() {
                return rule(
                    "evidence",
                    "needs [audit.postgres]: the archive is kept in PostgreSQL",
                );
            }
            evidence.validate().map_err(|e| e.under("evidence"))?;
        }
        self.postgres.validate().map_err(|e| e.under("postgres"))
    }
}

impl AuditConfig {
    /// This replica's id: `replica`, else `$POD_NAME`, else `$HOSTNAME` (a pod's name in
    /// Kubernetes), when it is a valid id.
    pub fn replica_id(&self) -> Option<String> {
        self.replica
            .clone()
            .or_else(|| std::env::var("POD_NAME").ok())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|id| is_replica_id(id))
    }
}

fn is_replica_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One access to personal data, as a handler fills it in; the log adds `seq`, `time`,
/// `prev` and `hash`.
#[derive(Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub request_id: String,
    /// The calling client system.
    pub caller: String,
    /// e.g. "CheckOwner".
    pub rpc: String,
    /// The subject's IIN, in the clear; [`MALFORMED`] when the caller sent something that is
    /// not a valid IIN (never the raw input); empty for a record about no one.
    pub subject: String,
    /// CheckOwner: the applicant's IIN (or [`MALFORMED`]); empty when none was given.
    pub applicant: String,
    /// CheckOwner: the date the decision was taken for, `YYYY-MM-DD` (or [`MALFORMED`]).
    pub decision_date: String,
    /// The purpose of access the caller gave.
    pub purpose: String,
    /// RPCs that take a consent token (GetPerson, CheckOwner): [`CONSENT_PRESENTED`] or
    /// [`CONSENT_ABSENT`]; empty for the others.
    pub consent: String,
    /// The presented token's reference (`kdp#` and a keyed hash, never the token); empty
    /// when none was presented.
    pub consent_ref: String,
    /// What came of the call: "OPERATIONAL_HALL", "FOUND", "PermissionDenied", ...
    pub outcome: CallOutcome,
    /// Refused calls of one caller within one second beyond the first, recorded together
    /// (see [`RefusalGate`]): how many; the other fields are those of the last of them.
    pub count: Option<u64>,
    /// CheckOwner (and each owner of CheckDwelling): the decision taken, as `explain` finds
    /// and re-derives it.
    pub decision: Option<DecisionRef>,
    pub registries: Vec<RegistryUse>,
    /// The registries' answers as received that the decision rested on (`registries[].evidence`
    /// names their digests): archived, encrypted, with the record ([`evidence`]). Not part of
    /// the line.
    #[serde(skip)]
    pub envelopes: Vec<Arc<crate::registry::Envelope>>,
}

impl AuditRecord {
    /// A record of `rpc` with `outcome`, every other field empty (about no one, no registry
    /// asked): the base the fields a call knows are filled in on.
    pub fn new(rpc: &str, outcome: CallOutcome) -> AuditRecord {
        AuditRecord {
            request_id: String::new(),
            caller: String::new(),
            rpc: rpc.to_owned(),
            subject: String::new(),
            applicant: String::new(),
            decision_date: String::new(),
            purpose: String::new(),
            consent: String::new(),
            consent_ref: String::new(),
            outcome,
            count: None,
            decision: None,
            registries: Vec::new(),
            envelopes: Vec::new(),
        }
    }
}

/// What came of a call, as a record's `outcome` names it (the words the log has always
/// held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// A decision (CheckOwner, each owner of CheckDwelling): "OPERATIONAL_HALL".
    OperationalHall,
    /// A decision: "ONLINE".
    Online,
    /// A decision: "REFUSED_HERE".
    RefusedHere,
    /// A CheckOwner or CheckDwelling answer without an outcome: "UNSPECIFIED" (the gateway
    /// gives none such; the contract has the value).
    Unspecified,
    /// A look-up's answer: "FOUND".
    Found,
    /// ExplainDecision: "EXPLAINED".
    Explained,
    /// InvalidatePerson: "INVALIDATED".
    Invalidated,
    /// GetRegistryStatus: "OK".
    Ok,
    /// The caller went away before its answer: "CANCELLED".
    Cancelled,
    /// The call failed with this status, named as `tonic::Code`'s `Debug` names it
    /// ("PermissionDenied", "InvalidArgument", ...).
    Failed(tonic::Code),
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            CallOutcome::OperationalHall => "OPERATIONAL_HALL",
            CallOutcome::Online => "ONLINE",
            CallOutcome::RefusedHere => "REFUSED_HERE",
            CallOutcome::Unspecified => "UNSPECIFIED",
            CallOutcome::Found => "FOUND",
            CallOutcome::Explained => "EXPLAINED",
            CallOutcome::Invalidated => "INVALIDATED",
            CallOutcome::Ok => "OK",
            CallOutcome::Cancelled => "CANCELLED",
            CallOutcome::Failed(code) => return write!(f, "{code:?}"),
        };
        f.write_str(word)
    }
}

/// As its word.
impl Serialize for CallOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Which decision a record is about, and under what it was taken: what `explain` needs to
/// take it again by the current rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRef {
    /// The decision id the caller was given.
    pub id: String,
    /// e.g. "REGISTRATION_AT_RESIDENCE".
    pub service: String,
    /// The step of the order, e.g. "RECEPTION".
    pub step: String,
    /// The version of the rules that took it (`decision::rules::VERSION`).
    pub rules: String,
    /// The notes the answer carried (reason codes without their prefix, e.g.
    /// `LEGAL_BASIS_EXPIRED`); absent when none (and in records written before notes were
    /// recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `consent` of a call that presented a consent token.
pub const CONSENT_PRESENTED: &str = "presented";
/// `consent` of a call, of an RPC that takes a consent token, that presented none.
pub const CONSENT_ABSENT: &str = "absent";

/// What a record holds instead of input that is not a valid IIN or date.
pub const MALFORMED: &str = "MALFORMED";

/// `Debug` without the subject's IIN, so that a record in a log line or panic message does
/// not leak it.
impl fmt::Debug for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditRecord")
            .field("request_id", &self.request_id)
            .field("caller", &self.caller)
            .field("rpc", &self.rpc)
            .field("subject", &"<redacted>")
            .field("applicant", &"<redacted>")
            .field("decision_date", &self.decision_date)
            .field("purpose", &self.purpose)
            .field("consent", &self.consent)
            .field("consent_ref", &self.consent_ref)
            .field("outcome", &self.outcome)
            .field("count", &self.count)
            .field("decision", &self.decision)
            .field("registries", &self.registries)
            .field("envelopes", &self.envelopes.len())
            .finish()
    }
}

/// What one registry contributed to the answer. A record the gateway writes has a
/// [`Registry`](crate::registry::Registry) and a [`RegistryOutcome`]; what reads records
/// back (the verifier, `explain`) takes the words as a line holds them:
/// `RegistryUse<String, String>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryUse<Name = crate::registry::Registry, Status = RegistryOutcome> {
    /// Its key, e.g. "gbd_fl".
    pub registry: Name,
    /// e.g. "found".
    pub status: Status,
    pub from_cache: bool,
    pub stale: bool,
    /// The SHA-256 (hex) of the answer's envelope as received, archived in the evidence
    /// store; absent when the registry gave no answer (or before the archive existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// What a registry did for a call, as a record's `registries[].status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryOutcome {
    /// It answered with a record.
    Found,
    /// It answered that it has no record.
    NotFound,
    /// It did not answer.
    Unavailable,
    /// It was not needed and not asked.
    NotConsulted,
    /// The gateway did not ask it: its guard was full.
    Overloaded,
    /// It refused: the subject's consent is missing.
    ConsentRefused,
    /// It rejected the question.
    Rejected,
    /// The caller went away while it was asked.
    Cancelled,
}

/// Why the log could not take a record (or open, or close). Messages name the file and
/// never include a subject's IIN. Any `Err` from [`AuditLog::append`] means the RPC must fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("audit log: invalid configuration: {0}")]
    Config(Invalid),
    #[error("audit log {}: cannot open: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("audit log {}, line {line}: {reason}; the chain cannot be continued from it (check the file with the verifier)", .path.display())]
    CorruptTail {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("audit log {} is already open in this process", .path.display())]
    InUse { path: PathBuf },
    #[error("audit log {}: write failed: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("audit log {}: fsync failed: {source}", .path.display())]
    Sync {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("audit log {}: stopped after an earlier failure ({cause}); restart the gateway once the file system is fixed", .path.display())]
    Stopped { path: PathBuf, cause: String },
    #[error("audit log {} is closed", .path.display())]
    Closed { path: PathBuf },
    #[error("audit log: {backlog} records wait to be shipped to PostgreSQL, the most allowed (audit.postgres.max_backlog = {limit}); records are refused until PostgreSQL takes them")]
    Backlog { backlog: u64, limit: u64 },
    #[error("audit store (PostgreSQL): {reason}")]
    Postgres { reason: String },
    #[error("audit record {seq} is written locally but not known to be in PostgreSQL ({reason}); with durability = \"postgres\" the answer is withheld")]
    NotShipped { seq: u64, reason: String },
    #[error("audit signing key {}: {reason}", .path.display())]
    Key { path: PathBuf, reason: String },
    #[error("evidence archive: {reason}")]
    Evidence { reason: String },
    #[error("audit.timestamp.certificate: {reason}")]
    TsaCert { reason: String },
}

impl AuditError {
    fn open(path: &std::path::Path, source: std::io::Error) -> AuditError {
        AuditError::Open {
            path: path.to_owned(),
            source: Arc::new(source),
        }
    }
}

/// The audit log's handle: cheap to clone, all clones share one writer.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    tx: std::sync::mpsc::Sender<writer::Msg>,
    /// One permit per queued record: bounds the queue without blocking the runtime.
    slots: Arc<Semaphore>,
    closing: AtomicBool,
    /// Set by the writer: whether its last write (or probe) succeeded.
    writable: Arc<AtomicBool>,
    shipping: Option<Shipping>,
    probe_interval: Duration,
    /// `[audit.evidence]`: where answers wait to be shipped.
    evidence: Option<Arc<evidence::Spool>>,
}

/// The PostgreSQL side of a log with `[audit.postgres]`.
struct Shipping {
    shared: Arc<shipper::ShipperProgress>,
    durability: Durability,
    ack_timeout: Duration,
    drain_timeout: Duration,
    closing: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Validates `config`, creates the directory, opens (or creates) the live file and
    /// continues its chain from its last record (or from the newest rotated file's when the
    /// live file is empty). A last line that is cut short, not a record, or whose hash does
    /// not match is an [`AuditError::CorruptTail`] naming the file and line. With
    /// `[audit.postgres]`, connects (and migrates, if configured), checks the local chain
    /// against the store's and starts shipping: a replica needs PostgreSQL to start, not to
    /// keep running.
    pub async fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        config.validate().map_err(AuditError::Config)?;
        let path = config.path.clone();
        let replica = replica_id(config)?;
        let signer = match &config.signing {
            Some(signing) => Some(Arc::new(
                Signer::load(&signing.key_file, &replica).map_err(|reason| AuditError::Key {
                    path: signing.key_file.clone(),
                    reason,
                })?,
            )),
            None => None,
        };
        let stamper = match &config.timestamp {
            Some(ts) => {
                Some(timestamp::Stamper::new(ts).map_err(|reason| AuditError::TsaCert { reason })?)
            }
            None => None,
        };
        let store = match &config.postgres {
            Some(pg) => Some(store_head(pg, &replica).await?),
            None => None,
        };
        let evidence = match &config.evidence {
            Some(e) => Some(Arc::new(
                evidence::Spool::open(&path, e, config.fsync == FsyncPolicy::Always)
                    .map_err(|reason| AuditError::Evidence { reason })?,
            )),
            None => None,
        };
        let owned = config.clone();
        let mut writer = tokio::task::spawn_blocking(move || writer::Writer::open(&owned, signer))
            .await
            .map_err(|e| AuditError::open(&path, std::io::Error::other(e.to_string())))??;
        writer.stamp_with(stamper);
        let mut shipping = None;
        if let (Some(pg), Some((client, head))) = (&config.postgres, store) {
            join_store_chain(&mut writer, &client, &head, &replica, &path).await?;
            let shipper = ShipperStart {
                config,
                pg,
                replica,
                evidence: evidence.is_some(),
            };
            shipping = Some(shipper.start(&mut writer, client, head.seq));
        }
        let writable = writer.writable();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::open(&path, e))?;
        Ok(AuditLog {
            inner: Arc::new(Inner {
                path,
                tx,
                slots: Arc::new(Semaphore::new(QUEUE)),
                closing: AtomicBool::new(false),
                writable,
                shipping,
                probe_interval: config.probe_interval,
                evidence,
            }),
        })
    }

    /// Whether the log takes records: `false` from a failed write until a later write, or
    /// the writer's own probe (every second), succeeds; for good after a failed fsync.
    /// Readiness follows it.
    pub fn writable(&self) -> bool {
        let shipped = match &self.inner.shipping {
            Some(s) if s.durability == Durability::Postgres => s.shared.is_up(),
            _ => true,
        };
        shipped && self.inner.writable.load(Ordering::SeqCst)
    }

    /// How often the log is probed (readiness follows it within this).
    pub fn probe_interval(&self) -> Duration {
        self.inner.probe_interval
    }

    /// The live file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.inner.path
    }

    /// Appends `record`; resolves once it is written (and fsynced under
    /// [`FsyncPolicy::Always`]). `Err` means it is not in the log: fail the RPC.
    ///
    /// Dropping the future after the record was queued does not withdraw it.
    pub async fn append(&self, mut record: AuditRecord) -> Result<(), AuditError> {
        // Answers from the owner-facts cache name their digest only: archived on arrival.
        let mut envelopes = std::mem::take(&mut record.envelopes);
        envelopes.retain(|e| e.bytes.is_some());
        if let (Some(spool), false) = (&self.inner.evidence, envelopes.is_empty()) {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || envelopes.iter().try_for_each(|e| spool.put(e)))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r)
                .map_err(|e| AuditError::Evidence {
                    reason: format!("cannot write to the local evidence spool: {e}"),
                })?;
        }
        // Serialized here, by the call's own task, so that the writer does only what must be
        // done one record at a time.
        let record = format::Encoded::of(&record);
        let closed = || AuditError::Closed {
            path: self.inner.path.clone(),
        };
        let slot: OwnedSemaphorePermit = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let (ack, done) = oneshot::channel();
        let sent = std::time::Instant::now();
        self.inner
            .tx
            .send(writer::Msg::Append { record, ack, slot })
            .map_err(|_| closed())?;
        // A dropped ack means the writer went away without writing the record.
        let written = done.await.unwrap_or_else(|_| Err(closed()));
        let written = match (written, &self.inner.shipping) {
            (Ok(seq), Some(s)) if s.durability == Durability::Postgres => {
                s.shared.wait(seq, s.ack_timeout).await.map_err(|e| {
                    let reason = match e {
                        shipper::NotShipped::Down(reason) => reason,
                        shipper::NotShipped::Timeout => {
                            format!("no commit within ack_timeout ({:?})", s.ack_timeout)
                        }
                    };
                    AuditError::NotShipped { seq, reason }
                })
            }
            (written, _) => written.map(drop),
        };
        crate::metrics::audit_write(sent.elapsed().as_secs_f64(), written.is_ok());
        written
    }

    /// Queues `record` now, without waiting for it to be written: for a call whose caller
    /// has gone (a drop guard cannot wait). It is written like any other record; a failure
    /// to write it is logged, since nobody waits for it. Queued at once, ahead of a later
    /// [`AuditLog::close`], when a queue slot is free; otherwise a task waits for one.
    pub fn enqueue(&self, record: AuditRecord) {
        let path = self.inner.path.clone();
        let (ack, done) = oneshot::channel();
        let queued = match self.inner.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let record = format::Encoded::of(&record);
                let append = writer::Msg::Append { record, ack, slot };
                self.inner.tx.send(append).is_ok()
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let log = self.clone();
                return spawn_or_lose(async move {
                    if let Err(e) = log.append(record).await {
                        tracing::error!(error = %e, "audit record of an abandoned call not written");
                    }
                });
            }
            Err(tokio::sync::TryAcquireError::Closed) => false,
        };
        if !queued {
            tracing::error!(path = %path.display(), "audit log closed: the record of an abandoned call is lost");
            return;
        }
        spawn_or_lose(async move {
            if let Ok(Err(e)) = done.await {
                tracing::error!(error = %e, "audit record of an abandoned call not written");
            }
        });
    }

    /// Writes what is queued, fsyncs the live file (whatever the policy) and stops the
    /// writer; later appends fail with [`AuditError::Closed`]. Closing twice is a no-op.
    pub async fn close(&self) -> Result<(), AuditError> {
        if self.inner.closing.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let closed = || AuditError::Closed {
            path: self.inner.path.clone(),
        };
        let (ack, done) = oneshot::channel();
        let sent = self.inner.tx.send(writer::Msg::Close { ack });
        self.inner.slots.close();
        sent.map_err(|_| closed())?;
        let closed = done.await.unwrap_or_else(|_| Err(closed())).map(drop);
        if let Some(shipping) = &self.inner.shipping {
            shipping.drain().await;
        }
        closed
    }
}

impl Shipping {
    /// Lets the shipper send what is left, for at most `drain_timeout`.
    async fn drain(&self) {
        self.closing.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut task) = task else { return };
        if tokio::time::timeout(self.drain_timeout, &mut task)
            .await
            .is_err()
        {
            task.abort();
            tracing::error!(
                shipped = self.shared.shipped.load(Ordering::SeqCst),
                "audit: records left unshipped at shutdown; they ship from the local file at the next start (with a persistent volume)"
            );
        }
    }
}

/// Runs `work` on the current runtime; outside of one (a runtime shutting down), it is
/// dropped with an error in the log.
fn spawn_or_lose(work: impl std::future::Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(work)),
        Err(_) => tracing::error!("no runtime: an audit record's outcome is not known"),
    }
}

/// Connects to the store (migrating it when configured) and reads where `replica`'s chain
/// ends there.
/// The replica id the log's records carry: required with `[audit.signing]` or
/// `[audit.postgres]`, empty without them.
fn replica_id(config: &AuditConfig) -> Result<String, AuditError> {
    match config.replica_id() {
        Some(replica) => Ok(replica),
        None if config.signing.is_none() && config.postgres.is_none() => Ok(String::new()),
        // Checked here, not in validate(): the environment is the pod's, at start.
        None => Err(AuditError::Config(Invalid::new(
            "replica",
            "must be set, or POD_NAME or HOSTNAME in the environment, with \
             [audit.signing] or [audit.postgres]",
        ))),
    }
}

/// Continues the local chain from PostgreSQL's `head` when the local files end before it (a
/// new or rolled-back disk; refused when the two chains differ where both have records), or
/// drops from the spool what PostgreSQL already holds.
async fn join_store_chain(
    writer: &mut writer::Writer,
    client: &tokio_postgres::Client,
    head: &postgres::Head,
    replica: &str,
    path: &std::path::Path,
) -> Result<(), AuditError> {
    let (local_seq, local_hash) = writer.head();
    if local_seq < head.seq {
        if local_seq > 0 {
            let theirs = postgres::hash_at(client, replica, local_seq)
                .await
                .map_err(|reason| AuditError::Postgres { reason })?;
            if theirs.as_deref() != Some(local_hash.as_str()) {
                return Err(AuditError::Postgres {
                    reason: format!(
                        "the local chain and PostgreSQL differ at seq {local_seq}: two \
                         chains under one replica id ({replica:?})"
                    ),
                });
            }
        }
        tracing::warn!(
            replica = %replica,
            local = local_seq,
            store = head.seq,
            "audit: the local files end before the chain in PostgreSQL (a new or \
             rolled-back disk); continuing from PostgreSQL"
        );
        writer.continue_from(head.seq, head.hash.clone());
    } else if head.seq > 0 {
        let live = path.to_path_buf();
        let (seq, hash) = (head.seq, head.hash.clone());
        tokio::task::spawn_blocking(move || spool::Spool::after(&live, seq, &hash))
            .await
            .map_err(|e| AuditError::open(path, std::io::Error::other(e.to_string())))?
            .map_err(|reason| AuditError::Postgres { reason })?;
    }
    Ok(())
}

/// What starting the shipper to PostgreSQL needs besides the writer and the store's client.
struct ShipperStart<'a> {
    config: &'a AuditConfig,
    pg: &'a PostgresConfig,
    replica: String,
    /// Whether `[audit.evidence]` is configured (its spool is shipped too).
    evidence: bool,
}

impl ShipperStart<'_> {
    /// Links `writer` to a new shipper task that takes records after `shipped` (the store's
    /// head) to PostgreSQL.
    fn start(
        self,
        writer: &mut writer::Writer,
        client: tokio_postgres::Client,
        shipped: u64,
    ) -> Shipping {
        let (config, pg, path) = (self.config, self.pg, &self.config.path);
        let shared = shipper::ShipperProgress::new(shipped, true);
        let (written, written_rx) = tokio::sync::watch::channel(0);
        writer.link(writer::Link {
            written,
            shipped: shared.shipped.clone(),
            max_backlog: pg.max_backlog,
        });
        crate::metrics::audit_backlog_limit(pg.max_backlog);
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(
            shipper::Shipper {
                config: pg.clone(),
                replica: self.replica,
                live: path.clone(),
                evidence: self.evidence.then(|| evidence::spool_dir(path)),
                shared: shared.clone(),
                written: written_rx,
                closing: closing_rx,
                probe_interval: config.probe_interval,
            }
            .run(Some(client)),
        );
        Shipping {
            shared,
            durability: pg.durability,
            ack_timeout: pg.ack_timeout,
            drain_timeout: pg.drain_timeout,
            closing,
            task: std::sync::Mutex::new(Some(task)),
        }
    }
}

async fn store_head(
    pg: &PostgresConfig,
    replica: &str,
) -> Result<(tokio_postgres::Client, postgres::Head), AuditError> {
    let failed = |reason| AuditError::Postgres { reason };
    let mut client = postgres::connect(pg.target(), pg.timeout)
        .await
        .map_err(failed)?;
    if pg.migrate {
        let applied = postgres::migrate(&mut client).await.map_err(failed)?;
        if !applied.is_empty() {
            tracing::info!(versions = ?applied, "audit store: schema migrated");
        }
    }
    let head = postgres::head(&client, replica).await.map_err(failed)?;
    Ok((client, head))
}
