//! Guest operations (QEMU and LXC alike). Each function checks the caller's permission through
//! the ACL view, applies the rate limit and quota, calls Proxmox with checked path values and
//! writes one audit row. REST routes and Socket.IO events call these same functions.
//!
//! One file per sub-family: `power`, `config`, `disks`, `snapshots`, `firewall`, `lifecycle`,
//! `backup`, `create`; reads of a guest stay here.

mod backup;
mod config;
mod create;
mod disks;
mod firewall;
mod lifecycle;
mod plan;
mod power;
mod snapshots;

pub use backup::*;
pub use config::*;
pub use create::*;
pub use disks::*;
pub use firewall::*;
pub use lifecycle::*;
pub use power::*;
pub use snapshots::*;

use serde::Serialize;
use serde_json::{json, Value};

use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::{ApiPath, Upid, Vmid};
use crate::services::Ops;
use crate::services::{guest, limit};

/// A started Proxmox task.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Always true (kept for the original's clients).
    pub success: bool,
    /// The task id, to follow with `task:*` events or `/api/proxmox/tasks/status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upid: Option<String>,
    /// The guest concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmid: Option<u32>,
}

impl Started {
    fn task(ops: &Ops, caller: &Caller, upid: Option<String>, vmid: Option<Vmid>) -> Self {
        if let Some(u) = upid.as_deref().and_then(|u| Upid::parse("upid", u).ok()) {
            ops.tasks.track(u, caller.username(), vmid.map(|v| v.0));
        }
        Self {
            success: true,
            upid,
            vmid: vmid.map(|v| v.0),
        }
    }
}

/// The answer of an operation that may have started a task, and what its audit row adds.
fn started(ops: &Ops, caller: &Caller, v: &Value, vmid: Vmid) -> (Started, Value) {
    let upid = upid_of(v);
    (
        Started::task(ops, caller, upid.clone(), Some(vmid)),
        json!({ "upid": upid }),
    )
}

/// Proxmox answers a UPID string for asynchronous calls and `null` for synchronous ones.
fn upid_of(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| s.starts_with("UPID:"))
        .map(str::to_owned)
}

fn reject_override(caller: &Caller, requested: bool) -> AppResult<bool> {
    if requested && !caller.is_admin() {
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators may override quotas",
        ));
    }
    Ok(requested)
}

// ---------------------------------------------------------------------------------------------
// Reads

/// Counts one read of a guest that goes to Proxmox against the caller's read limit.
async fn read_limit(ops: &Ops, caller: &Caller, action: AuditAction, vmid: Vmid) -> AppResult<()> {
    limit(ops, caller, Preset::Read, action, &format!("vm:{vmid}")).await
}

/// `status/current` of a guest.
pub async fn status(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, AuditAction::ViewVm, vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, AuditAction::ViewVm).await?;
    let current: Value = ops.pve.get(g.path("status/current")).await?;
    Ok(json!({ "data": current, "type": g.kind(), "node": g.node(), "pool": g.pool() }))
}

/// The guest's configuration.
pub async fn config(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, AuditAction::ViewVm, vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, AuditAction::ViewVm).await?;
    let cfg: Value = ops.pve.get(g.path("config")).await?;
    Ok(json!({ "data": cfg, "type": g.kind(), "node": g.node() }))
}

/// RRD timeframes.
pub const TIMEFRAMES: [&str; 5] = ["hour", "day", "week", "month", "year"];

/// Chart data of a guest.
pub async fn rrd(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    timeframe: Option<&str>,
    cf: Option<&str>,
) -> AppResult<Value> {
    let timeframe = timeframe.unwrap_or("hour");
    if !TIMEFRAMES.contains(&timeframe) {
        return Err(AppError::field(
            "timeframe",
            "use hour, day, week, month or year",
        ));
    }
    let cf = cf.unwrap_or("AVERAGE");
    if cf != "AVERAGE" && cf != "MAX" {
        return Err(AppError::field("cf", "use AVERAGE or MAX"));
    }
    read_limit(ops, caller, AuditAction::ViewVm, vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, AuditAction::ViewVm).await?;
    let data: Value = ops
        .pve
        .get_with(
            g.path("rrddata"),
            &[("timeframe", timeframe.to_owned()), ("cf", cf.to_owned())],
        )
        .await?;
    Ok(json!({ "data": data }))
}

/// Recent tasks of a guest.
pub async fn tasks(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    limit_n: Option<u32>,
) -> AppResult<Value> {
    let n = limit_n.unwrap_or(50);
    if !(1..=500).contains(&n) {
        return Err(AppError::field("limit", "between 1 and 500"));
    }
    read_limit(ops, caller, AuditAction::ViewTasks, vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, AuditAction::ViewTasks).await?;
    let path = ApiPath::lit("nodes").seg(g.node()).then("tasks");
    let list: Value = ops
        .pve
        .get_with(
            path,
            &[("vmid", vmid.to_string()), ("limit", n.to_string())],
        )
        .await?;
    Ok(json!({ "data": list }))
}
