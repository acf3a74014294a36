//! The local chain read from a given record on: what the shipper sends to PostgreSQL.
//!
//! The files are the spool: the writer appends, the shipper reads behind it (never past the
//! last record the writer published, so never a line the writer might still cut back), and
//! follows the chain from a rotated file into the next.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checkpoint::is_checkpoint;
use super::verify::{chain_files, rotated_files};

/// One line of the chain, as the shipper sends it.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// The record's seq, or the seq a checkpoint covers.
    pub seq: u64,
    /// `None` for a checkpoint.
    pub record: Option<RecordHead>,
    /// The line without its newline.
    pub text: String,
}

/// The fields of a record the shipper needs apart.
#[derive(Debug, Clone)]
pub(super) struct RecordHead {
    pub time: String,
    pub prev: String,
    pub hash: String,
    /// The digests of the answers archived with the record (`registries[].evidence`).
    pub evidence: Vec<String>,
}

#[derive(Deserialize)]
struct PeekRecord<'a> {
    seq: u64,
    time: &'a str,
    prev: &'a str,
    hash: &'a str,
    #[serde(default)]
    registries: Vec<PeekUse>,
}

#[derive(Deserialize)]
struct PeekUse {
    #[serde(default)]
    evidence: Option<String>,
}

#[derive(Deserialize)]
struct PeekCheckpoint {
    checkpoint: u64,
}

/// Reads one line's seq and head fields.
fn peek(bytes: &[u8]) -> Result<Line, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "a line is not UTF-8".to_owned())?;
    if is_checkpoint(bytes) {
        let cp: PeekCheckpoint =
            serde_json::from_str(text).map_err(|e| format!("a checkpoint line: {e}"))?;
        return Ok(Line {
            seq: cp.checkpoint,
            record: None,
            text: text.to_owned(),
        });
    }
    let r: PeekRecord = serde_json::from_str(text).map_err(|e| format!("a record line: {e}"))?;
    Ok(Line {
        seq: r.seq,
        record: Some(RecordHead {
            time: r.time.to_owned(),
            prev: r.prev.to_owned(),
            hash: r.hash.to_owned(),
            evidence: r
                .registries
                .into_iter()
                .filter_map(|u| u.evidence)
                .collect(),
        }),
        text: text.to_owned(),
    })
}

/// A reading position in the chain of one live file.
pub(super) struct Spool {
    live: PathBuf,
    path: PathBuf,
    file: File,
    /// (device, inode) of `file`: a rename (rotation) keeps it.
    id: (u64, u64),
    offset: u64,
    buf: Vec<u8>,
}

/// Bytes read at a time.
const CHUNK: usize = 256 * 1024;

impl Spool {
    /// Positioned right after record `seq`, whose hash must be `hash` (seq 0: at the start of
    /// the oldest file). When the files no longer hold record `seq`, the first record they
    /// hold must be the next one, chained to `hash`.
    pub fn after(live: &Path, seq: u64, hash: &str) -> Result<Spool, String> {
        let files = chain_files(live).map_err(|e| format!("{}: {e}", live.display()))?;
        let mut starts = Vec::new();
        for path in &files {
            starts.push(first_seq(path, path == live)?);
        }
        let index = starts
            .iter()
            .rposition(|s| s.is_some_and(|s| s <= seq.max(1)))
            .unwrap_or(0);
        let Some(path) = files.get(index) else {
            return Err(format!("{}: no audit file to ship from", live.display()));
        };
        let mut spool = Spool::open(live, path)?;
        if seq == 0 {
            return Ok(spool);
        }
        loop {
            let before = spool.offset;
            let lines = spool.read_here(u64::MAX, 1024)?;
            if lines.is_empty() {
                // The files end before `seq` (their tail is in PostgreSQL only: checked at
                // open): the writer goes on from the store's end, here.
                return Ok(spool);
            }
            let mut at = before;
            for line in lines {
                let end = at + line.text.len() as u64 + 1;
                if let Some(head) = &line.record {
                    if line.seq == seq {
                        if head.hash != hash {
                            return Err(fork(seq));
                        }
                        spool.offset = end;
                        return Ok(spool);
                    }
                    if line.seq > seq {
                        if line.seq == seq + 1 && head.prev == hash {
                            spool.offset = at;
                            return Ok(spool);
                        }
                        return Err(fork(seq));
                    }
                }
                at = end;
            }
        }
    }

