//! Guest operations (QEMU and LXC alike). Each function checks the caller's permission through
//! the ACL view, applies the rate limit and quota, calls Proxmox with checked path values and
//! writes one audit row. REST routes and Socket.IO events call these same functions.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use validator::Validate;

use super::quota::{Amounts, Ask, NewId};
use super::{audited, guest, limit, refused, Caller, Guest};
use crate::acl::GuestAction;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::{ApiPath, GuestKind, Node, PoolId, SnapName, Storage, Upid, Vmid, VolumeId};
use crate::state::AppState;

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
    fn task(state: &AppState, caller: &Caller, upid: Option<String>, vmid: Option<Vmid>) -> Self {
        if let Some(u) = upid.as_deref().and_then(|u| Upid::parse("upid", u).ok()) {
            state.tasks.track(u, caller.username(), vmid.map(|v| v.0));
        }
        Self {
            success: true,
            upid,
            vmid: vmid.map(|v| v.0),
        }
    }
}

/// The answer of an operation that may have started a task, and what its audit row adds.
fn started(state: &AppState, caller: &Caller, v: &Value, vmid: Vmid) -> (Started, Value) {
    let upid = upid_of(v);
    (
        Started::task(state, caller, upid.clone(), Some(vmid)),
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

/// `status/current` of a guest.
pub async fn status(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let current: Value = state.pve.get(g.path("status/current")).await?;
    Ok(json!({ "data": current, "type": g.kind, "node": g.node, "pool": g.pool() }))
}

/// The guest's configuration.
pub async fn config(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let cfg: Value = state.pve.get(g.path("config")).await?;
    Ok(json!({ "data": cfg, "type": g.kind, "node": g.node }))
}

/// RRD timeframes.
pub const TIMEFRAMES: [&str; 5] = ["hour", "day", "week", "month", "year"];

/// Chart data of a guest.
pub async fn rrd(
    state: &AppState,
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
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let data: Value = state
        .pve
        .get_with(
            g.path("rrddata"),
            &[("timeframe", timeframe.to_owned()), ("cf", cf.to_owned())],
        )
        .await?;
    Ok(json!({ "data": data }))
}

/// Snapshots of a guest.
pub async fn snapshots(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_SNAPSHOTS").await?;
    let list: Value = state.pve.get(g.path("snapshot")).await?;
    Ok(json!({ "data": list }))
}

/// Firewall rules of a guest.
pub async fn firewall_rules(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_VM").await?;
    let list: Value = state.pve.get(g.path("firewall/rules")).await?;
    Ok(json!({ "data": list }))
}

/// Recent tasks of a guest.
pub async fn tasks(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    limit_n: Option<u32>,
) -> AppResult<Value> {
    let n = limit_n.unwrap_or(50);
    if !(1..=500).contains(&n) {
        return Err(AppError::field("limit", "between 1 and 500"));
    }
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_TASKS").await?;
    let path = ApiPath::lit("nodes").seg(&g.node).then("tasks");
    let list: Value = state
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

#[derive(Debug, Deserialize)]
struct NodeStorage {
    storage: String,
    #[serde(default)]
    content: String,
}

async fn list_backups(state: &AppState, g: &Guest) -> AppResult<Vec<Backup>> {
    let storages: Vec<NodeStorage> = state
        .pve
        .get_with(
            ApiPath::lit("nodes").seg(&g.node).then("storage"),
            &[("content", "backup".to_owned())],
        )
        .await?;
    let mut out = Vec::new();
    for s in storages
        .into_iter()
        .filter(|s| s.content.split(',').any(|c| c == "backup"))
    {
        let Ok(sid) = Storage::parse("storage", &s.storage) else {
            continue;
        };
        let items: Vec<Backup> = state
            .pve
            .get_with(
                ApiPath::lit("nodes")
                    .seg(&g.node)
                    .then("storage")
                    .seg(&sid)
                    .then("content"),
                &[
                    ("content", "backup".to_owned()),
                    ("vmid", g.vmid.to_string()),
                ],
            )
            .await?;
        out.extend(
            items
                .into_iter()
                .filter(|b| b.vmid.is_none_or(|v| v == g.vmid.0))
                .map(|mut b| {
                    b.storage = s.storage.clone();
                    b
                }),
        );
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.ctime));
    Ok(out)
}

/// Backups of a guest, newest first.
pub async fn backups(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let (g, _) = guest(state, caller, vmid, GuestAction::View, "VIEW_BACKUPS").await?;
    Ok(json!({ "data": list_backups(state, &g).await? }))
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
pub async fn power(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    action: &str,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(state, caller, Preset::VmPower, "VM_POWER", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Power, "VM_POWER").await?;
    let Some(audit_action) = power_action(action, g.kind) else {
        let err = AppError::field(
            "action",
            format!(
                "unknown power action '{action}' for a {}: use start, stop, shutdown, reboot, suspend, resume{}",
                g.kind.noun(),
                if g.kind == GuestKind::Qemu { " or reset" } else { "" }
            ),
        );
        refused(state, caller, "VM_POWER", &resource, &err);
        return Err(err);
    };
    audited(
        state,
        caller,
        audit_action,
        &resource,
        json!({ "node": g.node, "type": g.kind, "action": action }),
        async {
            let v: Value = state.pve.post(power_path(&g, action), &[]).await?;
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// Keys a user may change, per guest type (beyond the original: LXC has its own list).
fn config_key_allowed(kind: GuestKind, key: &str) -> bool {
    static QEMU: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(name|description|tags|onboot|protection|cores|sockets|vcpus|cpu|cpulimit|cpuunits|memory|balloon|shares|boot|bootdisk|net[0-3]|scsi[0-3]|virtio[0-3]|ide[0-3]|sata[0-3]|cdrom|ostype|agent|vga|serial[01]|tablet|hotplug|bios|machine|numa)$").expect("static")
    });
    static LXC: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(hostname|description|tags|onboot|protection|cores|cpulimit|cpuunits|memory|swap|net[0-3]|nameserver|searchdomain|startup|console|tty|cmode)$").expect("static")
    });
    match kind {
        GuestKind::Qemu => QEMU.is_match(key),
        GuestKind::Lxc => LXC.is_match(key),
    }
}

fn config_value(key: &str, v: &Value) -> AppResult<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        _ => return Err(AppError::field(key, "must be a string, number or boolean")),
    };
    if s.len() > 8192 || s.contains(['\n', '\r', '\0']) && key != "description" {
        return Err(AppError::field(key, "too long or contains line breaks"));
    }
    let int = |min: i64, max: i64| -> AppResult<()> {
        match s.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(AppError::field(
                key,
                format!("a whole number from {min} to {max}"),
            )),
        }
    };
    match key {
        "cores" => int(1, 512)?,
        "sockets" => int(1, 16)?,
        "vcpus" => int(1, 8192)?,
        "memory" => int(16, 4 * 1024 * 1024)?,
        "balloon" | "swap" => int(0, 4 * 1024 * 1024)?,
        "onboot" | "protection" | "tablet" | "numa" => int(0, 1)?,
        "bios" if !["seabios", "ovmf"].contains(&s.as_str()) => {
            return Err(AppError::field(key, "seabios or ovmf (UEFI)"));
        }
        "machine" if !machine_ok(&s) => {
            return Err(AppError::field(
                key,
                "a QEMU machine type (pc, q35, pc-q35-9.0, …) with optional viommu, aw-bits, enable-s3, enable-s4",
            ));
        }
        "name" | "hostname" => {
            static NAME: LazyLock<Regex> = LazyLock::new(|| {
                #[allow(clippy::expect_used)]
                Regex::new(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$").expect("static")
            });
            if !NAME.is_match(&s) {
                return Err(AppError::field(
                    key,
                    "a DNS name: letters, digits, '-' and '.', at most 63 characters",
                ));
            }
        }
        "tags" => {
            static TAGS: LazyLock<Regex> = LazyLock::new(|| {
                #[allow(clippy::expect_used)]
                Regex::new(r"^([a-zA-Z0-9_+.-]+[;, ]?)*$").expect("static")
            });
            if !TAGS.is_match(&s) {
                return Err(AppError::field(
                    key,
                    "tags are letters, digits, '_', '+', '.', '-', separated by ';'",
                ));
            }
        }
        _ => {}
    }
    Ok(s)
}

