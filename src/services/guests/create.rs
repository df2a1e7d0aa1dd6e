//! New guests: QEMU VMs, LXC containers and clones, all through one tail (reserve the quota and the id, create, commit, tell the watchers, follow the task).

use serde::Deserialize;
use serde_json::{json, Value};
use validator::Validate;

use super::*;
use crate::acl::keys;
use crate::acl::owned::{Content, Permits, TargetPool, UsableStorage, UsableVolume, VolumeUse};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::{ApiPath, GuestKind, Vmid};
use crate::pve::props::{self, Props};
use crate::services::limit;
use crate::services::quota::{self, Amounts, Ask, NewId};
use crate::services::Ops;

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
    crate::services::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let sockets = input.sockets.unwrap_or(1);
    let memory = input.memory.unwrap_or(2048);
    if let Some(n) = &input.name {
        plan::plain("name", keys::Value::Name, n)?;
    }
    let ostype = input.ostype.clone().unwrap_or_else(|| "l26".to_owned());
    plan::plain("ostype", keys::Value::Enum(keys::QEMU_OSTYPES), &ostype)
        .map_err(|_| AppError::field("ostype", "a Proxmox OS type such as l26 or win11"))?;
    limit(
        ops,
        caller,
        Preset::VmCreate,
        AuditAction::VmCreate,
        &resource,
    )
    .await?;
    let view = crate::services::view(ops).await?;
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
            .checked(&caller.actor, AuditAction::VmCreate, &resource, checks)?;
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
        .audited(
            &caller.actor,
            AuditAction::VmCreate,
            &resource,
            details,
            async {
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
            },
        )
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
    crate::services::validated(&input)?;
    let cores = input.cores.unwrap_or(1);
    let memory = input.memory.unwrap_or(512);
    let swap = input.swap.unwrap_or(512);
    let disk = input.disk_size.unwrap_or(8);
    if let Some(h) = &input.hostname {
        plan::plain("hostname", keys::Value::Name, h)?;
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
    limit(
        ops,
        caller,
        Preset::VmCreate,
        AuditAction::CtCreate,
        &resource,
    )
    .await?;
    let view = crate::services::view(ops).await?;
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
            .checked(&caller.actor, AuditAction::CtCreate, &resource, checks)?;
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
        .audited(
            &caller.actor,
            AuditAction::CtCreate,
            &resource,
            details,
            async {
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
            },
        )
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
        plan::plain("name", keys::Value::Name, n)?;
    }
    let resource = format!("vm:{source}");
    limit(
        ops,
        caller,
        Preset::VmClone,
        AuditAction::VmClone,
        &resource,
    )
    .await?;
    let view = crate::services::view(ops).await?;
    let permits = view.permits(&caller.principal);
    let (src, public) = ops.audit.checked(
        &caller.actor,
        AuditAction::VmClone,
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
            .checked(&caller.actor, AuditAction::VmClone, &resource, checks)?;
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
        .audited(
            &caller.actor,
            AuditAction::VmClone,
            &resource,
            details,
            async {
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
            },
        )
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
}
