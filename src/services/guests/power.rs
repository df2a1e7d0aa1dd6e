//! Power actions: start, stop, shutdown, reboot, suspend, resume and (QEMU) reset.

use serde_json::{json, Value};

use super::*;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::limits::Preset;
use crate::pve::path::{PowerAction, Vmid};
use crate::services::Ops;
use crate::services::{guest, limit};

/// The power action a request names: parsed before anything is spent on the request, and
/// refused (with its audit row) when Uma knows no such action.
pub fn action(ops: &Ops, caller: &Caller, vmid: Vmid, raw: &str) -> AppResult<PowerAction> {
    ops.audit.checked(
        &caller.actor,
        AuditAction::VmPower,
        &format!("vm:{vmid}"),
        PowerAction::parse("action", raw),
    )
}

/// Starts, stops, … a guest. `action` is parsed by the caller (an unknown one never reaches the
/// rate limit or the ACL); whether it applies to the guest's kind is known once the guest is.
pub async fn power(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    action: PowerAction,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmPower,
        AuditAction::VmPower,
        &resource,
    )
    .await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::Power, AuditAction::VmPower).await?;
    if !action.applies_to(g.kind()) {
        let err = AppError::field(
            "action",
            format!(
                "a {} has no {action}: use start, shutdown, reboot, stop, suspend or resume",
                g.kind().noun()
            ),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::VmPower, &resource, &err);
        return Err(err);
    }
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::from(action),
            &resource,
            json!({ "node": g.node(), "type": g.kind(), "action": action }),
            async {
                let v: Value = ops.pve.post(g.path(action.path()), &[]).await?;
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}
