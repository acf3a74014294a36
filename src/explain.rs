//! `registry-gateway explain DECISION_ID`, and the admin RPC `ExplainDecision`: a decision
//! taken months ago, shown from the audit store and its evidence archive.
//!
//! It prints the decision's audit record; each registry answer it rested on, opened from the
//! archive (see [`crate::audit::evidence`]), its digest checked against the record's, its
//! signature verified again (signer, signing time; valid today, and on the day of the
//! decision); the facts read from the answers; and the decision taken again by the current
//! rules with the recorded decision date, service and step — the same outcome, or the
//! difference and the rules version it was taken under. A purged blob is said to be purged:
//! the decision then cannot be re-derived, the record (and its chain) still stand.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, NaiveDate, Utc};
use roxmltree::{Document, Node};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shep_wss::{TrustStore, Verdict, VerifyOptions};
use tokio_postgres::Client;

use crate::audit::evidence::Keys;
use crate::audit::{postgres::error_text, CallOutcome, DecisionRef, RegistryUse};
use crate::decision::legal_basis::{self, OnExpired};
use crate::decision::{rules, DecisionConfig, OwnerQuestion, ReasonCode, StateService, Step};
use crate::iin::{Holder, Iin};
use crate::registry::facts::Facts;
use crate::registry::shep::NodeExt;
use crate::registry::{
    CivilActs, CodeTables, Failure, Fetched, MessageId, Payload, Person, RegistryError, ShepCodes,
    SocialStatus, Source,
};
use crate::resilience::owner_facts::ToldResult;

/// What explaining needs besides the store: the archive's keys, the trust store answers were
/// verified against, and the current rules and code tables.
pub struct Explainer {
    pub keys: Keys,
    /// `None`: signatures are not verified again (said in the output).
    pub trust: Option<TrustStore>,
    pub status_codes: ShepCodes,
    pub codes: Arc<CodeTables>,
    /// The rules in force (the gateway's are replaced on reload).
    pub rules: Arc<ArcSwap<DecisionConfig>>,
}

/// The explanation of one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub text: String,
    /// The decision's subject (the IIN), for the audit record of the access.
    pub subject: String,
    pub recorded: String,
    /// `None`: not re-derived (evidence purged, missing or unreadable).
    pub rederived: Option<String>,
    /// Whether the current rules give the decision's date the legal-basis note it was given
    /// (none, or the act's term ended or not yet begun).
    pub same_notes: bool,
}

impl Explanation {
    pub fn same_outcome(&self) -> bool {
        self.rederived.as_deref() == Some(self.recorded.as_str())
    }
}

/// The fields of a record explain reads.
#[derive(Deserialize)]
struct Record {
    seq: u64,
    time: String,
    subject: String,
    #[serde(default)]
    applicant: String,
    #[serde(default)]
    decision_date: String,
    /// As the record holds it (also one of an older gateway).
    outcome: String,
    decision: DecisionRef,
    registries: Vec<RegistryUse<String, String>>,
}

/// One archived answer as found in the store.
enum Blob {
    /// The blob and when it was stored.
    Kept(Vec<u8>, String),
    /// When it was purged.
    Purged(String),
    Missing,
}

/// One answer, opened and checked.
struct Answer {
    registry: String,
    status: String,
    /// The envelope, when it opened, its digest is the record's and its signature holds (on
    /// the day of the decision, when a trust store is configured): what re-deriving may use.
    envelope: Option<String>,
    /// Why an opened envelope is not used.
    rejected: Option<&'static str>,
    lines: Vec<String>,
}

