//! The audit writer: every action's audit row goes through this actor, which batches rows and
//! writes them through an [`AuditSink`] (the store), so a burst of actions costs few transactions
//! and a slow database never blocks a request.
//!
//! Nothing is lost when the database is away: rows stay queued (bounded in memory) and are retried
//! with a growing pause; rows beyond the memory bound, and everything still queued when the writer
//! stops, are appended to a spill file (JSON lines) that is replayed, oldest first, as soon as the
//! database answers again — also after a restart.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// One audit row as callers describe it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Acting user's id when known.
    pub user_id: Option<String>,
    /// Acting username (`anonymous` when none).
    pub username: String,
    /// Action name (`LOGIN`, …).
    pub action: String,
    /// Resource (`auth:session`, …).
    pub resource: String,
    /// JSON details.
    pub details: serde_json::Value,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `SUCCESS`, `FAILURE` or `WARNING`.
    pub status: String,
    /// Operation id.
    pub op_id: Option<String>,
    /// When it happened (Unix ms), not when the batch is written.
    pub at_ms: i64,
}

/// Where audit rows end up; the server implements it over the store.
pub trait AuditSink: Send + Sync + 'static {
    /// Writes rows in one go.
    fn write(
        &self,
        rows: Vec<AuditRecord>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// Messages of the audit writer.
#[derive(Debug)]
pub enum AuditMsg {
    /// Queue a row.
    Record(Box<AuditRecord>),
    /// Write what is queued now (unless pausing after a failure).
    Flush,
    /// Write what is queued and reply whether everything is written (tests, shutdown).
    FlushNow(RpcReplyPort<bool>),
}

/// Rows written in one transaction at most.
pub const WRITE_BATCH: usize = 200;

/// How the writer behaves.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// How often queued rows are written.
    pub interval: Duration,
    /// Rows kept in memory while the database is away; more go to the spill file.
    pub max_queued: usize,
    /// The spill file (`None`: rows beyond `max_queued` are dropped, with an error log).
    pub spill: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(250),
            max_queued: 10_000,
            spill: None,
        }
    }
}

/// The audit writer actor.
pub struct AuditWriter {
    sink: Arc<dyn AuditSink>,
    config: AuditConfig,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditWriter")
    }
}

/// Rows queued before a write is forced.
const BATCH: usize = 200;
/// Longest pause between attempts while the database is away.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// The writer's queue and retry state.
#[derive(Debug, Default)]
pub struct WriterState {
    queue: Vec<AuditRecord>,
    pause: Option<Duration>,
    retry_at: Option<Instant>,
}

