//! Guest operations (QEMU and LXC alike). Each function checks the caller's permission through
//! the ACL view, applies the rate limit and quota, calls Proxmox with checked path values and
//! writes one audit row. REST routes and Socket.IO events call these same functions.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use validator::Validate;

use super::quota::{self, Amounts, Ask, NewId};
use super::Ops;
use super::{config, guest, limit, Guest};
use crate::acl::cache::View;
use crate::acl::keys;
use crate::acl::owned::{Content, Permits, TargetPool, UsableStorage, UsableVolume, VolumeUse};
use crate::acl::{ConfigPriv, GuestAction};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::{ApiPath, GuestKind, Node, SnapName, Upid, Vmid};
use crate::pve::props::{self, Props};

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
async fn read_limit(ops: &Ops, caller: &Caller, action: &str, vmid: Vmid) -> AppResult<()> {
    limit(ops, caller, Preset::Read, action, &format!("vm:{vmid}")).await
}

/// `status/current` of a guest.
pub async fn status(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, "VIEW_VM", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let current: Value = ops.pve.get(g.path("status/current")).await?;
    Ok(json!({ "data": current, "type": g.kind(), "node": g.node(), "pool": g.pool() }))
}

/// The guest's configuration.
pub async fn config(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, "VIEW_VM", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_VM").await?;
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
    read_limit(ops, caller, "VIEW_VM", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let data: Value = ops
        .pve
        .get_with(
            g.path("rrddata"),
            &[("timeframe", timeframe.to_owned()), ("cf", cf.to_owned())],
        )
        .await?;
    Ok(json!({ "data": data }))
}

/// Snapshots of a guest.
pub async fn snapshots(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, "VIEW_SNAPSHOTS", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_SNAPSHOTS").await?;
    let list: Value = ops.pve.get(g.path("snapshot")).await?;
    Ok(json!({ "data": list }))
}

/// Firewall rules of a guest.
pub async fn firewall_rules(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, "VIEW_VM", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let list: Value = ops.pve.get(g.path("firewall/rules")).await?;
    Ok(json!({ "data": list }))
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
    read_limit(ops, caller, "VIEW_TASKS", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_TASKS").await?;
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

/// One backup archive of a guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    /// `storage:backup/vzdump-qemu-100-….vma.zst`.
    pub volid: String,
    /// Storage.
    #[serde(default)]
    pub storage: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// Creation time (Unix s).
    #[serde(default)]
    pub ctime: i64,
    /// Archive format.
    #[serde(default)]
    pub format: Option<String>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Guest id.
    #[serde(default)]
    pub vmid: Option<u32>,
}

async fn list_backups(ops: &Ops, g: &Guest) -> AppResult<Vec<Backup>> {
    let mut out = Vec::new();
    for (sid, _) in quota::backup_storages(&ops.pve, g.node()).await? {
        let items: Vec<Backup> = ops
            .pve
            .get_with(
                ApiPath::storage_content(g.node(), &sid),
                &[
                    ("content", "backup".to_owned()),
                    ("vmid", g.vmid().to_string()),
                ],
            )
            .await?;
        out.extend(
            items
                .into_iter()
                .filter(|b| b.vmid.is_none_or(|v| v == g.vmid().0))
                .map(|mut b| {
                    b.storage = sid.to_string();
                    b
                }),
        );
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.ctime));
    Ok(out)
}

/// Backups of a guest, newest first.
pub async fn backups(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, "VIEW_BACKUPS", vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, "VIEW_BACKUPS").await?;
    Ok(json!({ "data": list_backups(ops, &g).await? }))
}

// ---------------------------------------------------------------------------------------------
// Power

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

// ---------------------------------------------------------------------------------------------
// Configuration

/// Input of a configuration change.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChange {
    /// Keys to set.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Keys to remove.
    #[serde(default)]
    pub delete: Vec<String>,
    /// Admins only: skip the quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

/// Reserves `ask` against the quota of `pool` (nothing when the guest is in no pool, nothing is
/// asked, or an administrator overrides).
async fn reserve_for(
    ops: &Ops,
    pool: Option<&str>,
    ask: Amounts,
    override_quota: bool,
) -> AppResult<Option<quota::Ticket>> {
    match pool {
        Some(pool) if !ask.is_zero() && !override_quota => Ok(Some(
            ops.quotas
                .reserve(Ask {
                    pool: Some(pool.to_owned()),
                    amounts: ask,
                    new_vmid: NewId::None,
                })
                .await?,
        )),
        _ => Ok(None),
    }
}

/// The CPU count of the node a guest runs on.
fn cpus_of(view: &View, node: &Node) -> i64 {
    quota::node_cpus(&view.resources)
        .get(node.as_str())
        .copied()
        .unwrap_or(1)
}

/// Changes a guest's configuration. Every key needs its own privilege, every object named in a
/// value must be the caller's to use, and what the guest holds after the change (set and
/// delete applied) beyond what it holds now is held to the pool's quota.
pub async fn update_config(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    change: ConfigChange,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(ops, caller, Preset::VmConfig, "VM_UPDATE", &resource).await?;
    let (g, view) = guest(ops, caller, vmid, GuestAction::Configure, "VM_UPDATE").await?;
    let override_quota = ops.audit.checked(
        &caller.actor,
        "VM_UPDATE",
        &resource,
        reject_override(caller, change.override_quota),
    )?;
    let cfg = quota::guest_config(&ops.pve, g.node(), g.kind(), vmid).await?;
    let plan = config::plan(
        ops,
        view.permits(&caller.principal),
        &g,
        &change.set,
        &change.delete,
        &cfg,
        cpus_of(&view, g.node()),
    )
    .await;
    let plan = ops
        .audit
        .checked(&caller.actor, "VM_UPDATE", &resource, plan)?;
    let ask = Amounts::growth(&plan.before, &plan.after);
    let diff = plan.diff.clone();
    ops.audit
        .audited(
            &caller.actor,
            "VM_UPDATE",
            &resource,
            json!({ "diff": diff, "quotaOverride": override_quota, "adds": ask }),
            async {
                let ticket = reserve_for(ops, g.pool(), ask, override_quota).await?;
                let form: Vec<(&str, String)> = plan
                    .form
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                let v: Value = ops.pve.put(g.path("config"), &form).await?;
                if let Some(t) = ticket {
                    t.commit_task(upid_of(&v).as_deref());
                }
                ops.acl.invalidate();
                Ok((
                    json!({ "success": true, "upid": upid_of(&v), "diff": diff }),
                    Value::Null,
                ))
            },
        )
        .await
}