impl Explainer {
    /// Explains decision `id` from the store `client` reads (any role allowed to execute
    /// `audit_decision` and `audit_evidence_blobs`). `Err`: no such decision, or the store
    /// could not be read.
    pub async fn explain(&self, client: &Client, id: &str) -> Result<Explanation, String> {
        let rows = client
            .query("SELECT replica, seq, line FROM audit_decision($1)", &[&id])
            .await
            .map_err(|e| format!("reading the audit store: {}", error_text(&e)))?;
        let Some(row) = rows.first() else {
            return Err(format!("no such decision in the audit store ({id:?})"));
        };
        let replica: String = row.get(0);
        let line: String = row.get(2);
        let record: Record = serde_json::from_str(&line)
            .map_err(|e| format!("the record of decision {id:?} cannot be read: {e}"))?;
        let blobs = self.blobs(client, &record).await?;
        let mut text = String::new();
        let _ = writeln!(text, "decision {id}");
        let _ = writeln!(
            text,
            "record: replica {replica}, seq {}, time {}",
            record.seq, record.time
        );
        let _ = writeln!(text, "  {line}");
        let answers: Vec<Answer> = record
            .registries
            .iter()
            .map(|used| self.answer(used, &blobs, &record.time))
            .collect();
        for a in answers.iter().filter(|a| a.status != "not_consulted") {
            let _ = writeln!(text, "answer {} ({}):", a.registry, a.status);
            for l in &a.lines {
                let _ = writeln!(text, "  {l}");
            }
        }
        let rederived = self.rederive(&record, &answers, &mut text);
        let same_notes = self.rederive_notes(&record, &mut text);
        let subject = record.subject.clone();
        Ok(Explanation {
            text,
            subject,
            recorded: record.outcome,
            rederived,
            same_notes,
        })
    }

    /// The blobs the record names, by digest.
    async fn blobs(&self, client: &Client, record: &Record) -> Result<Vec<(String, Blob)>, String> {
        let digests: Vec<String> = record
            .registries
            .iter()
            .filter_map(|u| u.evidence.clone())
            .collect();
        let rows = client
            .query(
                "SELECT digest, blob, stored_at::text, purged_at::text FROM audit_evidence_blobs($1)",
                &[&digests],
            )
            .await
            .map_err(|e| format!("reading the evidence archive: {}", error_text(&e)))?;
        Ok(digests
            .into_iter()
            .map(|d| {
                let row = rows.iter().find(|r| r.get::<_, &str>(0) == d);
                let blob = match row {
                    None => Blob::Missing,
                    Some(r) => match (
                        r.get::<_, Option<Vec<u8>>>(1),
                        r.get::<_, Option<String>>(3),
                    ) {
                        (Some(blob), _) => Blob::Kept(blob, r.get(2)),
                        (None, Some(purged)) => Blob::Purged(purged),
                        (None, None) => Blob::Missing,
                    },
                };
                (d, blob)
            })
            .collect())
    }

    /// One registry's answer: opened, its digest checked, its signature verified again.
    fn answer(
        &self,
        used: &RegistryUse<String, String>,
        blobs: &[(String, Blob)],
        time: &str,
    ) -> Answer {
        let mut answer = Answer {
            registry: used.registry.clone(),
            status: used.status.clone(),
            envelope: None,
            rejected: None,
            lines: Vec::new(),
        };
        let Some(digest) = &used.evidence else {
            if matches!(used.status.as_str(), "found" | "not_found") {
                answer
                    .lines
                    .push("no evidence recorded (decided before the archive)".into());
            }
            return answer;
        };
        answer.lines.push(format!("evidence sha256:{digest}"));
        let blob = blobs.iter().find(|(d, _)| d == digest).map(|(_, b)| b);
        let (bytes, stored) = match blob {
            Some(Blob::Kept(bytes, stored)) => (bytes, stored),
            Some(Blob::Purged(at)) => {
                answer.lines.push(format!(
                    "evidence purged on {at} (past the retention period)"
                ));
                return answer;
            }
            _ => {
                answer
                    .lines
                    .push("evidence missing from the archive".into());
                return answer;
            }
        };
        let plain = match self.keys.open(digest, bytes) {
            Ok(plain) => plain,
            Err(e) => {
                answer.lines.push(format!("evidence cannot be opened: {e}"));
                return answer;
            }
        };
        let key = Keys::key_id_of(bytes).unwrap_or_default();
        answer.lines.push(format!(
            "archived {stored}, {} bytes, key {key}",
            plain.len()
        ));
        let Ok(envelope) = String::from_utf8(plain) else {
            answer.lines.push("evidence is not UTF-8".into());
            return answer;
        };
        if crate::hex::lower(&Sha256::digest(envelope.as_bytes())) != *digest {
            answer.lines.push(
                "DIGEST MISMATCH: the archived envelope is not the one the record names".into(),
            );
            answer.rejected = Some("its digest is not the record's");
        }
        let at = DateTime::parse_from_rfc3339(time).map_or_else(|_| Utc::now(), |t| t.to_utc());
        let checked = self.signature(&envelope, at);
        if checked
            .iter()
            .any(|l| l.starts_with("signature INVALID on the day"))
        {
            answer.rejected.get_or_insert("its signature does not hold");
        }
        answer.lines.extend(checked);
        answer.envelope = Some(envelope).filter(|_| answer.rejected.is_none());
        answer
    }

