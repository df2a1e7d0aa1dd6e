//! Backups: list, back up with vzdump, restore over the guest.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::*;
use crate::acl::cache::View;
use crate::acl::owned::{Content, Permits, UsableStorage, UsableVolume, VolumeUse};
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, GuestKind, Node, Vmid};
use crate::services::quota::{self, Amounts};
use crate::services::Ops;
use crate::services::{guest, limit, Guest};

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
    read_limit(ops, caller, AuditAction::ViewBackups, vmid).await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::View,
        AuditAction::ViewBackups,
    )
    .await?;
    Ok(json!({ "data": list_backups(ops, &g).await? }))
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
        .filter(|r| r.kind == ResourceKind::Storage && r.node.as_deref() == Some(node.as_str()))
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
    limit(
        ops,
        caller,
        Preset::VmCreate,
        AuditAction::BackupCreate,
        &resource,
    )
    .await?;
    let (g, view) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Backup,
        AuditAction::BackupCreate,
    )
    .await?;
    let storage = ops.audit.checked(
        &caller.actor,
        AuditAction::BackupCreate,
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
    ops.audit.audited(&caller.actor, AuditAction::BackupCreate,
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
    limit(
        ops,
        caller,
        Preset::VmCreate,
        AuditAction::BackupRestore,
        &resource,
    )
    .await?;
    let (g, view) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Allocate,
        AuditAction::BackupRestore,
    )
    .await?;
    let permits = view.permits(&caller.principal);
    let fail = |err: AppError| {
        ops.audit
            .refused(&caller.actor, AuditAction::BackupRestore, &resource, &err);
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
    plan::vet_replacement(ops, permits, &g, &saved, &now.pending)
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
    ops.audit.audited(&caller.actor, AuditAction::BackupRestore,
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
