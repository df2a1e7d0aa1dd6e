//! Snapshots: list, take, delete, roll back (a rollback restates what the guest holds against the quota).

use serde_json::{json, Map, Value};

use super::*;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::limits::Preset;
use crate::pve::path::{GuestKind, SnapName, Vmid};
use crate::services::quota::{self, Amounts};
use crate::services::Ops;
use crate::services::{guest, limit};

/// Snapshots of a guest.
pub async fn snapshots(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, AuditAction::ViewSnapshots, vmid).await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::View,
        AuditAction::ViewSnapshots,
    )
    .await?;
    let list: Value = ops.pve.get(g.path("snapshot")).await?;
    Ok(json!({ "data": list }))
}

/// Takes a snapshot.
pub async fn snapshot_create(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    name: &str,
    description: Option<&str>,
    vmstate: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let snap = SnapName::parse_new("snapname", name)?;
    if description.is_some_and(|d| d.len() > 1024) {
        return Err(AppError::field("description", "at most 1024 characters"));
    }
    limit(
        ops,
        caller,
        Preset::VmSnapshot,
        AuditAction::VmSnapshotCreate,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Snapshot,
        AuditAction::VmSnapshotCreate,
    )
    .await?;
    if vmstate && g.kind() == GuestKind::Lxc {
        return Err(AppError::field(
            "vmstate",
            "containers have no RAM state to save",
        ));
    }
    let mut form = vec![("snapname", snap.to_string())];
    if let Some(d) = description.filter(|d| !d.is_empty()) {
        form.push(("description", d.to_owned()));
    }
    if vmstate {
        form.push(("vmstate", "1".to_owned()));
    }
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmSnapshotCreate,
            &resource,
            json!({ "snapname": snap, "vmstate": vmstate }),
            async {
                let v: Value = ops.pve.post(g.path("snapshot"), &form).await?;
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}

/// Deletes a snapshot.
pub async fn snapshot_delete(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    name: &str,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let snap = SnapName::parse("snapname", name)?;
    limit(
        ops,
        caller,
        Preset::VmSnapshot,
        AuditAction::VmSnapshotDelete,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Snapshot,
        AuditAction::VmSnapshotDelete,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmSnapshotDelete,
            &resource,
            json!({ "snapname": snap }),
            async {
                let v: Value = ops.pve.delete(g.path("snapshot").seg(&snap), &[]).await?;
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}

/// Rolls back to a snapshot.
pub async fn snapshot_rollback(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    name: &str,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let snap = SnapName::parse("snapname", name)?;
    limit(
        ops,
        caller,
        Preset::VmSnapshot,
        AuditAction::VmSnapshotRollback,
        &resource,
    )
    .await?;
    let (g, view) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Rollback,
        AuditAction::VmSnapshotRollback,
    )
    .await?;
    let fail = |err: AppError| {
        ops.audit.refused(
            &caller.actor,
            AuditAction::VmSnapshotRollback,
            &resource,
            &err,
        );
        err
    };
    // The guest becomes what the snapshot saved: vetted like a change of every key that differs,
    // and what it then holds beyond what it holds now is held to the quota.
    let saved: Map<String, Value> = ops
        .pve
        .get(g.path("snapshot").seg(&snap).then("config"))
        .await?;
    let cpus = cpus_of(&view, g.node());
    let (before, cfg) = quota::guest_holding(&ops.pve, g.node(), g.kind(), vmid, cpus).await?;
    plan::vet_replacement(
        ops,
        view.permits(&caller.principal),
        &g,
        &saved,
        &cfg.pending,
    )
    .await
    .map_err(fail)?;
    let sizes = quota::sizes_for(&ops.pve, g.node(), g.kind(), &[&saved]).await;
    let mut after = quota::holding_of(g.kind(), &saved, cpus, &sizes);
    // Disks added since the snapshot stay, detached.
    for (vol, size) in &before.disks {
        after.disks.entry(vol.clone()).or_insert(*size);
    }
    let ask = Amounts::growth(&before, &after);
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmSnapshotRollback,
            &resource,
            json!({ "snapname": snap, "adds": ask }),
            async {
                let ticket = reserve_for(ops, g.pool(), ask, false).await?;
                let v: Value = ops
                    .pve
                    .post(g.path("snapshot").seg(&snap).then("rollback"), &[])
                    .await?;
                if let Some(t) = ticket {
                    t.commit_task(upid_of(&v).as_deref());
                }
                ops.acl.invalidate();
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}
