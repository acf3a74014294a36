//! The writer thread: the only owner of the live file.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};

use super::checkpoint::{is_checkpoint, Checkpoint, Signer};
use super::format::{now, Encoded, Entry, GENESIS};
use super::timestamp::Stamper;
use super::verify::{parent, rotated_files, rotated_path};
use super::{AuditConfig, AuditError, FsyncPolicy, MAX_BATCH};

/// The writer's answer for one record: its seq once written.
pub(super) type Ack = oneshot::Sender<Result<u64, AuditError>>;

/// What ties the writer to the shipper ([`super::shipper`]).
pub(super) struct Link {
    /// The last record written (and fsynced per the policy): what the shipper may ship.
    pub written: watch::Sender<u64>,
    /// The last record in PostgreSQL, set by the shipper.
    pub shipped: Arc<std::sync::atomic::AtomicU64>,
    /// Records written but not shipped at most; past it, records are refused.
    pub max_backlog: u64,
}

pub(super) enum Msg {
    Append {
        /// The record, serialized by the task that appends it.
        record: Encoded,
        ack: Ack,
        /// Held until the record is acknowledged.
        slot: OwnedSemaphorePermit,
    },
    Close {
        ack: Ack,
    },
}

/// Live files open in this process: two writers on one file would fork its chain.
static OPEN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

struct Claim(PathBuf);

