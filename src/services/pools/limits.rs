//! The limits of a pool (or the global defaults): read with live usage, set and cleared.

use serde_json::{json, Value};

use super::{limits_json, not_found, standing};
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;
use crate::pve::path::PoolId;
use crate::services::Ops;
use crate::services::{limit, view};
use crate::store::pools::Limits;

/// Limits in force for a pool (or the global defaults), with live usage and what is left.
pub async fn get_limits(ops: &Ops, caller: &Caller, pool: &str) -> AppResult<Value> {
    if pool == "global" {
        let limits = ops
            .store
            .pool_limit("global")
            .await?
            .map(|r| r.limits())
            .unwrap_or_default();
        let source = if limits == Limits::default() {
            "none"
        } else {
            "global"
        };
        return Ok(json!({ "poolId": "global", "limits": limits_json(&limits), "source": source }));
    }
    let id = PoolId::parse("poolId", pool)?;
    limit(
        ops,
        caller,
        Preset::Read,
        AuditAction::PoolLimitsView,
        &format!("pool:{id}"),
    )
    .await?;
    let v = view(ops).await?;
    if !v.engine.pool_access(&caller.principal, id.as_str()).see
        || !v
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(id.as_str()))
    {
        return Err(not_found(id.as_str()));
    }
    // Live usage: read now, not from the cached view.
    let mut out = standing(ops, &v, id.as_str(), true).await?;
    out["poolId"] = json!(id);
    ops.audit.record(
        &caller.actor,
        AuditAction::PoolLimitsView,
        &format!("pool:{id}"),
        Status::Success,
        json!({}),
    );
    Ok(out)
}

/// Parses `{maxVMs, maxLXCs, maxVnets, maxCpu, maxMemory, maxDisk}`: whole numbers ≥ 0
/// (0 = unlimited); missing ones are 0.
pub fn parse_limits(body: &Value) -> AppResult<Limits> {
    let get = |k: &str| -> AppResult<i64> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|n| (0..=1_000_000_000).contains(n))
                .ok_or_else(|| AppError::field(k, "a whole number of at least 0 (0 = no limit)")),
        }
    };
    if !body.is_object() {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "Send a JSON object of limits",
        ));
    }
    Ok(Limits {
        max_vms: get("maxVMs")?,
        max_lxcs: get("maxLXCs")?,
        max_vnets: get("maxVnets")?,
        max_cpu: get("maxCpu")?,
        max_memory: get("maxMemory")?,
        max_disk: get("maxDisk")?,
    })
}

/// Administrators only, counted against `ACL_MODIFY`.
async fn limits_gate(ops: &Ops, caller: &Caller, resource: &str) -> AppResult<()> {
    if !caller.is_admin() {
        let err =
            AppError::with_message(ErrorCode::Forbidden, "Only administrators may set quotas");
        ops.audit
            .refused(&caller.actor, AuditAction::PoolLimitsUpdate, resource, &err);
        return Err(err);
    }
    limit(
        ops,
        caller,
        Preset::AclModify,
        AuditAction::PoolLimitsUpdate,
        resource,
    )
    .await
}

/// Sets a pool's own limits (`global`: the defaults). Administrators only.
pub async fn set_limits(ops: &Ops, caller: &Caller, pool: &str, body: &Value) -> AppResult<Value> {
    let id = if pool == "global" {
        "global".to_owned()
    } else {
        PoolId::parse("poolId", pool)?.to_string()
    };
    let resource = format!("pool-limits:{id}");
    limits_gate(ops, caller, &resource).await?;
    let limits = parse_limits(body)?;
    if id != "global" {
        let v = view(ops).await?;
        if !v
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(id.as_str()))
        {
            return Err(not_found(&id));
        }
    }
    let before = ops
        .store
        .pool_limit(&id)
        .await?
        .map(|r| limits_json(&r.limits()));
    ops.audit.audited(&caller.actor, AuditAction::PoolLimitsUpdate,
        &resource,
        json!({ "before": before, "after": limits_json(&limits) }),
        async {
            ops.store.set_pool_limit(&id, limits).await?;
            Ok((json!({ "poolId": id, "limits": limits_json(&limits), "source": if id == "global" { "global" } else { "pool" } }), Value::Null))
        },
    )
    .await
}

/// Removes a pool's own limits (it falls back to the defaults). Administrators only.
pub async fn clear_limits(ops: &Ops, caller: &Caller, pool: &str) -> AppResult<Value> {
    let id = PoolId::parse("poolId", pool)?;
    let resource = format!("pool-limits:{id}");
    limits_gate(ops, caller, &resource).await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::PoolLimitsUpdate,
            &resource,
            json!({ "after": null }),
            async {
                ops.store.delete_pool_limit(id.as_str()).await?;
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}
