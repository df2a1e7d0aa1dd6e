//! Pool quotas that hold. A request that adds guests, vCPUs, memory, disk or VNets to a pool
//! first *reserves* what it adds: under one lock, Uma reads the pool's usage from Proxmox (never
//! from a cache; if it can't, the request is refused), adds what other requests have reserved
//! and not yet landed, and compares with the pool's limits (its own `PoolLimit` row, else the
//! `global` defaults). The reservation is released if the operation fails, or kept after success
//! until Proxmox shows the new guest (at most [`LANDING`]), so concurrent requests can never
//! both pass a nearly full quota.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::path::Vmid;
use crate::state::AppState;
use crate::store::pools::Limits;

/// How long a committed reservation for a new guest waits to show up in Proxmox.
pub const LANDING: Duration = Duration::from_secs(120);

/// Amounts counted against a quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Amounts {
    /// QEMU VMs.
    pub vms: i64,
    /// LXC containers.
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

    /// What a guest resource uses.
    pub fn of_guest(r: &Resource) -> Self {
        let mib = 1024 * 1024;
        let gib = mib * 1024;
        Self {
            vms: i64::from(r.kind == "qemu"),
            lxcs: i64::from(r.kind == "lxc"),
            vnets: 0,
            cpu: r.maxcpu.unwrap_or(0.0).round() as i64,
            memory: i64::try_from(r.maxmem.unwrap_or(0) / mib).unwrap_or(i64::MAX),
            disk: i64::try_from(r.maxdisk.unwrap_or(0).div_ceil(gib)).unwrap_or(i64::MAX),
        }
    }
}

/// Sums the non-template guests of `pool`.
pub fn pool_usage(resources: &[Resource], pool: &str) -> Amounts {
    let mut total = Amounts::default();
    for r in resources
        .iter()
        .filter(|r| r.is_guest() && !r.template && r.pool.as_deref() == Some(pool))
    {
        total.add(&Amounts::of_guest(r));
    }
    total
}

#[derive(Debug)]
struct Reservation {
    id: u64,
    pool: String,
    ask: Amounts,
    /// A new guest: the reservation ends when it appears in Proxmox.
    new_vmid: Option<u32>,
    committed_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Book {
    next_id: u64,
    held: Vec<Reservation>,
}

/// The reservations of this instance.
#[derive(Debug, Default)]
pub struct QuotaBook {
    book: Mutex<Book>,
    check: tokio::sync::Mutex<()>,
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

