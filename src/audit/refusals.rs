//! Records of refused calls (denied or malformed), bounded per caller.
//!
//! A refused call gives nothing away, but it still leaves a trace: without a bound, a caller
//! with no rights could fill the audit disk. Per caller and second, the first
//! [`RECORDED_PER_SECOND`] refused calls are recorded like any other (and answered once their
//! record is written); the others of that second are only counted and answered at once, and one
//! summary record (`count`: how many, the other fields from the last of them) is written when
//! the second is over. So a caller's refused calls write at most `RECORDED_PER_SECOND + 1`
//! records a second, whatever their rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::{AuditError, AuditLog, AuditRecord};

/// Refused calls of one caller recorded one by one per second; the rest are counted.
pub const RECORDED_PER_SECOND: u32 = 3;

/// The longest line a refused call's record can take (request id and purpose at most 256
/// bytes each, a caller name at most 256 characters, every one of them JSON-escaped).
pub const MAX_REFUSED_RECORD_BYTES: usize = 2048;

/// Per-caller bound on the records of refused calls.
pub struct RefusalGate {
    log: AuditLog,
    started: Instant,
    callers: Mutex<HashMap<String, Window>>,
}

/// One caller's current second.
struct Window {
    second: u64,
    /// Records written one by one in `second`.
    recorded: u32,
    /// The calls counted but not recorded in `second`, and the last of them.
    suppressed: u64,
    last: Option<AuditRecord>,
}

impl RefusalGate {
    /// A gate in front of `log`; a task (on the current runtime) writes the summaries of
    /// seconds that are over, until the gate is dropped.
    pub fn new(log: AuditLog) -> Arc<RefusalGate> {
        let gate = Arc::new(RefusalGate {
            log,
            started: Instant::now(),
            callers: Mutex::new(HashMap::new()),
        });
        tokio::spawn(flush_every_second(Arc::downgrade(&gate)));
        gate
    }

    fn second(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records a refused call: written now if it is its caller's first this second (`Err`:
    /// not written, fail the call), else counted for the second's summary.
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.record_at(self.second(), record).await
    }

    async fn record_at(&self, now: u64, record: AuditRecord) -> Result<(), AuditError> {
        let summary = {
            let mut callers = self.callers.lock().unwrap_or_else(PoisonError::into_inner);
            match callers.get_mut(&record.caller) {
                Some(w) if w.second == now && w.recorded >= RECORDED_PER_SECOND => {
                    w.suppressed += 1;
                    w.last = Some(record);
                    return Ok(());
                }
                Some(w) if w.second == now => {
                    w.recorded += 1;
                    None
                }
                Some(w) => {
                    let summary = w.summary();
                    *w = Window::at(now);
                    summary
                }
                None => {
                    callers.insert(record.caller.clone(), Window::at(now));
                    None
                }
            }
        };
        if let Some(summary) = summary {
            self.write_summary(summary).await;
        }
        self.log.append(record).await
    }

    /// Writes the summaries of seconds that are over and forgets idle callers.
    async fn flush(&self) {
        self.flush_at(self.second()).await
    }

    async fn flush_at(&self, now: u64) {
        let summaries: Vec<AuditRecord> = {
            let mut callers = self.callers.lock().unwrap_or_else(PoisonError::into_inner);
            let summaries = callers
                .values_mut()
                .filter(|w| w.second < now)
                .filter_map(Window::summary)
                .collect();
            callers.retain(|_, w| w.second >= now);
            summaries
        };
        for summary in summaries {
            self.write_summary(summary).await;
        }
    }

    async fn write_summary(&self, summary: AuditRecord) {
        match self.log.append(summary).await {
            Ok(()) | Err(AuditError::Closed { .. }) => {}
            Err(e) => tracing::error!(error = %e, "audit summary of refused calls not written"),
        }
    }
}

impl Window {
    fn at(second: u64) -> Window {
        Window {
            second,
            recorded: 1,
            suppressed: 0,
            last: None,
        }
    }

