//! What a guest, a pool or a node holds, read from Proxmox: volumes and their sizes, vCPUs,
//! memory, backups and VNets.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::acl::keys::{self, Value as KeyValue};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, GuestKind, Node, Storage, Vmid, VolumeId};
use crate::pve::props::{self, Props};
use crate::pve::PveClient;
use crate::store::Store;

use super::Holding;

fn num(cfg: &Map<String, Value>, key: &str) -> Option<i64> {
    cfg.get(key).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

/// A volume a disk key's value holds, with its `size=` (bytes) when stated. CD drives, empty
/// drives and host paths hold none.
pub fn volume_of(kind: GuestKind, key: &str, value: &str) -> Option<(String, Option<u64>)> {
    let format = match keys::rule(kind, key)?.value {
        KeyValue::Drive(f) | KeyValue::Mount(f) => f,
        KeyValue::Unused => return Some((value.to_owned(), None)),
        _ => return None,
    };
    let default = format.default_key.unwrap_or("file");
    let p = Props::parse(format, value).ok();
    let (volume, media, size) = match &p {
        Some(p) => (
            p.get(default).unwrap_or_default().to_owned(),
            p.get("media").map(str::to_owned),
            p.get("size").and_then(props::parse_size),
        ),
        // Values Proxmox wrote that Uma's grammar doesn't know: the volume is the first part.
        None => (
            value.split(',').next().unwrap_or_default().to_owned(),
            value
                .split(',')
                .find_map(|x| x.strip_prefix("media="))
                .map(str::to_owned),
            value
                .split(',')
                .find_map(|x| x.strip_prefix("size="))
                .and_then(props::parse_size),
        ),
    };
    if media.as_deref() == Some("cdrom")
        || volume.is_empty()
        || volume == "none"
        || volume == "cdrom"
        || volume.starts_with('/')
    {
        return None;
    }
    Some((volume, size))
}

/// What a configuration holds. `node_cpus` is the node's CPU count (a container without
/// `cores` may use them all); `sizes` gives the size of volumes whose value states none.
pub fn holding_of(
    kind: GuestKind,
    cfg: &Map<String, Value>,
    node_cpus: i64,
    sizes: &HashMap<String, u64>,
) -> Holding {
    let template = num(cfg, "template") == Some(1);
    let mut h = Holding {
        vms: i64::from(kind == GuestKind::Qemu),
        lxcs: i64::from(kind == GuestKind::Lxc),
        ..Holding::default()
    };
    if !template {
        h.cpu = match kind {
            GuestKind::Qemu => num(cfg, "vcpus").unwrap_or_else(|| {
                num(cfg, "cores").unwrap_or(1) * num(cfg, "sockets").unwrap_or(1)
            }),
            GuestKind::Lxc => num(cfg, "cores").unwrap_or(node_cpus.max(1)),
        };
        h.memory = match cfg.get("memory") {
            Some(Value::String(s)) => Props::parse(&props::MEMORY, s)
                .ok()
                .and_then(|p| p.get("current").and_then(|c| c.parse().ok()))
                .unwrap_or(512),
            Some(v) => v.as_i64().unwrap_or(512),
            None => 512,
        };
    }
    for (key, value) in cfg {
        let Some(text) = value.as_str() else { continue };
        if let Some((volume, size)) = volume_of(kind, key, text) {
            let bytes = size.or_else(|| sizes.get(&volume).copied()).unwrap_or(0);
            let e = h.disks.entry(volume).or_default();
            *e = (*e).max(bytes);
        }
    }
    h
}

/// Volumes of a configuration that state no size (detached `unused[n]` ones).
pub fn unsized_volumes(kind: GuestKind, cfg: &Map<String, Value>) -> Vec<String> {
    cfg.iter()
        .filter_map(|(k, v)| volume_of(kind, k, v.as_str()?))
        .filter(|(_, size)| size.is_none())
        .map(|(v, _)| v)
        .collect()
}

#[derive(Debug, Deserialize)]
struct PendingItem {
    key: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    pending: Option<Value>,
    #[serde(default)]
    delete: Option<Value>,
}

/// A guest's configuration now and as it will be after its pending changes.
#[derive(Debug, Clone, Default)]
pub struct GuestConfig {
    /// In force now.
    pub current: Map<String, Value>,
    /// After the pending changes (what `GET config` shows).
    pub pending: Map<String, Value>,
}

/// Reads a guest's configuration with its pending changes (`GET …/pending`).
pub async fn guest_config(
    pve: &PveClient,
    node: &Node,
    kind: GuestKind,
    vmid: Vmid,
) -> AppResult<GuestConfig> {
    let path = ApiPath::lit("nodes")
        .seg(node)
        .seg(&kind)
        .seg(&vmid)
        .then("pending");
    let items: Vec<PendingItem> = pve.get(path).await?;
    let mut out = GuestConfig::default();
    for i in items {
        let deleted = i
            .delete
            .as_ref()
            .is_some_and(|d| d.as_i64().unwrap_or(0) > 0 || d == "1");
        if let Some(v) = &i.value {
            out.current.insert(i.key.clone(), v.clone());
        }
        match (&i.pending, deleted) {
            (_, true) => {}
            (Some(p), false) => {
                out.pending.insert(i.key, p.clone());
            }
            (None, false) => {
                if let Some(v) = i.value {
                    out.pending.insert(i.key, v);
                }
            }
        }
    }
    Ok(out)
}

/// The size of a volume as its storage reports it (for volumes whose config states none).
pub async fn volume_size(pve: &PveClient, node: &Node, volid: &str) -> Option<u64> {
    let v = VolumeId::parse("volume", volid).ok()?;
    let storage = Storage::parse("storage", volid.split(':').next()?).ok()?;
    let path = ApiPath::storage_content(node, &storage).seg(&v);
    let info: Value = pve.get(path).await.ok()?;
    info.get("size").and_then(Value::as_u64)
}

/// Sizes of the volumes of `configs` that state none, read from their storages.
pub async fn sizes_for(
    pve: &PveClient,
    node: &Node,
    kind: GuestKind,
    configs: &[&Map<String, Value>],
) -> HashMap<String, u64> {
    let mut wanted: Vec<String> = configs
        .iter()
        .flat_map(|c| unsized_volumes(kind, c))
        .collect();
    wanted.sort();
    wanted.dedup();
    let mut out = HashMap::new();
    for v in wanted {
        if let Some(size) = volume_size(pve, node, &v).await {
            out.insert(v, size);
        }
    }
    out
}

/// What a guest holds now: the larger of its current and pending configuration.
pub async fn guest_holding(
    pve: &PveClient,
    node: &Node,
    kind: GuestKind,
    vmid: Vmid,
    node_cpus: i64,
) -> AppResult<(Holding, GuestConfig)> {
    let cfg = guest_config(pve, node, kind, vmid).await?;
    let sizes = sizes_for(pve, node, kind, &[&cfg.current, &cfg.pending]).await;
    let mut h = holding_of(kind, &cfg.current, node_cpus, &sizes);
    h.widen(&holding_of(kind, &cfg.pending, node_cpus, &sizes));
    Ok((h, cfg))
}

/// CPU count per node, from a resource list.
pub fn node_cpus(resources: &[Resource]) -> HashMap<String, i64> {
    resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Node)
        .filter_map(|r| Some((r.node.clone()?, r.maxcpu.unwrap_or(1.0).round() as i64)))
        .collect()
}

