//! Power actions: start, stop, shutdown, reboot, suspend, resume and (QEMU) reset.

use serde_json::{json, Value};

use super::*;
use crate::acl::GuestAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::limits::Preset;
use crate::pve::path::{ApiPath, GuestKind, Vmid};
use crate::services::Ops;
use crate::services::{guest, limit, Guest};

/// Power actions and their audit names; `reset` exists for QEMU only.
pub fn power_action(action: &str, kind: GuestKind) -> Option<&'static str> {
    Some(match action {
        "start" => "VM_START",
        "stop" => "VM_STOP",
        "shutdown" => "VM_SHUTDOWN",
        "reboot" => "VM_REBOOT",
        "suspend" => "VM_SUSPEND",
        "resume" => "VM_RESUME",
        "reset" if kind == GuestKind::Qemu => "VM_RESET",
        _ => return None,
    })
}

fn power_path(g: &Guest, action: &str) -> ApiPath {
    // Each arm is a literal: the action never becomes a path segment by itself.
    g.path(match action {
        "start" => "status/start",
        "stop" => "status/stop",
        "shutdown" => "status/shutdown",
        "reboot" => "status/reboot",
        "suspend" => "status/suspend",
        "resume" => "status/resume",
        _ => "status/reset",
    })
}

/// Starts, stops, … a guest.
pub async fn power(ops: &Ops, caller: &Caller, vmid: Vmid, action: &str) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(ops, caller, Preset::VmPower, "VM_POWER", &resource).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::Power, "VM_POWER").await?;
    let Some(audit_action) = power_action(action, g.kind()) else {
        let err = AppError::field(
            "action",
            format!(
                "unknown power action '{action}' for a {}: use start, stop, shutdown, reboot, suspend, resume{}",
                g.kind().noun(),
                if g.kind() == GuestKind::Qemu { " or reset" } else { "" }
            ),
        );
        ops.audit
            .refused(&caller.actor, "VM_POWER", &resource, &err);
        return Err(err);
    };
    ops.audit
        .audited(
            &caller.actor,
            audit_action,
            &resource,
            json!({ "node": g.node(), "type": g.kind(), "action": action }),
            async {
                let v: Value = ops.pve.post(power_path(&g, action), &[]).await?;
                Ok(started(ops, caller, &v, vmid))
            },
        )
        .await
}
