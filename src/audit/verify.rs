//! The verifier, and the files of one chain.
//!
//! [`Chain`] checks lines in chain order, wherever they come from (files here, PostgreSQL in
//! [`super::postgres`]): records as the module doc says, and checkpoints against the chain
//! and, given public keys, their signatures.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::checkpoint::{is_checkpoint, Checkpoint, PublicKey};
use super::format::{peek_seq, Entry, Fault, GENESIS};
use super::timestamp::{self, Stamp, TsaCert};

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub files: usize,
    pub records: u64,
    /// The last record's hash (the genesis hash for an empty chain): anchor it elsewhere to
    /// detect records later cut from the end.
    pub last_hash: String,
    /// Checkpoints found, and the seq of the last one.
    pub checkpoints: u64,
    pub last_checkpoint: Option<u64>,
    /// Whether every checkpoint's signature was checked (public keys were given).
    pub signed: bool,
    /// Checkpoints with a time-stamp token, and whether the tokens were verified (TSA
    /// certificates were given).
    pub timestamped: u64,
    pub timestamps_checked: bool,
    /// The first and the last time-stamped checkpoint (seq) and what their tokens prove
    /// (with TSA certificates).
    pub first_timestamp: Option<(u64, Stamp)>,
    pub last_timestamp: Option<(u64, Stamp)>,
}

/// The first broken record: `line` is 1-based (0 when the file itself cannot be read);
/// `seq` is the record's own `seq` when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}, line {}{}: {}", .file.display(), .line, .seq.map(|s| format!(" (seq {s})")).unwrap_or_default(), .reason)]
pub struct Broken {
    pub file: PathBuf,
    pub line: u64,
    pub seq: Option<u64>,
    pub reason: String,
}

/// One chain's lines, checked as they come (see [`Chain::push`]).
pub(super) struct Chain<'k> {
    keys: &'k [PublicKey],
    /// Time-stamp tokens are verified against these (none: not verified).
    tsa: &'k [TsaCert],
    timestamped: u64,
    first_timestamp: Option<(u64, Stamp)>,
    last_timestamp: Option<(u64, Stamp)>,
    /// The replica every checkpoint must name (the first one's, when not fixed).
    replica: Option<String>,
    expected: u64,
    prev: String,
    checkpoints: u64,
    last_checkpoint: Option<u64>,
}

