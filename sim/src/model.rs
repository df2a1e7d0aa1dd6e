//! The simulated cluster's state: nodes, storages and volumes, guests, pools, access control, SDN,
//! replication and tasks. Everything lives in one [`Cluster`] behind one lock.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::tasks::Task;

/// A guest's configuration, keyed like a `.conf` file, values already typed like the API's.
pub(crate) type Config = BTreeMap<String, Value>;

/// QEMU VM or LXC container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Kind {
    Qemu,
    Lxc,
}

impl Kind {
    /// `qemu` or `lxc`, as in paths and resource types.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Lxc => "lxc",
        }
    }
    /// The config directory in error messages.
    pub fn conf_dir(self) -> &'static str {
        match self {
            Self::Qemu => "qemu-server",
            Self::Lxc => "lxc",
        }
    }
    /// `VM` or `CT`, as in Proxmox's messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Qemu => "VM",
            Self::Lxc => "CT",
        }
    }
    /// Task type prefix: `qm` or `vz`.
    pub fn task_prefix(self) -> &'static str {
        match self {
            Self::Qemu => "qm",
            Self::Lxc => "vz",
        }
    }
    /// Whether a config key names a disk for this kind.
    pub fn is_disk_key(self, key: &str) -> bool {
        let indexed = |prefix: &str| {
            key.strip_prefix(prefix)
                .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        };
        match self {
            Self::Qemu => {
                ["ide", "sata", "scsi", "virtio"].iter().any(|p| indexed(p))
                    || key == "efidisk0"
                    || key == "tpmstate0"
            }
            Self::Lxc => key == "rootfs" || indexed("mp"),
        }
    }
}

/// Power state of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Power {
    Running,
    Stopped,
    /// QEMU paused (suspended to RAM); `status` reports running, `qmpstatus` paused.
    Paused,
}

/// A node of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Node {
    pub name: String,
    pub online: bool,
    pub cpus: u32,
    pub cpu_model: String,
    pub mem_total: u64,
    pub root_total: u64,
    pub boot_time: i64,
    pub seed: u64,
}

/// A storage definition (storage.cfg).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Storage {
    pub id: String,
    pub ty: String,
    pub content: String,
    pub shared: bool,
    /// Capacity per node (or of the shared store), bytes.
    pub total: u64,
}

impl Storage {
    /// Default image format on this storage.
    pub fn format(&self, kind: Kind) -> &'static str {
        match (self.ty.as_str(), kind) {
            ("lvmthin" | "lvm" | "zfspool" | "rbd", _) => "raw",
            (_, Kind::Lxc) => "raw",
            _ => "qcow2",
        }
    }
}

/// A non-disk volume: ISO, container template, backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Volume {
    pub volid: String,
    /// Node holding it for local storages; `None` on shared ones.
    pub node: Option<String>,
    pub content: String,
    pub format: String,
    pub size: u64,
    pub vmid: Option<u32>,
    pub ctime: i64,
    pub notes: Option<String>,
    pub protected: bool,
    /// For backups: what was saved, to restore from.
    pub backup_of: Option<(Kind, Config)>,
}

impl Volume {
    /// The storage id part of the volid.
    pub fn storage(&self) -> &str {
        self.volid.split(':').next().unwrap_or_default()
    }
}

/// A snapshot of a guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub name: String,
    pub description: String,
    pub snaptime: i64,
    pub vmstate: bool,
    pub parent: Option<String>,
    pub config: Config,
}

/// A QEMU VM or LXC container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Guest {
    pub vmid: u32,
    pub kind: Kind,
    pub node: String,
    pub power: Power,
    pub config: Config,
    pub snapshots: Vec<Snapshot>,
    pub rules: Vec<Map<String, Value>>,
    pub started_at: Option<i64>,
    /// Changes waiting for the next power cycle (QEMU, running): values to set.
    #[serde(default)]
    pub pending: Config,
    /// Keys waiting to be deleted at the next power cycle.
    #[serde(default)]
    pub pending_delete: Vec<String>,
}

impl Guest {
    /// The guest's display name (`name` for VMs, `hostname` for CTs).
    pub fn name(&self) -> String {
        let key = match self.kind {
            Kind::Qemu => "name",
            Kind::Lxc => "hostname",
        };
        self.config.get(key).and_then(Value::as_str).map_or_else(
            || format!("{}{}", self.kind.noun(), self.vmid),
            str::to_owned,
        )
    }
    /// The config as it will be after the next power cycle (what `GET config` shows by default).
    pub fn effective_config(&self) -> Config {
        let mut c = self.config.clone();
        for k in &self.pending_delete {
            c.remove(k);
        }
        c.extend(self.pending.clone());
        c
    }