    /// The operation succeeded: keep counting the reservation until the new guest shows up in
    /// Proxmox (changes to existing guests are visible at once, so theirs ends here).
    pub fn commit(mut self) {
        self.done = true;
        let mut book = self.book.book.lock();
        if let Some(pos) = book.held.iter().position(|r| r.id == self.id) {
            if book.held[pos].new_vmid.is_some() {
                book.held[pos].committed_at = Some(Instant::now());
            } else {
                book.held.remove(pos);
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.book.book.lock().held.retain(|r| r.id != self.id);
        }
    }
}

/// The limits in force for a pool, and where they come from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    /// The limits (0 = unlimited).
    pub limits: Limits,
    /// `pool` (its own row), `global` (the defaults) or `none`.
    pub source: &'static str,
}

/// The limits of `pool`: its own row, else the global defaults.
pub async fn effective(state: &AppState, pool: &str) -> AppResult<Effective> {
    if let Some(row) = state.store.pool_limit(pool).await? {
        return Ok(Effective {
            limits: row.limits(),
            source: "pool",
        });
    }
    Ok(match state.store.pool_limit("global").await? {
        Some(row) => Effective {
            limits: row.limits(),
            source: "global",
        },
        None => Effective {
            limits: Limits::default(),
            source: "none",
        },
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

impl QuotaBook {
    /// Reserves `ask` against its pool's limits (and the new guest's id), or refuses naming
    /// the limit, the request and what is left. Usage is read from Proxmox now; if it can't be
    /// read, the request is refused.
    pub async fn reserve(self: &Arc<Self>, state: &AppState, ask: Ask) -> AppResult<Ticket> {
        let _one_at_a_time = self.check.lock().await;
        let eff = match &ask.pool {
            Some(pool) => Some(effective(state, pool).await?),
            None => None,
        };
        let what = ask.pool.as_deref().unwrap_or("the cluster");
        let resources = state.pve.resources(Some("vm")).await.map_err(|e| {
            tracing::warn!(error = %e, pool = what, "quota check: usage unreadable");
            AppError::with_message(
                ErrorCode::Unavailable,
                format!(
                    "Could not read the usage of {what} from Proxmox, so the quota can't be checked; nothing was changed. Try again shortly."
                ),
            )
        })?;
        let held = self.held_vmids();
        let vmid = match ask.new_vmid {
            NewId::None => None,
            NewId::Given(v) => {
                if resources.iter().any(|r| r.vmid == Some(v.0)) || held.contains(&v.0) {
                    return Err(AppError::with_message(
                        ErrorCode::Conflict,
                        format!("Guest id {v} is already in use; pick another or leave it empty"),
                    ));
                }
                Some(v.0)
            }
            NewId::Pick => {
                let taken: std::collections::HashSet<u32> = resources
                    .iter()
                    .filter_map(|r| r.vmid)
                    .chain(held.iter().copied())
                    .collect();
                (100..1_000_000).find(|id| !taken.contains(id))
            }
        };
        if let (Some(pool), Some(eff)) = (&ask.pool, &eff) {
            let mut used = pool_usage(&resources, pool);
            if ask.amounts.vnets > 0 && eff.limits.max_vnets > 0 {
                used.vnets = vnet_usage(state, pool).await?;
            }
            let pending = self.pending(pool, &resources);
            used.add(&pending);
            check(pool, &eff.limits, &used, &ask.amounts)?;
        } else {
            self.pending("", &resources);
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
        });
        Ok(Ticket {
            book: self.clone(),
            id,
            vmid,
            done: false,
        })
    }

    /// Held amounts for `pool` whose guest has not appeared yet; forgets landed and stale ones.
    fn pending(&self, pool: &str, resources: &[Resource]) -> Amounts {
        let mut book = self.book.lock();
        book.held.retain(|r| {
            let landed = r
                .new_vmid
                .is_some_and(|id| resources.iter().any(|x| x.vmid == Some(id)));
            let stale = r.committed_at.is_some_and(|t| t.elapsed() > LANDING);
            !(r.committed_at.is_some() && (landed || stale))
        });
        let mut total = Amounts::default();
        for r in book.held.iter().filter(|r| r.pool == pool) {
            total.add(&r.ask);
        }
        total
    }

    /// Guest ids held by reservations (so new ids are not handed out twice).
    pub fn held_vmids(&self) -> Vec<u32> {
        self.book
            .lock()
            .held
            .iter()
            .filter_map(|r| r.new_vmid)
            .collect()
    }
}

/// VNets of `pool` (alias starting `<pool>_`), read from Proxmox now.
pub async fn vnet_usage(state: &AppState, pool: &str) -> AppResult<i64> {
    let vnets: Vec<serde_json::Value> = state.pve.get("cluster/sdn/vnets").await.map_err(|_| {
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
pub fn check(pool: &str, limits: &Limits, used: &Amounts, ask: &Amounts) -> AppResult<()> {
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
                    "Quota of pool {pool} reached: it allows {max} {name}, has {have}, and this request adds {add} ({left} left)."
                )
            } else {
                format!(
                    "Quota of pool {pool} reached: it allows {max}{unit} of {name}, uses {have}{unit}, and this request adds {add}{unit} ({left}{unit} left)."
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
        assert!(check("P", &limits, &used, &one_vm).is_ok());
        let big = Amounts {
            vms: 1,
            memory: 4096,
            ..Amounts::default()
        };
        let err = check("P", &limits, &used, &big).unwrap_err();
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert!(err.message.contains("8192 MiB"), "{}", err.message);
        assert!(err.message.contains("adds 4096 MiB"), "{}", err.message);
        assert!(err.message.contains("2048 MiB left"), "{}", err.message);
        let two = Amounts {
            vms: 2,
            ..Amounts::default()
        };
        let err = check("P", &limits, &used, &two).unwrap_err();
        assert!(
            err.message.contains("allows 3 VMs, has 2"),
            "{}",
            err.message
        );
        // Zero means unlimited.
        assert!(check("P", &Limits::default(), &used, &big).is_ok());
    }
}