impl Claim {
    fn take(path: &Path) -> Result<Claim, AuditError> {
        let key = path.canonicalize().map_err(|e| AuditError::open(path, e))?;
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if !open.insert(key.clone()) {
            return Err(AuditError::InUse {
                path: path.to_owned(),
            });
        }
        Ok(Claim(key))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        OPEN.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// Records taken from the queue to be written together.
#[derive(Default)]
pub(super) struct Batch {
    pub records: Vec<Encoded>,
    acks: Vec<(Ack, OwnedSemaphorePermit)>,
}

/// Takes `first` and whatever else is queued already, up to [`MAX_BATCH`] records, stopping
/// at a close request (returned apart: it is served after the batch).
pub(super) fn collect(first: Msg, rx: &Receiver<Msg>) -> (Batch, Option<Ack>) {
    let mut batch = Batch::default();
    let mut next = Some(first);
    while let Some(msg) = next.take() {
        match msg {
            Msg::Append { record, ack, slot } => {
                batch.records.push(record);
                batch.acks.push((ack, slot));
            }
            Msg::Close { ack } => return (batch, Some(ack)),
        }
        if batch.records.len() < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    (batch, None)
}

pub(super) struct Writer {
    path: PathBuf,
    /// `None` after a rotation whose new live file could not be created (retried).
    file: Option<File>,
    /// Bytes of complete lines in the live file.
    len: u64,
    /// The last record written (0 and the genesis hash before the first).
    seq: u64,
    prev: String,
    /// `seq` of the live file's first record, which names it when rotated.
    first_seq: Option<u64>,
    /// A regular file (not e.g. /dev/full): may be renamed.
    rotatable: bool,
    policy: FsyncPolicy,
    interval: Duration,
    rotate_bytes: u64,
    /// Written but not fsynced (`interval` policy).
    dirty: bool,
    last_sync: Instant,
    /// Why the log refuses every record from now on.
    stopped: Option<String>,
    claim: Option<Claim>,
    /// Whether the last write (or probe) succeeded; shared with the handles (readiness).
    writable: Arc<AtomicBool>,
    /// Signs a checkpoint after each batch (`[audit.signing]`).
    signer: Option<Arc<Signer>>,
    /// Time-stamps checkpoints (`[audit.timestamp]`).
    stamper: Option<Stamper>,
    /// The shipper's side, with `[audit.postgres]`.
    link: Option<Link>,
    /// The timer's probe: how often, when last, the free-space floor and whether the file
    /// system was above it then.
    probe_interval: Duration,
    last_probe: Instant,
    min_free_bytes: u64,
    space_ok: bool,
}

impl Writer {
    /// Opens or creates the live file and reads where its chain ends; with a signer, a last
    /// record without its checkpoint (a write cut by a crash) gets one now.
    pub fn open(config: &AuditConfig, signer: Option<Arc<Signer>>) -> Result<Writer, AuditError> {
        let path = config.path.clone();
        let dir = parent(&path);
        std::fs::create_dir_all(dir).map_err(|e| AuditError::open(&path, e))?;
        let existed = path.exists();
        let file = open_live(&path).map_err(|e| AuditError::open(&path, e))?;
        let claim = Claim::take(&path)?;
        let meta = file.metadata().map_err(|e| AuditError::open(&path, e))?;
        let len = cut_torn_tail(&file, meta.len(), &path, config.fsync)?;
        let ends = read_ends(&file, len).map_err(|e| e.at(&path))?;
        if let Some(signer) = &signer {
            same_replica(signer, ends.as_ref(), &file, len, &path)?;
        }
        let unsigned_tail = ends.as_ref().is_some_and(|e| !e.checkpointed);
        let (seq, prev, first_seq) = match ends {
            Some(Ends { first, last, .. }) => (last.seq, last.hash, Some(first)),
            // A fresh live file continues the newest rotated file's chain, if any.
            None => {
                let (seq, prev) = rotated_chain_end(&path)?;
                (seq, prev, None)
            }
        };
        if !existed && config.fsync != FsyncPolicy::Never {
            sync_dir(dir).map_err(|e| AuditError::open(&path, e))?;
        }
        crate::metrics::audit_writable(true);
        let mut writer = Writer {
            path,
            file: Some(file),
            len,
            seq,
            prev,
            first_seq,
            rotatable: meta.is_file(),
            policy: config.fsync,
            interval: config.fsync_interval,
            rotate_bytes: config.rotate_bytes,
            dirty: false,
            last_sync: Instant::now(),
            stopped: None,
            claim: Some(claim),
            writable: Arc::new(AtomicBool::new(true)),
            signer,
            stamper: None,
            link: None,
            probe_interval: config.probe_interval,
            last_probe: Instant::now(),
            min_free_bytes: config.min_free_bytes,
            space_ok: true,
        };
        if unsigned_tail {
            writer.checkpoint_tail()?;
        }
        Ok(writer)
    }

    /// Signs the live file's last record, which has no checkpoint.
    fn checkpoint_tail(&mut self) -> Result<(), AuditError> {
        let (Some(signer), Some(file)) = (&self.signer, &self.file) else {
            return Ok(());
        };
        let mut line = Vec::new();
        signer.write_line(&mut line, self.seq, &self.prev);
        let mut out: &File = file;
        out.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| AuditError::open(&self.path, e))?;
        self.len += line.len() as u64;
        tracing::warn!(
            path = %self.path.display(),
            seq = self.seq,
            "audit log: the last record had no checkpoint (a write cut by a crash); signed it now"
        );
        Ok(())
    }

    /// Time-stamps the checkpoints of the batches from now on.
    pub fn stamp_with(&mut self, stamper: Option<Stamper>) {
        self.stamper = stamper;
    }

    /// The last record written: its seq and hash.
    pub fn head(&self) -> (u64, String) {
        (self.seq, self.prev.clone())
    }

    /// Continues the chain from the head PostgreSQL holds, past the local files' end (they
    /// lost their tail, or are new): the caller checked they are a prefix of the store's.
    pub fn continue_from(&mut self, seq: u64, hash: String) {
        self.seq = seq;
        self.prev = hash;
    }

    /// Ties the writer to a shipper: publishes what it writes, refuses records past the
    /// backlog bound.
    pub fn link(&mut self, link: Link) {
        link.written.send_replace(self.seq);
        self.link = Some(link);
        self.report_backlog();
    }

    /// Records written but not shipped, when linked.
    fn backlog(&self) -> Option<(u64, u64)> {
        let link = self.link.as_ref()?;
        let shipped = link.shipped.load(Ordering::SeqCst);
        Some((self.seq.saturating_sub(shipped), link.max_backlog))
    }

    fn report_backlog(&self) {
        if let Some((backlog, _)) = self.backlog() {
            crate::metrics::audit_backlog(backlog);
        }
    }

    /// Whether the log takes records, as the handles see it.
    pub fn writable(&self) -> Arc<AtomicBool> {
        self.writable.clone()
    }

    fn set_writable(&self, writable: bool) {
        if self.writable.swap(writable, Ordering::SeqCst) != writable {
            if writable {
                tracing::info!("audit log writes again: ready");
            } else {
                tracing::error!("audit log cannot write: NOT_SERVING until it can");
            }
        }
    }

    /// The timer's probe, when due: the free space of the file system (under the floor, the
    /// log is not writable though records still fit) and, unless a batch just proved it, a
    /// write.
    fn probe_if_due(&mut self, just_wrote: Option<bool>) {
        if self.last_probe.elapsed() < self.probe_interval {
            if let Some(ok) = just_wrote {
                self.set_writable(ok && self.space_ok);
            }
            return;
        }
        self.last_probe = Instant::now();
        let free = free_bytes(&self.path);
        let space_ok = free.is_none_or(|free| free >= self.min_free_bytes);
        if space_ok != self.space_ok {
            if space_ok {
                tracing::info!(free = ?free, "audit file system above its free-space floor again");
            } else {
                tracing::error!(free = ?free, floor = self.min_free_bytes, "audit file system under its free-space floor: NOT_SERVING");
            }
            self.space_ok = space_ok;
        }
        let wrote = just_wrote.unwrap_or_else(|| {
            // A healthy log is probed beside the live file (a crash mid-probe then leaves no
            // torn line to cut and alert on); one that failed, on the live file itself.
            if self.writable.load(Ordering::SeqCst) {
                self.probe_beside()
            } else {
                self.probe()
            }
        });
        self.set_writable(wrote && space_ok);
    }

    /// Whether the live file's directory takes a write: a probe file beside it, written
    /// and removed.
    fn probe_beside(&self) -> bool {
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let probe = self.path.with_file_name(format!(".{name}.probe"));
        let written = std::fs::write(&probe, [b' '; PROBE_BYTES]).is_ok();
        let _ = std::fs::remove_file(&probe);
        written && self.stopped.is_none()
    }

    /// Whether a record could be written now: writes a probe past the end and cuts it off
    /// again (a crash in between leaves a torn line, cut at the next start).
    fn probe(&mut self) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if self
            .backlog()
            .is_some_and(|(backlog, limit)| backlog >= limit)
        {
            return false;
        }
        let file = match &self.file {
            Some(file) => file,
            None => match open_live(&self.path) {
                Ok(file) => self.file.insert(file),
                Err(_) => return false,
            },
        };
        let mut out: &File = file;
        let written = out.write_all(&[b' '; PROBE_BYTES]).is_ok();
        if let Err(e) = cut_back(file, self.len) {
            self.stopped = Some(format!("cutting a write probe off failed ({e})"));
            return false;
        }
        written
    }

    /// Serves the queue until closed, or until every handle is dropped.
    pub fn run(mut self, rx: Receiver<Msg>) {
        while let Some(first) = self.next(&rx) {
            let (batch, close) = collect(first, &rx);
            if !batch.records.is_empty() {
                let result = self.commit(batch.records);
                self.probe_if_due(Some(result.is_ok()));
                for (i, (ack, slot)) in batch.acks.into_iter().enumerate() {
                    let _ = ack.send(result.clone().map(|first| first + i as u64));
                    drop(slot);
                }
                self.maybe_rotate();
            }
            if let Some(ack) = close {
                let result = self.finish().map(|()| self.seq);
                self.file = None;
                self.claim = None;
                let _ = ack.send(result);
                while let Ok(msg) = rx.try_recv() {
                    let ack = match msg {
                        Msg::Append { ack, .. } | Msg::Close { ack } => ack,
                    };
                    let _ = ack.send(Err(AuditError::Closed {
                        path: self.path.clone(),
                    }));
                }
                return;
            }
        }
        if let Err(e) = self.finish() {
            tracing::error!(error = %e, "audit log: final fsync failed");
        }
    }

    /// The next message; under the interval policy, fsyncs when the interval runs out first;
    /// probes every `probe_interval` (unless stopped).
    fn next(&mut self, rx: &Receiver<Msg>) -> Option<Msg> {
        loop {
            let syncing = self.dirty && self.policy == FsyncPolicy::Interval;
            let probing = self.stopped.is_none();
            let until_probe = self
                .probe_interval
                .saturating_sub(self.last_probe.elapsed());
            let wait = match (syncing, probing) {
                (false, false) => return rx.recv().ok(),
                (true, _) => self.interval.saturating_sub(self.last_sync.elapsed()),
                (false, true) => until_probe,
            };
            let wait = if probing { wait.min(until_probe) } else { wait };
            match rx.recv_timeout(wait) {
                Ok(msg) => return Some(msg),
                Err(RecvTimeoutError::Timeout) => {
                    if syncing && self.last_sync.elapsed() >= self.interval {
                        if let Err(e) = self.sync() {
                            tracing::error!(error = %e, "audit log stopped");
                        }
                    }
                    if probing {
                        self.probe_if_due(None);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Chains, writes and (per policy) fsyncs `records`, then a signed checkpoint; `Ok` (the
    /// first record's seq) only when all are written.
    pub fn commit(&mut self, records: Vec<Encoded>) -> Result<u64, AuditError> {
        if let Some(cause) = &self.stopped {
            return Err(AuditError::Stopped {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        if let Some((backlog, limit)) = self.backlog() {
            if backlog + records.len() as u64 > limit {
                self.report_backlog();
                return Err(AuditError::Backlog { backlog, limit });
            }
        }
        let file = match &self.file {
            Some(file) => file,
            None => {
                let file = open_live(&self.path).map_err(|e| AuditError::open(&self.path, e))?;
                self.len = file
                    .metadata()
                    .map_err(|e| AuditError::open(&self.path, e))?
                    .len();
                self.file.insert(file)
            }
        };
        let time = now();
        let first = self.seq + 1;
        let mut seq = self.seq;
        let mut prev = self.prev.clone();
        let mut buf = Vec::with_capacity(records.iter().map(|r| r.len() + 256).sum());
        for record in &records {
            seq += 1;
            prev = super::format::write_line(&mut buf, seq, &time, &prev, record);
        }
        if let Some(signer) = &self.signer {
            let stamper = &mut self.stamper;
            signer.write_stamped(&mut buf, seq, &prev, |hash| {
                stamper.as_mut()?.stamp(hash, seq)
            });
        }
        let mut out: &File = file;
        if let Err(e) = out.write_all(&buf) {
            // Never leave a partial line: cut back to the last complete one, or stop.
            if let Err(t) = cut_back(file, self.len) {
                self.stopped = Some(format!(
                    "a write failed ({e}) and cutting the file back to its last complete line failed ({t})"
                ));
            }
            return Err(AuditError::Write {
                path: self.path.clone(),
                source: Arc::new(e),
            });
        }
        self.len += buf.len() as u64;
        self.seq = seq;
        self.prev = prev;
        self.first_seq.get_or_insert(first);
        // The shipper may take the batch now: its commit in PostgreSQL and the fsync here run
        // side by side. (Written lines are never cut back; a failed fsync stops the log.)
        if let Some(link) = &self.link {
            link.written.send_replace(seq);
        }
        match self.policy {
            FsyncPolicy::Always => self.sync()?,
            FsyncPolicy::Interval => {
                self.dirty = true;
                if self.last_sync.elapsed() >= self.interval {
                    self.sync()?;
                }
            }
            FsyncPolicy::Never => {}
        }
        self.report_backlog();
        Ok(first)
    }

    /// Fsyncs the live file. A failure stops the log: after a failed fsync nobody can say
    /// what reached the disk.
    fn sync(&mut self) -> Result<(), AuditError> {
        self.dirty = false;
        if let Some(file) = &self.file {
            if let Err(e) = file.sync_data() {
                self.stopped = Some(format!("fsync failed ({e})"));
                return Err(AuditError::Sync {
                    path: self.path.clone(),
                    source: Arc::new(e),
                });
            }
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Flushes and fsyncs whatever the policy.
    fn finish(&mut self) -> Result<(), AuditError> {
        if let Some(cause) = &self.stopped {
            return Err(AuditError::Stopped {
                path: self.path.clone(),
                cause: cause.clone(),
            });
        }
        self.sync()
    }

    fn maybe_rotate(&mut self) {
        if !self.rotatable || self.stopped.is_some() || self.len <= self.rotate_bytes {
            return;
        }
        let Some(first) = self.first_seq else { return };
        if let Err(e) = self.rotate(first) {
            tracing::error!(error = %e, "audit log rotation failed; retried after the next batch");
        }
    }

    /// Renames the live file after its first record and starts a new one.
    fn rotate(&mut self, first: u64) -> Result<(), AuditError> {
        let io_err = |path: &Path, e: io::Error| AuditError::Write {
            path: path.to_owned(),
            source: Arc::new(e),
        };
        let durable = self.policy != FsyncPolicy::Never;
        if durable {
            self.sync()?;
        }
        let target = rotated_path(&self.path, first).map_err(|e| io_err(&self.path, e))?;
        if target.exists() {
            return Err(io_err(
                &target,
                io::Error::new(io::ErrorKind::AlreadyExists, "rotated file exists already"),
            ));
        }
        std::fs::rename(&self.path, &target).map_err(|e| io_err(&target, e))?;
        self.file = None;
        self.len = 0;
        self.first_seq = None;
        let dir = parent(&self.path);
        let file = open_live(&self.path).map_err(|e| io_err(&self.path, e))?;
        self.file = Some(file);
        if durable {
            sync_dir(dir).map_err(|e| io_err(dir, e))?;
        }
        Ok(())
    }
}

/// Bytes a write probe appends (and cuts off again).
const PROBE_BYTES: usize = 4096;

/// Bytes free for an unprivileged writer on the file system of `path`'s directory; `None`
/// when it cannot be read (no floor is then applied).
#[cfg(unix)]
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = std::ffi::CString::new(parent(path).as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `dir` is a NUL-terminated path and `stat` a valid, writable statvfs.
    if unsafe { libc::statvfs(dir.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}

/// Cuts `file` back to `len` bytes; nothing to do when nothing was added (a device such as
/// /dev/full, which cannot be truncated, then stays usable).
fn cut_back(file: &File, len: u64) -> io::Result<()> {
    if file.metadata()?.len() == len {
        return Ok(());
    }
    file.set_len(len)
}

/// Cuts a torn final line (bytes after the last newline: an interrupted write, whose records
/// were never acknowledged under `fsync = "always"`) with a warning and a metric; returns the
/// length of the complete lines. Anything else wrong is left for [`read_ends`] to refuse.
fn cut_torn_tail(
    file: &File,
    len: u64,
    path: &Path,
    policy: FsyncPolicy,
) -> Result<u64, AuditError> {
    let err = |e| AuditError::open(path, e);
    if len == 0 || read_at(file, len - 1, 1).map_err(err)?[0] == b'\n' {
        return Ok(len);
    }
    let mut end = len;
    let complete = loop {
        let from = end.saturating_sub(4096);
        let bytes = read_at(file, from, end - from).map_err(err)?;
        if let Some(i) = bytes.iter().rposition(|&b| b == b'\n') {
            break from + i as u64 + 1;
        }
        if from == 0 {
            break 0;
        }
        end = from;
    };
    let line = count_newlines(file, complete).map_err(err)? + 1;
    file.set_len(complete).map_err(err)?;
    if policy != FsyncPolicy::Never {
        file.sync_data().map_err(err)?;
    }
    tracing::warn!(
        path = %path.display(),
        line,
        bytes = len - complete,
        "audit log: cut a torn final line (a write interrupted by a crash; under fsync = \"always\" \
         its records were never acknowledged)"
    );
    crate::metrics::audit_torn_tail_cut();
    Ok(complete)
}

fn open_live(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A file whose end cannot continue a chain.
enum TailError {
    Io(io::Error),
    Corrupt { line: u64, reason: String },
}

impl From<io::Error> for TailError {
    fn from(e: io::Error) -> TailError {
        TailError::Io(e)
    }
}

impl TailError {
    fn at(self, path: &Path) -> AuditError {
        match self {
            TailError::Io(e) => AuditError::open(path, e),
            TailError::Corrupt { line, reason } => AuditError::CorruptTail {
                path: path.to_owned(),
                line,
                reason,
            },
        }
    }
}

/// A signed chain's last checkpoint names this replica: a volume belongs to one replica id.
fn same_replica(
    signer: &Signer,
    ends: Option<&Ends>,
    file: &File,
    len: u64,
    path: &Path,
) -> Result<(), AuditError> {
    let Some(theirs) = ends.and_then(|e| e.replica.as_ref()) else {
        return Ok(());
    };
    if theirs == signer.replica() {
        return Ok(());
    }
    Err(AuditError::CorruptTail {
        path: path.to_owned(),
        line: count_newlines(file, len).map_err(|e| AuditError::open(path, e))?,
        reason: format!(
            "the chain in this file is replica {theirs:?}'s, and this gateway is {:?}: a volume \
             belongs to one replica id (give each pod a stable id, e.g. a StatefulSet's pod name)",
            signer.replica()
        ),
    })
}

/// Where the chain of the newest rotated file beside the live file `path` ends (`seq` and
/// hash), or the genesis when there is none.
fn rotated_chain_end(path: &Path) -> Result<(u64, String), AuditError> {
    let Some(rotated) = rotated_files(path)
        .map_err(|e| AuditError::open(path, e))?
        .pop()
    else {
        return Ok((0, GENESIS.to_owned()));
    };
    let f = File::open(&rotated).map_err(|e| AuditError::open(&rotated, e))?;
    let len = f
        .metadata()
        .map_err(|e| AuditError::open(&rotated, e))?
        .len();
    match read_ends(&f, len).map_err(|e| e.at(&rotated))? {
        Some(Ends { last, .. }) => Ok((last.seq, last.hash)),
        None => Err(AuditError::CorruptTail {
            path: rotated,
            line: 0,
            reason: "a rotated file is empty".into(),
        }),
    }
}

/// Where a file's chain ends.
struct Ends {
    /// The first record's seq.
    first: u64,
    /// The last record.
    last: Entry,
    /// Whether a checkpoint of `last` follows it.
    checkpointed: bool,
    /// The replica that checkpoint names.
    replica: Option<String>,
}

/// The first record's `seq`, the last record and whether a checkpoint of it ends the `len`
/// bytes of `file`, all checked; `None` for an empty file.
fn read_ends(file: &File, len: u64) -> Result<Option<Ends>, TailError> {
    if len == 0 {
        return Ok(None);
    }
    if read_at(file, len - 1, 1)?[0] != b'\n' {
        return Err(TailError::Corrupt {
            line: count_newlines(file, len)? + 1,
            reason: "the last line is cut short: no newline at its end (an interrupted write?)"
                .into(),
        });
    }
    let corrupt = |back: u64, reason: String| -> Result<TailError, TailError> {
        Ok(TailError::Corrupt {
            line: count_newlines(file, len)? - back,
            reason,
        })
    };
    let (mut start, mut bytes) = last_line(file, len - 1)?;
    let checkpoint = if is_checkpoint(&bytes) {
        let cp = match Checkpoint::parse(&bytes) {
            Ok(cp) => cp,
            Err(fault) => return Err(corrupt(0, fault.reason)?),
        };
        if start == 0 {
            return Err(corrupt(0, "a checkpoint with no record before it".into())?);
        }
        (start, bytes) = last_line(file, start - 1)?;
        Some(cp)
    } else {
        None
    };
    let back = u64::from(checkpoint.is_some());
    let last = match Entry::parse(&bytes) {
        Ok(entry) => entry,
        Err(fault) => return Err(corrupt(back, fault.reason)?),
    };
    if let Some(cp) = &checkpoint {
        if cp.checkpoint != last.seq || cp.hash != last.hash {
            return Err(corrupt(
                0,
                "the last checkpoint does not match the record before it".into(),
            )?);
        }
    }
    let checkpointed = checkpoint.is_some();
    let replica = checkpoint.map(|cp| cp.replica);
    if start == 0 {
        return Ok(Some(Ends {
            first: last.seq,
            last,
            checkpointed,
            replica,
        }));
    }
    let mut first_end = 0u64;
    while first_end < start {
        let n = (start - first_end).min(4096);
        let bytes = read_at(file, first_end, n)?;
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => {
                first_end += i as u64;
                break;
            }
            None => first_end += n,
        }
    }
    let first =
        Entry::parse(&read_at(file, 0, first_end)?).map_err(|fault| TailError::Corrupt {
            line: 1,
            reason: fault.reason,
        })?;
    Ok(Some(Ends {
        first: first.seq,
        last,
        checkpointed,
        replica,
    }))
}

/// The line that ends at byte `end` (its newline) of `file`: where it starts, and its bytes.
fn last_line(file: &File, end: u64) -> io::Result<(u64, Vec<u8>)> {
    let mut window = 4096u64;
    let start = loop {
        let from = end.saturating_sub(window);
        let bytes = read_at(file, from, end - from)?;
        if let Some(i) = bytes.iter().rposition(|&b| b == b'\n') {
            break from + i as u64 + 1;
        }
        if from == 0 {
            break 0;
        }
        window *= 2;
    };
    Ok((start, read_at(file, start, end - start)?))
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut f: &File = file;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len as usize];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

fn count_newlines(file: &File, len: u64) -> io::Result<u64> {
    let mut f: &File = file;
    f.seek(SeekFrom::Start(0))?;
    let mut reader = f.take(len);
    let mut buf = vec![0; 64 * 1024];
    let mut count = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuditRecord, CallOutcome};
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            request_id: "r".into(),
            caller: "c".into(),
            subject: "061211600012".into(),
            ..AuditRecord::new("GetPerson", CallOutcome::Found)
        }
    }

    /// A write that fails makes the log unwritable (readiness NOT_SERVING) without stopping
    /// it; the probe finds out when writing works again, and records go on in one chain.
    #[test]
    fn a_failed_write_is_unwritable_until_a_probe_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuditConfig {
            path: dir.path().join("audit.jsonl"),
            ..AuditConfig::default()
        };
        let mut writer = Writer::open(&config, None).unwrap();
        let writable = writer.writable();
        writer.commit(vec![Encoded::of(&record())]).unwrap();
        let len = writer.len;

        // The disk refuses writes (here: a handle that cannot write).
        writer.file = Some(File::open(&config.path).unwrap());
        let failed = writer.commit(vec![Encoded::of(&record())]);
        assert!(
            matches!(failed, Err(AuditError::Write { .. })),
            "{failed:?}"
        );
        writer.set_writable(failed.is_ok());
        assert!(!writable.load(Ordering::SeqCst));
        assert!(
            writer.stopped.is_none(),
            "a failed write alone does not stop the log"
        );
        assert!(!writer.probe(), "still cannot write");
        assert_eq!(std::fs::metadata(&config.path).unwrap().len(), len);

        // Writable again: the probe says so and leaves no trace.
        writer.file = Some(open_live(&config.path).unwrap());
        assert!(writer.probe());
        writer.set_writable(true);
        assert!(writable.load(Ordering::SeqCst));
        assert_eq!(std::fs::metadata(&config.path).unwrap().len(), len);
        writer.commit(vec![Encoded::of(&record())]).unwrap();
        drop(writer);
        let report = super::super::verify(std::slice::from_ref(&config.path)).unwrap();
        assert_eq!(report.records, 2);
    }
}