    /// The signature verified again: today, and at `at` (the decision's time).
    fn signature(&self, envelope: &str, at: DateTime<Utc>) -> Vec<String> {
        let Some(trust) = &self.trust else {
            return vec!["signature: not verified again (no trust store configured)".into()];
        };
        let doc = match Document::parse(envelope) {
            Ok(doc) => doc,
            Err(e) => return vec![format!("signature: INVALID: not XML ({e})")],
        };
        // The timestamp's window was checked when the answer arrived; asked again, only the
        // signature, the digests it covers and the certificate (chain, validity, CRLs) count.
        let options = VerifyOptions {
            max_skew: Duration::from_secs(100 * 365 * 24 * 3600),
            max_age: Duration::from_secs(100 * 365 * 24 * 3600),
            sent_at: None,
        };
        let check =
            |now: DateTime<Utc>| shep_wss::verify_envelope(&doc, envelope, trust, now, &options);
        let mut lines = Vec::new();
        for (when, now) in [("today", Utc::now()), ("on the day of the decision", at)] {
            lines.push(match check(now) {
                Ok(Verdict::Signed(s)) => format!(
                    "signature valid {when}: signer {}, signed at {}",
                    s.signer, s.created
                ),
                Ok(Verdict::Unsigned) => format!("signature: none ({when})"),
                Err(e) => format!("signature INVALID {when}: {}", e.detail),
            });
        }
        lines
    }
}

