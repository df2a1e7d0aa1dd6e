//! The reservations of this instance: a request reserves what it adds under one lock and
//! holds it until the change shows in Proxmox.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use parking_lot::Mutex;

use crate::acl::cache::AclCache;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::path::{ApiPath, GuestKind, Node, Upid, Vmid};
use crate::pve::tasks::{TaskState, TaskStatus};
use crate::pve::PveClient;
use crate::store::pools::Limits;
use crate::store::Store;

use super::usage::{guest_holding, ids_with_backups, node_cpus, unreadable, vnet_usage};
use super::{
    check, effective, Amounts, Ask, Effective, Holding, NewId, Source, GIB, LANDING, READS_AT_ONCE,
};

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