/// Whether `s` is a Proxmox `machine` property string: the type (optionally as `type=`), then
/// `viommu`, `aw-bits`, `enable-s3`, `enable-s4` (the API schema's format).
fn machine_ok(s: &str) -> bool {
    static TYPE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)$").expect("static")
    });
    let mut parts = s.split(',');
    let first = parts.next().unwrap_or_default();
    if !TYPE.is_match(first.strip_prefix("type=").unwrap_or(first)) {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some(("viommu", v)) => v == "intel" || v == "virtio",
        Some(("aw-bits", v)) => v.parse::<u8>().is_ok_and(|n| (32..=64).contains(&n)),
        Some(("enable-s3" | "enable-s4", v)) => v == "0" || v == "1",
        _ => false,
    })
}

/// The vCPUs and memory (MiB) a configuration gives.
fn cpu_mem(kind: GuestKind, cfg: &Map<String, Value>) -> (i64, i64) {
    let num = |k: &str, d: i64| -> i64 {
        cfg.get(k)
            .and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(d)
    };
    match kind {
        GuestKind::Qemu => {
            let cpu = cfg
                .get("vcpus")
                .map(|_| num("vcpus", 1))
                .unwrap_or_else(|| num("cores", 1) * num("sockets", 1));
            (cpu, num("memory", 512))
        }
        GuestKind::Lxc => (num("cores", 1), num("memory", 512)),
    }
}

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

