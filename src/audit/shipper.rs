//! The shipper: drains the local chain into PostgreSQL, one statement per batch.
//!
//! One task per gateway, one connection. It reads from the local files (the spool, see
//! [`super::spool`]) only what the writer has published as written, takes up to
//! [`MAX_LINES`] lines at a time — whatever accumulated while the last batch was committing:
//! group commit — and inserts them in one statement. It checks that each record continues
//! the last one shipped (seq + 1, `prev` = its hash), so PostgreSQL gets the chain without a
//! gap; it never sends a record twice because after any failure it reconnects and asks the
//! store where the replica's chain ends (`audit_head`) before going on from there.
//!
//! Callers under `durability = "postgres"` wait in [`ShipperProgress::wait`] for their record's seq to
//! be shipped; while the shipper is down they are refused at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::evidence;
use super::postgres::{self, PostgresConfig};
use super::spool::{self, Line, Spool};

/// Lines sent in one statement at most.
pub(super) const MAX_LINES: usize = 2048;
/// Waits between attempts to reach PostgreSQL again, doubling up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the shipper shares with the writer and the callers.
pub(super) struct ShipperProgress {
    /// The last record in PostgreSQL (the writer bounds the backlog with it).
    pub shipped: Arc<AtomicU64>,
    up: AtomicBool,
    /// A record waited longer than `ack_timeout` for its commit since the last progress: the
    /// store hangs (connected, not answering) though the connection has not failed yet.
    lagging: AtomicBool,
    acks: Mutex<Acks>,
}

struct Acks {
    shipped: u64,
    /// Why the shipper is down, when it is.
    down: Option<String>,
    waiting: BTreeMap<u64, oneshot::Sender<Result<(), String>>>,
}

/// Why a record is not (yet) known to be in PostgreSQL.
#[derive(Debug)]
pub(super) enum NotShipped {
    Down(String),
    Timeout,
}

impl ShipperProgress {
    /// The shared state of a shipper that starts with PostgreSQL holding records up to
    /// `shipped`, connected (`up`) or not.
    pub fn new(shipped: u64, up: bool) -> Arc<ShipperProgress> {
        crate::metrics::audit_postgres_up(up);
        Arc::new(ShipperProgress {
            shipped: Arc::new(AtomicU64::new(shipped)),
            up: AtomicBool::new(up),
            lagging: AtomicBool::new(false),
            acks: Mutex::new(Acks {
                shipped,
                down: (!up).then(|| "not connected yet".into()),
                waiting: BTreeMap::new(),
            }),
        })
    }

    /// Whether the shipper is connected.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst) && !self.lagging.load(Ordering::SeqCst)
    }

    /// Resolves once record `seq` is in PostgreSQL; fails at once while the shipper is down,
    /// or after `timeout`.
    pub async fn wait(&self, seq: u64, timeout: Duration) -> Result<(), NotShipped> {
        let rx = {
            let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
            if acks.shipped >= seq {
                return Ok(());
            }
            if let Some(reason) = &acks.down {
                return Err(NotShipped::Down(reason.clone()));
            }
            let (tx, rx) = oneshot::channel();
            acks.waiting.insert(seq, tx);
            rx
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result.map_err(NotShipped::Down),
            Ok(Err(_)) => Err(NotShipped::Down("the shipper stopped".into())),
            Err(_) => {
                let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
                acks.waiting.remove(&seq);
                if acks.shipped < seq && !self.lagging.swap(true, Ordering::SeqCst) {
                    tracing::error!(
                        "audit store (PostgreSQL) commits nothing within ack_timeout: NOT_SERVING"
                    );
                }
                Err(NotShipped::Timeout)
            }
        }
    }

    /// Records up to `seq` are in PostgreSQL.
    fn shipped(&self, seq: u64) {
        self.shipped.store(seq, Ordering::SeqCst);
        self.lagging.store(false, Ordering::SeqCst);
        let done = {
            let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
            acks.shipped = seq;
            let later = acks.waiting.split_off(&(seq + 1));
            std::mem::replace(&mut acks.waiting, later)
        };
        for (_, tx) in done {
            let _ = tx.send(Ok(()));
        }
    }

    fn set_up(&self, shipped: u64) {
        self.acks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .down = None;
        self.shipped(shipped);
        if !self.up.swap(true, Ordering::SeqCst) {
            crate::metrics::audit_postgres_up(true);
            tracing::info!("audit store (PostgreSQL) reached: shipping");
        }
    }

    fn set_down(&self, reason: &str) {
        let waiting = {
            let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
            acks.down = Some(reason.to_owned());
            std::mem::take(&mut acks.waiting)
        };
        for (_, tx) in waiting {
            let _ = tx.send(Err(reason.to_owned()));
        }
        if self.up.swap(false, Ordering::SeqCst) {
            crate::metrics::audit_postgres_up(false);
            tracing::error!(error = %reason, "audit store (PostgreSQL) unreachable: records wait in the local file");
        }
    }
}