impl AuditWriter {
    /// Starts the writer under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        sink: Arc<dyn AuditSink>,
        config: AuditConfig,
    ) -> Result<ActorRef<AuditMsg>, ractor::SpawnErr> {
        let (actor, _) =
            Actor::spawn_linked(None, AuditWriter { sink, config }, (), parent).await?;
        Ok(actor)
    }

    fn read_spill(&self) -> Vec<AuditRecord> {
        let Some(path) = &self.config.spill else {
            return Vec::new();
        };
        match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| match serde_json::from_str(l) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable line in the audit spill file");
                        None
                    }
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "audit spill file unreadable");
                Vec::new()
            }
        }
    }

    /// Appends rows to the spill file; false when there is none or it can't be written.
    fn spill(&self, rows: &[AuditRecord]) -> bool {
        let Some(path) = &self.config.spill else {
            return false;
        };
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let mut buf = Vec::new();
            for r in rows {
                serde_json::to_writer(&mut buf, r)?;
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
            f.sync_data()
        };
        match write() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "audit spill file not writable");
                false
            }
        }
    }

    fn clear_spill(&self) {
        if let Some(path) = &self.config.spill {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::error!(error = %e, "audit spill file not removed; rows may repeat");
                }
            }
        }
    }

    /// Replaces the spill file's rows with `rows` (through a new file renamed over it, so a stop
    /// in between loses nothing); false when it can't be written.
    fn replace_spill(&self, rows: &[AuditRecord]) -> bool {
        let Some(path) = &self.config.spill else {
            return false;
        };
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut buf = Vec::new();
            for r in rows {
                serde_json::to_writer(&mut buf, r)?;
                buf.push(b'\n');
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&buf)?;
            f.sync_data()?;
            std::fs::rename(&tmp, path)
        };
        match write() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "audit spill file not rewritten");
                false
            }
        }
    }

    /// Writes the spill file's rows, then the queue, in batches of [`WRITE_BATCH`] (so one
    /// long outage doesn't make one huge transaction that holds the chain's lock for every
    /// instance). Returns whether everything is written.
    async fn flush(&self, st: &mut WriterState, force: bool) -> bool {
        if !force && st.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let spilled = self.read_spill();
        if !spilled.is_empty() {
            let total = spilled.len();
            let mut rest: &[AuditRecord] = &spilled;
            while !rest.is_empty() {
                let (batch, after) = rest.split_at(rest.len().min(WRITE_BATCH));
                if let Err(e) = self.sink.write(batch.to_vec()).await {
                    return self.failed(st, &e);
                }
                rest = after;
                // What is written leaves the file: a failure later repeats nothing.
                if rest.is_empty() {
                    self.clear_spill();
                } else if !self.replace_spill(rest) {
                    // The file still holds what was written: keep the rest in memory instead,
                    // and empty the file so nothing is written twice.
                    self.clear_spill();
                    let mut kept = rest.to_vec();
                    kept.append(&mut st.queue);
                    st.queue = kept;
                    break;
                }
            }
            tracing::info!(rows = total, "audit rows from the spill file written");
        }
        if st.queue.is_empty() {
            st.pause = None;
            st.retry_at = None;
            return true;
        }
        let paused = st.pause.is_some();
        let mut written = 0;
        while !st.queue.is_empty() {
            let n = st.queue.len().min(WRITE_BATCH);
            let rows: Vec<AuditRecord> = st.queue.drain(..n).collect();
            if let Err(e) = self.sink.write(rows.clone()).await {
                let mut rows = rows;
                rows.append(&mut st.queue);
                st.queue = rows;
                return self.failed(st, &e);
            }
            written += n;
        }
        if paused {
            tracing::info!(
                rows = written,
                "audit rows written after the database returned"
            );
        }
        st.pause = None;
        st.retry_at = None;
        true
    }

    fn failed(&self, st: &mut WriterState, error: &str) -> bool {
        let pause = st
            .pause
            .map_or(Duration::from_millis(250), |p| (p * 2).min(MAX_PAUSE));
        if st.pause.is_none() {
            tracing::error!(
                error,
                queued = st.queue.len(),
                "audit rows not written; keeping them and retrying"
            );
        }
        st.pause = Some(pause);
        st.retry_at = Some(Instant::now() + pause);
        self.bound(st);
        false
    }

    /// Keeps the queue within `max_queued`: the oldest rows beyond it go to the spill file.
    fn bound(&self, st: &mut WriterState) {
        if st.queue.len() <= self.config.max_queued {
            return;
        }
        let extra = st.queue.len() - self.config.max_queued;
        let oldest: Vec<AuditRecord> = st.queue.drain(..extra).collect();
        if !self.spill(&oldest) {
            tracing::error!(
                rows = oldest.len(),
                "audit queue full and no spill file: rows dropped"
            );
        }
    }
}

