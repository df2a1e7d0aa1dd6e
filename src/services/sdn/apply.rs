//! Applying pending SDN changes: administrators only, once per cooldown across the cluster.

use std::time::{Duration, Instant};

use fred::interfaces::KeysInterface;
use parking_lot::Mutex;

use serde_json::{json, Value};

use super::*;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::path::Upid;
use crate::pve::tasks::TaskState;
use crate::services::view;
use crate::services::Ops;

/// Who holds the apply cooldown, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Seconds left.
    pub remaining: u64,
    /// Who applied.
    pub by: String,
}

#[derive(Debug, Clone)]
struct Held {
    token: String,
    by: String,
    until: Instant,
}

/// A taken cooldown; give it back with [`SdnGate::release`] when the apply fails.
#[derive(Debug)]
pub struct Claim {
    token: String,
    in_redis: bool,
}

/// Per-instance SDN state: the in-process apply cooldown (used without Redis) and the lock that
/// keeps this instance's VNet creations one at a time.
#[derive(Debug, Default)]
pub struct SdnGate {
    local: Mutex<Option<Held>>,
    /// Held while a VNet is checked against the per-user cap and created.
    pub create: tokio::sync::Mutex<()>,
}

impl SdnGate {
    /// Takes the cooldown for `user`, or says who holds it and for how long.
    pub async fn claim(
        &self,
        redis: Option<&fred::clients::Client>,
        user: &str,
        cooldown: Duration,
    ) -> Result<Claim, Busy> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        if let Some(r) = redis {
            match Self::claim_redis(r, &token, user, cooldown).await {
                Ok(Ok(())) => {
                    return Ok(Claim {
                        token,
                        in_redis: true,
                    });
                }
                Ok(Err(busy)) => return Err(busy),
                Err(e) => {
                    tracing::warn!(error = %e, "SDN apply cooldown: Redis failed; keeping it in process");
                }
            }
        }
        let mut held = self.local.lock();
        if let Some(h) = held.as_ref() {
            let now = Instant::now();
            if h.until > now {
                return Err(Busy {
                    remaining: (h.until - now).as_secs_f64().ceil() as u64,
                    by: h.by.clone(),
                });
            }
        }
        *held = Some(Held {
            token: token.clone(),
            by: user.to_owned(),
            until: Instant::now() + cooldown,
        });
        Ok(Claim {
            token,
            in_redis: false,
        })
    }

    async fn claim_redis(
        r: &fred::clients::Client,
        token: &str,
        user: &str,
        cooldown: Duration,
    ) -> Result<Result<(), Busy>, fred::error::Error> {
        let secs = i64::try_from(cooldown.as_secs().max(1)).unwrap_or(i64::MAX);
        let set: Option<String> = r
            .set(
                COOLDOWN_KEY,
                format!("{token}:{user}"),
                Some(fred::types::Expiration::EX(secs)),
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await?;
        if set.is_some() {
            return Ok(Ok(()));
        }
        Ok(Err(Self::busy_redis(r).await?.unwrap_or(Busy {
            remaining: 1,
            by: String::new(),
        })))
    }

    async fn busy_redis(r: &fred::clients::Client) -> Result<Option<Busy>, fred::error::Error> {
        let value: Option<String> = r.get(COOLDOWN_KEY).await?;
        let ttl: i64 = r.ttl(COOLDOWN_KEY).await?;
        Ok(value.filter(|_| ttl > 0).map(|v| Busy {
            remaining: u64::try_from(ttl).unwrap_or(1),
            by: v
                .split_once(':')
                .map(|(_, u)| u.to_owned())
                .unwrap_or_default(),
        }))
    }

    /// Gives the cooldown back (the apply failed), if it is still the one `claim` took.
    pub async fn release(&self, redis: Option<&fred::clients::Client>, claim: Claim) {
        if claim.in_redis {
            if let Some(r) = redis {
                let current: Result<Option<String>, _> = r.get(COOLDOWN_KEY).await;
                match current {
                    Ok(Some(v))
                        if v.split_once(':').map(|(t, _)| t) == Some(claim.token.as_str()) =>
                    {
                        let _: Result<i64, _> = r.del(COOLDOWN_KEY).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SDN apply cooldown: could not release it in Redis");
                    }
                }
            }
            return;
        }
        let mut held = self.local.lock();
        if held.as_ref().is_some_and(|h| h.token == claim.token) {
            *held = None;
        }
    }

    /// The cooldown in force, if any.
    pub async fn status(&self, redis: Option<&fred::clients::Client>) -> Option<Busy> {
        if let Some(r) = redis {
            match Self::busy_redis(r).await {
                Ok(busy) => return busy,
                Err(e) => {
                    tracing::warn!(error = %e, "SDN apply cooldown: Redis failed; reading it in process");
                }
            }
        }
        let held = self.local.lock();
        let now = Instant::now();
        held.as_ref().filter(|h| h.until > now).map(|h| Busy {
            remaining: (h.until - now).as_secs_f64().ceil() as u64,
            by: h.by.clone(),
        })
    }
}