    /// Applies pending changes (at start, stop, reboot, reset, rollback).
    pub fn apply_pending(&mut self) {
        self.config = self.effective_config();
        self.pending.clear();
        self.pending_delete.clear();
    }

    /// The current lock, if any.
    pub fn lock(&self) -> Option<&str> {
        self.config.get("lock").and_then(Value::as_str)
    }
    /// Whether this guest is a template.
    pub fn is_template(&self) -> bool {
        self.config.get("template").and_then(Value::as_i64) == Some(1)
    }
    /// Whether the guest is running (or paused).
    pub fn is_running(&self) -> bool {
        self.power != Power::Stopped
    }
    /// `running`/`stopped`.
    pub fn status_str(&self) -> &'static str {
        if self.is_running() {
            "running"
        } else {
            "stopped"
        }
    }
    /// Configured memory, bytes.
    pub fn maxmem(&self) -> u64 {
        let mib = match self.config.get("memory") {
            Some(Value::String(s)) => s
                .split(',')
                .find_map(|p| {
                    p.strip_prefix("current=")
                        .or(Some(p))
                        .and_then(|v| v.parse().ok())
                })
                .unwrap_or(512),
            Some(v) => v.as_u64().unwrap_or(512),
            None => 512,
        };
        mib.saturating_mul(1 << 20)
    }
    /// Configured vCPUs.
    pub fn cpus(&self) -> u64 {
        let cores = self
            .config
            .get("cores")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        let sockets = self
            .config
            .get("sockets")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        cores.saturating_mul(sockets)
    }
    /// Disks: (config key, volid, size in bytes), cdroms excluded.
    pub fn disks(&self) -> Vec<(String, String, u64)> {
        disks_of(self.kind, &self.config)
    }
    /// What Proxmox reports as `maxdisk`: the size of the boot disk only (QEMU: the first disk
    /// of the boot order, else `bootdisk`, else the first disk; LXC: `rootfs`), never the sum.
    pub fn maxdisk(&self) -> u64 {
        let size_of = |key: &str| {
            self.config
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.contains("media=cdrom") && !s.starts_with("none"))
                .and_then(disk_size)
        };
        match self.kind {
            Kind::Lxc => size_of("rootfs").unwrap_or(0),
            Kind::Qemu => {
                let order = self
                    .config
                    .get("boot")
                    .and_then(Value::as_str)
                    .and_then(|b| b.split(',').find_map(|p| p.strip_prefix("order=")))
                    .map(|o| o.split(';').map(str::to_owned).collect::<Vec<_>>())
                    .unwrap_or_default();
                let legacy = self
                    .config
                    .get("bootdisk")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                order
                    .iter()
                    .chain(legacy.iter())
                    .find_map(|k| size_of(k))
                    .or_else(|| {
                        self.config
                            .keys()
                            .filter(|k| self.kind.is_disk_key(k))
                            .find_map(|k| size_of(k))
                    })
                    .unwrap_or(0)
            }
        }
    }
    /// The tags string.
    pub fn tags(&self) -> Option<&str> {
        self.config.get("tags").and_then(Value::as_str)
    }
}

/// Disks of a config: (key, volid, size).
pub(crate) fn disks_of(kind: Kind, config: &Config) -> Vec<(String, String, u64)> {
    config
        .iter()
        .filter(|(k, _)| kind.is_disk_key(k) || k.starts_with("unused"))
        .filter_map(|(k, v)| {
            let s = v.as_str()?;
            if s.contains("media=cdrom") || s.starts_with("none") {
                return None;
            }
            let volid = s.split(',').next()?.to_owned();
            let size = disk_size(s).unwrap_or(0);
            Some((k.clone(), volid, size))
        })
        .collect()
}

/// The guest a disk image belongs to, as Proxmox reads it from the volume name
/// (`vm-110-disk-0`, `base-9000-disk-0`, `subvol-103-disk-0`, `110/vm-110-disk-0.qcow2`).
pub(crate) fn image_owner(volid: &str) -> Option<u32> {
    let name = volid.split_once(':').map_or(volid, |(_, n)| n);
    let name = name.rsplit('/').next().unwrap_or(name);
    let rest = name
        .strip_prefix("vm-")
        .or_else(|| name.strip_prefix("base-"))
        .or_else(|| name.strip_prefix("subvol-"))?;
    rest.split('-').next()?.parse().ok()
}