/// A disk size: `+10G` (grow by) or `32G` (grow to).
fn parse_size(raw: &str) -> AppResult<(bool, f64)> {
    static SIZE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(\+?)(\d{1,7}(?:\.\d{1,3})?)([KMGT]?)$").expect("static")
    });
    let c = SIZE.captures(raw.trim()).ok_or_else(|| {
        AppError::field("size", "a size like '+10G' (grow by) or '64G' (grow to)")
    })?;
    let n: f64 = c[2]
        .parse()
        .map_err(|_| AppError::field("size", "not a number"))?;
    let gib = match &c[3] {
        "K" => n / (1024.0 * 1024.0),
        "M" => n / 1024.0,
        "T" => n * 1024.0,
        _ => n,
    };
    if gib <= 0.0 {
        return Err(AppError::field("size", "must be more than zero"));
    }
    Ok((!c[1].is_empty(), gib))
}

/// Grows a disk; what it adds counts against the pool's disk quota.
pub async fn resize(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    disk: &str,
    size: &str,
    override_quota: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(ops, caller, Preset::VmConfig, "VM_RESIZE", &resource).await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Disk),
        "VM_RESIZE",
    )
    .await?;
    let override_quota = ops.audit.checked(
        &caller.actor,
        "VM_RESIZE",
        &resource,
        reject_override(caller, override_quota),
    )?;
    let known = keys::rule(g.kind(), disk)
        .is_some_and(|r| matches!(r.value, keys::Value::Drive(_) | keys::Value::Mount(_)));
    if !known {
        let err = AppError::field(
            "disk",
            match g.kind() {
                GuestKind::Qemu => "a disk like scsi0, virtio0, sata0 or ide0",
                GuestKind::Lxc => "rootfs or a mount point like mp0",
            },
        );
        ops.audit
            .refused(&caller.actor, "VM_RESIZE", &resource, &err);
        return Err(err);
    }
    let (relative, gib) =
        ops.audit
            .checked(&caller.actor, "VM_RESIZE", &resource, parse_size(size))?;
    let cfg: Map<String, Value> = ops.pve.get(g.path("config")).await?;
    let current = cfg
        .get(disk)
        .and_then(Value::as_str)
        .and_then(|v| quota::volume_of(g.kind(), disk, v));
    let Some((_, current_bytes)) = current else {
        let err = AppError::field(
            "disk",
            format!("{} {vmid} has no disk {disk}", g.kind().noun()),
        );
        ops.audit
            .refused(&caller.actor, "VM_RESIZE", &resource, &err);
        return Err(err);
    };
    let current = current_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64;
    let grow = if relative { gib } else { gib - current };
    if grow <= 0.0 {
        let err = AppError::field(
            "size",
            format!("disks only grow: {disk} is already {current} GiB"),
        );
        ops.audit
            .refused(&caller.actor, "VM_RESIZE", &resource, &err);
        return Err(err);
    }
    let ask = Amounts {
        disk: grow.ceil() as i64,
        ..Amounts::default()
    };
    let size_param = if relative {
        format!("+{}", size.trim().trim_start_matches('+'))
    } else {
        size.trim().to_owned()
    };
    ops.audit.audited(&caller.actor, "VM_RESIZE",
        &resource,
        json!({ "disk": disk, "diff": { "size": { "old": format!("{current}G"), "new": size_param } }, "quotaOverride": override_quota }),
        async {
            let ticket = reserve_for(ops, g.pool(), ask, override_quota).await?;
            let v: Value = ops
                .pve
                .put(
                    g.path("resize"),
                    &[("disk", disk.to_owned()), ("size", size_param.clone())],
                )
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

// ---------------------------------------------------------------------------------------------
// Snapshots

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
        "VM_SNAPSHOT_CREATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Snapshot,
        "VM_SNAPSHOT_CREATE",
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
            "VM_SNAPSHOT_CREATE",
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
        "VM_SNAPSHOT_DELETE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Snapshot,
        "VM_SNAPSHOT_DELETE",
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            "VM_SNAPSHOT_DELETE",
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
        "VM_SNAPSHOT_ROLLBACK",
        &resource,
    )
    .await?;
    let (g, view) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Rollback,
        "VM_SNAPSHOT_ROLLBACK",
    )
    .await?;
    let fail = |err: AppError| {
        ops.audit
            .refused(&caller.actor, "VM_SNAPSHOT_ROLLBACK", &resource, &err);
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
    config::vet_replacement(
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
            "VM_SNAPSHOT_ROLLBACK",
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

// ---------------------------------------------------------------------------------------------
// Firewall

/// A firewall rule as a user sends it.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FirewallRule {
    /// `in`, `out` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ACCEPT, DROP, REJECT, or a security group for `group`.
    pub action: String,
    /// 1 or 0.
    #[serde(default)]
    pub enable: Option<u8>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Source address, range, alias or set.
    #[serde(default)]
    pub source: Option<String>,
    /// Destination.
    #[serde(default)]
    pub dest: Option<String>,
    /// Source port(s).
    #[serde(default)]
    pub sport: Option<String>,
    /// Destination port(s).
    #[serde(default)]
    pub dport: Option<String>,
    /// Protocol.
    #[serde(default)]
    pub proto: Option<String>,
    /// Macro.
    #[serde(default, rename = "macro")]
    pub macro_name: Option<String>,
    /// Interface (`net0`).
    #[serde(default)]
    pub iface: Option<String>,
    /// Log level.
    #[serde(default)]
    pub log: Option<String>,
    /// Position.
    #[serde(default)]
    pub pos: Option<u32>,
}

fn rule_form(r: &FirewallRule) -> AppResult<Vec<(&'static str, String)>> {
    fn re(p: &'static str) -> Regex {
        #[allow(clippy::expect_used)]
        Regex::new(p).expect("static")
    }
    static ACTION: LazyLock<Regex> = LazyLock::new(|| re(r"^(ACCEPT|DROP|REJECT)$"));
    static GROUP: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z][A-Za-z0-9\-_]{1,17}$"));
    static ADDR: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9.:/,+_\-]{1,512}$"));
    static PORTS: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9a-z:,\-]{1,256}$"));
    static PROTO: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9\-]{1,16}$"));
    static MACRO: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9\-_]{1,64}$"));
    static IFACE: LazyLock<Regex> = LazyLock::new(|| re(r"^net\d{1,2}$"));
    static LOG: LazyLock<Regex> =
        LazyLock::new(|| re(r"^(emerg|alert|crit|err|warning|notice|info|debug|nolog)$"));
    let mut form = Vec::new();
    match r.kind.as_str() {
        "in" | "out" => {
            if !ACTION.is_match(&r.action) {
                return Err(AppError::field("action", "ACCEPT, DROP or REJECT"));
            }
        }
        "group" => {
            if !GROUP.is_match(&r.action) {
                return Err(AppError::field("action", "the name of a security group"));
            }
        }
        _ => return Err(AppError::field("type", "in, out or group")),
    }
    form.push(("type", r.kind.clone()));
    form.push(("action", r.action.clone()));
    form.push(("enable", r.enable.unwrap_or(1).min(1).to_string()));
    let opt = |form: &mut Vec<(&'static str, String)>,
               key: &'static str,
               v: &Option<String>,
               re: &Regex,
               reason: &str|
     -> AppResult<()> {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            if !re.is_match(v) {
                return Err(AppError::field(key, reason));
            }
            form.push((key, v.to_owned()));
        }
        Ok(())
    };
    opt(
        &mut form,
        "source",
        &r.source,
        &ADDR,
        "an address, CIDR, range, alias or IP set",
    )?;
    opt(
        &mut form,
        "dest",
        &r.dest,
        &ADDR,
        "an address, CIDR, range, alias or IP set",
    )?;
    opt(
        &mut form,
        "sport",
        &r.sport,
        &PORTS,
        "ports like 22, 80:90 or 80,443",
    )?;
    opt(
        &mut form,
        "dport",
        &r.dport,
        &PORTS,
        "ports like 22, 80:90 or 80,443",
    )?;
    opt(
        &mut form,
        "proto",
        &r.proto,
        &PROTO,
        "a protocol name or number (tcp, udp, icmp, …)",
    )?;
    opt(
        &mut form,
        "macro",
        &r.macro_name,
        &MACRO,
        "a firewall macro name",
    )?;
    opt(
        &mut form,
        "iface",
        &r.iface,
        &IFACE,
        "a guest interface like net0",
    )?;
    opt(
        &mut form,
        "log",
        &r.log,
        &LOG,
        "a log level (nolog, info, …)",
    )?;
    if let Some(c) = r.comment.as_deref().filter(|c| !c.is_empty()) {
        if c.len() > 256 || c.contains(['\n', '\r']) {
            return Err(AppError::field(
                "comment",
                "one line of at most 256 characters",
            ));
        }
        form.push(("comment", c.to_owned()));
    }
    if (r.sport.is_some() || r.dport.is_some()) && r.proto.is_none() && r.macro_name.is_none() {
        return Err(AppError::field(
            "proto",
            "ports need a protocol (tcp or udp)",
        ));
    }
    if let Some(pos) = r.pos {
        form.push(("pos", pos.to_string()));
    }
    Ok(form)
}

