//! Pool quotas that count what Proxmox holds. Usage is computed from the guests' configurations
//! (with their pending changes): every disk of every guest — templates included, detached
//! `unused[n]` volumes and container mount points too — vCPUs as Proxmox counts them (`vcpus`,
//! else cores × sockets; a container without `cores` may use its node's every core), memory,
//! and the VNets charged to the pool. Templates can't run, so they hold disks and a guest slot
//! but no vCPUs or memory.
//!
//! A request that adds to a pool first *reserves* what it adds: under one lock, Uma reads the
//! usage from Proxmox (never from a cache; if it can't, the request is refused), adds what other
//! requests have reserved and not yet landed, and compares with the limits in force: the pool's
//! own `PoolLimit` row, else — for pools of the owner naming rule — one budget (the `global`
//! defaults) over everything the owner's pools hold, else the defaults.
//! The reservation is released if the operation fails, or kept after success until Proxmox
//! shows the new guest (at most [`LANDING`]), so concurrent requests can never both pass a
//! nearly full quota.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::acl::cache::AclCache;
use crate::acl::cache::View;
use crate::acl::keys::{self, Value as KeyValue};
use crate::acl::{pool_owner_part, Engine};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, GuestKind, Node, Storage, Upid, Vmid, VolumeId};
use crate::pve::props::{self, Props};
use crate::pve::tasks::{TaskState, TaskStatus};
use crate::pve::PveClient;
use crate::store::pools::Limits;
use crate::store::Store;

/// How long a committed reservation for a new guest waits to show up in Proxmox.
pub const LANDING: Duration = Duration::from_secs(120);

const GIB: u64 = 1 << 30;

/// Guests whose configurations are read at once while counting a pool.
const READS_AT_ONCE: usize = 8;

/// Amounts counted against a quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Amounts {
    /// QEMU VMs (templates included).
    pub vms: i64,
    /// LXC containers (templates included).
    pub lxcs: i64,
    /// VNets.
    pub vnets: i64,
    /// vCPUs.
    pub cpu: i64,
    /// Memory, MiB.
    pub memory: i64,
    /// Disk, GiB.
    pub disk: i64,
}

impl Amounts {
    fn add(&mut self, o: &Amounts) {
        self.vms += o.vms;
        self.lxcs += o.lxcs;
        self.vnets += o.vnets;
        self.cpu += o.cpu;
        self.memory += o.memory;
        self.disk += o.disk;
    }

    /// Whether nothing is asked.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// What `after` holds beyond `before`, per amount (never negative).
    pub fn growth(before: &Holding, after: &Holding) -> Self {
        let b = before.amounts();
        let a = after.amounts();
        Self {
            vms: (a.vms - b.vms).max(0),
            lxcs: (a.lxcs - b.lxcs).max(0),
            vnets: 0,
            cpu: (a.cpu - b.cpu).max(0),
            memory: (a.memory - b.memory).max(0),
            disk: i64::try_from(
                after
                    .disk_bytes()
                    .saturating_sub(before.disk_bytes())
                    .div_ceil(GIB),
            )
            .unwrap_or(i64::MAX),
        }
    }
}

/// What one guest holds, read from its configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding {
    /// 1 for a VM.
    pub vms: i64,
    /// 1 for a container.
    pub lxcs: i64,
    /// vCPUs it may run with (0 for templates).
    pub cpu: i64,
    /// Memory, MiB (0 for templates).
    pub memory: i64,
    /// Its volumes and their sizes in bytes.
    pub disks: BTreeMap<String, u64>,
}