/// Parses the `size=` option of a drive string.
pub(crate) fn disk_size(drive: &str) -> Option<u64> {
    drive
        .split(',')
        .find_map(|p| p.strip_prefix("size="))
        .and_then(parse_size)
}

/// Parses `32G`, `512M`, `1T`, `1024K`, plain bytes.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let last = s.chars().last()?;
    let head = &s[..s.len() - last.len_utf8()];
    let (num, mult) = match last {
        'K' | 'k' => (head, 1u64 << 10),
        'M' | 'm' => (head, 1 << 20),
        'G' | 'g' => (head, 1 << 30),
        'T' | 't' => (head, 1 << 40),
        _ => (s, 1),
    };
    let v: f64 = num.parse().ok()?;
    (v >= 0.0).then_some((v * mult as f64) as u64)
}

/// Formats bytes the way Proxmox writes `size=` (largest exact unit).
pub(crate) fn fmt_size(bytes: u64) -> String {
    for (unit, m) in [
        ("T", 1u64 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ] {
        if bytes >= m && bytes % m == 0 {
            return format!("{}{unit}", bytes / m);
        }
    }
    bytes.to_string()
}

/// A resource pool.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Pool {
    pub comment: Option<String>,
    pub vms: BTreeSet<u32>,
    pub storage: BTreeSet<String>,
}

/// A user (user.cfg).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct User {
    pub comment: Option<String>,
    pub email: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub enable: bool,
    pub expire: i64,
}

/// A group (user.cfg).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Group {
    pub comment: Option<String>,
    pub members: BTreeSet<String>,
}

/// An API token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Token {
    pub userid: String,
    pub name: String,
    pub secret: String,
    pub privsep: bool,
    pub comment: Option<String>,
    pub expire: i64,
}

impl Token {
    /// `USER@REALM!NAME`.
    pub fn full_id(&self) -> String {
        format!("{}!{}", self.userid, self.name)
    }
}

/// Who an ACL entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum AclKind {
    User,
    Group,
    Token,
}

impl AclKind {
    /// `user`, `group` or `token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Token => "token",
        }
    }
}

/// One ACL entry: a role for a user/group/token on a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AclEntry {
    pub path: String,
    pub kind: AclKind,
    pub ugid: String,
    pub role: String,
    pub propagate: bool,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Role {
    pub privs: BTreeSet<String>,
    pub special: bool,
}

/// A replication job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplJob {
    pub guest: u32,
    pub jobnum: u32,
    pub target: String,
    pub schedule: Option<String>,
    pub comment: Option<String>,
    pub rate: Option<f64>,
    pub disable: bool,
}

impl ReplJob {
    /// `GUEST-JOBNUM`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.guest, self.jobnum)
    }
}

/// SDN objects: the edited config and the running (applied) one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Sdn {
    pub zones: BTreeMap<String, Config>,
    pub vnets: BTreeMap<String, Config>,
    pub running_zones: BTreeMap<String, Config>,
    pub running_vnets: BTreeMap<String, Config>,
}

/// The whole simulated cluster.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Cluster {
    pub nodes: BTreeMap<String, Node>,
    pub storages: BTreeMap<String, Storage>,
    pub volumes: Vec<Volume>,
    pub guests: BTreeMap<u32, Guest>,
    pub pools: BTreeMap<String, Pool>,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub tokens: BTreeMap<String, Token>,
    pub roles: BTreeMap<String, Role>,
    pub acl: Vec<AclEntry>,
    pub sdn: Sdn,
    pub replication: BTreeMap<String, ReplJob>,
    /// Sizes of disk images no config states a size for (detached `unused[n]` volumes), by
    /// volid: the storage still holds them, as on a real cluster.
    #[serde(default)]
    pub detached: BTreeMap<String, u64>,
    /// Tasks are not persisted: a restarted simulator has an empty task history.
    #[serde(skip)]
    pub tasks: Vec<Task>,
    pub next_pid: u32,
    /// VNC console proxies and their ticket key; not persisted either.
    #[serde(skip)]
    pub consoles: crate::console::Consoles,
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A config digest (Proxmox uses SHA-1 of the file; 40 hex digits here too).
pub(crate) fn digest(config: &Config) -> String {
    let mut h = Sha256::new();
    h.update(Value::Object(config.clone().into_iter().collect()).to_string());
    let out = h.finalize();
    out.iter().take(20).map(|b| format!("{b:02x}")).collect()
}

