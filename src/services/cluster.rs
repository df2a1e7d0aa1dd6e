//! Cluster-wide reads a user needs around their guests: the next free id, cloneable templates,
//! and task status and logs. Every list is filtered by what the caller may see.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::view;
use super::Ops;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::path::{ApiPath, Upid};
use crate::pve::tasks::TaskState;

/// The lowest free guest id: not in use, not being created by another request, and with no
/// backups of an earlier guest (which would pass to the new one, being matched by id).
pub async fn next_id(ops: &Ops) -> AppResult<Value> {
    let resources = ops.pve.resources(None).await?;
    let backed_up = super::quota::ids_with_backups(&ops.pve, &ops.store, &resources).await?;
    let taken: HashSet<u32> = resources
        .iter()
        .filter_map(|r| r.vmid)
        .chain(ops.quotas.held_vmids())
        .chain(backed_up)
        .collect();
    let id = (100u32..1_000_000).find(|i| !taken.contains(i));
    Ok(json!({ "nextId": id }))
}

/// Templates the caller may clone: the templates of the public template pool, and templates
/// they may see and clone.
pub async fn templates(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let v = view(ops).await?;
    let permits = v.permits(&caller.principal);
    let list: Vec<&Resource> = v
        .resources
        .iter()
        .filter(|r| r.is_guest() && r.template)
        .filter(|r| {
            permits.is_public_template(r)
                || r.vmid.is_some_and(|id| {
                    v.engine
                        .guest_allows(&caller.principal, id, GuestAction::Clone)
                })
        })
        .collect();
    let out: Vec<Value> = list
        .iter()
        .map(|r| json!({ "vmid": r.vmid, "name": r.name, "node": r.node, "pool": r.pool, "type": r.kind, "status": r.status, "template": r.template, "public": permits.is_public_template(r) }))
        .collect();
    Ok(Value::Array(out))
}

/// Whether the caller may read a task: admins, whoever started it through Uma, and anyone who
/// may see the guest it concerns (for clones, only the first two: their task names the source).
async fn may_read_task(ops: &Ops, caller: &Caller, upid: &Upid) -> AppResult<bool> {
    if caller.is_admin() {
        return Ok(true);
    }
    if let Some(owner) = ops.tasks.owner(upid).await {
        if owner.user.eq_ignore_ascii_case(caller.username()) {
            return Ok(true);
        }
    }
    // A clone's task names its source: seeing a public template is no right to read others'
    // clones.
    let clone = matches!(upid.task_type(), "qmclone" | "vzclone");
    if let (Some(vmid), false) = (upid.vmid(), clone) {
        let v = view(ops).await?;
        return Ok(v.guest(vmid).is_some()
            && v.engine
                .guest_allows(&caller.principal, vmid, GuestAction::View));
    }
    Ok(false)
}

/// Status of a task (and its log when asked); progress is parsed from the log.
pub async fn task_status(
    ops: &Ops,
    caller: &Caller,
    upid: &str,
    node: Option<&str>,
    logs: bool,
) -> AppResult<Value> {
    let upid = Upid::parse("upid", upid.trim())?;
    if let Some(n) = node.filter(|n| !n.is_empty()) {
        if n != upid.node().as_str() {
            return Err(AppError::field("node", "the task runs on another node"));
        }
    }
    super::limit(
        ops,
        caller,
        crate::limits::Preset::Read,
        AuditAction::ViewTaskStatus,
        &format!("task:{upid}"),
    )
    .await?;
    if !may_read_task(ops, caller, &upid).await? {
        return Err(AppError::with_message(ErrorCode::NotFound, "No such task"));
    }
    let base = ApiPath::lit("nodes")
        .seg(&upid.node())
        .then("tasks")
        .seg(&upid);
    let mut status: Value = ops.pve.get(base.clone().then("status")).await?;
    let running = status["status"] == TaskState::Running.as_str();
    let log: Option<Vec<Value>> = if logs || running {
        Some(
            ops.pve
                .get_with(base.then("log"), &[("limit", "500".to_owned())])
                .await?,
        )
    } else {
        None
    };
    let progress = if status["exitstatus"] == "OK" {
        100
    } else if running {
        log.as_ref()
            .and_then(|l| {
                l.iter()
                    .rev()
                    .find_map(|e| e["t"].as_str().and_then(crate::pve::tasks::percent))
            })
            .unwrap_or(0)
    } else {
        0
    };
    status["progress"] = json!(progress);
    if logs {
        status["logs"] = json!(log);
    }
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewTaskStatus,
        &format!("task:{upid}"),
        Status::Success,
        json!({}),
    );
    Ok(status)
}