impl<'k> Chain<'k> {
    /// An empty chain. With `keys`, every checkpoint's signature is checked, and the chain
    /// must end with a checkpoint; `replica`, when given, is the one checkpoints must name.
    pub fn new(keys: &'k [PublicKey], replica: Option<&str>) -> Chain<'k> {
        Chain {
            keys,
            tsa: &[],
            timestamped: 0,
            first_timestamp: None,
            last_timestamp: None,
            replica: replica.map(str::to_owned),
            expected: 1,
            prev: GENESIS.to_owned(),
            checkpoints: 0,
            last_checkpoint: None,
        }
    }

    /// Verifies time-stamp tokens against `tsa` (when not empty).
    pub fn with_tsa(mut self, tsa: &'k [TsaCert]) -> Chain<'k> {
        self.tsa = tsa;
        self
    }

    /// Checks the next line (without its newline): a record continuing the chain, or a
    /// checkpoint of the record just before it. Returns its seq.
    pub fn push(&mut self, line: &[u8]) -> Result<u64, Fault> {
        if is_checkpoint(line) {
            self.checkpoint(Checkpoint::parse(line)?)
        } else {
            self.record(Entry::parse(line)?)
        }
    }

    fn record(&mut self, entry: Entry) -> Result<u64, Fault> {
        let fault = |reason: String| Fault {
            seq: Some(entry.seq),
            reason,
        };
        let expected = self.expected;
        if entry.seq != expected {
            let why = if entry.seq > expected {
                "records are missing before it"
            } else {
                "a record is repeated or inserted"
            };
            return Err(fault(format!(
                "seq {} where {expected} was expected: {why}",
                entry.seq
            )));
        }
        if entry.prev != self.prev {
            return Err(fault(if expected == 1 {
                "prev is not the genesis hash: the chain does not start here".to_owned()
            } else {
                format!(
                    "prev does not match the hash of seq {}: records inserted, removed or reordered",
                    expected - 1
                )
            }));
        }
        self.prev = entry.hash;
        self.expected += 1;
        Ok(entry.seq)
    }

    fn checkpoint(&mut self, cp: Checkpoint) -> Result<u64, Fault> {
        let seq = cp.checkpoint;
        let fault = |reason: String| Fault {
            seq: Some(seq),
            reason,
        };
        let head = self.expected - 1;
        if seq != head {
            return Err(fault(if seq > head {
                format!(
                    "a checkpoint for seq {seq} follows seq {head}: records {}..={seq} were cut",
                    head + 1
                )
            } else {
                format!("a checkpoint for seq {seq} after seq {head}: out of place")
            }));
        }
        match &self.replica {
            Some(replica) if *replica != cp.replica => {
                return Err(fault(format!(
                    "a checkpoint of replica {:?} in the chain of {replica:?}",
                    cp.replica
                )))
            }
            Some(_) => {}
            None => self.replica = Some(cp.replica.clone()),
        }
        if !self.keys.is_empty() {
            cp.check_signature(self.keys).map_err(fault)?;
        }
        if cp.hash != self.prev {
            return Err(fault(format!(
                "the hash of seq {seq} differs from its signed checkpoint: records up to it were altered and the chain recomputed"
            )));
        }
        self.timestamp(&cp).map_err(fault)?;
        self.checkpoints += 1;
        self.last_checkpoint = Some(seq);
        Ok(seq)
    }

    /// Verifies the checkpoint's time-stamp token, if it has one and TSA certificates were
    /// given.
    fn timestamp(&mut self, cp: &Checkpoint) -> Result<(), String> {
        let Some(tst) = &cp.tst else { return Ok(()) };
        self.timestamped += 1;
        if self.tsa.is_empty() {
            return Ok(());
        }
        let token = timestamp::decode(tst)?;
        let stamp = timestamp::verify_token(&token, &cp.signed_hash(), self.tsa)
            .map_err(|reason| format!("time-stamp token: {reason}"))?;
        let stamped = Some((cp.checkpoint, stamp));
        if self.first_timestamp.is_none() {
            self.first_timestamp.clone_from(&stamped);
        }
        self.last_timestamp = stamped;
        Ok(())
    }

    /// The chain's end: with keys, every record must be covered by a checkpoint.
    pub fn finish(&self) -> Result<(), Fault> {
        let records = self.expected - 1;
        if self.keys.is_empty() || records == 0 {
            return Ok(());
        }
        let covered = self.last_checkpoint.unwrap_or(0);
        if covered < records {
            return Err(Fault {
                seq: Some(covered + 1),
                reason: match self.last_checkpoint {
                    None => "no signed checkpoint in the chain: it cannot be authenticated (recomputed without the key, or written unsigned)".into(),
                    Some(c) => format!(
                        "records {}..={records} come after the last signed checkpoint (seq {c}): added after it, or recomputed without the key",
                        c + 1
                    ),
                },
            });
        }
        Ok(())
    }

    pub fn records(&self) -> u64 {
        self.expected - 1
    }

    pub fn report(&self, files: usize) -> VerifyReport {
        VerifyReport {
            files,
            records: self.records(),
            last_hash: self.prev.clone(),
            checkpoints: self.checkpoints,
            last_checkpoint: self.last_checkpoint,
            signed: !self.keys.is_empty(),
            timestamped: self.timestamped,
            timestamps_checked: !self.tsa.is_empty(),
            first_timestamp: self.first_timestamp.clone(),
            last_timestamp: self.last_timestamp.clone(),
        }
    }
}

/// Checks `paths` as one chain, oldest first (see [`chain_files`]): every line a canonical
/// record whose hash matches, the first record seq 1 with the genesis `prev`, then each
/// `seq` one more than the last and each `prev` the hash of the record before, across files;
/// every checkpoint consistent with the chain. Signatures are not checked: see
/// [`verify_signed`].
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, Broken> {
    verify_signed(paths, &[])
}

/// [`verify`], and every checkpoint signed by one of `keys`, the last one covering the last
/// record (when `keys` is not empty).
pub fn verify_signed(paths: &[PathBuf], keys: &[PublicKey]) -> Result<VerifyReport, Broken> {
    verify_stamped(paths, keys, &[])
}

/// [`verify_signed`], and every checkpoint's time-stamp token verified against `tsa` (when
/// not empty).
pub fn verify_stamped(
    paths: &[PathBuf],
    keys: &[PublicKey],
    tsa: &[TsaCert],
) -> Result<VerifyReport, Broken> {
    let mut chain = Chain::new(keys, None).with_tsa(tsa);
    let mut last = None;
    for path in paths {
        let broken = |line: u64, seq: Option<u64>, reason: String| Broken {
            file: path.clone(),
            line,
            seq,
            reason,
        };
        let file = File::open(path).map_err(|e| broken(0, None, format!("cannot open: {e}")))?;
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| broken(line + 1, None, format!("cannot read: {e}")))?;
            if read == 0 {
                break;
            }
            line += 1;
            if buf.last() != Some(&b'\n') {
                return Err(broken(
                    line,
                    peek_seq(&buf),
                    "the line is cut short: no newline at its end (truncated or interrupted write)"
                        .into(),
                ));
            }
            buf.pop();
            chain
                .push(&buf)
                .map_err(|f| broken(line, f.seq, f.reason))?;
        }
        last = Some((path, line));
    }
    chain.finish().map_err(|f| {
        let (file, line) = last.map_or((PathBuf::new(), 0), |(p, l)| (p.clone(), l));
        Broken {
            file,
            line,
            seq: f.seq,
            reason: f.reason,
        }
    })?;
    Ok(chain.report(paths.len()))
}

