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

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::acl::cache::View;
use crate::acl::{pool_owner_part, Engine};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::path::Vmid;
use crate::store::pools::Limits;
use crate::store::Store;

mod book;
mod usage;

pub use book::{QuotaBook, Ticket};
pub use usage::{
    backup_storages, guest_config, guest_holding, holding_of, ids_with_backups, node_cpus,
    sizes_for, unsized_volumes, vnet_usage, volume_of, volume_size, GuestConfig,
};

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
}