pub(super) fn unreadable(what: &str, e: &AppError) -> AppError {
    tracing::warn!(error = %e.message, pools = what, "quota check: usage unreadable");
    AppError::with_message(
        ErrorCode::Unavailable,
        format!(
            "Could not read the usage of {what} from Proxmox, so the quota can't be checked; nothing was changed. Try again shortly."
        ),
    )
}

/// The storages of `node` that hold backups, and whether each is shared by all nodes.
pub async fn backup_storages(pve: &PveClient, node: &Node) -> AppResult<Vec<(Storage, bool)>> {
    #[derive(Deserialize)]
    struct NodeStorage {
        storage: String,
        #[serde(default)]
        content: String,
        #[serde(default, deserialize_with = "crate::pve::models::flag")]
        shared: bool,
    }
    let storages: Vec<NodeStorage> = pve
        .get_with(
            ApiPath::node_storages(node),
            &[("content", "backup".to_owned())],
        )
        .await?;
    Ok(storages
        .into_iter()
        .filter(|s| s.content.split(',').any(|c| c == "backup"))
        .filter_map(|s| Some((Storage::parse("storage", &s.storage).ok()?, s.shared)))
        .collect())
}

/// Guest ids that must not be handed to a new guest: those with backups (which would pass to
/// the new guest, being matched by id). Read from the backup storages of every node that
/// answers, and kept in the store, so that the ids whose backups sit on a node that is down stay
/// held; an id is released only when every node was read and none has its backups any more.
pub async fn ids_with_backups(
    pve: &PveClient,
    store: &Store,
    resources: &[Resource],
) -> AppResult<HashSet<u32>> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        vmid: Option<u32>,
    }
    let mut found = std::collections::BTreeSet::new();
    let mut seen_shared: HashSet<String> = HashSet::new();
    let mut every_node_read = true;
    let nodes = resources.iter().filter(|r| r.kind == ResourceKind::Node);
    for r in nodes {
        let online = r.status.as_deref() == Some("online");
        let node = r.node.as_deref().and_then(|n| Node::parse("node", n).ok());
        let (Some(node), true) = (node, online) else {
            every_node_read = false;
            continue;
        };
        let storages = match backup_storages(pve, &node).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(node = %node, error = %e.message, "backups unreadable");
                every_node_read = false;
                continue;
            }
        };
        for (sid, shared) in storages {
            if shared && !seen_shared.insert(sid.to_string()) {
                continue;
            }
            let items: Vec<Item> = pve
                .get_with(
                    ApiPath::storage_content(&node, &sid),
                    &[("content", "backup".to_owned())],
                )
                .await?;
            found.extend(items.into_iter().filter_map(|i| i.vmid));
        }
    }
    let ids: Vec<u32> = found.iter().copied().collect();
    store.hold_guest_ids(&ids, "backups").await?;
    if every_node_read {
        store.release_guest_ids_except(&found).await?;
    }
    Ok(store.held_guest_ids().await?.into_iter().collect())
}