/// Whether the caller is an effective administrator; `false` when the view can't be read (used
/// only to decide how much a read shows).
async fn effective_admin_or_not(ops: &Ops, caller: &Caller) -> bool {
    caller.is_admin()
        || view(ops)
            .await
            .is_ok_and(|v| v.engine.effective_admin(&caller.principal))
}

/// The cooldown: `{remainingSeconds, appliedBy}` (who applied is shown to administrators only).
pub async fn apply_queue(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let busy = ops.sdn.status(ops.redis.as_ref()).await;
    let admin = effective_admin_or_not(ops, caller).await;
    Ok(json!({
        "remainingSeconds": busy.as_ref().map_or(0, |b| b.remaining),
        "appliedBy": busy.filter(|_| admin).map(|b| b.by),
        "cooldownSeconds": COOLDOWN.as_secs(),
    }))
}

/// Applies pending SDN changes to the cluster (effective administrators, once per cooldown).
pub async fn apply(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let resource = "sdn:cluster";
    let v = view_or_refuse(ops, caller, AuditAction::SdnApply, resource).await?;
    if !v.engine.effective_admin(&caller.principal) {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators can apply SDN changes",
        );
        ops.audit
            .refused(&caller.actor, AuditAction::SdnApply, resource, &err);
        return Err(err);
    }
    let claim = match ops
        .sdn
        .claim(ops.redis.as_ref(), caller.username(), COOLDOWN)
        .await
    {
        Ok(c) => c,
        Err(busy) => {
            ops.audit.record(
                &caller.actor,
                AuditAction::SdnApply,
                resource,
                Status::Warning,
                json!({ "reason": "cooldown", "remainingSeconds": busy.remaining, "appliedBy": busy.by }),
            );
            let mut err = AppError::with_message(
                ErrorCode::RateLimited,
                format!(
                    "Network changes were applied by {} moments ago; the next apply is possible in {} seconds.",
                    if busy.by.is_empty() {
                        "someone"
                    } else {
                        busy.by.as_str()
                    },
                    busy.remaining
                ),
            );
            err.retry_after = Some(busy.remaining.max(1));
            return Err(err);
        }
    };
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::SdnApply,
            resource,
            json!({ "cooldownSeconds": COOLDOWN.as_secs() }),
            async {
                let result: Result<Value, _> = ops.pve.put("cluster/sdn", &[]).await;
                let answer = match result {
                    Ok(a) => a,
                    Err(e) => {
                        ops.sdn.release(ops.redis.as_ref(), claim).await;
                        return Err(e.into());
                    }
                };
                let upid = answer.as_str().map(str::to_owned);
                if let Some(u) = upid.as_deref().and_then(|u| Upid::parse("upid", u).ok()) {
                    ops.tasks.track(u, caller.username(), None);
                }
                ops.acl.invalidate();
                Ok((
                    json!({ "success": true, "upid": upid, "cooldownSeconds": COOLDOWN.as_secs() }),
                    json!({ "upid": upid }),
                ))
            },
        )
        .await
}

/// Whether a network task is running: `{isRunning, task}` (the first running SDN apply or
/// networking reload).
pub async fn status(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let tasks: Vec<Value> = ops.pve.get("cluster/tasks").await?;
    let running = tasks.into_iter().find(|t| {
        let ty = str_of(t, "type").unwrap_or_default();
        let id = str_of(t, "id").unwrap_or_default();
        let ended = t.get("endtime").is_some_and(|e| !e.is_null())
            || str_of(t, "status").is_some_and(|s| s != "RUNNING");
        !ended
            && (ty == "reloadnetworkall"
                || ty == "sdnapply"
                || ty.contains("sdn")
                || (ty == "srv" && id.contains("networking")))
    });
    let admin = effective_admin_or_not(ops, caller).await;
    let task = running.map(|t| {
        let mut out = json!({
            "upid": t.get("upid"), "type": t.get("type"), "node": t.get("node"),
            "starttime": t.get("starttime"), "status": TaskState::Running,
        });
        if admin {
            out["user"] = t.get("user").cloned().unwrap_or(Value::Null);
        }
        out
    });
    Ok(json!({ "isRunning": task.is_some(), "task": task }))
}