/// Adds a firewall rule.
pub async fn firewall_add(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    rule: &FirewallRule,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    let form = rule_form(rule)?;
    limit(
        ops,
        caller,
        Preset::VmConfig,
        "VM_FIREWALL_UPDATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Network),
        "VM_FIREWALL_UPDATE",
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            "VM_FIREWALL_UPDATE",
            &resource,
            json!({ "operation": "add", "rule": rule }),
            async {
                let _: Value = ops.pve.post(g.path("firewall/rules"), &form).await?;
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

/// Deletes the firewall rule at `pos`.
pub async fn firewall_delete(ops: &Ops, caller: &Caller, vmid: Vmid, pos: u32) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        "VM_FIREWALL_UPDATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Network),
        "VM_FIREWALL_UPDATE",
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            "VM_FIREWALL_UPDATE",
            &resource,
            json!({ "operation": "delete", "pos": pos }),
            async {
                let path = g.path("firewall/rules").seg(&Vmid(pos));
                let _: Value = ops.pve.delete(path, &[]).await?;
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Destroys a guest (and its disks).
pub async fn delete(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(ops, caller, Preset::VmDelete, "VM_DELETE", &resource).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::Allocate, "VM_DELETE").await?;
    ops.audit.audited(&caller.actor, "VM_DELETE",
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
    limit(ops, caller, Preset::VmConfig, "VM_TEMPLATE", &resource).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::Allocate, "VM_TEMPLATE").await?;
    ops.audit
        .audited(
            &caller.actor,
            "VM_TEMPLATE",
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

/// Backup modes.
pub const BACKUP_MODES: [&str; 3] = ["snapshot", "suspend", "stop"];

/// The storage a backup goes to: the one named (which the caller must be allowed to allocate
/// on and which must hold backups), else — for non-administrators — the first backup storage
/// of the node they may use. Administrators may leave it to Proxmox's default.
fn backup_storage(
    permits: Permits<'_>,
    view: &View,
    node: &Node,
    named: Option<&str>,
) -> AppResult<Option<UsableStorage>> {
    if let Some(s) = named {
        return permits
            .storage("storage", s, Content::Backup, node)
            .map(Some);
    }
    if permits.principal().is_admin {
        return Ok(None);
    }
    let mut candidates: Vec<&str> = view
        .resources
        .iter()
        .filter(|r| r.kind == "storage" && r.node.as_deref() == Some(node.as_str()))
        .filter_map(|r| r.storage.as_deref())
        .collect();
    candidates.sort_unstable();
    candidates
        .into_iter()
        .find_map(|s| permits.storage("storage", s, Content::Backup, node).ok())
        .map(Some)
        .ok_or_else(|| {
            AppError::field(
                "storage",
                format!("no backup storage on node {node} is open to you; ask an administrator"),
            )
        })
}

/// Backs a guest up with vzdump.
pub async fn backup(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    storage: Option<&str>,
    mode: Option<&str>,
    compress: Option<&str>,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let mode = mode.unwrap_or("snapshot");
    if !BACKUP_MODES.contains(&mode) {
        return Err(AppError::field("mode", "snapshot, suspend or stop"));
    }
    let compress = compress.unwrap_or("zstd");
    if !["zstd", "lzo", "gzip", "0"].contains(&compress) {
        return Err(AppError::field("compress", "zstd, lzo, gzip or 0"));
    }
    limit(ops, caller, Preset::VmCreate, "BACKUP_CREATE", &resource).await?;
    let (g, view) = guest(ops, caller, vmid, GuestAction::Backup, "BACKUP_CREATE").await?;
    let storage = ops.audit.checked(
        &caller.actor,
        "BACKUP_CREATE",
        &resource,
        backup_storage(
            view.permits(&caller.principal),
            &view,
            g.node(),
            storage.filter(|s| !s.is_empty()),
        ),
    )?;
    let mut form = vec![
        ("vmid", vmid.to_string()),
        ("mode", mode.to_owned()),
        ("compress", compress.to_owned()),
    ];
    if let Some(s) = &storage {
        form.push(("storage", s.to_string()));
    }
    ops.audit.audited(&caller.actor, "BACKUP_CREATE",
        &resource,
        json!({ "node": g.node(), "storage": storage.as_ref().map(UsableStorage::as_str), "mode": mode, "compress": compress }),
        async {
            let v: Value = ops
                .pve
                .post(ApiPath::lit("nodes").seg(g.node()).then("vzdump"), &form)
                .await?;
            // The id now has backups: hold it back from new guests, also while this node is
            // down.
            ops.store.hold_guest_ids(&[vmid.0], "backup").await?;
            Ok(started(ops, caller, &v, vmid))
        },
    )
    .await
}

/// The configuration saved in a backup archive (`GET …/vzdump/extractconfig`): its keys up to
/// the first snapshot section.
async fn archive_config(
    ops: &Ops,
    node: &Node,
    volume: &UsableVolume,
) -> AppResult<Map<String, Value>> {
    let text: String = ops
        .pve
        .get_with(
            ApiPath::lit("nodes").seg(node).then("vzdump/extractconfig"),
            &[("volume", volume.as_str().to_owned())],
        )
        .await?;
    let mut out = Map::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            break;
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.insert(k.trim().to_owned(), Value::String(v.trim().to_owned()));
        }
    }
    Ok(out)
}

/// Restores a backup of this guest over it (the guest must be stopped). The archive's disks
/// come back on their storages, which the caller must be allowed to allocate on, and what the
/// guest then holds beyond what it holds now counts against the pool's quota.
pub async fn restore(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    archive: &str,
    override_quota: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(ops, caller, Preset::VmCreate, "BACKUP_RESTORE", &resource).await?;
    let (g, view) = guest(ops, caller, vmid, GuestAction::Allocate, "BACKUP_RESTORE").await?;
    let permits = view.permits(&caller.principal);
    let fail = |err: AppError| {
        ops.audit
            .refused(&caller.actor, "BACKUP_RESTORE", &resource, &err);
        err
    };
    let override_quota = reject_override(caller, override_quota).map_err(fail)?;
    let volume = permits
        .volume("archive", archive, VolumeUse::RestoreOver(&g))
        .map_err(fail)?;
    let backups = list_backups(ops, &g).await?;
    if !backups.iter().any(|b| b.volid == volume.as_str()) {
        return Err(fail(AppError::field(
            "archive",
            format!("no backup {volume} of {} {vmid}", g.kind().noun()),
        )));
    }
    let current: Value = ops.pve.get(g.path("status/current")).await?;
    if current["status"] != "stopped" {
        return Err(fail(AppError::with_message(
            ErrorCode::Conflict,
            format!(
                "{} {vmid} is running: stop it before restoring a backup over it",
                g.kind().noun()
            ),
        )));
    }
    // The archive's disks come back where they were saved: those storages must be the caller's.
    let saved = archive_config(ops, g.node(), &volume).await?;
    for (key, value) in &saved {
        let Some((vol, _)) = value
            .as_str()
            .and_then(|v| quota::volume_of(g.kind(), key, v))
        else {
            continue;
        };
        let store = vol.split(':').next().unwrap_or_default();
        permits
            .storage("archive", store, Content::disks_of(g.kind()), g.node())
            .map_err(fail)?;
    }
    let cpus = cpus_of(&view, g.node());
    let (before, now) = quota::guest_holding(&ops.pve, g.node(), g.kind(), vmid, cpus).await?;
    config::vet_replacement(ops, permits, &g, &saved, &now.pending)
        .await
        .map_err(fail)?;
    let after = quota::holding_of(g.kind(), &saved, cpus, &std::collections::HashMap::new());
    let ask = Amounts::growth(&before, &after);
    let (path, form) = match g.kind() {
        GuestKind::Qemu => (
            ApiPath::lit("nodes").seg(g.node()).then("qemu"),
            vec![
                ("vmid", vmid.to_string()),
                ("archive", volume.to_string()),
                ("force", "1".to_owned()),
            ],
        ),
        GuestKind::Lxc => (
            ApiPath::lit("nodes").seg(g.node()).then("lxc"),
            vec![
                ("vmid", vmid.to_string()),
                ("ostemplate", volume.to_string()),
                ("restore", "1".to_owned()),
                ("force", "1".to_owned()),
            ],
        ),
    };
    let mut form = form;
    if let Some(pool) = g.pool() {
        form.push(("pool", pool.to_owned()));
    }
    ops.audit.audited(&caller.actor, "BACKUP_RESTORE",
        &resource,
        json!({ "archive": volume.as_str(), "node": g.node(), "quotaOverride": override_quota, "adds": ask }),
        async {
            let ticket = reserve_for(ops, g.pool(), ask, override_quota).await?;
            let v: Value = ops.pve.post(path, &form).await?;
            if let Some(t) = ticket {
                t.commit_task(upid_of(&v).as_deref());
            }
            ops.acl.invalidate();
            Ok(started(ops, caller, &v, vmid))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Creation

/// A new QEMU VM.
#[derive(Debug, Default, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct CreateVm {
    /// Id; the next free one when absent.
    pub vmid: Option<u64>,
    /// Name.
    pub name: Option<String>,
    /// Pool (required for non-admins).
    pub pool: Option<String>,
    /// Disk storage.
    pub storage: Option<String>,
    /// Disk size, GiB.
    #[validate(range(min = 1, max = 65536, message = "from 1 to 65536 GiB"))]
    pub disk_size: Option<u32>,
    /// ISO volume for the CD drive.
    pub iso: Option<String>,
    /// Cores.
    #[validate(range(min = 1, max = 128, message = "from 1 to 128"))]
    pub cores: Option<u32>,
    /// Sockets.
    #[validate(range(min = 1, max = 4, message = "from 1 to 4"))]
    pub sockets: Option<u32>,
    /// Memory, MiB.
    #[validate(range(min = 64, max = 1_048_576, message = "from 64 to 1048576 MiB"))]
    pub memory: Option<u32>,
    /// Bridge, or a full `net0` value.
    pub net0: Option<String>,
    /// OS type.
    pub ostype: Option<String>,
    /// Start when created.
    #[serde(default)]
    pub start: bool,
    /// Admins only: skip the quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

/// A new LXC container.
#[derive(Debug, Default, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct CreateCt {
    /// Id; the next free one when absent.
    pub vmid: Option<u64>,
    /// Host name.
    pub hostname: Option<String>,
    /// Pool (required for non-admins).
    pub pool: Option<String>,
    /// OS template volume (`local:vztmpl/debian-12-standard_….tar.zst`).
    pub ostemplate: String,
    /// Root disk storage.
    pub storage: String,
    /// Root disk size, GiB.
    #[validate(range(min = 1, max = 65536, message = "from 1 to 65536 GiB"))]
    pub disk_size: Option<u32>,
    /// Cores.
    #[validate(range(min = 1, max = 128, message = "from 1 to 128"))]
    pub cores: Option<u32>,
    /// Memory, MiB.
    #[validate(range(min = 16, max = 1_048_576, message = "from 16 to 1048576 MiB"))]
    pub memory: Option<u32>,
    /// Swap, MiB.
    #[validate(range(max = 1_048_576, message = "from 0 to 1048576 MiB"))]
    pub swap: Option<u32>,
    /// Root password.
    #[validate(length(min = 5, max = 128, message = "5 to 128 characters"))]
    pub password: Option<String>,
    /// SSH public keys for root.
    #[validate(length(max = 16384, message = "at most 16 KiB of keys"))]
    pub ssh_public_keys: Option<String>,
    /// Bridge.
    pub bridge: Option<String>,
    /// Unprivileged (default true).
    pub unprivileged: Option<bool>,
    /// Start when created.
    #[serde(default)]
    pub start: bool,
    /// Admins only: skip the quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

/// The pool a new guest goes to: one the caller may create guests in; outside pools only for
/// administrators.
fn target_pool(
    permits: Permits<'_>,
    field: &str,
    raw: Option<&str>,
) -> AppResult<Option<TargetPool>> {
    match raw.filter(|p| !p.is_empty()) {
        Some(p) => permits.pool_for_guests(field, p).map(Some),
        None if permits.principal().is_admin => Ok(None),
        None => Err(AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators may create guests outside a pool",
        )),
    }
}

/// A network device for a new guest: a bare bridge name (a virtio NIC on it) or a whole `net0`
/// value, its bridge one the caller may use.
fn nic(
    permits: Permits<'_>,
    field: &str,
    raw: &str,
    format: &'static props::Format,
    vnets: &[Value],
) -> AppResult<String> {
    let value = if raw.contains('=') {
        raw.to_owned()
    } else if format.default_key.is_some() {
        format!("virtio,bridge={raw}")
    } else {
        format!("name=eth0,bridge={raw},ip=dhcp")
    };
    let mut p = Props::parse(format, &value).map_err(|e| AppError::field(field, e.0))?;
    if format.default_key.is_none() && p.get("name").is_none() {
        p.set("name", "eth0");
    }
    let Some(bridge) = p.get("bridge").map(str::to_owned) else {
        return Err(AppError::field(
            field,
            "name the bridge: virtio,bridge=vmbr0",
        ));
    };
    let vlans = p.get("tag").is_some() || p.get("trunks").is_some();
    let usable = permits.bridge(field, &bridge, vlans, vnets)?;
    p.set("bridge", usable.as_str());
    Ok(p.render(format))
}

/// The VNets, read when a request names a bridge that may be one.
async fn vnets_for(ops: &Ops, permits: Permits<'_>, bridges: &[&str]) -> AppResult<Vec<Value>> {
    let public = &permits.policy().public_bridges;
    if bridges.iter().all(|b| public.iter().any(|p| p == b)) {
        return Ok(Vec::new());
    }
    Ok(ops.pve.get("cluster/sdn/vnets").await?)
}

/// The bridge a NIC value names (bare bridge or `…,bridge=X,…`).
fn bridge_named(raw: &str) -> &str {
    if raw.contains('=') {
        raw.split(',')
            .find_map(|p| p.strip_prefix("bridge="))
            .unwrap_or_default()
    } else {
        raw
    }
}

/// What a creation reserves: the pool charged, what it adds, and the new guest's id.
struct Charge<'a> {
    pool: Option<&'a TargetPool>,
    override_quota: bool,
    amounts: Amounts,
    new_vmid: NewId,
}

/// The tail every creation shares: reserve the quota (and the id), create, commit, tell the
/// watchers, and follow the task.
async fn create_guest(
    ops: &Ops,
    caller: &Caller,
    charge: Charge<'_>,
    path: impl FnOnce(Vmid) -> ApiPath,
    form: impl FnOnce(Vmid) -> Vec<(&'static str, String)>,
) -> AppResult<(Started, Value)> {
    let ticket = ops
        .quotas
        .reserve(Ask {
            pool: if charge.override_quota {
                None
            } else {
                charge.pool.map(|p| p.as_str().to_owned())
            },
            amounts: charge.amounts,
            new_vmid: charge.new_vmid,
        })
        .await?;
    let vmid = ticket
        .vmid()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no free guest id")))?;
    let v: Value = ops.pve.post(path(vmid), &form(vmid)).await?;
    ticket.commit_task(upid_of(&v).as_deref());
    ops.acl.invalidate();
    let upid = upid_of(&v);
    Ok((
        Started::task(ops, caller, upid.clone(), Some(vmid)),
        json!({ "upid": upid, "vmid": vmid }),
    ))
}

/// Creates a QEMU VM.
pub async fn create_vm(
    ops: &Ops,
    caller: &Caller,
    node: &str,
    input: CreateVm,
) -> AppResult<Started> {
    let resource = format!("node:{node}");
    let given = input.vmid.map(|v| Vmid::check("vmid", v)).transpose()?;
    super::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let sockets = input.sockets.unwrap_or(1);
    let memory = input.memory.unwrap_or(2048);
    if let Some(n) = &input.name {
        config::plain("name", keys::Value::Name, n)?;
    }
    let ostype = input.ostype.clone().unwrap_or_else(|| "l26".to_owned());
    config::plain("ostype", keys::Value::Enum(keys::QEMU_OSTYPES), &ostype)
        .map_err(|_| AppError::field("ostype", "a Proxmox OS type such as l26 or win11"))?;
    limit(ops, caller, Preset::VmCreate, "VM_CREATE", &resource).await?;
    let view = super::view(ops).await?;
    let permits = view.permits(&caller.principal);
    let net_raw = input.net0.clone().unwrap_or_else(|| "vmbr0".to_owned());
    let vnets = vnets_for(ops, permits, &[bridge_named(&net_raw)]).await?;
    let checks = (|| {
        let node = permits.node("node", node)?;
        let pool = target_pool(permits, "pool", input.pool.as_deref())?;
        let storage = input
            .storage
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| permits.storage("storage", s, Content::Images, node.node()))
            .transpose()?;
        let disk = match (&storage, input.disk_size) {
            (Some(_), d) => Some(d.unwrap_or(32)),
            (None, Some(_)) => return Err(AppError::field("storage", "a disk needs a storage")),
            (None, None) => None,
        };
        let iso = input
            .iso
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| permits.volume("iso", s, VolumeUse::Iso))
            .transpose()?;
        let net0 = nic(permits, "net0", &net_raw, &props::NET, &vnets)?;
        let override_quota = reject_override(caller, input.override_quota)?;
        Ok((node, pool, storage, disk, iso, net0, override_quota))
    })();
    let (node, pool, storage, disk, iso, net0, override_quota) =
        ops.audit
            .checked(&caller.actor, "VM_CREATE", &resource, checks)?;
    let ask = Amounts {
        vms: 1,
        cpu: i64::from(cores * sockets),
        memory: i64::from(memory),
        disk: i64::from(disk.unwrap_or(0)),
        ..Amounts::default()
    };
    let details = json!({
        "node": node.node(), "pool": pool.as_ref().map(TargetPool::as_str), "name": input.name,
        "cores": cores, "sockets": sockets, "memory": memory, "disk": disk,
        "storage": storage.as_ref().map(UsableStorage::as_str),
        "iso": iso.as_ref().map(UsableVolume::as_str), "quotaOverride": override_quota,
    });
    ops.audit
        .audited(&caller.actor, "VM_CREATE", &resource, details, async {
            create_guest(
                ops,
                caller,
                Charge {
                    pool: pool.as_ref(),
                    override_quota,
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
                |_| ApiPath::lit("nodes").seg(node.node()).then("qemu"),
                |vmid| {
                    let mut form = vec![
                        ("vmid", vmid.to_string()),
                        ("cores", cores.to_string()),
                        ("sockets", sockets.to_string()),
                        ("memory", memory.to_string()),
                        ("net0", net0.clone()),
                        ("ostype", ostype.clone()),
                        ("scsihw", "virtio-scsi-single".to_owned()),
                    ];
                    if let Some(n) = &input.name {
                        form.push(("name", n.clone()));
                    }
                    if let Some(p) = &pool {
                        form.push(("pool", p.as_str().to_owned()));
                    }
                    form.push((
                        "ide2",
                        match &iso {
                            Some(i) => format!("{i},media=cdrom"),
                            None => "none,media=cdrom".to_owned(),
                        },
                    ));
                    if let (Some(s), Some(d)) = (&storage, disk) {
                        form.push(("scsi0", format!("{s}:{d}")));
                        form.push(("boot", "order=scsi0;ide2;net0".to_owned()));
                    }
                    if input.start {
                        form.push(("start", "1".to_owned()));
                    }
                    form
                },
            )
            .await
        })
        .await
}

/// Creates an LXC container (unprivileged; privileged ones are for administrators).
pub async fn create_ct(
    ops: &Ops,
    caller: &Caller,
    node: &str,
    input: CreateCt,
) -> AppResult<Started> {
    let resource = format!("node:{node}");
    let given = input.vmid.map(|v| Vmid::check("vmid", v)).transpose()?;
    super::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let memory = input.memory.unwrap_or(512);
    let swap = input.swap.unwrap_or(512);
    let disk = input.disk_size.unwrap_or(8);
    if let Some(h) = &input.hostname {
        config::plain("hostname", keys::Value::Name, h)?;
    }
    if let Some(k) = &input.ssh_public_keys {
        if !k.lines().all(|l| {
            l.is_empty() || l.starts_with("ssh-") || l.starts_with("ecdsa-") || l.starts_with("sk-")
        }) {
            return Err(AppError::field(
                "sshPublicKeys",
                "OpenSSH public keys, one per line",
            ));
        }
    }
    limit(ops, caller, Preset::VmCreate, "CT_CREATE", &resource).await?;
    let view = super::view(ops).await?;
    let permits = view.permits(&caller.principal);
    let bridge = input.bridge.clone().unwrap_or_else(|| "vmbr0".to_owned());
    let vnets = vnets_for(ops, permits, &[bridge_named(&bridge)]).await?;
    let unprivileged = input.unprivileged.unwrap_or(true);
    let checks = (|| {
        if !unprivileged && !caller.is_admin() {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Only administrators may create privileged containers (their root is the host's root)",
            ));
        }
        let node = permits.node("node", node)?;
        let pool = target_pool(permits, "pool", input.pool.as_deref())?;
        let ostemplate = permits.volume("ostemplate", &input.ostemplate, VolumeUse::CtTemplate)?;
        let storage = permits.storage("storage", &input.storage, Content::Rootdir, node.node())?;
        let net0 = nic(permits, "bridge", &bridge, &props::CT_NET, &vnets)?;
        let override_quota = reject_override(caller, input.override_quota)?;
        Ok((node, pool, ostemplate, storage, net0, override_quota))
    })();
    let (node, pool, ostemplate, storage, net0, override_quota) =
        ops.audit
            .checked(&caller.actor, "CT_CREATE", &resource, checks)?;
    let ask = Amounts {
        lxcs: 1,
        cpu: i64::from(cores),
        memory: i64::from(memory),
        disk: i64::from(disk),
        ..Amounts::default()
    };
    let details = json!({
        "node": node.node(), "pool": pool.as_ref().map(TargetPool::as_str), "hostname": input.hostname,
        "cores": cores, "memory": memory, "disk": disk, "storage": storage.as_str(),
        "ostemplate": ostemplate.as_str(), "unprivileged": unprivileged, "quotaOverride": override_quota,
    });
    ops.audit
        .audited(&caller.actor, "CT_CREATE", &resource, details, async {
            create_guest(
                ops,
                caller,
                Charge {
                    pool: pool.as_ref(),
                    override_quota,
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
                |_| ApiPath::lit("nodes").seg(node.node()).then("lxc"),
                |vmid| {
                    let mut form = vec![
                        ("vmid", vmid.to_string()),
                        ("ostemplate", ostemplate.to_string()),
                        ("rootfs", format!("{storage}:{disk}")),
                        ("cores", cores.to_string()),
                        ("memory", memory.to_string()),
                        ("swap", swap.to_string()),
                        ("net0", net0.clone()),
                        (
                            "unprivileged",
                            if unprivileged { "1" } else { "0" }.to_owned(),
                        ),
                    ];
                    if let Some(h) = &input.hostname {
                        form.push(("hostname", h.clone()));
                    }
                    if let Some(p) = &pool {
                        form.push(("pool", p.as_str().to_owned()));
                    }
                    if let Some(pw) = &input.password {
                        form.push(("password", pw.clone()));
                    }
                    if let Some(k) = &input.ssh_public_keys {
                        form.push(("ssh-public-keys", k.clone()));
                    }
                    if input.start {
                        form.push(("start", "1".to_owned()));
                    }
                    form
                },
            )
            .await
        })
        .await
}

/// A clone request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneInput {
    /// The guest or template cloned.
    pub source_vm_id: u64,
    /// The new id; the next free one when absent.
    pub new_vm_id: Option<u64>,
    /// The new name.
    pub name: Option<String>,
    /// The pool of the clone.
    pub pool_id: Option<String>,
    /// Full (independent) clone; linked otherwise (templates only).
    #[serde(default)]
    pub full_clone: bool,
    /// Target storage (full clones).
    pub storage: Option<String>,
    /// Target node.
    pub target: Option<String>,
    /// Admins only: skip the quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

/// Clones a guest or template into a pool. The source is a template of the public pool or a
/// guest the caller may clone; the new disks land on the storage named (or, without one, where
/// the source's disks are), which the caller must be allowed to allocate on; what the clone
/// holds counts against the target pool's quota.
pub async fn clone(ops: &Ops, caller: &Caller, input: CloneInput) -> AppResult<Started> {
    let source = Vmid::check("sourceVmId", input.source_vm_id)?;
    let given = input
        .new_vm_id
        .map(|v| Vmid::check("newVmId", v))
        .transpose()?;
    if let Some(n) = &input.name {
        config::plain("name", keys::Value::Name, n)?;
    }
    let resource = format!("vm:{source}");
    limit(ops, caller, Preset::VmClone, "VM_CLONE", &resource).await?;
    let view = super::view(ops).await?;
    let permits = view.permits(&caller.principal);
    let (src, public) = ops.audit.checked(
        &caller.actor,
        "VM_CLONE",
        &resource,
        permits.clone_source(source),
    )?;
    // What the source holds is what the clone will hold (as a guest, not a template).
    let cpus = cpus_of(&view, src.node());
    let src_cfg = quota::guest_config(&ops.pve, src.node(), src.kind(), source).await?;
    let checks = (|| {
        if !input.full_clone && !src.resource().template {
            return Err(AppError::field(
                "fullClone",
                "only templates can be linked-cloned: ask for a full clone",
            ));
        }
        let pool = target_pool(permits, "poolId", input.pool_id.as_deref())?;
        let dest = match input.target.as_deref().filter(|s| !s.is_empty()) {
            Some(t) => permits.node("target", t)?,
            None => permits.node("target", src.node().as_str())?,
        };
        let content = Content::disks_of(src.kind());
        let storage = match input.storage.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(permits.storage("storage", s, content, dest.node())?),
            None => {
                // The copies land beside the source's disks: those storages must be open too.
                for (key, value) in &src_cfg.current {
                    let Some((vol, _)) = value
                        .as_str()
                        .and_then(|v| quota::volume_of(src.kind(), key, v))
                    else {
                        continue;
                    };
                    let store = vol.split(':').next().unwrap_or_default();
                    permits.storage("storage", store, content, dest.node())?;
                }
                None
            }
        };
        let override_quota = reject_override(caller, input.override_quota)?;
        Ok((pool, dest, storage, override_quota))
    })();
    let (pool, dest, storage, override_quota) =
        ops.audit
            .checked(&caller.actor, "VM_CLONE", &resource, checks)?;
    let sizes = quota::sizes_for(&ops.pve, src.node(), src.kind(), &[&src_cfg.current]).await;
    let mut as_guest = src_cfg.current.clone();
    as_guest.remove("template");
    let mut held = quota::holding_of(src.kind(), &as_guest, cpus, &sizes);
    // Detached volumes are not cloned.
    held.disks.retain(|v, _| {
        !src_cfg
            .current
            .iter()
            .any(|(k, x)| k.starts_with("unused") && x.as_str() == Some(v.as_str()))
    });
    let ask = held.amounts();
    let details = json!({
        "source": source, "public": public, "pool": pool.as_ref().map(TargetPool::as_str),
        "name": input.name, "full": input.full_clone,
        "storage": storage.as_ref().map(UsableStorage::as_str), "target": dest.node(),
        "quotaOverride": override_quota,
    });
    ops.audit
        .audited(&caller.actor, "VM_CLONE", &resource, details, async {
            create_guest(
                ops,
                caller,
                Charge {
                    pool: pool.as_ref(),
                    override_quota,
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
                |_| src.path("clone"),
                |newid| {
                    let mut form = vec![("newid", newid.to_string())];
                    if let Some(n) = &input.name {
                        form.push((
                            if src.kind() == GuestKind::Qemu {
                                "name"
                            } else {
                                "hostname"
                            },
                            n.clone(),
                        ));
                    }
                    if let Some(p) = &pool {
                        form.push(("pool", p.as_str().to_owned()));
                    }
                    if input.full_clone {
                        form.push(("full", "1".to_owned()));
                    }
                    if let Some(s) = &storage {
                        form.push(("storage", s.to_string()));
                    }
                    if dest.node() != src.node() {
                        form.push(("target", dest.node().to_string()));
                    }
                    form
                },
            )
            .await
        })
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn declared_rules_name_the_field_as_clients_spell_it() {
        let vm = CreateVm {
            disk_size: Some(0),
            ..CreateVm::default()
        };
        let err = crate::services::validated(&vm).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("diskSize"));
        assert!(err.message.contains("from 1 to 65536"), "{}", err.message);
        let ct = CreateCt {
            cores: Some(500),
            ..CreateCt::default()
        };
        assert_eq!(
            crate::services::validated(&ct)
                .unwrap_err()
                .field
                .as_deref(),
            Some("cores")
        );
        assert!(crate::services::validated(&CreateVm::default()).is_ok());
    }

    #[test]
    fn sizes_parse_relative_and_absolute() {
        assert_eq!(parse_size("+10G").unwrap(), (true, 10.0));
        assert_eq!(parse_size("64G").unwrap(), (false, 64.0));
        assert_eq!(parse_size("+512M").unwrap(), (true, 0.5));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("+0G").is_err());
        assert!(parse_size("-5G").is_err());
    }

    #[test]
    fn firewall_rules_are_checked() {
        let ok = FirewallRule {
            kind: "in".into(),
            action: "ACCEPT".into(),
            proto: Some("tcp".into()),
            dport: Some("22".into()),
            ..FirewallRule::default()
        };
        assert!(rule_form(&ok).is_ok());
        let bad = FirewallRule {
            kind: "in".into(),
            action: "ACCEPT; rm".into(),
            ..FirewallRule::default()
        };
        assert_eq!(
            rule_form(&bad).unwrap_err().field.as_deref(),
            Some("action")
        );
        let ports_without_proto = FirewallRule {
            kind: "out".into(),
            action: "DROP".into(),
            dport: Some("80".into()),
            ..FirewallRule::default()
        };
        assert_eq!(
            rule_form(&ports_without_proto)
                .unwrap_err()
                .field
                .as_deref(),
            Some("proto")
        );
    }
}