impl Cluster {
    /// The node, or Proxmox's "hostname lookup" death for an unknown one.
    pub fn node(&self, name: &str) -> Result<&Node, ApiError> {
        self.nodes.get(name).ok_or_else(|| {
            ApiError::die(format!(
                "hostname lookup '{name}' failed - failed to get address info for: {name}: Name or service not known"
            ))
        })
    }

    /// The guest of `kind` with `vmid` on `node`, or "Configuration file … does not exist".
    pub fn guest(&self, node: &str, kind: Kind, vmid: u32) -> Result<&Guest, ApiError> {
        self.guests
            .get(&vmid)
            .filter(|g| g.kind == kind && g.node == node)
            .ok_or_else(|| no_conf(node, kind, vmid))
    }

    /// Mutable access, same refusal as [`Cluster::guest`].
    pub fn guest_mut(&mut self, node: &str, kind: Kind, vmid: u32) -> Result<&mut Guest, ApiError> {
        self.guests
            .get_mut(&vmid)
            .filter(|g| g.kind == kind && g.node == node)
            .ok_or_else(|| no_conf(node, kind, vmid))
    }

    /// The pool a guest belongs to.
    pub fn pool_of(&self, vmid: u32) -> Option<&str> {
        self.pools
            .iter()
            .find(|(_, p)| p.vms.contains(&vmid))
            .map(|(n, _)| n.as_str())
    }