impl Holding {
    /// Bytes of all its volumes.
    pub fn disk_bytes(&self) -> u64 {
        self.disks.values().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// As quota amounts (disk rounded up to whole GiB).
    pub fn amounts(&self) -> Amounts {
        Amounts {
            vms: self.vms,
            lxcs: self.lxcs,
            vnets: 0,
            cpu: self.cpu,
            memory: self.memory,
            disk: i64::try_from(self.disk_bytes().div_ceil(GIB)).unwrap_or(i64::MAX),
        }
    }

    /// The larger of two states of one guest (running now and after its pending changes):
    /// the larger vCPUs and memory, every volume of either.
    pub fn widen(&mut self, other: &Holding) {
        self.vms = self.vms.max(other.vms);
        self.lxcs = self.lxcs.max(other.lxcs);
        self.cpu = self.cpu.max(other.cpu);
        self.memory = self.memory.max(other.memory);
        for (k, v) in &other.disks {
            let e = self.disks.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }
}

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

fn unreadable(what: &str, e: &AppError) -> AppError {
    tracing::warn!(error = %e.message, pools = what, "quota check: usage unreadable");
    AppError::with_message(
        ErrorCode::Unavailable,
        format!(
            "Could not read the usage of {what} from Proxmox, so the quota can't be checked; nothing was changed. Try again shortly."
        ),
    )
}

#[derive(Debug)]
struct Reservation {
    id: u64,
    pool: String,
    ask: Amounts,
    /// A new guest: the reservation ends when it appears in Proxmox.
    new_vmid: Option<u32>,
    committed_at: Option<Instant>,
    /// The Proxmox task doing the change: the reservation lasts until it ends (a resize, a
    /// restore, a clone shows in the configuration only then).
    task: Option<Upid>,
    /// The task was seen to end.
    task_done: bool,
}

/// The longest a reservation waits for its task to end (a stuck task releases it then).
const TASK_LIMIT: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Default)]
struct Book {
    next_id: u64,
    held: Vec<Reservation>,
}

/// How long a guest's holding read for a display (pool lists, limits pages) serves other
/// displays. Quota checks always read anew.
const SHOWN_FOR: Duration = Duration::from_secs(15);

/// The reservations of this instance, and recently read holdings for displays.
pub struct QuotaBook {
    pve: PveClient,
    store: Store,
    acl: Arc<AclCache>,
    book: Mutex<Book>,
    check: tokio::sync::Mutex<()>,
    shown: Mutex<HashMap<u32, (Instant, Holding)>>,
}

/// A held reservation: dropped without [`Ticket::commit`], it is released.
#[derive(Debug)]
pub struct Ticket {
    book: Arc<QuotaBook>,
    id: u64,
    vmid: Option<u32>,
    done: bool,
}

impl Ticket {
    /// The id of the guest being created (chosen or picked).
    pub fn vmid(&self) -> Option<Vmid> {
        self.vmid.map(Vmid)
    }

    /// The operation succeeded without a task: keep counting the reservation until the new
    /// guest shows up in Proxmox (changes to existing guests are visible at once, so theirs
    /// ends here).
    pub fn commit(self) {
        self.commit_task(None);
    }

    /// The operation was accepted as the Proxmox task `upid` (or, without one, done): keep
    /// counting the reservation until the task has ended and a new guest shows up in Proxmox.
    pub fn commit_task(mut self, upid: Option<&str>) {
        self.done = true;
        let task = upid.and_then(|u| Upid::parse("upid", u).ok());
        let mut book = self.book.book.lock();
        if let Some(pos) = book.held.iter().position(|r| r.id == self.id) {
            if book.held[pos].new_vmid.is_some() || task.is_some() {
                book.held[pos].committed_at = Some(Instant::now());
                book.held[pos].task = task;
            } else {
                book.held.remove(pos);
            }
        }
    }
}

impl std::fmt::Debug for QuotaBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaBook")
            .field("held", &self.book.lock().held.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.book.book.lock().held.retain(|r| r.id != self.id);
        }
    }
}

/// Where the limits of a pool come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Its own row.
    Pool,
    /// The owner's budget (the defaults), shared by the owner's pools without a row.
    Owner,
    /// The defaults.
    Global,
    /// No limits at all.
    None,
}

/// The limits in force for a pool, where they come from, and the pools that share them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    /// The limits (0 = unlimited).
    pub limits: Limits,
    /// Where they come from.
    pub source: Source,
    /// The pools whose usage counts against them (the pool itself, or the owner's pools).
    pub pools: Vec<String>,
}

/// Pools of the same owner as `pool` (recorded owner, or the same unrecorded name part).
pub fn owner_pools(engine: &Engine, pool: &str) -> Vec<String> {
    let Some(part) = pool_owner_part(pool) else {
        return vec![pool.to_owned()];
    };
    let _ = part;
    let mut out: Vec<String> = engine
        .snapshot
        .pool_comments
        .keys()
        .filter(|p| engine.same_owner(pool, p))
        .cloned()
        .collect();
    if !out.iter().any(|p| p == pool) {
        out.push(pool.to_owned());
    }
    out.sort();
    out
}