/// Changes a guest's configuration; growing vCPUs or memory is held to the pool's quota.
pub async fn update_config(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    change: ConfigChange,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(state, caller, Preset::VmConfig, "VM_UPDATE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Configure, "VM_UPDATE").await?;
    let override_quota = reject_override(caller, change.override_quota)?;
    if change.set.is_empty() && change.delete.is_empty() {
        return Err(AppError::field("set", "no configuration keys given"));
    }
    let mut form: Vec<(&str, String)> = Vec::new();
    let mut unknown = Vec::new();
    for (k, v) in &change.set {
        if config_key_allowed(g.kind, k) {
            form.push((k.as_str(), config_value(k, v)?));
        } else {
            unknown.push(k.clone());
        }
    }
    for k in &change.delete {
        if !config_key_allowed(g.kind, k) {
            unknown.push(k.clone());
        }
    }
    if !unknown.is_empty() {
        let err = AppError::field(
            "set",
            format!("these keys can't be changed here: {}", unknown.join(", ")),
        );
        refused(state, caller, "VM_UPDATE", &resource, &err);
        return Err(err);
    }
    if !change.delete.is_empty() {
        form.push(("delete", change.delete.join(",")));
    }
    let before: Map<String, Value> = state.pve.get(g.path("config")).await?;
    let (cpu0, mem0) = cpu_mem(g.kind, &before);
    let mut after = before.clone();
    for (k, v) in &form {
        after.insert((*k).to_owned(), Value::String(v.clone()));
    }
    let (cpu1, mem1) = cpu_mem(g.kind, &after);
    let ask = Amounts {
        cpu: (cpu1 - cpu0).max(0),
        memory: (mem1 - mem0).max(0),
        ..Amounts::default()
    };
    let diff: BTreeMap<&str, Value> = form
        .iter()
        .map(|(k, v)| (*k, json!({ "old": before.get(*k), "new": v })))
        .collect();
    audited(
        state,
        caller,
        "VM_UPDATE",
        &resource,
        json!({ "diff": diff, "quotaOverride": override_quota }),
        async {
            let ticket = match g.pool() {
                Some(pool) if !ask.is_zero() && !override_quota => Some(
                    state
                        .quotas
                        .reserve(
                            state,
                            Ask {
                                pool: Some(pool.to_owned()),
                                amounts: ask,
                                new_vmid: NewId::None,
                            },
                        )
                        .await?,
                ),
                _ => None,
            };
            let v: Value = state.pve.put(g.path("config"), &form).await?;
            if let Some(t) = ticket {
                t.commit();
            }
            state.acl.invalidate();
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

/// The `size=` of a disk entry in GiB.
fn disk_size_gib(entry: &str) -> Option<f64> {
    let size = entry.split(',').find_map(|p| p.strip_prefix("size="))?;
    let (_, gib) = parse_size(size).ok()?;
    Some(gib)
}

/// Grows a disk; what it adds counts against the pool's disk quota.
pub async fn resize(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    disk: &str,
    size: &str,
    override_quota: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(state, caller, Preset::VmConfig, "VM_RESIZE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Configure, "VM_RESIZE").await?;
    let override_quota = reject_override(caller, override_quota)?;
    static DISK_Q: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0)$").expect("static")
    });
    static DISK_L: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(rootfs|mp([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))$")
            .expect("static")
    });
    let disk_ok = match g.kind {
        GuestKind::Qemu => DISK_Q.is_match(disk),
        GuestKind::Lxc => DISK_L.is_match(disk),
    };
    if !disk_ok {
        return Err(AppError::field(
            "disk",
            match g.kind {
                GuestKind::Qemu => "a disk like scsi0, virtio0, sata0 or ide0",
                GuestKind::Lxc => "rootfs or a mount point like mp0",
            },
        ));
    }
    let (relative, gib) = parse_size(size)?;
    let cfg: Map<String, Value> = state.pve.get(g.path("config")).await?;
    let Some(current) = cfg
        .get(disk)
        .and_then(|v| v.as_str())
        .map(|e| disk_size_gib(e).unwrap_or(0.0))
    else {
        return Err(AppError::field(
            "disk",
            format!("{} {vmid} has no disk {disk}", g.kind.noun()),
        ));
    };
    let grow = if relative { gib } else { gib - current };
    if grow <= 0.0 {
        return Err(AppError::field(
            "size",
            format!("disks only grow: {disk} is already {current} GiB"),
        ));
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
    audited(
        state,
        caller,
        "VM_RESIZE",
        &resource,
        json!({ "disk": disk, "diff": { "size": { "old": format!("{current}G"), "new": size_param } }, "quotaOverride": override_quota }),
        async {
            let ticket = match g.pool() {
                Some(pool) if !override_quota => Some(
                    state
                        .quotas
                        .reserve(
                            state,
                            Ask {
                                pool: Some(pool.to_owned()),
                                amounts: ask,
                                new_vmid: NewId::None,
                            },
                        )
                        .await?,
                ),
                _ => None,
            };
            let v: Value = state
                .pve
                .put(
                    g.path("resize"),
                    &[("disk", disk.to_owned()), ("size", size_param.clone())],
                )
                .await?;
            if let Some(t) = ticket {
                t.commit();
            }
            state.acl.invalidate();
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Snapshots

/// Takes a snapshot.
pub async fn snapshot_create(
    state: &AppState,
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
        state,
        caller,
        Preset::VmSnapshot,
        "VM_SNAPSHOT_CREATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        state,
        caller,
        vmid,
        GuestAction::Snapshot,
        "VM_SNAPSHOT_CREATE",
    )
    .await?;
    if vmstate && g.kind == GuestKind::Lxc {
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
    audited(
        state,
        caller,
        "VM_SNAPSHOT_CREATE",
        &resource,
        json!({ "snapname": snap, "vmstate": vmstate }),
        async {
            let v: Value = state.pve.post(g.path("snapshot"), &form).await?;
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

/// Deletes a snapshot.
pub async fn snapshot_delete(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    name: &str,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let snap = SnapName::parse("snapname", name)?;
    limit(
        state,
        caller,
        Preset::VmSnapshot,
        "VM_SNAPSHOT_DELETE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        state,
        caller,
        vmid,
        GuestAction::Snapshot,
        "VM_SNAPSHOT_DELETE",
    )
    .await?;
    audited(
        state,
        caller,
        "VM_SNAPSHOT_DELETE",
        &resource,
        json!({ "snapname": snap }),
        async {
            let v: Value = state.pve.delete(g.path("snapshot").seg(&snap), &[]).await?;
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

/// Rolls back to a snapshot.
pub async fn snapshot_rollback(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    name: &str,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let snap = SnapName::parse("snapname", name)?;
    limit(
        state,
        caller,
        Preset::VmSnapshot,
        "VM_SNAPSHOT_ROLLBACK",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        state,
        caller,
        vmid,
        GuestAction::Rollback,
        "VM_SNAPSHOT_ROLLBACK",
    )
    .await?;
    audited(
        state,
        caller,
        "VM_SNAPSHOT_ROLLBACK",
        &resource,
        json!({ "snapname": snap }),
        async {
            let v: Value = state
                .pve
                .post(g.path("snapshot").seg(&snap).then("rollback"), &[])
                .await?;
            Ok(started(state, caller, &v, vmid))
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
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    rule: &FirewallRule,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    let form = rule_form(rule)?;
    limit(
        state,
        caller,
        Preset::VmConfig,
        "VM_FIREWALL_UPDATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        state,
        caller,
        vmid,
        GuestAction::Configure,
        "VM_FIREWALL_UPDATE",
    )
    .await?;
    audited(
        state,
        caller,
        "VM_FIREWALL_UPDATE",
        &resource,
        json!({ "operation": "add", "rule": rule }),
        async {
            let _: Value = state.pve.post(g.path("firewall/rules"), &form).await?;
            Ok((json!({ "success": true }), Value::Null))
        },
    )
    .await
}

/// Deletes the firewall rule at `pos`.
pub async fn firewall_delete(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    pos: u32,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        state,
        caller,
        Preset::VmConfig,
        "VM_FIREWALL_UPDATE",
        &resource,
    )
    .await?;
    let (g, _) = guest(
        state,
        caller,
        vmid,
        GuestAction::Configure,
        "VM_FIREWALL_UPDATE",
    )
    .await?;
    audited(
        state,
        caller,
        "VM_FIREWALL_UPDATE",
        &resource,
        json!({ "operation": "delete", "pos": pos }),
        async {
            let path = g.path("firewall/rules").seg(&Vmid(pos));
            let _: Value = state.pve.delete(path, &[]).await?;
            Ok((json!({ "success": true }), Value::Null))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// Destroys a guest (and its disks).
pub async fn delete(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(state, caller, Preset::VmDelete, "VM_DELETE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Allocate, "VM_DELETE").await?;
    audited(
        state,
        caller,
        "VM_DELETE",
        &resource,
        json!({ "node": g.node, "type": g.kind, "name": g.resource.name, "pool": g.pool() }),
        async {
            let v: Value = state
                .pve
                .delete(g.path(""), &[("purge", "1".to_owned())])
                .await?;
            state.acl.invalidate();
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

/// Converts a guest into a template.
pub async fn make_template(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(state, caller, Preset::VmConfig, "VM_TEMPLATE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Allocate, "VM_TEMPLATE").await?;
    audited(
        state,
        caller,
        "VM_TEMPLATE",
        &resource,
        json!({ "node": g.node, "type": g.kind }),
        async {
            let v: Value = state.pve.post(g.path("template"), &[]).await?;
            state.acl.invalidate();
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

/// Backup modes.
pub const BACKUP_MODES: [&str; 3] = ["snapshot", "suspend", "stop"];

/// Backs a guest up with vzdump.
pub async fn backup(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    storage: Option<&str>,
    mode: Option<&str>,
    compress: Option<&str>,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let storage = storage
        .filter(|s| !s.is_empty())
        .map(|s| Storage::parse("storage", s))
        .transpose()?;
    let mode = mode.unwrap_or("snapshot");
    if !BACKUP_MODES.contains(&mode) {
        return Err(AppError::field("mode", "snapshot, suspend or stop"));
    }
    let compress = compress.unwrap_or("zstd");
    if !["zstd", "lzo", "gzip", "0"].contains(&compress) {
        return Err(AppError::field("compress", "zstd, lzo, gzip or 0"));
    }
    limit(state, caller, Preset::VmCreate, "BACKUP_CREATE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Backup, "BACKUP_CREATE").await?;
    let mut form = vec![
        ("vmid", vmid.to_string()),
        ("mode", mode.to_owned()),
        ("compress", compress.to_owned()),
    ];
    if let Some(s) = &storage {
        form.push(("storage", s.to_string()));
    }
    audited(
        state,
        caller,
        "BACKUP_CREATE",
        &resource,
        json!({ "node": g.node, "storage": storage, "mode": mode, "compress": compress }),
        async {
            let v: Value = state
                .pve
                .post(ApiPath::lit("nodes").seg(&g.node).then("vzdump"), &form)
                .await?;
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

/// Restores a backup of this guest over it (the guest must be stopped).
pub async fn restore(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    archive: &str,
    override_quota: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    let volid = VolumeId::parse("archive", archive)?;
    limit(state, caller, Preset::VmCreate, "BACKUP_RESTORE", &resource).await?;
    let (g, _) = guest(state, caller, vmid, GuestAction::Allocate, "BACKUP_RESTORE").await?;
    let override_quota = reject_override(caller, override_quota)?;
    let backups = list_backups(state, &g).await?;
    let Some(b) = backups.iter().find(|b| b.volid == volid.as_str()) else {
        let err = AppError::field(
            "archive",
            format!("no backup {volid} of {} {vmid}", g.kind.noun()),
        );
        refused(state, caller, "BACKUP_RESTORE", &resource, &err);
        return Err(err);
    };
    if g.resource.status.as_deref() == Some("running") {
        let err = AppError::with_message(
            ErrorCode::Conflict,
            format!(
                "{} {vmid} is running: stop it before restoring a backup over it",
                g.kind.noun()
            ),
        );
        refused(state, caller, "BACKUP_RESTORE", &resource, &err);
        return Err(err);
    }
    // The archive's disks replace the guest's: count any growth.
    let gib = 1024.0 * 1024.0 * 1024.0;
    let current = g.resource.maxdisk.unwrap_or(0) as f64 / gib;
    let grow = (b.size as f64 / gib - current).ceil().max(0.0) as i64;
    let ask = Amounts {
        disk: grow,
        ..Amounts::default()
    };
    let (path, form) = match g.kind {
        GuestKind::Qemu => (
            ApiPath::lit("nodes").seg(&g.node).then("qemu"),
            vec![
                ("vmid", vmid.to_string()),
                ("archive", volid.to_string()),
                ("force", "1".to_owned()),
            ],
        ),
        GuestKind::Lxc => (
            ApiPath::lit("nodes").seg(&g.node).then("lxc"),
            vec![
                ("vmid", vmid.to_string()),
                ("ostemplate", volid.to_string()),
                ("restore", "1".to_owned()),
                ("force", "1".to_owned()),
            ],
        ),
    };
    let mut form = form;
    if let Some(pool) = g.pool() {
        form.push(("pool", pool.to_owned()));
    }
    audited(
        state,
        caller,
        "BACKUP_RESTORE",
        &resource,
        json!({ "archive": volid, "node": g.node, "quotaOverride": override_quota }),
        async {
            let ticket = match g.pool() {
                Some(pool) if !ask.is_zero() && !override_quota => Some(
                    state
                        .quotas
                        .reserve(
                            state,
                            Ask {
                                pool: Some(pool.to_owned()),
                                amounts: ask,
                                new_vmid: NewId::None,
                            },
                        )
                        .await?,
                ),
                _ => None,
            };
            let v: Value = state.pve.post(path, &form).await?;
            if let Some(t) = ticket {
                t.commit();
            }
            state.acl.invalidate();
            Ok(started(state, caller, &v, vmid))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Creation

/// Whether the caller may create guests in `pool` (admins anywhere; others in pools they manage
/// or where they hold `VM.Allocate`).
fn may_create_in(view: &crate::acl::cache::View, caller: &Caller, pool: &str) -> bool {
    let p = &caller.principal;
    p.is_admin
        || view.engine.pool_access(p, pool).manage
        || view
            .engine
            .privileges(p, &format!("/pool/{pool}"))
            .contains("VM.Allocate")
}

async fn check_target(
    state: &AppState,
    caller: &Caller,
    node: &Node,
    pool: Option<&PoolId>,
    action: &str,
    resource: &str,
) -> AppResult<()> {
    let view = super::view(state).await?;
    let node_ok = view
        .resources
        .iter()
        .any(|r| r.kind == "node" && r.node.as_deref() == Some(node.as_str()));
    if !node_ok {
        return Err(AppError::field("node", format!("there is no node {node}")));
    }
    let allowed = match pool {
        Some(pool) => {
            if !view
                .resources
                .iter()
                .any(|r| r.kind == "pool" && r.pool.as_deref() == Some(pool.as_str()))
            {
                return Err(AppError::field("pool", format!("there is no pool {pool}")));
            }
            may_create_in(&view, caller, pool.as_str())
        }
        None => caller.is_admin(),
    };
    if !allowed {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            match pool {
                Some(p) => format!("You may not create guests in pool {p}"),
                None => "Only administrators may create guests outside a pool".to_owned(),
            },
        );
        refused(state, caller, action, resource, &err);
        return Err(err);
    }
    Ok(())
}

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

fn bridge_of(field: &str, raw: Option<&str>) -> AppResult<String> {
    static BRIDGE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^[a-zA-Z][a-zA-Z0-9_.\-]{0,14}$").expect("static")
    });
    static NET: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(virtio|e1000|rtl8139|vmxnet3)(=[0-9A-Fa-f:]{17})?,bridge=[a-zA-Z][a-zA-Z0-9_.\-]{0,14}(,(firewall=[01]|tag=\d{1,4}|rate=\d+(\.\d+)?|mtu=\d{3,5}))*$").expect("static")
    });
    let raw = raw.unwrap_or("vmbr0");
    if raw.contains("bridge=") {
        if NET.is_match(raw) {
            return Ok(raw.to_owned());
        }
        return Err(AppError::field(
            field,
            "a network device like 'virtio,bridge=vmbr0'",
        ));
    }
    if BRIDGE.is_match(raw) {
        Ok(format!("virtio,bridge={raw}"))
    } else {
        Err(AppError::field(field, "a bridge name like vmbr0"))
    }
}

/// Creates a QEMU VM.
pub async fn create_vm(
    state: &AppState,
    caller: &Caller,
    node: &str,
    input: CreateVm,
) -> AppResult<Started> {
    let node = Node::parse("node", node)?;
    let pool = input
        .pool
        .as_deref()
        .map(|p| PoolId::parse("pool", p))
        .transpose()?;
    let given = input.vmid.map(|v| Vmid::check("vmid", v)).transpose()?;
    super::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let sockets = input.sockets.unwrap_or(1);
    let memory = input.memory.unwrap_or(2048);
    if let Some(n) = &input.name {
        config_value("name", &Value::String(n.clone()))?;
    }
    let storage = input
        .storage
        .as_deref()
        .map(|s| Storage::parse("storage", s))
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
        .map(|s| VolumeId::parse("iso", s))
        .transpose()?;
    let net0 = bridge_of("net0", input.net0.as_deref())?;
    let ostype = input.ostype.clone().unwrap_or_else(|| "l26".to_owned());
    static OSTYPE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(other|wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11|l24|l26|solaris)$")
            .expect("static")
    });
    if !OSTYPE.is_match(&ostype) {
        return Err(AppError::field(
            "ostype",
            "a Proxmox OS type such as l26 or win11",
        ));
    }
    let resource = format!("node:{node}");
    limit(state, caller, Preset::VmCreate, "VM_CREATE", &resource).await?;
    check_target(state, caller, &node, pool.as_ref(), "VM_CREATE", &resource).await?;
    let override_quota = reject_override(caller, input.override_quota)?;
    let ask = Amounts {
        vms: 1,
        cpu: i64::from(cores * sockets),
        memory: i64::from(memory),
        disk: i64::from(disk.unwrap_or(0)),
        ..Amounts::default()
    };
    let details = json!({
        "node": node, "pool": pool, "name": input.name, "cores": cores, "sockets": sockets,
        "memory": memory, "disk": disk, "storage": storage, "iso": iso, "quotaOverride": override_quota,
    });
    audited(state, caller, "VM_CREATE", &resource, details, async {
        let ticket = state
            .quotas
            .reserve(
                state,
                Ask {
                    pool: if override_quota {
                        None
                    } else {
                        pool.as_ref().map(|p| p.to_string())
                    },
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
            )
            .await?;
        let vmid = ticket
            .vmid()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no vmid")))?;
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
            form.push(("pool", p.to_string()));
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
        let v: Value = state
            .pve
            .post(ApiPath::lit("nodes").seg(&node).then("qemu"), &form)
            .await?;
        ticket.commit();
        state.acl.invalidate();
        let upid = upid_of(&v);
        Ok((
            Started::task(state, caller, upid.clone(), Some(vmid)),
            json!({ "upid": upid, "vmid": vmid }),
        ))
    })
    .await
}

/// Creates an LXC container.
pub async fn create_ct(
    state: &AppState,
    caller: &Caller,
    node: &str,
    input: CreateCt,
) -> AppResult<Started> {
    let node = Node::parse("node", node)?;
    let pool = input
        .pool
        .as_deref()
        .map(|p| PoolId::parse("pool", p))
        .transpose()?;
    let given = input.vmid.map(|v| Vmid::check("vmid", v)).transpose()?;
    let ostemplate = VolumeId::parse("ostemplate", &input.ostemplate)?;
    let storage = Storage::parse("storage", &input.storage)?;
    super::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let memory = input.memory.unwrap_or(512);
    let swap = input.swap.unwrap_or(512);
    let disk = input.disk_size.unwrap_or(8);
    if let Some(h) = &input.hostname {
        config_value("hostname", &Value::String(h.clone()))?;
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
    static BRIDGE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^[a-zA-Z][a-zA-Z0-9_.\-]{0,14}$").expect("static")
    });
    let bridge = input.bridge.clone().unwrap_or_else(|| "vmbr0".to_owned());
    if !BRIDGE.is_match(&bridge) {
        return Err(AppError::field("bridge", "a bridge name like vmbr0"));
    }
    let resource = format!("node:{node}");
    limit(state, caller, Preset::VmCreate, "CT_CREATE", &resource).await?;
    check_target(state, caller, &node, pool.as_ref(), "CT_CREATE", &resource).await?;
    let override_quota = reject_override(caller, input.override_quota)?;
    let ask = Amounts {
        lxcs: 1,
        cpu: i64::from(cores),
        memory: i64::from(memory),
        disk: i64::from(disk),
        ..Amounts::default()
    };
    let details = json!({
        "node": node, "pool": pool, "hostname": input.hostname, "cores": cores, "memory": memory,
        "disk": disk, "storage": storage, "ostemplate": ostemplate, "quotaOverride": override_quota,
    });
    audited(state, caller, "CT_CREATE", &resource, details, async {
        let ticket = state
            .quotas
            .reserve(
                state,
                Ask {
                    pool: if override_quota {
                        None
                    } else {
                        pool.as_ref().map(|p| p.to_string())
                    },
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
            )
            .await?;
        let vmid = ticket
            .vmid()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no vmid")))?;
        let mut form = vec![
            ("vmid", vmid.to_string()),
            ("ostemplate", ostemplate.to_string()),
            ("rootfs", format!("{storage}:{disk}")),
            ("cores", cores.to_string()),
            ("memory", memory.to_string()),
            ("swap", swap.to_string()),
            ("net0", format!("name=eth0,bridge={bridge},ip=dhcp")),
            (
                "unprivileged",
                if input.unprivileged.unwrap_or(true) {
                    "1"
                } else {
                    "0"
                }
                .to_owned(),
            ),
        ];
        if let Some(h) = &input.hostname {
            form.push(("hostname", h.clone()));
        }
        if let Some(p) = &pool {
            form.push(("pool", p.to_string()));
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
        let v: Value = state
            .pve
            .post(ApiPath::lit("nodes").seg(&node).then("lxc"), &form)
            .await?;
        ticket.commit();
        state.acl.invalidate();
        let upid = upid_of(&v);
        Ok((
            Started::task(state, caller, upid.clone(), Some(vmid)),
            json!({ "upid": upid, "vmid": vmid }),
        ))
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

/// Whether a guest is a public template anyone may clone (pool `Templates`, or ids 4000–4099).
pub fn is_public_template(r: &crate::pve::models::Resource) -> bool {
    r.pool
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("templates"))
        || r.vmid.is_some_and(|v| (4000..=4099).contains(&v))
}

/// Clones a guest or template into a pool.
pub async fn clone(state: &AppState, caller: &Caller, input: CloneInput) -> AppResult<Started> {
    let source = Vmid::check("sourceVmId", input.source_vm_id)?;
    let given = input
        .new_vm_id
        .map(|v| Vmid::check("newVmId", v))
        .transpose()?;
    let pool = input
        .pool_id
        .as_deref()
        .map(|p| PoolId::parse("poolId", p))
        .transpose()?;
    let storage = input
        .storage
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Storage::parse("storage", s))
        .transpose()?;
    let target = input
        .target
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| Node::parse("target", s))
        .transpose()?;
    if let Some(n) = &input.name {
        config_value("name", &Value::String(n.clone()))?;
    }
    let resource = format!("vm:{source}");
    limit(state, caller, Preset::VmClone, "VM_CLONE", &resource).await?;
    let view = super::view(state).await?;
    let Some(src) = view.guest(source.0).cloned() else {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("No guest {source}"),
        ));
    };
    let public = is_public_template(&src);
    if !public
        && !view
            .engine
            .guest_allows(&caller.principal, source.0, GuestAction::View)
    {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("No guest {source}"),
        ));
    }
    if !public
        && !view
            .engine
            .guest_allows(&caller.principal, source.0, GuestAction::Clone)
    {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            format!("You may not clone guest {source}"),
        );
        refused(state, caller, "VM_CLONE", &resource, &err);
        return Err(err);
    }
    let kind = GuestKind::from_type(&src.kind)
        .ok_or_else(|| AppError::with_message(ErrorCode::UpstreamError, "unknown guest type"))?;
    let node = Node::from_upstream(src.node.as_deref().unwrap_or_default())?;
    let dest_node = target.clone().unwrap_or_else(|| node.clone());
    check_target(
        state,
        caller,
        &dest_node,
        pool.as_ref(),
        "VM_CLONE",
        &resource,
    )
    .await?;
    if !input.full_clone && !src.template {
        return Err(AppError::field(
            "fullClone",
            "only templates can be linked-cloned: ask for a full clone",
        ));
    }
    let override_quota = reject_override(caller, input.override_quota)?;
    let mut ask = Amounts::of_guest(&src);
    ask.vms = i64::from(kind == GuestKind::Qemu);
    ask.lxcs = i64::from(kind == GuestKind::Lxc);
    let details = json!({
        "source": source, "pool": pool, "name": input.name, "full": input.full_clone,
        "storage": storage, "target": target, "quotaOverride": override_quota,
    });
    audited(state, caller, "VM_CLONE", &resource, details, async {
        let ticket = state
            .quotas
            .reserve(
                state,
                Ask {
                    pool: if override_quota {
                        None
                    } else {
                        pool.as_ref().map(|p| p.to_string())
                    },
                    amounts: ask,
                    new_vmid: given.map_or(NewId::Pick, NewId::Given),
                },
            )
            .await?;
        let newid = ticket
            .vmid()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no vmid")))?;
        let mut form = vec![("newid", newid.to_string())];
        if let Some(n) = &input.name {
            form.push((
                if kind == GuestKind::Qemu {
                    "name"
                } else {
                    "hostname"
                },
                n.clone(),
            ));
        }
        if let Some(p) = &pool {
            form.push(("pool", p.to_string()));
        }
        if input.full_clone {
            form.push(("full", "1".to_owned()));
        }
        if let Some(s) = &storage {
            form.push(("storage", s.to_string()));
        }
        if let Some(t) = &target {
            form.push(("target", t.to_string()));
        }
        let path = ApiPath::lit("nodes")
            .seg(&node)
            .seg(&kind)
            .seg(&source)
            .then("clone");
        let v: Value = state.pve.post(path, &form).await?;
        ticket.commit();
        state.acl.invalidate();
        let upid = upid_of(&v);
        Ok((
            Started::task(state, caller, upid.clone(), Some(newid)),
            json!({ "upid": upid, "vmid": newid }),
        ))
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
        let err = crate::ops::validated(&vm).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("diskSize"));
        assert!(err.message.contains("from 1 to 65536"), "{}", err.message);
        let ct = CreateCt {
            cores: Some(500),
            ..CreateCt::default()
        };
        assert_eq!(
            crate::ops::validated(&ct).unwrap_err().field.as_deref(),
            Some("cores")
        );
        assert!(crate::ops::validated(&CreateVm::default()).is_ok());
    }

    #[test]
    fn sizes_parse_relative_and_absolute() {
        assert_eq!(parse_size("+10G").unwrap(), (true, 10.0));
        assert_eq!(parse_size("64G").unwrap(), (false, 64.0));
        assert_eq!(parse_size("+512M").unwrap(), (true, 0.5));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("+0G").is_err());
        assert!(parse_size("-5G").is_err());
        assert_eq!(
            disk_size_gib("local-lvm:vm-100-disk-0,size=32G"),
            Some(32.0)
        );
    }

    #[test]
    fn config_values_are_checked() {
        assert!(config_value("bios", &json!("ovmf")).is_ok());
        assert!(config_value("bios", &json!("uefi")).is_err());
        assert!(config_value("numa", &json!(true)).is_ok());
        assert!(config_value("numa", &json!(2)).is_err());
        for ok in [
            "q35",
            "pc",
            "pc-q35-9.0",
            "pc-i440fx-8.1+pve1",
            "type=q35,viommu=intel",
            "q35,aw-bits=48,enable-s3=1",
        ] {
            assert!(config_value("machine", &json!(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "q36",
            "q35,viommu=amd",
            "q35,aw-bits=99",
            "q35,foo=1",
            "q35;rm",
        ] {
            assert!(config_value("machine", &json!(bad)).is_err(), "{bad}");
        }
        assert!(config_key_allowed(GuestKind::Qemu, "bios"));
        assert!(!config_key_allowed(GuestKind::Lxc, "bios"));
        assert!(config_value("cores", &json!(4)).is_ok());
        assert!(config_value("cores", &json!(0)).is_err());
        assert!(config_value("memory", &json!("2048")).is_ok());
        assert!(config_value("name", &json!("web-1")).is_ok());
        assert!(config_value("name", &json!("web 1")).is_err());
        assert!(config_value("onboot", &json!(true)).is_ok());
        assert!(config_key_allowed(GuestKind::Qemu, "net0"));
        assert!(!config_key_allowed(GuestKind::Qemu, "hookscript"));
        assert!(config_key_allowed(GuestKind::Lxc, "swap"));
        assert!(!config_key_allowed(GuestKind::Lxc, "sockets"));
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