    fn open(live: &Path, path: &Path) -> Result<Spool, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Spool {
            live: live.to_owned(),
            path: path.to_owned(),
            file,
            id: (meta.dev(), meta.ino()),
            offset: 0,
            buf: vec![0; CHUNK],
        })
    }

    /// The complete lines past the position, records up to seq `until`, at most `max`
    /// lines; moves on to the next file of the chain when this one is done.
    pub fn read(&mut self, until: u64, max: usize) -> Result<Vec<Line>, String> {
        loop {
            let lines = self.read_here(until, max)?;
            if !lines.is_empty() || !self.next_file()? {
                return Ok(lines);
            }
        }
    }

    fn read_here(&mut self, until: u64, max: usize) -> Result<Vec<Line>, String> {
        let mut lines = Vec::new();
        let mut buf = std::mem::take(&mut self.buf);
        let result = loop {
            let n = match self.file.read_at(&mut buf, self.offset) {
                Ok(n) => n,
                Err(e) => break Err(format!("{}: {e}", self.path.display())),
            };
            let mut consumed = 0;
            let mut stop = false;
            let mut bad = None;
            for bytes in buf[..n].split_inclusive(|&b| b == b'\n') {
                if bytes.last() != Some(&b'\n') {
                    break; // a line still being written
                }
                let line = match peek(&bytes[..bytes.len() - 1]) {
                    Ok(line) => line,
                    Err(e) => {
                        bad = Some(format!("{}: {e}", self.path.display()));
                        break;
                    }
                };
                if line.seq > until {
                    stop = true;
                    break;
                }
                consumed += bytes.len();
                lines.push(line);
                if lines.len() >= max {
                    stop = true;
                    break;
                }
            }
            self.offset += consumed as u64;
            if let Some(bad) = bad {
                break Err(bad);
            }
            if stop || n < buf.len() {
                break Ok(lines);
            }
            if consumed == 0 {
                // One line longer than the buffer.
                buf.resize(buf.len() * 2, 0);
            }
        };
        self.buf = buf;
        result
    }

    /// Moves to the file after this one in the chain, if there is one (this one was rotated
    /// away: it is complete).
    fn next_file(&mut self) -> Result<bool, String> {
        let files = chain_files(&self.live).map_err(|e| format!("{}: {e}", self.live.display()))?;
        let mut ids = Vec::new();
        for path in &files {
            match std::fs::metadata(path) {
                Ok(meta) => ids.push((meta.dev(), meta.ino())),
                Err(_) => ids.push((0, 0)),
            }
        }
        let Some(index) = ids.iter().position(|id| *id == self.id) else {
            return Ok(false);
        };
        match files.get(index + 1) {
            Some(next) => {
                *self = Spool::open(&self.live, next)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn fork(seq: u64) -> String {
    format!(
        "the local chain and PostgreSQL differ at seq {seq}: two chains under one replica id \
         (each replica needs its own id, e.g. its pod name)"
    )
}

/// The seq of a file's first record (`None`: empty): from the name of a rotated file, from
/// its first line for the live one.
fn first_seq(path: &Path, live: bool) -> Result<Option<u64>, String> {
    if !live {
        return Ok(rotated_seq(path));
    }
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = file
        .read_at(&mut buf, 0)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match buf[..n].iter().position(|&b| b == b'\n') {
        Some(end) => Ok(Some(
            peek(&buf[..end])
                .map_err(|e| format!("{}: {e}", path.display()))?
                .seq,
        )),
        None => Ok(None),
    }
}

/// The first seq a rotated file's name gives (`audit-000000000042.jsonl`).
fn rotated_seq(path: &Path) -> Option<u64> {
    let stem = path.file_stem()?.to_str()?;
    let digits = stem.get(stem.len().checked_sub(12)?..)?;
    let dash = stem.get(..stem.len() - 12)?;
    if !dash.ends_with('-') {
        return None;
    }
    digits.parse().ok()
}

/// Removes the rotated files whose every line is in PostgreSQL (`shipped` is the last record
/// there), except the newest, whose last record a restarted writer continues from. Returns
/// how many it removed.
pub(super) fn remove_shipped(live: &Path, shipped: u64) -> std::io::Result<usize> {
    let rotated = rotated_files(live)?;
    let mut removed = 0;
    for pair in rotated.windows(2) {
        let next_first = rotated_seq(&pair[1]).unwrap_or(u64::MAX);
        if next_first <= shipped {
            std::fs::remove_file(&pair[0])?;
            removed += 1;
        }
    }
    Ok(removed)
}