/// The limits of `pool`: its own row; else, for an owner's pool, the defaults as one budget of
/// all the owner's pools; else the defaults.
pub async fn effective(store: &Store, view: &View, pool: &str) -> AppResult<Effective> {
    if let Some(row) = store.pool_limit(pool).await? {
        return Ok(Effective {
            limits: row.limits(),
            source: Source::Pool,
            pools: vec![pool.to_owned()],
        });
    }
    let Some(global) = store.pool_limit("global").await? else {
        return Ok(Effective {
            limits: Limits::default(),
            source: Source::None,
            pools: vec![pool.to_owned()],
        });
    };
    if pool_owner_part(pool).is_none() {
        return Ok(Effective {
            limits: global.limits(),
            source: Source::Global,
            pools: vec![pool.to_owned()],
        });
    }
    // Everything the owner's pools hold counts, also what pools with limits of their own hold:
    // a stricter row on one pool is not escaped by making another.
    Ok(Effective {
        limits: global.limits(),
        source: Source::Owner,
        pools: owner_pools(&view.engine, pool),
    })
}

/// The id of a guest a request creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewId {
    /// The request creates no guest.
    None,
    /// The caller chose this id.
    Given(Vmid),
    /// Pick the lowest free id.
    Pick,
}

/// What a request adds, and to which pool.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The pool charged (`None`: no quota applies, e.g. an admin's override).
    pub pool: Option<String>,
    /// The amounts added.
    pub amounts: Amounts,
    /// The guest it creates.
    pub new_vmid: NewId,
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

impl QuotaBook {
    /// A book reading usage from `pve`, limits from `store` and pools from `acl`.
    pub fn new(pve: PveClient, store: Store, acl: Arc<AclCache>) -> Self {
        Self {
            pve,
            store,
            acl,
            book: Mutex::default(),
            check: tokio::sync::Mutex::default(),
            shown: Mutex::default(),
        }
    }

    /// The usage of the guests of `pools` (VNets not included). `live` reads every guest's
    /// configuration now; otherwise holdings read in the last few seconds serve.
    pub async fn usage(
        &self,
        resources: &[Resource],
        pools: &[String],
        live: bool,
    ) -> AppResult<Amounts> {
        let cpus = node_cpus(resources);
        let jobs: Vec<(u32, GuestKind, String, i64)> = resources
            .iter()
            .filter(|r| r.is_guest() && r.pool.as_ref().is_some_and(|p| pools.contains(p)))
            .map(|r| {
                let node = r.node.clone().unwrap_or_default();
                let n = cpus.get(&node).copied().unwrap_or(1);
                (
                    r.vmid.unwrap_or_default(),
                    r.kind.guest().unwrap_or(GuestKind::Qemu),
                    node,
                    n,
                )
            })
            .collect();
        let reads: Vec<AppResult<Holding>> = stream::iter(jobs)
            .map(|(id, kind, node, n)| self.holding_for_usage(id, kind, node, n, live))
            .buffer_unordered(READS_AT_ONCE)
            .collect()
            .await;
        let mut total = Amounts::default();
        let mut bytes: u64 = 0;
        for h in reads {
            let h = h.map_err(|e| unreadable(&pools.join(", "), &e))?;
            let a = h.amounts();
            total.vms += a.vms;
            total.lxcs += a.lxcs;
            total.cpu += a.cpu;
            total.memory += a.memory;
            bytes = bytes.saturating_add(h.disk_bytes());
        }
        total.disk = i64::try_from(bytes.div_ceil(GIB)).unwrap_or(i64::MAX);
        Ok(total)
    }

    async fn holding_for_usage(
        &self,
        id: u32,
        kind: GuestKind,
        node: String,
        node_cpus: i64,
        live: bool,
    ) -> AppResult<Holding> {
        if !live {
            let shown = self.shown.lock().get(&id).cloned();
            if let Some((_, h)) = shown.filter(|(at, _)| at.elapsed() < SHOWN_FOR) {
                return Ok(h);
            }
        }
        let node = Node::from_upstream(&node)?;
        let (h, _) = guest_holding(&self.pve, &node, kind, Vmid(id), node_cpus).await?;
        self.shown.lock().insert(id, (Instant::now(), h.clone()));
        Ok(h)
    }

