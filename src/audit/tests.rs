use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::format::{Entry, GENESIS};
use super::writer::{collect, Msg};
use super::*;
use crate::registry::Registry;

const IIN: &str = "860314310210";

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        request_id: format!("req-{i}"),
        caller: "iis-tson".into(),
        rpc: "CheckOwner".into(),
        subject: IIN.into(),
        applicant: if i.is_multiple_of(2) {
            "880702431094".into()
        } else {
            String::new()
        },
        decision_date: "2026-11-25".into(),
        purpose: "REGISTRATION_AT_RESIDENCE".into(),
        consent: CONSENT_PRESENTED.into(),
        consent_ref: if i.is_multiple_of(2) {
            format!("kdp#{i:032x}")
        } else {
            String::new()
        },
        outcome: if i.is_multiple_of(2) {
            CallOutcome::Online
        } else {
            CallOutcome::Failed(tonic::Code::PermissionDenied)
        },
        registries: vec![
            RegistryUse {
                registry: Registry::GbdFl,
                status: RegistryOutcome::Found,
                from_cache: i.is_multiple_of(3),
                stale: false,
                evidence: None,
            },
            RegistryUse {
                registry: Registry::Zags,
                status: RegistryOutcome::Unavailable,
                from_cache: false,
                stale: false,
                evidence: None,
            },
        ],
        count: None,
        decision: None,
        envelopes: Vec::new(),
    }
}

fn config(dir: &Path) -> AuditConfig {
    AuditConfig {
        path: dir.join("audit/audit.jsonl"),
        ..AuditConfig::default()
    }
}

/// Opens the log of `config` (which continues or repairs its chain) and closes it.
async fn open_and_close(config: &AuditConfig) {
    AuditLog::open(config).await.unwrap().close().await.unwrap();
}

/// Appends records `from..=to` (their `seq` when the log is fresh), one batch each.
async fn append(config: &AuditConfig, from: u64, to: u64) {
    let log = AuditLog::open(config).await.unwrap();
    for i in from..=to {
        log.append(record(i)).await.unwrap();
    }
    log.close().await.unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn entry(line: &str) -> Entry {
    Entry::parse(line.as_bytes()).unwrap()
}

fn verify_live(config: &AuditConfig) -> Result<VerifyReport, Broken> {
    verify(&chain_files(&config.path).unwrap())
}

/// A six-record log, for the tampering tests.
async fn six(dir: &Path) -> AuditConfig {
    let config = config(dir);
    append(&config, 1, 6).await;
    assert_eq!(verify_live(&config).unwrap().records, 6);
    config
}

fn assert_broken(broken: Broken, file: &Path, line: u64, seq: Option<u64>, reason: &str) {
    assert_eq!(broken.file, file, "{broken}");
    assert_eq!((broken.line, broken.seq), (line, seq), "{broken}");
    assert!(broken.reason.contains(reason), "{broken}");
    assert!(!broken.to_string().contains(IIN), "{broken}");
}

#[tokio::test]
async fn appended_records_verify_and_reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    append(&config, 1, 5).await;
    let report = verify_live(&config).unwrap();
    assert_eq!((report.files, report.records), (1, 5));

    let first = lines(&config.path);
    let entries: Vec<Entry> = first.iter().map(|l| entry(l)).collect();
    assert_eq!(entries[0].prev, GENESIS);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert_eq!(e.request_id, format!("req-{}", i + 1));
        assert_eq!(e.subject, IIN, "the audit log holds the IIN in the clear");
        if i > 0 {
            assert_eq!(e.prev, entries[i - 1].hash);
        }
    }
    assert_eq!(report.last_hash, entries[4].hash);

    append(&config, 6, 8).await;
    let report = verify_live(&config).unwrap();
    assert_eq!((report.files, report.records), (1, 8));
    let all = lines(&config.path);
    assert_eq!(all[..5], first[..], "earlier lines are untouched");
    let sixth = entry(&all[5]);
    assert_eq!(
        (sixth.seq, sixth.prev.as_str()),
        (6, entries[4].hash.as_str())
    );
}

