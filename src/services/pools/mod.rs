//! Pools: list with usage against quota, creation under the owner naming rule
//! (`DEV_<owner>_<n>`), details, deletion, limits, and the ACLs of a pool. Cluster-wide ACL
//! edits live here too (administrators only).

mod acl;
mod lifecycle;
mod limits;

pub use acl::{acl, change_acl, cluster_acl, edit_cluster_acl, AclEdit, PoolGrant, GRANTABLE};
pub use lifecycle::{create, delete, pve_groupid, pve_userid, Owner, PoolCreate};
pub use limits::{clear_limits, get_limits, parse_limits, set_limits};

use serde_json::{json, Value};

use super::quota;
use super::view;
use super::Ops;
use crate::acl::cache::View;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::ResourceKind;
use crate::pve::path::PoolId;
use crate::store::pools::Limits;

fn limits_json(l: &Limits) -> Value {
    json!({
        "maxVMs": l.max_vms, "maxLXCs": l.max_lxcs, "maxVnets": l.max_vnets,
        "maxCpu": l.max_cpu, "maxMemory": l.max_memory, "maxDisk": l.max_disk,
    })
}

fn not_found(pool: &str) -> AppError {
    AppError::with_message(ErrorCode::NotFound, format!("No pool {pool}"))
}

/// A pool's comment without the owner record Uma keeps in it.
fn comment_of(v: &View, pool: &str) -> Option<String> {
    let c = v.engine.snapshot.pool_comments.get(pool)?;
    let text = match c.rfind("[Owner: ") {
        Some(at) => c[..at].trim_end(),
        None => c.trim_end(),
    };
    (!text.is_empty()).then(|| text.to_owned())
}

/// A pool's usage (every guest's configuration read now) with its VNets, the limits in force,
/// and what is left of them (of the owner's budget, for pools that share it).
async fn standing(ops: &Ops, v: &View, pool: &str, live: bool) -> AppResult<Value> {
    let eff = quota::effective(&ops.store, v, pool).await?;
    let fresh;
    let resources = if live {
        fresh = ops.pve.resources(None).await?;
        &fresh
    } else {
        &v.resources
    };
    let mut usage = ops
        .quotas
        .usage(resources, &[pool.to_owned()], live)
        .await?;
    usage.vnets = quota::vnet_usage(&ops.pve, pool).await?;
    let mut budget = if eff.pools.len() > 1 {
        ops.quotas.usage(resources, &eff.pools, live).await?
    } else {
        usage
    };
    if eff.pools.len() > 1 {
        let mut vnets = 0;
        for p in &eff.pools {
            vnets += quota::vnet_usage(&ops.pve, p).await?;
        }
        budget.vnets = vnets;
    }
    let left = |max: i64, used: i64| {
        if max > 0 {
            json!((max - used).max(0))
        } else {
            Value::Null
        }
    };
    let l = &eff.limits;
    Ok(json!({
        "limits": limits_json(l),
        "source": eff.source,
        "sharedWith": eff.pools.iter().filter(|p| *p != pool).collect::<Vec<_>>(),
        "usage": usage,
        "budgetUsage": budget,
        "remaining": {
            "vms": left(l.max_vms, budget.vms), "lxcs": left(l.max_lxcs, budget.lxcs),
            "vnets": left(l.max_vnets, budget.vnets), "cpu": left(l.max_cpu, budget.cpu),
            "memory": left(l.max_memory, budget.memory), "disk": left(l.max_disk, budget.disk),
        },
    }))
}

/// The pools the caller may see, with what they may do, usage and limits.
pub async fn list(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let v = view(ops).await?;
    let mut out = Vec::new();
    for r in v.resources.iter().filter(|r| r.kind == ResourceKind::Pool) {
        let Some(id) = r.pool.as_deref() else {
            continue;
        };
        let access = v.engine.pool_access(&caller.principal, id);
        if !access.see {
            continue;
        }
        let standing = standing(ops, &v, id, false).await?;
        out.push(json!({
            "poolid": id,
            "comment": comment_of(&v, id),
            "allowManage": access.manage,
            "owned": v.engine.owns_pool(&caller.principal, id),
            "usage": standing["usage"],
            "limits": standing["limits"],
            "limitsSource": standing["source"],
            "remaining": standing["remaining"],
        }));
    }
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewPools,
        "cluster:pools",
        Status::Success,
        json!({ "count": out.len() }),
    );
    Ok(json!({ "pools": out }))
}

/// A pool's members (as the caller may see them) and the nodes.
pub async fn detail(ops: &Ops, caller: &Caller, pool: &str) -> AppResult<Value> {
    let id = PoolId::parse("poolId", pool)?;
    let v = view(ops).await?;
    let access = v.engine.pool_access(&caller.principal, id.as_str());
    let exists = v
        .resources
        .iter()
        .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(id.as_str()));
    if !exists || !access.see {
        return Err(not_found(id.as_str()));
    }
    let members: Vec<&crate::pve::models::Resource> = v
        .resources
        .iter()
        .filter(|r| r.pool.as_deref() == Some(id.as_str()) && r.kind != ResourceKind::Pool)
        .collect();
    let standing = standing(ops, &v, id.as_str(), false).await?;
    Ok(json!({
        "pool": {
            "poolid": id, "comment": comment_of(&v, id.as_str()), "members": members,
            "allowManage": access.manage,
            "usage": standing["usage"], "remaining": standing["remaining"],
            "budgetUsage": standing["budgetUsage"], "sharedWith": standing["sharedWith"],
            "limits": standing["limits"], "limitsSource": standing["source"],
        },
    }))
}