    /// All groups a user belongs to.
    pub fn groups_of(&self, userid: &str) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.contains(userid))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Bytes used on a storage (on `node` for local storages): disks and volumes.
    pub fn storage_used(&self, storage: &Storage, node: &str) -> u64 {
        let vols: u64 = self
            .volumes
            .iter()
            .filter(|v| v.storage() == storage.id)
            .filter(|v| storage.shared || v.node.as_deref() == Some(node))
            .map(|v| v.size)
            .fold(0u64, u64::saturating_add);
        let disks: u64 = self
            .guests
            .values()
            .filter(|g| storage.shared || g.node == node)
            .flat_map(|g| g.disks())
            .filter(|(_, volid, _)| volid.split(':').next() == Some(storage.id.as_str()))
            .map(|d| d.2)
            .fold(0u64, u64::saturating_add);
        vols.saturating_add(disks)
    }

    /// Bytes used per (storage, node) in one pass; shared storages use the node "".
    pub fn storage_usage(&self) -> BTreeMap<(String, String), u64> {
        let key = |storage: &str, node: &str| {
            let shared = self.storages.get(storage).is_some_and(|s| s.shared);
            (
                storage.to_owned(),
                if shared {
                    String::new()
                } else {
                    node.to_owned()
                },
            )
        };
        let mut out: BTreeMap<(String, String), u64> = BTreeMap::new();
        for v in &self.volumes {
            let e = out
                .entry(key(v.storage(), v.node.as_deref().unwrap_or_default()))
                .or_default();
            *e = e.saturating_add(v.size);
        }
        for g in self.guests.values() {
            for (_, volid, size) in g.disks() {
                let storage = volid.split(':').next().unwrap_or_default();
                let e = out.entry(key(storage, &g.node)).or_default();
                *e = e.saturating_add(size);
            }
        }
        out
    }

    /// Looks up [`Cluster::storage_usage`] for a storage as seen from a node.
    pub fn used_in(usage: &BTreeMap<(String, String), u64>, storage: &Storage, node: &str) -> u64 {
        let node = if storage.shared { "" } else { node };
        usage
            .get(&(storage.id.clone(), node.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The size of an existing disk image: a disk of some guest (or of one of its snapshots), or
    /// a detached volume. `None` when no such image exists.
    pub fn image_size(&self, volid: &str) -> Option<u64> {
        for g in self.guests.values() {
            let configs = std::iter::once(&g.config)
                .chain(std::iter::once(&g.pending))
                .chain(g.snapshots.iter().map(|s| &s.config));
            for config in configs {
                let found = disks_of(g.kind, config)
                    .into_iter()
                    .find(|(_, v, size)| v == volid && *size > 0);
                if let Some((_, _, size)) = found {
                    return Some(size);
                }
            }
        }
        self.detached.get(volid).copied().or_else(|| {
            self.guests
                .values()
                .flat_map(|g| g.disks())
                .find(|(_, v, _)| v == volid)
                .map(|(_, _, size)| size)
        })
    }

    /// The next free vmid from 100 on.
    pub fn next_free_vmid(&self) -> u32 {
        (100..)
            .find(|id| !self.guests.contains_key(id))
            .unwrap_or(100)
    }

    /// A new disk volume name for a guest on a storage.
    pub fn new_disk_name(&self, vmid: u32, storage: &str, prefix: &str) -> String {
        let normalize = |volid: &str| match volid.split_once(':') {
            Some((st, name)) => format!("{st}:{}", name.rsplit('/').next().unwrap_or(name)),
            None => volid.to_owned(),
        };
        let taken: BTreeSet<String> = self
            .guests
            .values()
            .flat_map(|g| {
                let mut v: Vec<String> = g.disks().into_iter().map(|d| normalize(&d.1)).collect();
                for s in &g.snapshots {
                    v.extend(
                        disks_of(g.kind, &s.config)
                            .into_iter()
                            .map(|d| normalize(&d.1)),
                    );
                }
                v
            })
            .collect();
        (0..1000)
            .map(|n| format!("{storage}:{prefix}-{vmid}-disk-{n}"))
            .find(|c| !taken.contains(c))
            .unwrap_or_else(|| format!("{storage}:{prefix}-{vmid}-disk-0"))
    }

    /// Whether a storage is usable on a node.
    pub fn storage_on(&self, storage: &str, _node: &str) -> Result<&Storage, ApiError> {
        self.storages
            .get(storage)
            .ok_or_else(|| ApiError::die(format!("storage '{storage}' does not exist")))
    }

    /// Removes a guest from pools, replication jobs and (when purging) ACLs.
    pub fn forget_guest(&mut self, vmid: u32, purge: bool) {
        for pool in self.pools.values_mut() {
            pool.vms.remove(&vmid);
        }
        if purge {
            self.replication.retain(|_, j| j.guest != vmid);
            let path = format!("/vms/{vmid}");
            self.acl.retain(|a| a.path != path);
        }
    }

    /// The `/cluster/resources`-style entry for a guest.
    pub fn guest_resource(&self, g: &Guest, now: i64) -> Value {
        let node_online = self.nodes.get(&g.node).is_some_and(|n| n.online);
        let stats = crate::rrd::guest_now(g, now);
        let mut v = json!({
            "id": format!("{}/{}", g.kind.as_str(), g.vmid),
            "type": g.kind.as_str(),
            "vmid": g.vmid,
            "node": g.node,
            "name": g.name(),
            "status": if node_online { g.status_str() } else { "unknown" },
            "template": u8::from(g.is_template()),
            "maxcpu": g.cpus(),
            "cpu": stats.cpu,
            "maxmem": g.maxmem(),
            "mem": stats.mem,
            "maxdisk": g.maxdisk(),
            "disk": if g.kind == Kind::Lxc { stats.disk } else { 0 },
            "netin": stats.netin,
            "netout": stats.netout,
            "diskread": stats.diskread,
            "diskwrite": stats.diskwrite,
            "uptime": stats.uptime,
        });
        if g.kind == Kind::Qemu {
            v["memhost"] = json!(stats.mem);
        }
        if let Some(lock) = g.lock() {
            v["lock"] = json!(lock);
        }
        if let Some(tags) = g.tags() {
            v["tags"] = json!(tags);
        }
        if let Some(pool) = self.pool_of(g.vmid) {
            v["pool"] = json!(pool);
        }
        v
    }
}

/// "Configuration file 'nodes/N/qemu-server/ID.conf' does not exist".
pub(crate) fn no_conf(node: &str, kind: Kind, vmid: u32) -> ApiError {
    ApiError::die(format!(
        "Configuration file 'nodes/{node}/{}/{vmid}.conf' does not exist",
        kind.conf_dir()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn sizes_parse_and_format() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1é"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(fmt_size(32 << 30), "32G");
        assert_eq!(fmt_size(1536 << 20), "1536M");
        assert_eq!(
            disk_size("local-lvm:vm-100-disk-0,iothread=1,size=8G"),
            Some(8 << 30)
        );
    }
}