/// VNets of `pool` (alias starting `<pool>_`), read from Proxmox now.
pub async fn vnet_usage(pve: &PveClient, pool: &str) -> AppResult<i64> {
    let vnets: Vec<serde_json::Value> = pve.get("cluster/sdn/vnets").await.map_err(|_| {
        AppError::with_message(
            ErrorCode::Unavailable,
            format!("Could not read the VNets of pool {pool} from Proxmox, so the quota can't be checked; nothing was changed."),
        )
    })?;
    let prefix = format!("{pool}_");
    Ok(vnets
        .iter()
        .filter(|v| {
            v.get("alias")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.starts_with(&prefix))
        })
        .count() as i64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::services::quota::{Amounts, GIB};
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn holdings_count_every_disk_and_vcpus_as_proxmox() {
        let none = HashMap::new();
        let vm = cfg(json!({
            "cores": 4, "sockets": 2, "memory": "current=2048",
            "scsi0": "local-lvm:vm-100-disk-0,size=32G",
            "scsi1": "local-lvm:vm-100-disk-1,iothread=1,size=10G",
            "ide2": "local:iso/debian.iso,media=cdrom",
            "efidisk0": "local-lvm:vm-100-disk-2,efitype=4m,size=1M",
            "unused0": "local-lvm:vm-100-disk-3",
            "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
        }));
        let sizes = HashMap::from([("local-lvm:vm-100-disk-3".to_owned(), 5 * GIB)]);
        let h = holding_of(GuestKind::Qemu, &vm, 16, &sizes);
        assert_eq!(h.cpu, 8);
        assert_eq!(h.memory, 2048);
        assert_eq!(h.disks.len(), 4, "{h:?}");
        assert_eq!(h.amounts().disk, 48);
        assert_eq!(
            holding_of(GuestKind::Qemu, &vm, 16, &none).amounts().disk,
            43
        );
        let mut vcpus = vm.clone();
        vcpus.insert("vcpus".into(), json!(2));
        assert_eq!(holding_of(GuestKind::Qemu, &vcpus, 16, &none).cpu, 2);
        // A template holds its disks, not vCPUs or memory.
        let mut tmpl = vm.clone();
        tmpl.insert("template".into(), json!(1));
        let t = holding_of(GuestKind::Qemu, &tmpl, 16, &sizes);
        assert_eq!((t.vms, t.cpu, t.memory, t.amounts().disk), (1, 0, 0, 48));
        // A container without `cores` may use the whole node.
        let ct = cfg(json!({
            "memory": 1024, "rootfs": "local-lvm:subvol-103-disk-0,size=8G",
            "mp0": "local-lvm:subvol-103-disk-1,mp=/srv,size=4G",
            "mp1": "/host/data,mp=/data",
        }));
        let h = holding_of(GuestKind::Lxc, &ct, 16, &none);
        assert_eq!(
            (h.cpu, h.memory, h.amounts().disk, h.lxcs),
            (16, 1024, 12, 1)
        );
    }

    #[test]
    fn growth_counts_only_what_grows() {
        let none = HashMap::new();
        let before = holding_of(
            GuestKind::Qemu,
            &cfg(json!({ "cores": 64, "vcpus": 1, "scsi0": "s:vm-1-disk-0,size=8G" })),
            16,
            &none,
        );
        let after = holding_of(
            GuestKind::Qemu,
            &cfg(json!({ "cores": 64, "scsi0": "s:vm-1-disk-0,size=8G" })),
            16,
            &none,
        );
        let g = Amounts::growth(&before, &after);
        assert_eq!((g.cpu, g.disk), (63, 0));
        assert!(Amounts::growth(&after, &before).is_zero());
    }
}