/// The shipping task of one replica.
pub(super) struct Shipper {
    pub config: PostgresConfig,
    pub replica: String,
    pub live: PathBuf,
    /// `[audit.evidence]`: the local evidence spool, shipped with the records.
    pub evidence: Option<PathBuf>,
    pub shared: Arc<ShipperProgress>,
    /// The last record the writer published.
    pub written: watch::Receiver<u64>,
    /// Set on close: ship what is left, then stop.
    pub closing: watch::Receiver<bool>,
    /// While drained, the store is asked a trivial query this often, to be answered within
    /// `ack_timeout`: a store that hangs is known before a caller waits for it.
    pub probe_interval: Duration,
}

impl Shipper {
    /// Ships until closed and drained (or until the writer is gone), reconnecting after
    /// each failure; starts with `client` when it has one.
    pub async fn run(mut self, mut client: Option<Client>) {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.session(client.take()).await {
                Ok(()) => return,
                Err(e) => {
                    crate::metrics::audit_ship_failure();
                    self.shared.set_down(&e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            if self.written.has_changed().is_err() && self.drained() {
                return;
            }
        }
    }

    fn drained(&self) -> bool {
        self.shared.shipped.load(Ordering::SeqCst) >= *self.written.borrow()
    }

    /// One connection's life: find where the store's chain ends, then ship from there.
    async fn session(&mut self, client: Option<Client>) -> Result<(), String> {
        let timeout = self.config.timeout;
        let client = match client {
            Some(client) => client,
            None => postgres::connect(self.config.target(), timeout).await?,
        };
        let insert = match self.evidence {
            Some(_) => postgres::INSERT_WITH_EVIDENCE,
            None => postgres::INSERT,
        };
        let insert = within(timeout, client.prepare(insert)).await?;
        let (mut spool, mut at) = self.resume(&client).await?;
        self.shared.set_up(at.seq);
        loop {
            let written = *self.written.borrow_and_update();
            if at.seq >= written {
                // Drained: wait for more, or stop on close.
                let closed = tokio::select! {
                    changed = self.written.changed() => Some(changed.is_err()),
                    _ = self.closing.wait_for(|closing| *closing) => Some(true),
                    () = tokio::time::sleep(self.probe_interval) => None,
                };
                let Some(closed) = closed else {
                    within(self.config.ack_timeout, client.simple_query("SELECT 1")).await?;
                    continue;
                };
                if closed {
                    // The writer may have rotated after the last batch shipped.
                    if !self.config.keep_shipped_files {
                        self.remove_shipped(at.seq);
                    }
                    return Ok(());
                }
                continue;
            }
            let (back, lines) = blocking(move || {
                let lines = spool.read(written, MAX_LINES);
                Ok((spool, lines))
            })
            .await?;
            spool = back;
            let lines = lines?;
            if lines.is_empty() {
                // Published, but not in the files yet as we see them (a rotation under way).
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let mut batch = Batch::of(lines, &at)?;
            if let Some(dir) = self.evidence.clone() {
                batch = blocking(move || batch.with_blobs(&dir)).await?;
            }
            let params = batch.params(&self.replica);
            let params = &params[..if self.evidence.is_some() { 9 } else { 7 }];
            within(timeout, client.execute(&insert, params))
                .await
                .map_err(|e| {
                    if e.contains("(23505)") {
                        format!(
                            "PostgreSQL already holds seq {}..={} of replica {:?} from another writer: \
                             two pods under one replica id ({e})",
                            at.seq + 1,
                            batch.end.seq,
                            self.replica
                        )
                    } else {
                        e
                    }
                })?;
            if let Some(dir) = &self.evidence {
                evidence::remove_shipped(dir, &batch.digests);
            }
            at = batch.end;
            self.shared.shipped(at.seq);
            crate::metrics::audit_shipped(batch.records as u64);
            crate::metrics::audit_backlog(written.saturating_sub(at.seq));
            if !self.config.keep_shipped_files {
                self.remove_shipped(at.seq);
            }
        }
    }

    /// Where the store's chain of this replica ends, checked against the local chain, and
    /// the spool positioned just after it.
    async fn resume(&self, client: &Client) -> Result<(Spool, Position), String> {
        let head = postgres::head(client, &self.replica).await?;
        // Only this shipper adds to this replica's chain, and never past what the writer
        // published: a store that is further on holds another writer's records.
        let written = *self.written.borrow();
        if head.seq > written {
            return Err(format!(
                "PostgreSQL holds seq {} of replica {:?}, past this replica's last record \
                 ({written}): two pods under one replica id",
                head.seq, self.replica
            ));
        }
        let live = self.live.clone();
        let (seq, hash) = (head.seq, head.hash.clone());
        let spool = blocking(move || Spool::after(&live, seq, &hash)).await?;
        let at = Position {
            seq: head.seq,
            hash: head.hash,
            checkpoint: head.checkpoint,
        };
        Ok((spool, at))
    }

    fn remove_shipped(&self, shipped: u64) {
        match spool::remove_shipped(&self.live, shipped) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "audit: removed rotated files now in PostgreSQL"),
            Err(e) => tracing::warn!(error = %e, "audit: cannot remove a shipped rotated file"),
        }
    }
}

/// Where the shipped chain ends.
#[derive(Debug, Clone)]
struct Position {
    seq: u64,
    hash: String,
    /// The last checkpoint in the store.
    checkpoint: u64,
}

/// The columns of one insert.
struct Batch {
    seqs: Vec<i64>,
    times: Vec<String>,
    hashes: Vec<String>,
    lines: Vec<String>,
    cp_seqs: Vec<i64>,
    cp_lines: Vec<String>,
    /// The evidence named by the records, each once, and the blobs still waiting locally
    /// (`blobs[i]` is `digests[i]`'s; a digest whose blob is not waiting any more was shipped
    /// with an earlier batch and is sent without it).
    digests: Vec<String>,
    blobs: Vec<Vec<u8>>,
    records: usize,
    end: Position,
}

impl Batch {
    /// The lines after `at`, checked to continue its chain.
    fn of(lines: Vec<Line>, at: &Position) -> Result<Batch, String> {
        let mut batch = Batch {
            seqs: Vec::with_capacity(lines.len()),
            times: Vec::with_capacity(lines.len()),
            hashes: Vec::with_capacity(lines.len()),
            lines: Vec::with_capacity(lines.len()),
            cp_seqs: Vec::new(),
            cp_lines: Vec::new(),
            digests: Vec::new(),
            blobs: Vec::new(),
            records: 0,
            end: at.clone(),
        };
        for line in lines {
            let end = &mut batch.end;
            match line.record {
                Some(head) => {
                    if line.seq != end.seq + 1 || head.prev != end.hash {
                        return Err(format!(
                            "the local chain breaks at seq {} (after seq {}): not shipped; check the files with verify-audit",
                            line.seq, end.seq
                        ));
                    }
                    end.seq = line.seq;
                    end.hash.clone_from(&head.hash);
                    for digest in head.evidence {
                        if !batch.digests.contains(&digest) {
                            batch.digests.push(digest);
                        }
                    }
                    batch.seqs.push(line.seq as i64);
                    batch.times.push(head.time);
                    batch.hashes.push(head.hash);
                    batch.lines.push(line.text);
                    batch.records += 1;
                }
                // Shipped already (before a reconnect).
                None if line.seq <= end.checkpoint => {}
                None => {
                    if line.seq != end.seq {
                        return Err(format!(
                            "a checkpoint of seq {} after seq {} in the local file: not shipped",
                            line.seq, end.seq
                        ));
                    }
                    end.checkpoint = line.seq;
                    batch.cp_seqs.push(line.seq as i64);
                    batch.cp_lines.push(line.text);
                }
            }
        }
        Ok(batch)
    }

    /// The batch with the blobs of its evidence that wait in `dir` (only those are sent).
    fn with_blobs(mut self, dir: &std::path::Path) -> Result<Batch, String> {
        let mut waiting = Vec::new();
        for digest in std::mem::take(&mut self.digests) {
            match evidence::read_waiting(dir, &digest) {
                Ok(Some(blob)) => {
                    waiting.push(digest);
                    self.blobs.push(blob);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("the local evidence spool: {e}")),
            }
        }
        self.digests = waiting;
        Ok(self)
    }

    fn params<'a>(&'a self, replica: &'a String) -> [&'a (dyn ToSql + Sync); 9] {
        [
            replica,
            &self.seqs,
            &self.times,
            &self.hashes,
            &self.lines,
            &self.cp_seqs,
            &self.cp_lines,
            &self.digests,
            &self.blobs,
        ]
    }
}

async fn within<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    tokio::time::timeout(timeout, f)
        .await
        .map_err(|_| format!("no answer from PostgreSQL within {timeout:?}"))?
        .map_err(|e| postgres::error_text(&e))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("reading the local audit files: {e}"))?
}