impl Explainer {
    /// The facts read from the answers and the decision taken again by the current rules;
    /// the re-derived outcome, or `None` when it cannot be taken again.
    fn rederive(&self, record: &Record, answers: &[Answer], text: &mut String) -> Option<String> {
        let question = match question(record) {
            Ok(q) => q,
            Err(e) => {
                let _ = writeln!(text, "not re-derived: {e}");
                return None;
            }
        };
        if let Some(refused) = self.refused_by_legal_basis(record, &question, text) {
            return Some(refused);
        }
        let decided = if question.owner.holder() == Holder::Organisation {
            Ok(rules::organisation())
        } else {
            let read = self.read_answers(answers, &question.owner);
            match read {
                Ok(a) => rules::decide(&question, &self.rules.load(), a).map_err(|e| e.to_string()),
                Err(e) => Err(e),
            }
        };
        let d = match decided {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(text, "not re-derived: {e}");
                return None;
            }
        };
        let _ = writeln!(text, "facts read: {:?}", d.owner);
        let codes: Vec<String> = d.reasons.iter().map(|r| format!("{:?}", r.code)).collect();
        let _ = writeln!(text, "reasons: {}", codes.join(", "));
        let now = CallOutcome::from(d.outcome).to_string();
        if now == record.outcome {
            let _ = writeln!(
                text,
                "re-derived by the current rules (version {}): {now}, the same outcome",
                rules::VERSION
            );
        } else {
            let _ = writeln!(
                text,
                "re-derived by the current rules (version {}): {now}, DIFFERENT from the recorded {} \
                 (taken under rules version {}{})",
                rules::VERSION,
                record.outcome,
                record.decision.rules,
                if record.decision.rules == rules::VERSION {
                    ": the same rules, so the configuration or the evidence differs"
                } else {
                    ": a rule changed since"
                }
            );
        }
        Some(now)
    }

    /// The current rules refuse a decision dated outside every act's term with
    /// `legal_basis.on_expired = "refuse"`: what the answer would be now (the status such a
    /// call gets), written to `text`.
    fn refused_by_legal_basis(
        &self,
        record: &Record,
        question: &OwnerQuestion,
        text: &mut String,
    ) -> Option<String> {
        let rules = self.rules.load();
        let basis = rules.legal_basis.on(question.date);
        if rules.legal_basis.on_expired != OnExpired::Refuse || basis.note(question.date).is_none()
        {
            return None;
        }
        let _ = writeln!(
            text,
            "re-derived by the current rules (version {}): {REFUSED_BY_LEGAL_BASIS}, the decision \
             date {} lies outside the term of act {} ({}) and legal_basis.on_expired = \"refuse\": \
             DIFFERENT from the recorded {}",
            rules::VERSION,
            question.date,
            basis.act.id,
            legal_basis::term_words(basis.act),
            record.outcome
        );
        Some(REFUSED_BY_LEGAL_BASIS.into())
    }

    /// The legal-basis note the current rules give the decision's date, against the notes
    /// recorded, written to `text`: whether they are the same.
    fn rederive_notes(&self, record: &Record, text: &mut String) -> bool {
        let Ok(date) = NaiveDate::parse_from_str(&record.decision_date, "%Y-%m-%d") else {
            return true; // no date: said by rederive
        };
        let rules = self.rules.load();
        let basis = rules.legal_basis.on(date);
        let now: Vec<&str> = basis
            .note(date)
            .map(|(code, _)| note_name(code))
            .into_iter()
            .collect();
        let recorded: Vec<&str> = record.decision.notes.iter().map(String::as_str).collect();
        let words = |notes: &[&str]| match notes {
            [] => "none".to_owned(),
            notes => notes.join(", "),
        };
        let same = now == recorded;
        let _ = writeln!(
            text,
            "legal-basis note by the current rules: {} (act {}, {}; decision date {date}), {}",
            words(&now),
            basis.act.id,
            legal_basis::term_words(basis.act),
            if same {
                "the same as recorded".to_owned()
            } else {
                format!("DIFFERENT from the recorded {}", words(&recorded))
            }
        );
        same
    }

    /// The three answers the rules take, read from the archived envelopes: their facts
    /// about `owner`, as when the decision was taken.
    fn read_answers(&self, answers: &[Answer], owner: &Iin) -> Result<rules::Answers, String> {
        Ok(rules::Answers {
            person: self.read::<Option<Person>>(answers, owner)?,
            acts: self.read::<CivilActs>(answers, owner)?,
            social: self.read::<SocialStatus>(answers, owner)?,
        })
    }

    /// `T`'s registry's answer as the decision had it: read from its envelope, or the failure
    /// the record says it was.
    fn read<T: Facts>(
        &self,
        answers: &[Answer],
        owner: &Iin,
    ) -> Result<ToldResult<T::Facts>, String> {
        let registry = T::REGISTRY;
        let failed = |text: &str| RegistryError {
            registry,
            failure: Failure::Connect(text.into()),
            retry_after: Duration::ZERO,
        };
        let Some(answer) = answers.iter().find(|a| a.registry == registry.key()) else {
            return Ok(Err(failed("not consulted")));
        };
        if !matches!(answer.status.as_str(), "found" | "not_found") {
            return Ok(Err(failed("did not answer at the time")));
        }
        let Some(envelope) = &answer.envelope else {
            return Err(match answer.rejected {
                Some(why) => format!("the evidence of {registry} is not used: {why}"),
                None => format!("the evidence of {registry} is not available"),
            });
        };
        let value = read_envelope::<T>(envelope, &self.status_codes, &self.codes)
            .map_err(|e| format!("the answer of {registry} cannot be read: {e}"))?;
        Ok(Ok(Fetched::new(value.told(owner), archived_source())))
    }
}