    /// The summary of the calls counted so far (taken: counted once).
    fn summary(&mut self) -> Option<AuditRecord> {
        let count = std::mem::take(&mut self.suppressed);
        self.last.take().map(|last| AuditRecord {
            count: Some(count),
            ..last
        })
    }
}

async fn flush_every_second(gate: Weak<RefusalGate>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(gate) = gate.upgrade() else { return };
        gate.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuditConfig, CallOutcome::Failed, FsyncPolicy, MALFORMED};
    use super::*;
    use tonic::Code;

    fn refused(caller: &str, i: u64) -> AuditRecord {
        AuditRecord {
            request_id: format!("{caller}-{i}"),
            caller: caller.into(),
            subject: MALFORMED.into(),
            ..AuditRecord::new("GetPerson", Failed(Code::PermissionDenied))
        }
    }

    /// The worst case docs/security.md states: `RECORDED_PER_SECOND + 1` lines a second per caller,
    /// none longer than `MAX_REFUSED_RECORD_BYTES`.
    #[test]
    fn the_longest_refused_record_is_bounded() {
        let worst = AuditRecord {
            request_id: "\"".repeat(256),
            caller: "\"".repeat(256),
            subject: MALFORMED.into(),
            applicant: MALFORMED.into(),
            decision_date: MALFORMED.into(),
            purpose: "\\".repeat(256),
            consent: crate::audit::CONSENT_PRESENTED.into(),
            consent_ref: format!("kdp#{}", "f".repeat(32)),
            count: Some(u64::MAX),
            // The longest word of an outcome.
            ..AuditRecord::new("GetHigherEducation", Failed(Code::FailedPrecondition))
        };
        let mut line = Vec::new();
        super::super::format::write_line(
            &mut line,
            u64::MAX,
            "2026-11-25T18:40:00.123+05:00",
            &"f".repeat(64),
            &super::super::format::Encoded::of(&worst),
        );
        assert!(line.len() <= MAX_REFUSED_RECORD_BYTES, "{}", line.len());
        assert!(
            line.len() > MAX_REFUSED_RECORD_BYTES - 256,
            "the bound is tight: {}",
            line.len()
        );
    }

    #[tokio::test]
    async fn a_flood_of_refused_calls_is_bounded_per_caller_and_second() {
        let dir = tempfile::tempdir().unwrap();
        let config = AuditConfig {
            path: dir.path().join("audit.jsonl"),
            fsync: FsyncPolicy::Never,
            ..AuditConfig::default()
        };
        let log = AuditLog::open(&config).await.unwrap();
        let gate = RefusalGate::new(log.clone());
        for i in 0..1000 {
            gate.record_at(0, refused("flooder", i)).await.unwrap();
        }
        gate.record_at(0, refused("other", 0)).await.unwrap();
        gate.flush_at(0).await; // the second is not over: nothing to add
        gate.flush_at(1).await;
        // The next second starts afresh.
        gate.record_at(2, refused("flooder", 1000)).await.unwrap();
        gate.flush_at(3).await;
        log.close().await.unwrap();

        let text = std::fs::read_to_string(&config.path).unwrap();
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ids: Vec<(&str, Option<u64>)> = records
            .iter()
            .map(|r| (r["request_id"].as_str().unwrap(), r["count"].as_u64()))
            .collect();
        assert_eq!(
            ids,
            [
                ("flooder-0", None),
                ("flooder-1", None),
                ("flooder-2", None),
                ("other-0", None),
                ("flooder-999", Some(997)),
                ("flooder-1000", None),
            ]
        );
        assert!(
            gate.callers.lock().unwrap().is_empty(),
            "idle callers are forgotten"
        );
        let report = super::super::verify(&super::super::chain_files(&config.path).unwrap())
            .expect("an intact chain");
        assert_eq!(report.records, 6);
    }
}