    /// Reserves `ask` against the limits in force for its pool (and the new guest's id), or
    /// refuses naming the limit, the request and what is left. Usage is read from Proxmox now;
    /// if it can't be read, the request is refused.
    pub async fn reserve(self: &Arc<Self>, ask: Ask) -> AppResult<Ticket> {
        let _one_at_a_time = self.check.lock().await;
        let what = ask.pool.as_deref().unwrap_or("the cluster").to_owned();
        let view = self.acl.view().await?;
        let eff = match &ask.pool {
            Some(pool) => Some(effective(&self.store, &view, pool).await?),
            None => None,
        };
        let resources = self
            .pve
            .resources(None)
            .await
            .map_err(|e| unreadable(&what, &AppError::from(e)))?;
        self.follow_tasks().await;
        let held = self.held_vmids();
        let vmid = match ask.new_vmid {
            NewId::None => None,
            NewId::Given(v) => {
                if resources
                    .iter()
                    .any(|r| r.is_guest() && r.vmid == Some(v.0))
                    || held.contains(&v.0)
                {
                    return Err(AppError::with_message(
                        ErrorCode::Conflict,
                        format!("Guest id {v} is already in use; pick another or leave it empty"),
                    ));
                }
                let backed_up = ids_with_backups(&self.pve, &self.store, &resources)
                    .await
                    .map_err(|e| unreadable(&what, &e))?;
                if backed_up.contains(&v.0) {
                    return Err(AppError::with_message(
                        ErrorCode::Conflict,
                        format!(
                            "Guest id {v} still has backups of an earlier guest; pick another id or leave it empty"
                        ),
                    ));
                }
                Some(v.0)
            }
            NewId::Pick => {
                let backed_up = ids_with_backups(&self.pve, &self.store, &resources)
                    .await
                    .map_err(|e| unreadable(&what, &e))?;
                let taken: HashSet<u32> = resources
                    .iter()
                    .filter_map(|r| r.vmid)
                    .chain(held.iter().copied())
                    .chain(backed_up)
                    .collect();
                (100..1_000_000).find(|id| !taken.contains(id))
            }
        };
        if let Some(eff) = eff.as_ref().filter(|e| e.limits != Limits::default()) {
            let mut used = self.usage(&resources, &eff.pools, true).await?;
            if ask.amounts.vnets > 0 && eff.limits.max_vnets > 0 {
                let mut vnets = 0;
                for p in &eff.pools {
                    vnets += vnet_usage(&self.pve, p).await?;
                }
                used.vnets = vnets;
            }
            used.add(&self.pending(&eff.pools, &resources));
            check(&label(&what, eff), &eff.limits, &used, &ask.amounts)?;
        } else {
            self.pending(&[], &resources);
        }
        let mut book = self.book.lock();
        book.next_id += 1;
        let id = book.next_id;
        book.held.push(Reservation {
            id,
            pool: ask.pool.unwrap_or_default(),
            ask: ask.amounts,
            new_vmid: vmid,
            committed_at: None,
            task: None,
            task_done: false,
        });
        Ok(Ticket {
            book: self.clone(),
            id,
            vmid,
            done: false,
        })
    }

    /// Asks Proxmox whether the tasks of committed reservations have ended.
    async fn follow_tasks(&self) {
        let running: Vec<(u64, Upid)> = self
            .book
            .lock()
            .held
            .iter()
            .filter(|r| r.committed_at.is_some() && !r.task_done)
            .filter_map(|r| Some((r.id, r.task.clone()?)))
            .collect();
        for (id, upid) in running {
            let path = ApiPath::lit("nodes")
                .seg(&upid.node())
                .then("tasks")
                .seg(&upid)
                .then("status");
            let ended = match self.pve.get::<TaskStatus>(path).await {
                Ok(t) => t.status == TaskState::Stopped,
                // An unknown task (a restarted node) has ended too.
                Err(crate::pve::PveError::Status { status: 400, .. }) => true,
                Err(_) => false,
            };
            if ended {
                if let Some(r) = self.book.lock().held.iter_mut().find(|r| r.id == id) {
                    r.task_done = true;
                }
            }
        }
    }

