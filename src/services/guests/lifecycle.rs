//! The end of a guest: destroy it, or turn it into a template.

use serde_json::{json, Value};

use super::*;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::limits::Preset;
use crate::pve::path::Vmid;
use crate::services::Ops;
use crate::services::{guest, limit};

/// Destroys a guest (and its disks).
pub async fn delete(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmDelete,
        AuditAction::VmDelete,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Allocate,
        AuditAction::VmDelete,
    )
    .await?;
    ops.audit.audited(&caller.actor, AuditAction::VmDelete,
        &resource,
        json!({ "node": g.node(), "type": g.kind(), "name": g.resource().name, "pool": g.pool() }),
        async {
            let v: Value = ops
                .pve
                .delete(g.path(""), &[("purge", "1".to_owned())])
                .await?;
            ops.acl.invalidate();
            Ok(started(ops, caller, &v, vmid))
        },
    )
    .await
}

/// Converts a guest into a template.
pub async fn make_template(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::VmTemplate,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Allocate,
        AuditAction::VmTemplate,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmTemplate,
            &resource,
            json!({ "node": g.node(), "type": g.kind() }),
            async {
                let v: Value = ops.pve.post(g.path("template"), &[]).await?;
                ops.acl.invalidate();
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}