impl Actor for AuditWriter {
    type Msg = AuditMsg;
    type State = WriterState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<AuditMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(self.config.interval, || AuditMsg::Flush);
        Ok(WriterState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<AuditMsg>,
        message: AuditMsg,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AuditMsg::Record(row) => {
                st.queue.push(*row);
                if st.queue.len() >= BATCH {
                    self.flush(st, false).await;
                }
                self.bound(st);
            }
            AuditMsg::Flush => {
                self.flush(st, false).await;
            }
            AuditMsg::FlushNow(reply) => {
                let done = self.flush(st, true).await;
                let _ = reply.send(done);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<AuditMsg>,
        st: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !self.flush(st, true).await && !st.queue.is_empty() {
            let rows = std::mem::take(&mut st.queue);
            if self.spill(&rows) {
                tracing::warn!(
                    rows = rows.len(),
                    "audit rows kept in the spill file for the next start"
                );
            } else {
                tracing::error!(
                    rows = rows.len(),
                    "audit rows lost at shutdown: no database and no spill file"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A sink that fails while `down` is set and records what it wrote.
    #[derive(Default)]
    struct Flaky {
        down: AtomicBool,
        written: parking_lot::Mutex<Vec<String>>,
        /// Size of each successful write.
        batches: parking_lot::Mutex<Vec<usize>>,
        /// Goes down by itself after this many successful writes (0: never).
        down_after: std::sync::atomic::AtomicUsize,
    }

    impl AuditSink for Flaky {
        fn write(
            &self,
            rows: Vec<AuditRecord>,
        ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
            Box::pin(async move {
                if self.down.load(Ordering::SeqCst) {
                    return Err("database away".into());
                }
                let after = self.down_after.load(Ordering::SeqCst);
                if after > 0 && self.batches.lock().len() >= after {
                    self.down.store(true, Ordering::SeqCst);
                    return Err("database away".into());
                }
                self.batches.lock().push(rows.len());
                self.written
                    .lock()
                    .extend(rows.into_iter().map(|r| r.action));
                Ok(())
            })
        }
    }

    fn row(n: usize) -> Box<AuditRecord> {
        Box::new(AuditRecord {
            action: format!("A{n}"),
            ..AuditRecord::default()
        })
    }

    async fn start(sink: Arc<Flaky>, config: AuditConfig) -> ActorRef<AuditMsg> {
        let (actor, _) = Actor::spawn(None, AuditWriter { sink, config }, ())
            .await
            .unwrap();
        actor
    }

    fn spill_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("uma-audit-{tag}-{}.jsonl", std::process::id()))
    }

    #[tokio::test]
    async fn an_outage_loses_nothing_and_keeps_the_order() {
        let sink = Arc::new(Flaky::default());
        let path = spill_path("outage");
        let _ = std::fs::remove_file(&path);
        let w = start(
            sink.clone(),
            AuditConfig {
                interval: Duration::from_millis(20),
                max_queued: 50,
                spill: Some(path.clone()),
            },
        )
        .await;
        sink.down.store(true, Ordering::SeqCst);
        for n in 0..300 {
            w.cast(AuditMsg::Record(row(n))).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sink.written.lock().is_empty());
        assert!(path.exists(), "rows beyond the memory bound are spilled");
        sink.down.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.written.lock().len() < 300 {
            assert!(
                Instant::now() < deadline,
                "only {} rows written",
                sink.written.lock().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let written = sink.written.lock().clone();
        let expected: Vec<String> = (0..300).map(|n| format!("A{n}")).collect();
        assert_eq!(written, expected);
        assert!(!path.exists(), "the spill file is removed once written");
        w.stop(None);
    }

    #[tokio::test]
    async fn rows_queued_at_stop_survive_in_the_spill_file() {
        let path = spill_path("stop");
        let _ = std::fs::remove_file(&path);
        let config = AuditConfig {
            interval: Duration::from_secs(3600),
            max_queued: 1000,
            spill: Some(path.clone()),
        };
        let sink = Arc::new(Flaky::default());
        sink.down.store(true, Ordering::SeqCst);
        let w = start(sink.clone(), config.clone()).await;
        for n in 0..5 {
            w.cast(AuditMsg::Record(row(n))).unwrap();
        }
        // As at shutdown: a last flush (which fails), then the stop.
        let done = ractor::call_t!(w, AuditMsg::FlushNow, 5000).unwrap();
        assert!(!done);
        w.stop_and_wait(None, Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert!(path.exists());
        // A new writer (a restart) writes them once the database answers.
        let sink2 = Arc::new(Flaky::default());
        let w2 = start(sink2.clone(), config).await;
        let done = ractor::call_t!(w2, AuditMsg::FlushNow, 5000).unwrap();
        assert!(done);
        assert_eq!(sink2.written.lock().len(), 5);
        assert!(!path.exists());
        w2.stop(None);
    }

    #[tokio::test]
    async fn a_long_spill_is_written_in_batches_each_row_once() {
        let path = spill_path("batches");
        let _ = std::fs::remove_file(&path);
        let mut text = String::new();
        for n in 0..450 {
            text.push_str(&serde_json::to_string(&*row(n)).unwrap());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let config = AuditConfig {
            interval: Duration::from_secs(3600),
            max_queued: 1000,
            spill: Some(path.clone()),
        };
        // The database goes away after the first batch.
        let sink = Arc::new(Flaky::default());
        sink.down_after.store(1, Ordering::SeqCst);
        let w = start(sink.clone(), config).await;
        let done = ractor::call_t!(w, AuditMsg::FlushNow, 5000).unwrap();
        assert!(!done);
        assert_eq!(*sink.batches.lock(), vec![WRITE_BATCH]);
        let left = std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(left, 450 - WRITE_BATCH, "what was written left the file");
        // It comes back: the rest, once each, in order, in batches.
        sink.down_after.store(0, Ordering::SeqCst);
        sink.down.store(false, Ordering::SeqCst);
        let done = ractor::call_t!(w, AuditMsg::FlushNow, 5000).unwrap();
        assert!(done);
        let expected: Vec<String> = (0..450).map(|n| format!("A{n}")).collect();
        assert_eq!(*sink.written.lock(), expected);
        assert!(sink.batches.lock().iter().all(|b| *b <= WRITE_BATCH));
        assert!(!path.exists());
        w.stop(None);
    }
}
