//! Proxmox operations on guests over Socket.IO: the same services as the REST routes, as events
//! with acks. Actions that start a Proxmox task return its `upid`, and the task's progress then
//! arrives as `task:*` events.

use serde::Deserialize;
use serde_json::{json, Value};

use super::events::{on, parse};
use super::Socket;
use crate::error::{AppError, AppResult};
use crate::pve::path::Vmid;
use crate::services::guests::{self, CloneInput, ConfigChange, CreateCt, CreateVm, FirewallRule};

/// Client events this module handles (each listed in `docs/realtime.md`).
pub const EVENTS: &[&str] = &[
    "vm:power",
    "vm:snapshot",
    "vm:clone",
    "vm:create",
    "vm:delete",
    "vm:config",
    "vm:resize",
    "vm:backup",
    "vm:restore",
    "vm:firewall",
    "task:status",
];

#[derive(Debug, Deserialize)]
struct VmidOnly {
    vmid: u64,
}

#[derive(Debug, Deserialize)]
struct PowerIn {
    vmid: u64,
    action: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotIn {
    vmid: u64,
    /// `create` (default), `delete` or `rollback`.
    #[serde(default)]
    op: Option<String>,
    snapname: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vmstate: bool,
}

#[derive(Debug, Deserialize)]
struct CreateIn {
    node: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ConfigIn {
    vmid: u64,
    #[serde(flatten)]
    change: ConfigChange,
}

#[derive(Debug, Deserialize)]
struct ResizeIn {
    vmid: u64,
    disk: String,
    size: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

#[derive(Debug, Deserialize)]
struct BackupIn {
    vmid: u64,
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    compress: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RestoreIn {
    vmid: u64,
    archive: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

#[derive(Debug, Deserialize)]
struct FirewallIn {
    vmid: u64,
    /// `add` or `delete`.
    op: String,
    #[serde(default)]
    rule: Option<FirewallRule>,
    #[serde(default)]
    pos: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct TaskIn {
    upid: String,
    #[serde(default)]
    logs: bool,
}

fn vmid(id: u64) -> AppResult<Vmid> {
    Vmid::check("vmid", id)
}

/// Registers the operation events on a new socket.
pub fn register(socket: &Socket) {
    on(socket, "vm:power", async |state, caller, _s, d| {
        let i: PowerIn = parse(d)?;
        let (ops, vmid) = (state.ops(), vmid(i.vmid)?);
        let action = guests::action(&ops, &caller, vmid, &i.action)?;
        Ok(json!(guests::power(&ops, &caller, vmid, action).await?))
    });
    on(socket, "vm:snapshot", async |state, caller, _s, d| {
        let i: SnapshotIn = parse(d)?;
        let id = vmid(i.vmid)?;
        let started = match i.op.as_deref().unwrap_or("create") {
            "create" => {
                guests::snapshot_create(
                    &state.ops(),
                    &caller,
                    id,
                    &i.snapname,
                    i.description.as_deref(),
                    i.vmstate,
                )
                .await?
            }
            "delete" => guests::snapshot_delete(&state.ops(), &caller, id, &i.snapname).await?,
            "rollback" => guests::snapshot_rollback(&state.ops(), &caller, id, &i.snapname).await?,
            _ => return Err(AppError::field("op", "create, delete or rollback")),
        };
        Ok(json!(started))
    });
    on(socket, "vm:clone", async |state, caller, _s, d| {
        let i: CloneInput = parse(d)?;
        Ok(json!(guests::clone(&state.ops(), &caller, i).await?))
    });
    on(socket, "vm:create", async |state, caller, _s, d| {
        let i: CreateIn = parse(d)?;
        let started = match i.kind.as_deref().unwrap_or("qemu") {
            "qemu" => {
                let input: CreateVm = parse(Value::Object(i.rest))?;
                guests::create_vm(&state.ops(), &caller, &i.node, input).await?
            }
            "lxc" => {
                let input: CreateCt = parse(Value::Object(i.rest))?;
                guests::create_ct(&state.ops(), &caller, &i.node, input).await?
            }
            _ => return Err(AppError::field("type", "qemu or lxc")),
        };
        Ok(json!(started))
    });
    on(socket, "vm:delete", async |state, caller, s, d| {
        super::events::recent_factor(&state, &s).await?;
        let i: VmidOnly = parse(d)?;
        Ok(json!(
            guests::delete(&state.ops(), &caller, vmid(i.vmid)?).await?
        ))
    });
    on(socket, "vm:config", async |state, caller, _s, d| {
        let i: ConfigIn = parse(d)?;
        guests::update_config(&state.ops(), &caller, vmid(i.vmid)?, i.change).await
    });
    on(socket, "vm:resize", async |state, caller, _s, d| {
        let i: ResizeIn = parse(d)?;
        Ok(json!(
            guests::resize(
                &state.ops(),
                &caller,
                vmid(i.vmid)?,
                &i.disk,
                &i.size,
                i.override_quota
            )
            .await?
        ))
    });
    on(socket, "vm:backup", async |state, caller, _s, d| {
        let i: BackupIn = parse(d)?;
        Ok(json!(
            guests::backup(
                &state.ops(),
                &caller,
                vmid(i.vmid)?,
                i.storage.as_deref(),
                i.mode.as_deref(),
                i.compress.as_deref()
            )
            .await?
        ))
    });
    on(socket, "vm:restore", async |state, caller, s, d| {
        // A restore replaces the guest's disks: as sensitive as deleting it.
        super::events::recent_factor(&state, &s).await?;
        let i: RestoreIn = parse(d)?;
        Ok(json!(
            guests::restore(
                &state.ops(),
                &caller,
                vmid(i.vmid)?,
                &i.archive,
                i.override_quota
            )
            .await?
        ))
    });
    on(socket, "vm:firewall", async |state, caller, _s, d| {
        let i: FirewallIn = parse(d)?;
        let id = vmid(i.vmid)?;
        match i.op.as_str() {
            "add" => {
                let rule = i.rule.ok_or_else(|| AppError::field("rule", "required"))?;
                guests::firewall_add(&state.ops(), &caller, id, &rule).await
            }
            "delete" => {
                let pos = i.pos.ok_or_else(|| AppError::field("pos", "required"))?;
                guests::firewall_delete(&state.ops(), &caller, id, pos).await
            }
            _ => Err(AppError::field("op", "add or delete")),
        }
    });
    on(socket, "task:status", async |state, caller, _s, d| {
        let i: TaskIn = parse(d)?;
        crate::services::cluster::task_status(&state.ops(), &caller, &i.upid, None, i.logs).await
    });
}