#[tokio::test]
async fn the_line_format_and_hash_are_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    append(&config, 1, 2).await;
    let line = &lines(&config.path)[1];
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    let mut expected = vec![
        "seq",
        "time",
        "prev",
        "request_id",
        "caller",
        "rpc",
        "subject",
        "applicant",
        "decision_date",
        "purpose",
        "consent",
        "consent_ref",
        "outcome",
        "registries",
        "hash",
    ];
    expected.sort();
    assert_eq!(sorted, expected);
    assert!(
        line.contains(
            r#""purpose":"REGISTRATION_AT_RESIDENCE","consent":"presented","consent_ref":"kdp#"#
        ),
        "{line}"
    );
    assert!(line.starts_with(r#"{"seq":2,"time":"20"#), "{line}");
    let registries = r#""registries":[{"registry":"gbd_fl","status":"found","from_cache":false,"stale":false},{"registry":"zags","status":"unavailable","from_cache":false,"stale":false}],"hash":""#;
    assert!(line.contains(registries), "{line}");
    let time = value["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok()
            && time.len() == "2026-11-25T18:40:00.123+05:00".len()
            && time.ends_with("+05:00"),
        "{time}"
    );

    // hash = hex SHA-256 of the line without its `,"hash":"…"` member.
    let hash = value["hash"].as_str().unwrap();
    let body = line.replace(&format!(r#","hash":"{hash}""#), "");
    let digest: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, hash);
    assert!(body.contains(&format!(
        r#""prev":"{}""#,
        entry(&lines(&config.path)[0]).hash
    )));
}

/// Six records written, their lines edited by `edit`, then verified: the first broken line
/// must be `line` (1-based), with record `seq`, for `reason`.
async fn assert_edit_found(
    edit: impl FnOnce(&mut Vec<String>),
    line: u64,
    seq: Option<u64>,
    reason: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = six(dir.path()).await;
    let mut all = lines(&config.path);
    edit(&mut all);
    write_lines(&config.path, &all);
    let broken = verify_live(&config).unwrap_err();
    assert_broken(broken, &config.path, line, seq, reason);
}

#[tokio::test]
async fn an_edited_field_is_found_at_its_line() {
    let edit = |all: &mut Vec<String>| {
        assert!(all[2].contains("PermissionDenied"));
        all[2] = all[2].replace("PermissionDenied", "OPERATIONAL_HALL");
    };
    assert_edit_found(edit, 3, Some(3), "hash does not match").await;
}

#[tokio::test]
async fn an_edited_and_rehashed_record_is_found_at_the_next_line() {
    let edit = |all: &mut Vec<String>| {
        let mut e = entry(&all[2]);
        e.outcome = "OPERATIONAL_HALL".into();
        e.hash = e.digest();
        all[2] = String::from_utf8(e.to_line())
            .unwrap()
            .trim_end()
            .to_owned();
    };
    assert_edit_found(edit, 4, Some(4), "prev does not match").await;
}

#[tokio::test]
async fn an_inserted_copy_is_found() {
    let copy_of = |i: usize| move |all: &mut Vec<String>| all.insert(4, all[i].clone());
    assert_edit_found(copy_of(1), 5, Some(2), "seq 2 where 5 was expected").await;
    // A copy of the record just before, right after it.
    assert_edit_found(copy_of(3), 5, Some(4), "repeated or inserted").await;
}

#[tokio::test]
async fn a_deleted_line_is_found() {
    let edit = |all: &mut Vec<String>| {
        all.remove(2);
    };
    assert_edit_found(edit, 3, Some(4), "missing").await;
}

#[tokio::test]
async fn a_reformatted_line_is_found() {
    let edit = |all: &mut Vec<String>| {
        all[1] = all[1].replacen(r#""seq":2,"#, r#""seq": 2,"#, 1);
    };
    assert_edit_found(edit, 2, Some(2), "canonical").await;
}

#[tokio::test]
async fn a_torn_last_line_is_cut_at_open_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = six(dir.path()).await;
    let bytes = std::fs::read(&config.path).unwrap();
    let five = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;

    // Cut inside the last line (a crash mid-write): the verifier names it...
    std::fs::write(&config.path, &bytes[..bytes.len() - 20]).unwrap();
    let broken = verify_live(&config).unwrap_err();
    assert_broken(broken, &config.path, 6, None, "cut short");
    // ... and open cuts it off (never acknowledged) and continues after line 5.
    let log = AuditLog::open(&config).await.unwrap();
    log.close().await.unwrap();
    assert_eq!(std::fs::read(&config.path).unwrap(), bytes[..five]);
    append(&config, 6, 7).await;
    assert_eq!(verify_live(&config).unwrap().records, 7);

    // Only the newline missing: the same.
    std::fs::write(&config.path, &bytes[..bytes.len() - 1]).unwrap();
    open_and_close(&config).await;
    assert_eq!(std::fs::read(&config.path).unwrap(), bytes[..five]);

    // Corruption before the torn tail still refuses: line 5, now the last, was edited.
    let mut edited = bytes[..five].to_vec();
    let at = edited.len() - 40;
    edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
    edited.extend_from_slice(&bytes[five..bytes.len() - 20]);
    std::fs::write(&config.path, &edited).unwrap();
    let err = AuditLog::open(&config).await.unwrap_err();
    assert!(
        matches!(&err, AuditError::CorruptTail { path, line: 5, .. } if path == &config.path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&config.path.display().to_string()) && message.contains("line 5"));
    assert!(!message.contains(IIN), "{message}");

    // Restored, the chain continues.
    std::fs::write(&config.path, &bytes).unwrap();
    append(&config, 7, 7).await;
    assert_eq!(verify_live(&config).unwrap().records, 7);
}

#[tokio::test]
async fn an_edited_last_line_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = six(dir.path()).await;
    let mut all = lines(&config.path);
    all[5] = all[5].replacen(r#""seq":6"#, &format!(r#""seq":"{IIN}""#), 1);
    write_lines(&config.path, &all);
    let err = AuditLog::open(&config).await.unwrap_err();
    assert!(
        matches!(err, AuditError::CorruptTail { line: 6, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(IIN), "{err}");
    let broken = verify_live(&config).unwrap_err();
    assert_broken(broken, &config.path, 6, None, "not an audit record");
}

/// 40 records in `dir`, in a log rotated at the smallest size: its configuration and its
/// files (three or more) in chain order.
async fn rotated_forty(dir: &Path) -> (AuditConfig, Vec<PathBuf>) {
    let config = AuditConfig {
        rotate_bytes: AuditConfig::MIN_ROTATE_BYTES,
        ..config(dir)
    };
    append(&config, 1, 40).await;
    let files = chain_files(&config.path).unwrap();
    assert!(files.len() >= 3, "{files:?}");
    (config, files)
}

#[tokio::test]
async fn rotation_keeps_the_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let (config, files) = rotated_forty(dir.path()).await;
    assert_eq!(files.last().unwrap(), &config.path);
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        "audit-000000000001.jsonl"
    );
    let mut last_hash = GENESIS.to_owned();
    for file in &files {
        let entries: Vec<Entry> = lines(file).iter().map(|l| entry(l)).collect();
        if entries.is_empty() {
            assert_eq!(
                file, &config.path,
                "only the live file may be empty (just rotated)"
            );
            continue;
        }
        assert_eq!(entries[0].prev, last_hash, "{file:?} continues the chain");
        if file != &config.path {
            let name = file.file_name().unwrap().to_str().unwrap();
            assert_eq!(name, format!("audit-{:012}.jsonl", entries[0].seq));
            let size = std::fs::metadata(file).unwrap().len();
            assert!(
                size > config.rotate_bytes,
                "rotated after passing the limit"
            );
        }
        last_hash = entries.last().unwrap().hash.clone();
    }
    let report = verify(&files).unwrap();
    assert_eq!((report.files, report.records), (files.len(), 40));
    assert_eq!(report.last_hash, last_hash);

    // Reopened, it goes on.
    append(&config, 41, 45).await;
    assert_eq!(verify_live(&config).unwrap().records, 45);

    // Something else beside it is not part of the chain.
    let files = chain_files(&config.path).unwrap();
    for other in [
        "audit-1.jsonl",
        "other-000000000001.jsonl",
        "audit-000000000001.json",
    ] {
        std::fs::write(dir.path().join("audit").join(other), "x\n").unwrap();
    }
    assert_eq!(chain_files(&config.path).unwrap(), files);
}

#[tokio::test]
async fn a_removed_middle_file_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (config, files) = rotated_forty(dir.path()).await;
    std::fs::remove_file(&files[1]).unwrap();
    let next_seq = entry(&lines(&files[2])[0]).seq;
    let broken = verify_live(&config).unwrap_err();
    assert_broken(broken, &files[2], 1, Some(next_seq), "missing");

    // The first file gone: the chain does not start at genesis.
    let rest: Vec<PathBuf> = files[2..].to_vec();
    let broken = verify(&rest).unwrap_err();
    assert_broken(broken, &files[2], 1, Some(next_seq), "seq");
}

#[tokio::test]
async fn a_fresh_live_file_continues_the_newest_rotated_file() {
    // As after a crash between renaming the live file and creating the next one.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    append(&config, 1, 3).await;
    std::fs::rename(
        &config.path,
        config.path.with_file_name("audit-000000000001.jsonl"),
    )
    .unwrap();
    append(&config, 4, 5).await;
    let files = chain_files(&config.path).unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(verify(&files).unwrap().records, 5);
    assert_eq!(entry(&lines(&config.path)[0]).seq, 4);
}

#[tokio::test]
async fn a_failed_write_fails_append() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        return;
    }
    let config = AuditConfig {
        path: full.to_owned(),
        ..AuditConfig::default()
    };
    let log = AuditLog::open(&config).await.unwrap();
    let err = log.append(record(1)).await.unwrap_err();
    assert!(matches!(err, AuditError::Write { .. }), "{err:?}");
    assert!(err.to_string().contains("/dev/full"), "{err}");
    assert!(!err.to_string().contains(IIN));
    // Later appends keep failing: never an acknowledgement without a written record.
    for i in 2..5 {
        assert!(log.append(record(i)).await.is_err());
    }
    let _ = log.close().await;
}

