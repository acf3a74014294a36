//! One line of the log: its fields, canonical bytes and hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuditRecord, DecisionRef, RegistryUse};

/// `prev` of the first record.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A line as stored. Field order is the canonical order: do not reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    pub seq: u64,
    pub time: String,
    pub prev: String,
    pub request_id: String,
    pub caller: String,
    pub rpc: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub applicant: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decision_date: String,
    pub purpose: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consent_ref: String,
    /// As the line holds it (the verifier takes any word).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionRef>,
    pub registries: Vec<RegistryUse<String, String>>,
    pub hash: String,
}

/// The hashed part of an [`Entry`]: every field but `hash`, in the same order. The outcome
/// and registry uses are typed when the gateway writes a record and words when a line is
/// read back: both serialize to the same words.
#[derive(Serialize)]
struct Body<'a, Outcome, Use> {
    seq: u64,
    time: &'a str,
    prev: &'a str,
    #[serde(flatten)]
    fields: Fields<'a, Outcome, Use>,
}

/// A record's own fields: what follows `prev` in its line.
#[derive(Serialize)]
struct Fields<'a, Outcome, Use> {
    request_id: &'a str,
    caller: &'a str,
    rpc: &'a str,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    applicant: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    decision_date: &'a str,
    purpose: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    consent: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    consent_ref: &'a str,
    outcome: &'a Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'a DecisionRef>,
    registries: &'a [Use],
}

/// A record's own fields serialized as its line will hold them, by the task that appends it:
/// the writer thread, which every record goes through one at a time, then only numbers,
/// chains, hashes and writes. The bytes are the JSON object of [`Fields`].
pub struct Encoded(Vec<u8>);

impl Encoded {
    pub fn of(record: &AuditRecord) -> Encoded {
        let fields = Fields {
            request_id: &record.request_id,
            caller: &record.caller,
            rpc: &record.rpc,
            subject: &record.subject,
            applicant: &record.applicant,
            decision_date: &record.decision_date,
            purpose: &record.purpose,
            consent: &record.consent,
            consent_ref: &record.consent_ref,
            outcome: &record.outcome,
            count: record.count,
            decision: record.decision.as_ref(),
            registries: &record.registries,
        };
        let mut bytes = Vec::with_capacity(512);
        serde_json::to_writer(&mut bytes, &fields).expect("strings, numbers and bools serialize");
        Encoded(bytes)
    }

    /// Bytes of the fields (the line is about 200 more).
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Why a line is not a valid record on its own (chain checks come on top).
#[derive(Debug)]
pub(super) struct Fault {
    pub seq: Option<u64>,
    pub reason: String,
}

/// `record` as record `seq` chained to `prev`, written straight to its line (with newline):
/// hashed, and the hash appended, which is the same bytes as `Entry::seal(..).to_line()`
/// (`seq`, `time` and `prev` are the first fields, `hash` the last). Returns the hash.
pub fn write_line(out: &mut Vec<u8>, seq: u64, time: &str, prev: &str, record: &Encoded) -> String {
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    serde_json::to_writer(&mut *out, &seq).expect("a number serializes");
    out.extend_from_slice(b",\"time\":");
    serde_json::to_writer(&mut *out, time).expect("a string serializes");
    out.extend_from_slice(b",\"prev\":");
    serde_json::to_writer(&mut *out, prev).expect("a string serializes");
    out.push(b',');
    // The fields' object without its opening brace (it always has fields: `request_id` is
    // never skipped).
    out.extend_from_slice(&record.0[1..]);
    let hash = crate::hex::lower(&Sha256::digest(&out[start..]));
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"hash\":\"");
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    hash
}

impl Entry {
    /// `record` as record `seq`, chained to `prev`, with its hash (the writer uses the
    /// equivalent [`write_line`]).
    #[cfg(test)]
    pub fn seal(seq: u64, time: String, prev: String, record: AuditRecord) -> Entry {
        let mut entry = Entry {
            seq,
            time,
            prev,
            request_id: record.request_id,
            caller: record.caller,
            rpc: record.rpc,
            subject: record.subject,
            applicant: record.applicant,
            decision_date: record.decision_date,
            purpose: record.purpose,
            consent: record.consent,
            consent_ref: record.consent_ref,
            outcome: record.outcome.to_string(),
            count: record.count,
            decision: record.decision,
            // As a line holds them.
            registries: serde_json::to_value(&record.registries)
                .and_then(serde_json::from_value)
                .expect("registry uses read back as words"),
            hash: String::new(),
        };
        entry.hash = entry.digest();
        entry
    }

    /// Lowercase hex SHA-256 of the canonical bytes (the line without `hash`).
    pub fn digest(&self) -> String {
        let body = Body {
            seq: self.seq,
            time: &self.time,
            prev: &self.prev,
            fields: Fields {
                request_id: &self.request_id,
                caller: &self.caller,
                rpc: &self.rpc,
                subject: &self.subject,
                applicant: &self.applicant,
                decision_date: &self.decision_date,
                purpose: &self.purpose,
                consent: &self.consent,
                consent_ref: &self.consent_ref,
                outcome: &self.outcome,
                count: self.count,
                decision: self.decision.as_ref(),
                registries: &self.registries,
            },
        };
        let bytes = serde_json::to_vec(&body).expect("strings, numbers and bools serialize");
        crate::hex::lower(&Sha256::digest(&bytes))
    }

    /// The line as written, with its newline.
    #[cfg(test)]
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("strings, numbers and bools serialize");
        line.push(b'\n');
        line
    }

    /// Parses and checks one line (without its newline): a record, in canonical form,
    /// whose hash matches its content.
    pub fn parse(line: &[u8]) -> Result<Entry, Fault> {
        let entry: Entry = serde_json::from_slice(line).map_err(|e| Fault {
            seq: peek_seq(line),
            reason: if e.is_syntax() || e.is_eof() {
                format!(
                    "not valid JSON (column {}): cut short or edited",
                    e.column()
                )
            } else {
                format!("not an audit record: {}", crate::iin::scrub(&e.to_string()))
            },
        })?;
        let fault = |reason: &str| Fault {
            seq: Some(entry.seq),
            reason: reason.to_owned(),
        };
        if !is_hash(&entry.hash) {
            return Err(fault("hash is not 64 lowercase hex digits"));
        }
        if !is_hash(&entry.prev) {
            return Err(fault("prev is not 64 lowercase hex digits"));
        }
        if entry.digest() != entry.hash {
            return Err(fault("hash does not match the record's content: edited"));
        }
        let canonical = serde_json::to_vec(&entry).expect("strings, numbers and bools serialize");
        if canonical != line {
            return Err(fault(
                "the line is not in canonical form (reformatted or re-encoded)",
            ));
        }
        Ok(entry)
    }
}

/// `seq` of a line that is JSON but not a valid record, for the report.
pub(super) fn peek_seq(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// The record time: now in Kazakhstan, milliseconds, with the offset.
pub(super) fn now() -> String {
    crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

pub(super) fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