fn archived_source() -> Source {
    Source {
        message_id: MessageId::from("archived"),
        fetched_at: Utc::now(),
        from_cache: false,
        stale: false,
        age: Duration::ZERO,
        envelope: None,
    }
}

/// `T` read from an archived envelope, from the canonical form of its Body (as when it
/// arrived).
fn read_envelope<T: Payload>(
    envelope: &str,
    status_codes: &ShepCodes,
    codes: &CodeTables,
) -> Result<T, String> {
    let doc = Document::parse(envelope).map_err(|e| format!("not XML ({e})"))?;
    let body = doc
        .root_element()
        .children_named("Body")
        .next()
        .ok_or("no SOAP Body")?;
    let canonical = shep_wss::c14n::node(envelope, body, &[]).map_err(|e| e.to_string())?;
    let doc = Document::parse(&canonical).map_err(|e| format!("not XML ({e})"))?;
    let response = doc
        .root_element()
        .child_el("SendMessageResponse")
        .and_then(|r| r.child_el("response"))
        .ok_or("no SendMessageResponse/response")?;
    let code = response
        .child_el("responseInfo")
        .and_then(|i| i.child_el("status"))
        .and_then(|s: Node| s.text_of("code"))
        .ok_or("no responseInfo/status/code")?;
    if status_codes.not_found.iter().any(|c| c == code) {
        return Ok(T::default());
    }
    if !status_codes.ok.iter().any(|c| c == code) {
        return Err("not a successful answer".into());
    }
    let data = response
        .child_el("responseData")
        .and_then(|d| d.child_el("data"))
        .ok_or("no responseData/data")?;
    T::parse(data, codes)
}

/// The question as the record states it.
fn question(record: &Record) -> Result<OwnerQuestion, String> {
    let owner = Iin::parse(&record.subject).map_err(|_| "the record's subject is not an IIN")?;
    let applicant = match record.applicant.as_str() {
        "" => None,
        a => Some(Iin::parse(a).map_err(|_| "the record's applicant is not an IIN")?),
    };
    let date = NaiveDate::parse_from_str(&record.decision_date, "%Y-%m-%d")
        .map_err(|_| "the record has no decision date")?;
    let service = match record.decision.service.as_str() {
        "TEMPORARY_REGISTRATION" => StateService::TemporaryRegistration,
        _ => StateService::RegistrationAtResidence,
    };
    let step = match record.decision.step.as_str() {
        "HALL_CHECK" => Step::HallCheck,
        _ => Step::Reception,
    };
    Ok(OwnerQuestion {
        owner,
        service,
        applicant,
        date,
        consent_token: None,
        gbd_fl_shared_cache: true,
        deadline: None,
        step,
    })
}

/// What a decision the current rules refuse for its date is re-derived as: the status such
/// a call is answered with.
const REFUSED_BY_LEGAL_BASIS: &str = "FAILED_PRECONDITION";

/// A legal-basis note's code as audit records name it (the contract's `ReasonCode` without
/// its prefix; `api::convert` records them, and checks that the two agree).
pub fn note_name(code: ReasonCode) -> &'static str {
    match code {
        ReasonCode::LegalBasisExpired => "LEGAL_BASIS_EXPIRED",
        ReasonCode::LegalBasisNotYetInForce => "LEGAL_BASIS_NOT_YET_IN_FORCE",
        _ => "OTHER",
    }
}

