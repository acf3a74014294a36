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
//!  "registries":[{"registry":"gbd_fl","status":"found","from_cache":false,"stale":false}],
//!  "hash":"<64 hex>"}
//! ```
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
//! anchor [`VerifyReport::last_hash`] and `records` outside the host to detect that.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::validate::{Invalid, Validate};

mod format;
mod refusals;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub use refusals::{RefusalGate, MAX_REFUSED_RECORD_BYTES, RECORDED_PER_SECOND};
pub use verify::{chain_files, verify, Broken, VerifyReport};

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
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            path: PathBuf::from("audit/audit.jsonl"),
            fsync: FsyncPolicy::Always,
            fsync_interval: Duration::from_secs(1),
            rotate_bytes: 64 * 1024 * 1024,
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
        if self.rotate_bytes < Self::MIN_ROTATE_BYTES {
            return rule("rotate_bytes", "must be at least 4096");
        }
        Ok(())
    }
}

/// One access to personal data, as a handler fills it in; the log adds `seq`, `time`,
/// `prev` and `hash`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// e.g. "OPERATIONAL_HALL", or a status such as "PERMISSION_DENIED".
    pub outcome: String,
    /// Refused calls of one caller within one second beyond the first, recorded together
    /// (see [`RefusalGate`]): how many; the other fields are those of the last of them.
    pub count: Option<u64>,
    pub registries: Vec<RegistryUse>,
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
            .field("registries", &self.registries)
            .finish()
    }
}

/// What one registry contributed to the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryUse {
    /// e.g. "gbd_fl".
    pub registry: String,
    /// "found", "not_found", "unavailable" or "not_consulted".
    pub status: String,
    pub from_cache: bool,
    pub stale: bool,
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
    /// not match is an [`AuditError::CorruptTail`] naming the file and line.
    pub async fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        config.validate().map_err(AuditError::Config)?;
        let path = config.path.clone();
        let owned = config.clone();
        let writer = tokio::task::spawn_blocking(move || writer::Writer::open(&owned))
            .await
            .map_err(|e| AuditError::open(&path, std::io::Error::other(e.to_string())))??;
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
            }),
        })
    }

    /// Whether the log takes records: `false` from a failed write until a later write, or
    /// the writer's own probe (every second), succeeds; for good after a failed fsync.
    /// Readiness follows it.
    pub fn writable(&self) -> bool {
        self.inner.writable.load(Ordering::SeqCst)
    }

    /// The live file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.inner.path
    }

    /// Appends `record`; resolves once it is written (and fsynced under
    /// [`FsyncPolicy::Always`]). `Err` means it is not in the log: fail the RPC.
    ///
    /// Dropping the future after the record was queued does not withdraw it.
    pub async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
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
        crate::metrics::audit_write(sent.elapsed().as_secs_f64(), written.is_ok());
        written
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
        done.await.unwrap_or_else(|_| Err(closed()))
    }
}