#[tokio::test]
async fn open_fails_clearly_where_no_file_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("audit/audit.jsonl");
    let err = AuditLog::open(&AuditConfig {
        path: path.clone(),
        ..AuditConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, AuditError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    // A directory where the file should be.
    std::fs::create_dir_all(dir.path().join("d/audit.jsonl")).unwrap();
    let err = AuditLog::open(&AuditConfig {
        path: dir.path().join("d/audit.jsonl"),
        ..AuditConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, AuditError::Open { .. }), "{err:?}");

    let err = AuditLog::open(&AuditConfig {
        rotate_bytes: 10,
        ..config(dir.path())
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            AuditError::Config(crate::validate::Invalid { ref key, .. }) if key == "rotate_bytes"
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_all_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let log = AuditLog::open(&config).await.unwrap();
    let tasks: Vec<_> = (1..=100)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(record(i)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    log.close().await.unwrap();
    assert_eq!(verify_live(&config).unwrap().records, 100);
    let ids: BTreeSet<String> = lines(&config.path)
        .iter()
        .map(|l| entry(l).request_id)
        .collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn queued_records_are_taken_as_one_batch() {
    let slots = Arc::new(Semaphore::new(2000));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut acks = Vec::new();
    let mut push = |i: u64| {
        let (ack, done) = tokio::sync::oneshot::channel();
        let slot = slots.clone().try_acquire_owned().unwrap();
        tx.send(Msg::Append {
            record: super::format::Encoded::of(&record(i)),
            ack,
            slot,
        })
        .unwrap();
        acks.push(done);
    };
    for i in 1..=5 {
        push(i);
    }
    let (close, _closed) = tokio::sync::oneshot::channel();
    tx.send(Msg::Close { ack: close }).unwrap();
    push(6);

    let first = rx.recv().unwrap();
    let (batch, close) = collect(first, &rx);
    assert_eq!(batch.records.len(), 5);
    assert!(
        close.is_some(),
        "a close ends the batch and is served after it"
    );
    let first = rx.recv().unwrap();
    let (batch, close) = collect(first, &rx);
    assert_eq!((batch.records.len(), close.is_none()), (1, true));

    for i in 0..(MAX_BATCH as u64 + 10) {
        push(i);
    }
    let first = rx.recv().unwrap();
    let (batch, _) = collect(first, &rx);
    assert_eq!(batch.records.len(), MAX_BATCH);
    let first = rx.recv().unwrap();
    let (batch, _) = collect(first, &rx);
    assert_eq!(batch.records.len(), 10);
}

#[tokio::test]
async fn close_stops_the_log_and_releases_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let log = AuditLog::open(&config).await.unwrap();
    log.append(record(1)).await.unwrap();
    let other = log.clone();
    log.close().await.unwrap();
    log.close().await.unwrap();
    let err = other.append(record(2)).await.unwrap_err();
    assert!(matches!(err, AuditError::Closed { .. }), "{err:?}");
    append(&config, 2, 2).await;
    assert_eq!(verify_live(&config).unwrap().records, 2);
}

#[tokio::test]
async fn a_second_writer_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let log = AuditLog::open(&config).await.unwrap();
    let err = AuditLog::open(&config).await.unwrap_err();
    assert!(matches!(err, AuditError::InUse { .. }), "{err:?}");
    let other_spelling = AuditConfig {
        path: dir.path().join("audit/../audit/./audit.jsonl"),
        ..config.clone()
    };
    let err = AuditLog::open(&other_spelling).await.unwrap_err();
    assert!(matches!(err, AuditError::InUse { .. }), "{err:?}");
    log.close().await.unwrap();
    drop(log);
    open_and_close(&config).await;
}

#[tokio::test]
async fn interval_and_never_policies_write_verified_chains() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuditConfig {
        fsync: FsyncPolicy::Interval,
        fsync_interval: Duration::from_millis(20),
        ..config(dir.path())
    };
    let log = AuditLog::open(&config).await.unwrap();
    for i in 1..=3 {
        log.append(record(i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    for i in 4..=5 {
        log.append(record(i)).await.unwrap();
    }
    log.close().await.unwrap();
    assert_eq!(verify_live(&config).unwrap().records, 5);

    let config = AuditConfig {
        fsync: FsyncPolicy::Never,
        ..config
    };
    append(&config, 6, 8).await;
    assert_eq!(verify_live(&config).unwrap().records, 8);
}

#[test]
fn records_do_not_show_the_subject_in_debug() {
    let shown = format!("{:?}", record(1));
    assert!(!shown.contains(IIN), "{shown}");
    assert!(shown.contains("req-1"));
}

#[test]
fn config_defaults_validation_and_parsing() {
    let defaults = AuditConfig::default();
    assert_eq!(defaults.validate(), Ok(()));
    assert_eq!(defaults.fsync, FsyncPolicy::Always);
    assert_eq!(defaults.fsync_interval, Duration::from_secs(1));
    assert_eq!(defaults.rotate_bytes, 64 * 1024 * 1024);

    let parsed: AuditConfig = serde_json::from_str(
        r#"{"path":"/var/log/gw/audit.jsonl","fsync":"interval","fsync_interval":"250ms"}"#,
    )
    .unwrap();
    assert_eq!(parsed.fsync, FsyncPolicy::Interval);
    assert_eq!(parsed.fsync_interval, Duration::from_millis(250));
    assert_eq!(parsed.rotate_bytes, defaults.rotate_bytes);
    assert!(serde_json::from_str::<AuditConfig>(r#"{"fsync":"sometimes"}"#).is_err());
    assert!(serde_json::from_str::<AuditConfig>(r#"{"rotate":1}"#).is_err());

    let field = |c: AuditConfig| c.validate().unwrap_err().key;
    assert_eq!(
        field(AuditConfig {
            path: PathBuf::new(),
            ..AuditConfig::default()
        }),
        "path"
    );
    assert_eq!(
        field(AuditConfig {
            fsync: FsyncPolicy::Interval,
            fsync_interval: Duration::ZERO,
            ..AuditConfig::default()
        }),
        "fsync_interval"
    );
    assert_eq!(
        field(AuditConfig {
            rotate_bytes: 4095,
            ..AuditConfig::default()
        }),
        "rotate_bytes"
    );
}

#[test]
fn an_empty_chain_verifies_to_genesis() {
    let report = verify(&[]).unwrap();
    assert_eq!((report.files, report.records), (0, 0));
    assert_eq!(report.last_hash, GENESIS);
}

#[test]
fn the_writer_line_is_the_sealed_entry_line() {
    let record = AuditRecord {
        request_id: "r-1".into(),
        caller: "iis-tson".into(),
        rpc: "CheckOwner".into(),
        subject: "061211600012".into(),
        applicant: "880702431094".into(),
        decision_date: "2026-11-25".into(),
        purpose: "a \"quoted\" purpose".into(),
        consent: CONSENT_PRESENTED.into(),
        consent_ref: format!("kdp#{}", "a".repeat(32)),
        outcome: CallOutcome::Online,
        count: Some(3),
        decision: Some(DecisionRef {
            id: "6c964c41-0000-4000-8000-000000000000".into(),
            service: "REGISTRATION_AT_RESIDENCE".into(),
            step: "RECEPTION".into(),
            rules: "1".into(),
            notes: vec!["LEGAL_BASIS_EXPIRED".into()],
        }),
        registries: vec![RegistryUse {
            registry: Registry::GbdFl,
            status: RegistryOutcome::Found,
            from_cache: true,
            stale: false,
            evidence: Some("ab".repeat(32)),
        }],
        envelopes: Vec::new(),
    };
    let mut line = Vec::new();
    let hash = super::format::write_line(
        &mut line,
        7,
        "2026-01-01T00:00:00.000+05:00",
        GENESIS,
        &super::format::Encoded::of(&record),
    );
    let entry = Entry::seal(
        7,
        "2026-01-01T00:00:00.000+05:00".into(),
        GENESIS.into(),
        record,
    );
    assert_eq!(line, entry.to_line());
    assert_eq!(hash, entry.hash);
}

/// A signed log of replica "gw-t" in a directory of its own holding records 1 to `records`,
/// and its key.
async fn signed_log(records: u64) -> (tempfile::TempDir, AuditConfig, PublicKey) {
    let dir = tempfile::tempdir().unwrap();
    let (config, key) = signed(dir.path());
    append(&config, 1, records).await;
    (dir, config, key)
}

/// A signing key in PEM files; the config of a signed log of replica "gw-t" in `dir`.
fn signed(dir: &Path) -> (AuditConfig, PublicKey) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let private = dir.join("key.pem");
    let public = dir.join("key.pub.pem");
    std::fs::write(&private, pair.serialize_pem()).unwrap();
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    let config = AuditConfig {
        replica: Some("gw-t".into()),
        signing: Some(SigningConfig { key_file: private }),
        ..config(dir)
    };
    (config, PublicKey::load(&public).unwrap())
}

fn verify_with(config: &AuditConfig, key: &PublicKey) -> Result<VerifyReport, Broken> {
    verify_signed(
        &chain_files(&config.path).unwrap(),
        std::slice::from_ref(key),
    )
}

#[tokio::test]
async fn a_signed_log_ends_each_batch_with_a_checkpoint_that_verifies() {
    let (_dir, config, key) = signed_log(4).await;
    let all = lines(&config.path);
    assert_eq!(all.len(), 8, "a record and its checkpoint per batch");
    let cp: serde_json::Value = serde_json::from_str(&all[7]).unwrap();
    assert_eq!(cp["checkpoint"], 4);
    assert_eq!(cp["replica"], "gw-t");
    assert_eq!(cp["hash"], entry(&all[6]).hash.as_str());
    assert_eq!(cp["key"], key.id());

    let report = verify_with(&config, &key).unwrap();
    assert_eq!(
        (report.records, report.checkpoints, report.last_checkpoint),
        (4, 4, Some(4))
    );
    assert!(report.signed);
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other) = signed(other_dir.path());
    let unknown = verify_with(&config, &other).unwrap_err();
    assert_broken(
        unknown,
        &config.path,
        2,
        Some(1),
        "not among the public keys",
    );
}

#[tokio::test]
async fn a_chain_recomputed_without_the_key_fails_only_with_the_key() {
    let (_dir, config, key) = signed_log(4).await;
    // Record 2 edited, every hash after it recomputed, the checkpoints made to agree.
    let mut all = lines(&config.path);
    let mut prev = entry(&all[0]).hash;
    for i in (2..all.len()).step_by(2) {
        let mut e = entry(&all[i]);
        if e.seq == 2 {
            e.outcome = "OPERATIONAL_HALL".into();
        }
        e.prev = prev;
        e.hash = e.digest();
        all[i] = String::from_utf8(e.to_line())
            .unwrap()
            .trim_end()
            .to_owned();
        let mut cp: checkpoint::Checkpoint = serde_json::from_str(&all[i + 1]).unwrap();
        cp.hash.clone_from(&e.hash);
        all[i + 1] = serde_json::to_string(&cp).unwrap();
        prev = e.hash;
    }
    write_lines(&config.path, &all);
    assert_eq!(verify_live(&config).unwrap().records, 4, "the hashes agree");
    let broken = verify_with(&config, &key).unwrap_err();
    assert_broken(broken, &config.path, 4, Some(2), "does not verify");
}

#[tokio::test]
async fn records_cut_from_the_end_are_found_against_the_last_checkpoint() {
    let (_dir, config, key) = signed_log(4).await;
    let all = lines(&config.path);
    // The last record gone, its checkpoint left: found with or without the key.
    let mut cut = all.clone();
    cut.remove(6);
    write_lines(&config.path, &cut);
    let broken = verify_live(&config).unwrap_err();
    assert_broken(broken, &config.path, 7, Some(4), "records 4..=4 were cut");
    // The last checkpoint gone: its record is no longer covered.
    write_lines(&config.path, &all[..7]);
    let broken = verify_with(&config, &key).unwrap_err();
    assert_broken(
        broken,
        &config.path,
        7,
        Some(4),
        "after the last signed checkpoint (seq 3)",
    );
}

#[tokio::test]
async fn a_record_left_without_its_checkpoint_by_a_crash_is_signed_at_open() {
    let (_dir, config, key) = signed_log(3).await;
    let all = lines(&config.path);
    write_lines(&config.path, &all[..5]); // the write of batch 3 stopped after its record
    append(&config, 4, 4).await;
    let report = verify_with(&config, &key).unwrap();
    assert_eq!((report.records, report.last_checkpoint), (4, Some(4)));
    assert_eq!(lines(&config.path).len(), 8);
}

#[tokio::test]
async fn a_volume_of_another_replica_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = signed(dir.path());
    append(&config, 1, 2).await;
    let other = AuditConfig {
        replica: Some("gw-u".into()),
        ..config
    };
    let refused = AuditLog::open(&other).await.unwrap_err().to_string();
    assert!(
        refused.contains("replica \"gw-t\"'s, and this gateway is \"gw-u\""),
        "{refused}"
    );
}

/// A log as the gateway wrote it before its records were typed (outcomes and registry uses
/// as words): it still verifies, and the same records written now are the same bytes.
#[test]
fn a_log_written_before_typed_records_verifies_and_is_written_alike() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audit-log-before-typed-records.jsonl");
    let report = verify(std::slice::from_ref(&fixture)).unwrap();
    assert_eq!(report.records, 4);

    let old = std::fs::read_to_string(&fixture).unwrap();
    let used = |registry, status, evidence: Option<String>| RegistryUse {
        registry,
        status,
        from_cache: evidence.is_some(),
        stale: false,
        evidence,
    };
    let call = |request_id: &str, rpc: &str, outcome| AuditRecord {
        request_id: request_id.into(),
        caller: "iis-tson".into(),
        subject: "061211600012".into(),
        purpose: "REGISTRATION_AT_RESIDENCE".into(),
        ..AuditRecord::new(rpc, outcome)
    };
    let records = [
        AuditRecord {
            applicant: "880702431094".into(),
            decision_date: "2026-11-25".into(),
            consent: CONSENT_PRESENTED.into(),
            consent_ref: format!("kdp#{}", "a".repeat(32)),
            decision: Some(DecisionRef {
                id: "6c964c41-0000-4000-8000-000000000000".into(),
                service: "REGISTRATION_AT_RESIDENCE".into(),
                step: "RECEPTION".into(),
                rules: "1".into(),
                notes: Vec::new(),
            }),
            registries: vec![
                used(
                    Registry::GbdFl,
                    RegistryOutcome::Found,
                    Some("ab".repeat(32)),
                ),
                used(Registry::Nobd, RegistryOutcome::NotConsulted, None),
            ],
            ..call("r-1", "CheckOwner", CallOutcome::OperationalHall)
        },
        AuditRecord {
            registries: vec![used(
                Registry::SocialSecurity,
                RegistryOutcome::ConsentRefused,
                None,
            )],
            ..call(
                "r-2",
                "GetSocialStatus",
                CallOutcome::Failed(tonic::Code::PermissionDenied),
            )
        },
        AuditRecord {
            consent: CONSENT_ABSENT.into(),
            registries: vec![used(Registry::GbdFl, RegistryOutcome::Cancelled, None)],
            ..call("r-3", "GetPerson", CallOutcome::Cancelled)
        },
        AuditRecord {
            request_id: "r-4".into(),
            caller: "iis-tson".into(),
            purpose: "monitoring".into(),
            count: Some(2),
            ..AuditRecord::new("GetRegistryStatus", CallOutcome::Ok)
        },
    ];
    let times = [
        "2026-11-25T18:40:00.123+05:00",
        "2026-11-25T18:40:01.000+05:00",
        "2026-11-25T18:40:02.000+05:00",
        "2026-11-25T18:40:03.000+05:00",
    ];
    let (mut written, mut prev) = (Vec::new(), GENESIS.to_owned());
    for (i, (record, time)) in records.iter().zip(times).enumerate() {
        let record = super::format::Encoded::of(record);
        prev = super::format::write_line(&mut written, i as u64 + 1, time, &prev, &record);
    }
    assert_eq!(String::from_utf8(written).unwrap(), old);
}