/// Where the command line's `explain` and `purge-evidence` read: given on the command line,
/// else `[audit.postgres]` and `[audit.evidence]` of the configuration.
#[derive(Debug, Clone, Default)]
pub struct StoreArgs {
    pub url: Option<String>,
    pub password_file: Option<std::path::PathBuf>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// Connects to the store the arguments or the configuration name.
pub async fn connect(config: &crate::Config, args: &StoreArgs) -> Result<Client, String> {
    let pg = config.audit.as_ref().and_then(|a| a.postgres.as_ref());
    let url = args
        .url
        .clone()
        .or_else(|| pg.map(|p| p.url.clone()))
        .ok_or("no --postgres and no [audit.postgres] in the configuration")?;
    let target = crate::audit::postgres::Target {
        url: &url,
        password_file: args
            .password_file
            .as_deref()
            .or(pg.and_then(|p| p.password_file.as_deref())),
        ca_file: args
            .ca_file
            .as_deref()
            .or(pg.and_then(|p| p.ca_file.as_deref())),
    };
    crate::audit::postgres::connect(target, Duration::from_secs(10)).await
}

impl Explainer {
    /// The explainer of `config`: the evidence keys (`key_files`, else `[audit.evidence]`),
    /// the trust store (`trust_store`, else `[shep.signing] trust_store`), the current rules.
    pub fn from_config(
        config: &crate::Config,
        key_files: &[std::path::PathBuf],
        trust_store: Option<&std::path::Path>,
    ) -> Result<Explainer, String> {
        let configured = config.audit.as_ref().and_then(|a| a.evidence.as_ref());
        let key_files = match (key_files, configured) {
            ([], Some(e)) => e.key_files.as_slice(),
            ([], None) => return Err("no --evidence-key and no [audit.evidence] key_files".into()),
            (files, _) => files,
        };
        let trust_path = trust_store.map(ToOwned::to_owned).or_else(|| {
            config
                .shep
                .signing
                .as_ref()
                .and_then(|s| s.trust_store.clone())
        });
        let trust = match trust_path {
            Some(path) => {
                let pem = std::fs::read(&path)
                    .map_err(|e| format!("trust store {}: {e}", path.display()))?;
                Some(
                    TrustStore::from_pem(&pem)
                        .map_err(|e| format!("trust store {}: {e}", path.display()))?,
                )
            }
            None => None,
        };
        Ok(Explainer {
            keys: Keys::load(key_files)?,
            trust,
            status_codes: config.shep.status_codes.clone(),
            codes: Arc::new(config.codes.clone()),
            rules: Arc::new(ArcSwap::from_pointee(config.decision.clone())),
        })
    }
}

/// `purge-evidence`: the content of every blob first stored more than `retention` ago is
/// deleted (its row stays, marked purged). Returns how many, and the cut-off.
pub async fn purge(client: &Client, retention: Duration) -> Result<(i64, DateTime<Utc>), String> {
    let before =
        Utc::now() - chrono::Duration::from_std(retention).map_err(|_| "retention out of range")?;
    let row = client
        .query_one(
            "SELECT audit_evidence_purge($1::text::timestamptz)",
            &[&before.to_rfc3339()],
        )
        .await
        .map_err(|e| format!("purging: {}", error_text(&e)))?;
    Ok((row.get(0), before))
}

/// The admin RPC's side: the explainer and the store it reads with the gateway's own role
/// (which needs `EXECUTE` on `audit_decision` and `audit_evidence_blobs`).
pub struct Remote {
    pub explainer: Explainer,
    pub postgres: crate::audit::PostgresConfig,
}

impl Remote {
    /// The gateway's: `None` without `[audit.postgres]` and `[audit.evidence]`; the answers'
    /// trust store from `[shep.signing]` (the embedded mocks' demo keys are not re-verified).
    pub fn of(
        config: &crate::Config,
        rules: Arc<ArcSwap<DecisionConfig>>,
    ) -> Result<Option<Remote>, String> {
        let audit = config.audit.as_ref();
        let (Some(postgres), Some(_)) = (
            audit.and_then(|a| a.postgres.clone()),
            audit.and_then(|a| a.evidence.as_ref()),
        ) else {
            return Ok(None);
        };
        let mut explainer = Explainer::from_config(config, &[], None)?;
        explainer.rules = rules;
        Ok(Some(Remote {
            explainer,
            postgres,
        }))
    }

    pub async fn explain(&self, id: &str) -> Result<Explanation, String> {
        let client =
            crate::audit::postgres::connect(self.postgres.target(), self.postgres.timeout).await?;
        self.explainer.explain(&client, id).await
    }
}