    /// Held amounts for `pools` whose change has not shown in Proxmox yet; forgets those that
    /// have (their task ended and their new guest appeared) and stale ones.
    fn pending(&self, pools: &[String], resources: &[Resource]) -> Amounts {
        let mut book = self.book.lock();
        book.held.retain(|r| {
            let Some(at) = r.committed_at else {
                return true;
            };
            let landed = r
                .new_vmid
                .is_none_or(|id| resources.iter().any(|x| x.vmid == Some(id)));
            let task_over = r.task.is_none() || r.task_done;
            let stale = if task_over {
                at.elapsed() > LANDING
            } else {
                at.elapsed() > TASK_LIMIT
            };
            !((landed && task_over) || stale)
        });
        let mut total = Amounts::default();
        for r in book.held.iter().filter(|r| pools.contains(&r.pool)) {
            // A new guest listed in its pool is counted from its configuration already.
            let counted = r.new_vmid.is_some_and(|id| {
                resources
                    .iter()
                    .any(|x| x.vmid == Some(id) && x.pool.as_deref() == Some(r.pool.as_str()))
            });
            if !counted {
                total.add(&r.ask);
            }
        }
        total
    }

    /// Guest ids held by reservations (so new ids are not handed out twice): those being
    /// created, and those whose creation task Proxmox accepted and still runs (the guest shows
    /// in the resource list only once the task has written its configuration; from then on
    /// Proxmox holds the id itself).
    pub fn held_vmids(&self) -> Vec<u32> {
        self.book
            .lock()
            .held
            .iter()
            .filter(|r| r.committed_at.is_none() || (r.task.is_some() && !r.task_done))
            .filter_map(|r| r.new_vmid)
            .collect()
    }
}

/// How a refusal names the budget.
fn label(pool: &str, eff: &Effective) -> String {
    if eff.source == Source::Owner && eff.pools.len() > 1 {
        format!("pool {pool} (one budget with {})", eff.pools.join(", "))
    } else {
        format!("pool {pool}")
    }
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

/// Compares one request with the limits; the message names the limit, the request and what is
/// left.
pub fn check(what: &str, limits: &Limits, used: &Amounts, ask: &Amounts) -> AppResult<()> {
    let rows: [(&str, i64, i64, i64, &str); 6] = [
        ("VMs", limits.max_vms, used.vms, ask.vms, ""),
        ("containers", limits.max_lxcs, used.lxcs, ask.lxcs, ""),
        ("VNets", limits.max_vnets, used.vnets, ask.vnets, ""),
        ("vCPUs", limits.max_cpu, used.cpu, ask.cpu, ""),
        ("memory", limits.max_memory, used.memory, ask.memory, " MiB"),
        ("disk", limits.max_disk, used.disk, ask.disk, " GiB"),
    ];
    for (name, max, have, add, unit) in rows {
        if max > 0 && add > 0 && have + add > max {
            let left = (max - have).max(0);
            let message = if unit.is_empty() {
                format!(
                    "Quota of {what} reached: it allows {max} {name}, has {have}, and this request adds {add} ({left} left)."
                )
            } else {
                format!(
                    "Quota of {what} reached: it allows {max}{unit} of {name}, uses {have}{unit}, and this request adds {add}{unit} ({left}{unit} left)."
                )
            };
            return Err(AppError::with_message(ErrorCode::QuotaExceeded, message));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn refusal_names_limit_request_and_rest() {
        let limits = Limits {
            max_vms: 3,
            max_memory: 8192,
            ..Limits::default()
        };
        let used = Amounts {
            vms: 2,
            memory: 6144,
            ..Amounts::default()
        };
        let one_vm = Amounts {
            vms: 1,
            memory: 2048,
            ..Amounts::default()
        };
        assert!(check("pool P", &limits, &used, &one_vm).is_ok());
        let big = Amounts {
            vms: 1,
            memory: 4096,
            ..Amounts::default()
        };
        let err = check("pool P", &limits, &used, &big).unwrap_err();
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert!(err.message.contains("8192 MiB"), "{}", err.message);
        assert!(err.message.contains("adds 4096 MiB"), "{}", err.message);
        assert!(err.message.contains("2048 MiB left"), "{}", err.message);
        let two = Amounts {
            vms: 2,
            ..Amounts::default()
        };
        let err = check("pool P", &limits, &used, &two).unwrap_err();
        assert!(
            err.message.contains("allows 3 VMs, has 2"),
            "{}",
            err.message
        );
        // Zero means unlimited.
        assert!(check("pool P", &Limits::default(), &used, &big).is_ok());
    }

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
