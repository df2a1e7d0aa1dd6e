//! The audit log's front door: handlers describe what happened, the audit writer actor batches
//! the rows into the store. Every row carries the operation id of the request or event.

pub mod action;

use std::future::Future;
use std::pin::Pin;

use serde_json::{json, Value};
use uma_actors::audit::{AuditMsg, AuditRecord, AuditSink};
use uma_actors::root::Slot;

use crate::error::{AppError, AppResult};
pub use action::AuditAction;

use crate::opid;
use crate::store::audit::NewAudit;
use crate::store::Store;

/// Writes audit rows through the store, then shows them to the administrators watching the
/// log (`audit:new` to the tail's room, on every instance).
#[derive(Clone)]
pub struct StoreSink {
    store: Store,
    tail: Option<std::sync::Arc<dyn uma_actors::emit::Emitter>>,
}

impl std::fmt::Debug for StoreSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSink")
    }
}

impl StoreSink {
    /// A sink into `store`, emitting written rows through `tail` when given.
    pub fn new(store: Store, tail: Option<std::sync::Arc<dyn uma_actors::emit::Emitter>>) -> Self {
        Self { store, tail }
    }
}

impl AuditSink for StoreSink {
    fn write(
        &self,
        rows: Vec<AuditRecord>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            let rows: Vec<NewAudit> = rows
                .into_iter()
                .map(|r| NewAudit {
                    user_id: r.user_id,
                    username: r.username,
                    action: r.action,
                    resource: r.resource,
                    details: r.details,
                    ip_address: r.ip_address,
                    user_agent: r.user_agent,
                    status: r.status,
                    op_id: r.op_id,
                    created_at: Some(r.at_ms),
                })
                .collect();
            let written = self
                .store
                .insert_audit_rows(&rows)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(tail) = &self.tail {
                tail.emit(uma_actors::emit::Emit::to(
                    vec![crate::push::room::AUDIT_TAIL.to_owned()],
                    "audit:new",
                    json!({ "rows": written.iter().map(|r| r.to_json()).collect::<Vec<_>>() }),
                ))
                .await;
            }
            Ok(())
        })
    }
}

/// The key that signs the audit chain's retention checkpoints, derived from the deployment's
/// cookie secret (every instance has it; rows and checkpoints alone don't).
pub fn chain_key(secret: &crate::secret::Secret) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!());
    mac.update(b"uma audit chain v1");
    mac.finalize().into_bytes().into()
}

/// Row status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The action happened.
    Success,
    /// The action was refused or failed.
    Failure,
    /// Something worth an admin's look (rate limits, rejected events).
    Warning,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Warning => "WARNING",
        }
    }
}

/// Who did it and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Username (`anonymous` when none).
    pub username: String,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// The details of a row: `extra` (what the work adds) merged into `base`.
fn merge(mut base: Value, extra: Value) -> Value {
    match (&mut base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            b.extend(e);
            base
        }
        (Value::Null, e) => e,
        (_, Value::Null) => base,
        (_, e) => json!({ "details": base, "result": e }),
    }
}

/// Handle to the audit writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Audit {
    writer: Slot<AuditMsg>,
}

impl Audit {
    /// Writes through the writer in `writer` (a branch of the actor tree).
    pub fn new(writer: Slot<AuditMsg>) -> Self {
        Self { writer }
    }

    /// Queues a row; never fails the caller (a dead writer is logged).
    pub fn record(
        &self,
        who: &Actor,
        action: AuditAction,
        resource: &str,
        status: Status,
        details: serde_json::Value,
    ) {
        let op = opid::current();
        let row = AuditRecord {
            user_id: None,
            username: if who.username.is_empty() {
                "anonymous".to_owned()
            } else {
                who.username.clone()
            },
            action: action.as_str().to_owned(),
            resource: resource.to_owned(),
            details,
            ip_address: who.ip.clone(),
            user_agent: who.user_agent.clone(),
            status: status.as_str().to_owned(),
            op_id: (op != "-").then_some(op),
            at_ms: crate::store::now_ms(),
        };
        if !self.writer.cast(AuditMsg::Record(Box::new(row))) {
            tracing::error!(
                action = action.as_str(),
                "audit writer unavailable; row lost"
            );
        }
    }

    /// Writes a `FAILURE` row for a request refused before any work (bad input, no permission).
    pub fn refused(&self, who: &Actor, action: AuditAction, resource: &str, err: &AppError) {
        self.record(
            who,
            action,
            resource,
            Status::Failure,
            json!({ "error": err.message, "code": err.code.as_str() }),
        );
    }

    /// Passes `check` on, writing a `FAILURE` row under `action` when it refuses.
    pub fn checked<T>(
        &self,
        who: &Actor,
        action: AuditAction,
        resource: &str,
        check: AppResult<T>,
    ) -> AppResult<T> {
        check.inspect_err(|err| self.refused(who, action, resource, err))
    }

    /// Runs `work` and writes its one row: `SUCCESS` with `details` (plus what `work` adds), or
    /// `FAILURE` with the error the user saw.
    pub async fn audited<T, F>(
        &self,
        who: &Actor,
        action: AuditAction,
        resource: &str,
        details: Value,
        work: F,
    ) -> AppResult<T>
    where
        F: Future<Output = AppResult<(T, Value)>>,
    {
        match work.await {
            Ok((value, extra)) => {
                self.record(
                    who,
                    action,
                    resource,
                    Status::Success,
                    merge(details, extra),
                );
                Ok(value)
            }
            Err(err) => {
                self.record(
                    who,
                    action,
                    resource,
                    Status::Failure,
                    merge(
                        details,
                        json!({ "error": err.message, "code": err.code.as_str() }),
                    ),
                );
                Err(err)
            }
        }
    }

    /// Writes everything queued (tests and shutdown).
    pub async fn flush(&self) -> bool {
        uma_actors::call!(self.writer.get(), AuditMsg::FlushNow).unwrap_or(false)
    }
}
