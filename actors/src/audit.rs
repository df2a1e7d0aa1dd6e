//! The audit writer: every action's audit row goes through this actor, which batches rows and
//! writes them through an [`AuditSink`] (the store), so a burst of actions costs few transactions
//! and a slow database never blocks a request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// One audit row as callers describe it.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// Write what is queued now.
    Flush,
    /// Write what is queued and reply when done (tests, shutdown).
    FlushNow(RpcReplyPort<()>),
}

/// The audit writer actor.
pub struct AuditWriter {
    sink: Arc<dyn AuditSink>,
    interval: Duration,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditWriter")
    }
}

/// Rows queued before a write is forced.
const BATCH: usize = 200;

impl AuditWriter {
    /// Starts the writer under `parent`, flushing every `interval`.
    pub async fn start(
        parent: ractor::ActorCell,
        sink: Arc<dyn AuditSink>,
        interval: Duration,
    ) -> Result<ActorRef<AuditMsg>, ractor::SpawnErr> {
        let (actor, _) =
            Actor::spawn_linked(None, AuditWriter { sink, interval }, (), parent).await?;
        Ok(actor)
    }

    async fn flush(&self, queue: &mut Vec<AuditRecord>) {
        if queue.is_empty() {
            return;
        }
        let rows = std::mem::take(queue);
        let n = rows.len();
        if let Err(e) = self.sink.write(rows.clone()).await {
            // Keep the rows for the next attempt unless the queue grows without bound.
            tracing::error!(error = %e, rows = n, "audit rows not written; will retry");
            if rows.len() + queue.len() <= BATCH * 50 {
                let mut rows = rows;
                rows.append(queue);
                *queue = rows;
            }
        }
    }
}

impl Actor for AuditWriter {
    type Msg = AuditMsg;
    type State = Vec<AuditRecord>;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<AuditMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(self.interval, || AuditMsg::Flush);
        Ok(Vec::new())
    }

    async fn handle(
        &self,
        _: ActorRef<AuditMsg>,
        message: AuditMsg,
        queue: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AuditMsg::Record(row) => {
                queue.push(*row);
                if queue.len() >= BATCH {
                    self.flush(queue).await;
                }
            }
            AuditMsg::Flush => self.flush(queue).await,
            AuditMsg::FlushNow(reply) => {
                self.flush(queue).await;
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<AuditMsg>,
        queue: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.flush(queue).await;
        Ok(())
    }
}
