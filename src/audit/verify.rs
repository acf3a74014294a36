//! The verifier, and the files of one chain.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::format::{peek_seq, Entry, GENESIS};

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub files: usize,
    pub records: u64,
    /// The last record's hash (the genesis hash for an empty chain): anchor it elsewhere to
    /// detect records later cut from the end.
    pub last_hash: String,
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

/// Checks `paths` as one chain, oldest first (see [`chain_files`]): every line a canonical
/// record whose hash matches, the first record seq 1 with the genesis `prev`, then each
/// `seq` one more than the last and each `prev` the hash of the record before, across files.
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, Broken> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1u64;
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
            let entry = Entry::parse(&buf).map_err(|f| broken(line, f.seq, f.reason))?;
            if entry.seq != expected {
                let why = if entry.seq > expected {
                    "records are missing before it"
                } else {
                    "a record is repeated or inserted"
                };
                return Err(broken(
                    line,
                    Some(entry.seq),
                    format!("seq {} where {expected} was expected: {why}", entry.seq),
                ));
            }
            if entry.prev != prev {
                let reason = if expected == 1 {
                    "prev is not the genesis hash: the chain does not start here".to_owned()
                } else {
                    format!(
                        "prev does not match the hash of seq {}: records inserted, removed or reordered",
                        expected - 1
                    )
                };
                return Err(broken(line, Some(entry.seq), reason));
            }
            prev = entry.hash;
            expected += 1;
        }
    }
    Ok(VerifyReport {
        files: paths.len(),
        records: expected - 1,
        last_hash: prev,
    })
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