/// The chain of `live`, oldest first: its rotated files (`<stem>-<12 digits>[.<ext>]` in
/// the same directory, in lexical = seq order), then `live` itself if it exists.
pub fn chain_files(live: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = rotated_files(live)?;
    if live.exists() {
        files.push(live.to_owned());
    }
    Ok(files)
}

/// The rotated files beside `live`, oldest first.
pub(super) fn rotated_files(live: &Path) -> io::Result<Vec<PathBuf>> {
    let (stem, ext) = stem_ext(live)?;
    let dir = parent(live);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(stem.as_str()) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix('-') else {
            continue;
        };
        let digits = match &ext {
            Some(ext) => match rest
                .strip_suffix(ext.as_str())
                .and_then(|r| r.strip_suffix('.'))
            {
                Some(digits) => digits,
                None => continue,
            },
            None => rest,
        };
        if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// Where `live` goes when rotated, its first record being `first_seq`.
pub(super) fn rotated_path(live: &Path, first_seq: u64) -> io::Result<PathBuf> {
    let (stem, ext) = stem_ext(live)?;
    let name = match ext {
        Some(ext) => format!("{stem}-{first_seq:012}.{ext}"),
        None => format!("{stem}-{first_seq:012}"),
    };
    Ok(parent(live).join(name))
}

/// The directory of `path` (`.` for a bare file name).
pub(super) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn stem_ext(live: &Path) -> io::Result<(String, Option<String>)> {
    let utf8 = |s: Option<&std::ffi::OsStr>| s.and_then(|s| s.to_str()).map(str::to_owned);
    let stem = utf8(live.file_stem()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a UTF-8 file name", live.display()),
        )
    })?;
    Ok((stem, utf8(live.extension())))
}
