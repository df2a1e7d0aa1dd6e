//! Pools: list with usage against quota, creation under the owner naming rule
//! (`DEV_<owner>_<n>`), details, deletion, limits, and the ACLs of a pool. Cluster-wide ACL
//! edits live here too (administrators only).

use serde::Deserialize;
use serde_json::{json, Value};

use super::quota;
use super::Ops;
use super::{limit, view};
use crate::acl::cache::View;
use crate::acl::{local_name, pool_owner_part, OwnerTag, UgidKind};
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
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

/// Who will own a new pool.
#[derive(Debug, Clone, Deserialize)]
pub struct Owner {
    /// `user` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user or group name.
    pub name: String,
}

/// Body of a pool creation.
#[derive(Debug, Default, Deserialize, validator::Validate)]
pub struct PoolCreate {
    /// Comment (≤ 200 characters, one line).
    #[serde(default)]
    #[validate(length(max = 200, message = "at most 200 characters"))]
    pub comment: Option<String>,
    /// Owner; the caller when absent.
    #[serde(default)]
    pub owner: Option<Owner>,
}

#[derive(Debug, Deserialize)]
struct PveUser {
    userid: String,
}

#[derive(Debug, Deserialize)]
struct PveGroup {
    groupid: String,
}

#[derive(Debug, Deserialize)]
struct PveDomain {
    realm: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The Proxmox user id of a Uma user: `name@PROXMOX_USER_REALM`, else the one Proxmox user whose
/// name matches, else the first LDAP/AD realm.
pub async fn pve_userid(ops: &Ops, name: &str) -> AppResult<String> {
    if name.contains('@') {
        return Ok(name.to_owned());
    }
    if let Some(realm) = &ops.config.proxmox.user_realm {
        return Ok(format!("{name}@{realm}"));
    }
    let users: Vec<PveUser> = ops.pve.get("access/users").await?;
    let matching: Vec<&PveUser> = users
        .iter()
        .filter(|u| {
            u.userid
                .split_once('@')
                .is_some_and(|(local, _)| local.eq_ignore_ascii_case(name))
        })
        .collect();
    if let [one] = matching.as_slice() {
        return Ok(one.userid.clone());
    }
    let domains: Vec<PveDomain> = ops.pve.get("access/domains").await.unwrap_or_default();
    let realm = domains
        .iter()
        .find(|d| d.kind == "ad" || d.kind == "ldap")
        .map(|d| d.realm.clone())
        .ok_or_else(|| {
            AppError::with_message(
                ErrorCode::InvalidInput,
                format!("Proxmox has no user matching '{name}' and no LDAP realm; set PROXMOX_USER_REALM"),
            )
        })?;
    Ok(format!("{name}@{realm}"))
}

/// The Proxmox group id of a group name: exact, case-insensitive, or with the realm suffix.
pub async fn pve_groupid(ops: &Ops, name: &str) -> AppResult<String> {
    let groups: Vec<PveGroup> = ops.pve.get("access/groups").await?;
    let mut candidates = vec![name.to_owned()];
    if let Some(realm) = &ops.config.proxmox.user_realm {
        candidates.push(format!("{name}-{realm}"));
    }
    for c in &candidates {
        if let Some(g) = groups.iter().find(|g| &g.groupid == c) {
            return Ok(g.groupid.clone());
        }
    }
    for c in &candidates {
        if let Some(g) = groups.iter().find(|g| g.groupid.eq_ignore_ascii_case(c)) {
            return Ok(g.groupid.clone());
        }
    }
    Err(AppError::with_message(
        ErrorCode::InvalidInput,
        format!("The group '{name}' does not exist in Proxmox. Ask an administrator to create it under Datacenter → Groups."),
    ))
}

fn check_name(field: &str, name: &str) -> AppResult<()> {
    if name.is_empty()
        || name.len() > 64
        || name.contains(['/', '\\'])
        || name.contains("..")
        || name.chars().any(char::is_control)
    {
        return Err(AppError::field(
            field,
            "1 to 64 characters without '/', '\\' or '..'",
        ));
    }
    Ok(())
}

/// Creates a pool `DEV_<owner>_<n>`, records its owner in the pool's comment and gives the owner
/// Administrator on it. Non-administrators create pools for themselves (or a group of theirs),
/// at most `MAX_POOLS_PER_USER` per owner; a name whose pools already belong to another owner
/// whose name reads the same (`john.doe` and `john_doe` both make `DEV_john_doe_…`) is refused.
pub async fn create(ops: &Ops, caller: &Caller, input: PoolCreate) -> AppResult<Value> {
    let action = AuditAction::PoolCreate;
    let resource = "cluster:pools";
    let fail = |err: AppError| {
        ops.audit.refused(&caller.actor, action, resource, &err);
        err
    };
    super::validated(&input).map_err(fail)?;
    let comment = input.comment.unwrap_or_default();
    if comment.chars().count() > 200 || comment.chars().any(char::is_control) {
        return Err(fail(AppError::field(
            "comment",
            "one line of at most 200 characters",
        )));
    }
    if comment.contains("[Owner:") {
        return Err(fail(AppError::field(
            "comment",
            "'[Owner:' is how Uma records a pool's owner; leave it out",
        )));
    }
    let owner = input.owner.unwrap_or(Owner {
        kind: "user".into(),
        name: caller.username().to_owned(),
    });
    check_name("owner.name", &owner.name).map_err(fail)?;
    limit(ops, caller, Preset::PoolCreate, action, resource).await?;
    let (kind, pve_id) = match owner.kind.as_str() {
        "user" => {
            let own = local_name(&owner.name).eq_ignore_ascii_case(local_name(caller.username()));
            if !own && !caller.is_admin() {
                return Err(fail(AppError::with_message(
                    ErrorCode::Forbidden,
                    "Only administrators may create pools for another user",
                )));
            }
            (
                UgidKind::User,
                pve_userid(ops, local_name(&owner.name))
                    .await
                    .map_err(fail)?,
            )
        }
        "group" => {
            let member = caller
                .principal
                .groups
                .iter()
                .any(|g| crate::acl::cn(g).eq_ignore_ascii_case(&owner.name));
            if !member && !caller.is_admin() {
                return Err(fail(AppError::with_message(
                    ErrorCode::Forbidden,
                    format!("You are not a member of the group {}", owner.name),
                )));
            }
            (
                UgidKind::Group,
                pve_groupid(ops, &owner.name).await.map_err(fail)?,
            )
        }
        _ => return Err(fail(AppError::field("owner.type", "user or group"))),
    };
    let tag = match kind {
        UgidKind::Group => OwnerTag::Group(pve_id.clone()),
        _ => OwnerTag::User(pve_id.clone()),
    };
    let v = ops.acl.reload().await?;
    let part = tag.name_part(&v.engine.naming);
    let named: Vec<&String> = v
        .engine
        .snapshot
        .pool_comments
        .keys()
        .filter(|p| pool_owner_part(p).is_some_and(|o| o.eq_ignore_ascii_case(&part)))
        .collect();
    // Another owner's pools under the same name part, or pools made elsewhere whose owner by
    // name would be someone else.
    let taken = named.iter().any(|p| match v.engine.pool_owner(p) {
        Some(t) => t != tag,
        None => !tag.claims_by_name(&v.engine.naming),
    });
    if taken {
        return Err(fail(AppError::with_message(
            ErrorCode::Conflict,
            format!(
                "Pools named DEV_{part}_… belong to another owner whose name reads the same; ask an administrator to set this pool up"
            ),
        )));
    }
    if !caller.is_admin() && ops.config.tenancy.max_pools_per_user > 0 {
        let owned = v.engine.pools_named_for(&tag).len();
        let max = ops.config.tenancy.max_pools_per_user as usize;
        if owned >= max {
            return Err(fail(AppError::with_message(
                ErrorCode::Forbidden,
                format!(
                    "An owner may have at most {max} pools, and {} has {owned}; delete one or ask an administrator",
                    owner.name
                ),
            )));
        }
    }
    let n = 1 + named
        .iter()
        .filter_map(|p| p.rsplit_once('_'))
        .filter_map(|(_, n)| n.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let poolid = PoolId::parse("poolid", &format!("DEV_{part}_{n}")).map_err(fail)?;
    let full_comment = if comment.is_empty() {
        tag.render()
    } else {
        format!("{comment} {}", tag.render())
    };
    let resource = format!("pool:{poolid}");
    ops.audit.audited(&caller.actor, action,
        &resource,
        json!({ "owner": { "type": owner.kind, "name": owner.name, "pveId": pve_id } }),
        async {
            let _: Value = ops
                .pve
                .post(
                    "pools",
                    &[("poolid", poolid.to_string()), ("comment", full_comment.clone())],
                )
                .await?;
            let holder = if kind == UgidKind::Group { "groups" } else { "users" };
            let acl: Result<Value, _> = ops
                .pve
                .put(
                    "access/acl",
                    &[
                        ("path", format!("/pool/{poolid}")),
                        ("roles", "Administrator".to_owned()),
                        (holder, pve_id.clone()),
                    ],
                )
                .await;
            ops.acl.invalidate();
            let acl_error = acl.err().map(|e| AppError::from(e).message);
            ops.audit.record(
                &caller.actor,
                AuditAction::PoolAclUpdate,
                &resource,
                if acl_error.is_none() { Status::Success } else { Status::Failure },
                json!({ "auto": true, "role": "Administrator", "ugid": pve_id, "error": acl_error }),
            );
            Ok((
                json!({ "success": true, "poolid": poolid, "aclWarning": acl_error }),
                Value::Null,
            ))
        },
    )
    .await
}

/// Deletes an empty pool with its ACL entries and limits.
pub async fn delete(ops: &Ops, caller: &Caller, pool: &str) -> AppResult<Value> {
    let id = PoolId::parse("poolId", pool)?;
    let resource = format!("pool:{id}");
    limit(
        ops,
        caller,
        Preset::PoolCreate,
        AuditAction::PoolDelete,
        &resource,
    )
    .await?;
    let v = ops.acl.reload().await?;
    let access = v.engine.pool_access(&caller.principal, id.as_str());
    if !access.see {
        let err = not_found(id.as_str());
        ops.audit
            .refused(&caller.actor, AuditAction::PoolDelete, &resource, &err);
        return Err(err);
    }
    if !access.manage {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            format!("You may not delete pool {id}"),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::PoolDelete, &resource, &err);
        return Err(err);
    }
    let guests = v
        .resources
        .iter()
        .filter(|r| r.is_guest() && r.pool.as_deref() == Some(id.as_str()))
        .count();
    if guests > 0 {
        let err = AppError::with_message(
            ErrorCode::Conflict,
            format!("Pool {id} still holds {guests} guest(s): move or delete them first"),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::PoolDelete, &resource, &err);
        return Err(err);
    }
    let path = format!("/pool/{id}");
    let entries: Vec<(UgidKind, String, String)> = v
        .engine
        .snapshot
        .acl
        .iter()
        .filter(|e| e.path == path)
        .map(|e| (e.kind, e.ugid.clone(), e.roleid.clone()))
        .collect();
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::PoolDelete,
            &resource,
            json!({ "aclEntries": entries.len() }),
            async {
                let _: Value = ops
                    .pve
                    .delete("pools", &[("poolid", id.to_string())])
                    .await?;
                for (kind, ugid, role) in &entries {
                    let holder = match kind {
                        UgidKind::User => "users",
                        UgidKind::Group => "groups",
                        UgidKind::Token => "tokens",
                    };
                    let _: Result<Value, _> = ops
                        .pve
                        .put(
                            "access/acl",
                            &[
                                ("path", path.clone()),
                                ("roles", role.clone()),
                                (holder, ugid.clone()),
                                ("delete", "1".to_owned()),
                            ],
                        )
                        .await;
                }
                ops.store.delete_pool_limit(id.as_str()).await.ok();
                ops.acl.invalidate();
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

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

/// Roles a pool manager may grant on their pool.
pub const GRANTABLE: [&str; 4] = ["PVEPoolUser", "PVEPoolAdmin", "PVEVMUser", "PVEVMAdmin"];

/// The ACL entries on a pool (anyone who sees the pool).
pub async fn acl(ops: &Ops, caller: &Caller, pool: &str) -> AppResult<Value> {
    let id = PoolId::parse("poolId", pool)?;
    let v = view(ops).await?;
    if !v.engine.pool_access(&caller.principal, id.as_str()).see {
        return Err(not_found(id.as_str()));
    }
    let path = format!("/pool/{id}");
    let entries: Vec<Value> = v
        .engine
        .snapshot
        .acl
        .iter()
        .filter(|e| e.path == path && e.kind != UgidKind::Token)
        .map(|e| {
            json!({
                "user": e.ugid, "ugid": e.ugid, "role": e.roleid,
                "type": if e.kind == UgidKind::Group { "group" } else { "user" },
            })
        })
        .collect();
    Ok(json!({ "acls": entries }))
}

/// A grant or revocation on a pool.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolGrant {
    /// The pool.
    pub pool_id: String,
    /// `user` (default) or `group`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The user, for `user`.
    #[serde(default)]
    pub username: Option<String>,
    /// The group, for `group`.
    #[serde(default)]
    pub group_name: Option<String>,
    /// The role.
    pub role: String,
}

/// Grants (`remove` false) or revokes a role on a pool. Managers of the pool and admins.
pub async fn change_acl(
    ops: &Ops,
    caller: &Caller,
    g: PoolGrant,
    remove: bool,
) -> AppResult<Value> {
    let id = PoolId::parse("poolId", &g.pool_id)?;
    let resource = format!("pool:{id}");
    let is_group = match g.kind.as_deref().unwrap_or("user") {
        "user" => false,
        "group" => true,
        _ => return Err(AppError::field("type", "user or group")),
    };
    let target = if is_group {
        g.group_name.clone()
    } else {
        g.username.clone()
    }
    .filter(|t| !t.trim().is_empty())
    .ok_or_else(|| AppError::field(if is_group { "groupName" } else { "username" }, "required"))?;
    check_name(if is_group { "groupName" } else { "username" }, &target)?;
    let role_ok = GRANTABLE.contains(&g.role.as_str())
        || (caller.is_admin() && ["PVEAdmin", "Administrator"].contains(&g.role.as_str()));
    if !role_ok && !remove {
        return Err(AppError::field(
            "role",
            format!("one of {}", GRANTABLE.join(", ")),
        ));
    }
    limit(
        ops,
        caller,
        Preset::AclModify,
        AuditAction::PoolAclUpdate,
        &resource,
    )
    .await?;
    let v = ops.acl.reload().await?;
    let access = v.engine.pool_access(&caller.principal, id.as_str());
    if !access.see {
        let err = not_found(id.as_str());
        ops.audit
            .refused(&caller.actor, AuditAction::PoolAclUpdate, &resource, &err);
        return Err(err);
    }
    if !access.manage {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            format!("You may not manage access to pool {id}"),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::PoolAclUpdate, &resource, &err);
        return Err(err);
    }
    // Never one's own access (nor one's group's): a manager would otherwise grant themselves
    // the guests of the pool, or take away what an owner gave.
    let own = if is_group {
        v.engine.in_group(&caller.principal, &target)
    } else {
        local_name(caller.username()).eq_ignore_ascii_case(local_name(&target))
    };
    if own && !caller.is_admin() {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            if is_group {
                "You can't change your own access: you are in this group. Ask the pool's owner or an administrator."
            } else {
                "You can't change your own access. Ask the pool's owner or an administrator."
            },
        );
        ops.audit
            .refused(&caller.actor, AuditAction::PoolAclUpdate, &resource, &err);
        return Err(err);
    }
    // Managers take away only what managers may give: an administrator's entries (a
    // NoAccess, an Administrator role) stay.
    if remove && !GRANTABLE.contains(&g.role.as_str()) && !caller.is_admin() {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            format!("Only administrators may remove the {} role", g.role),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::PoolAclUpdate, &resource, &err);
        return Err(err);
    }
    let ugid = if is_group {
        pve_groupid(ops, &target).await?
    } else {
        pve_userid(ops, &target).await?
    };
    let mut form = vec![
        ("path", format!("/pool/{id}")),
        ("roles", g.role.clone()),
        (if is_group { "groups" } else { "users" }, ugid.clone()),
    ];
    if remove {
        form.push(("delete", "1".to_owned()));
    }
    ops.audit.audited(&caller.actor, AuditAction::PoolAclUpdate,
        &resource,
        json!({ "operation": if remove { "remove" } else { "add" }, "ugid": ugid, "role": g.role }),
        async {
            let _: Value = ops.pve.put("access/acl", &form).await?;
            ops.acl.invalidate();
            Ok((json!({ "success": true }), Value::Null))
        },
    )
    .await
}

/// ACL entries: all for effective admins, else the caller's own.
pub async fn cluster_acl(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let v = view(ops).await?;
    let admin = v.engine.effective_admin(&caller.principal);
    let entries: Vec<Value> = v
        .engine
        .snapshot
        .acl
        .iter()
        .filter(|e| {
            admin
                || match e.kind {
                    UgidKind::User => v.engine.is_user(&caller.principal, &e.ugid),
                    UgidKind::Group => v.engine.in_group(&caller.principal, &e.ugid),
                    UgidKind::Token => false,
                }
        })
        .map(|e| {
            json!({
                "path": e.path, "ugid": e.ugid, "roleid": e.roleid, "propagate": u8::from(e.propagate),
                "type": match e.kind { UgidKind::User => "user", UgidKind::Group => "group", UgidKind::Token => "token" },
            })
        })
        .collect();
    Ok(json!({ "acls": entries }))
}

/// Body of a cluster ACL edit.
#[derive(Debug, Deserialize)]
pub struct AclEdit {
    /// `/`, `/pool/x`, `/vms/100`, `/storage/x`, `/sdn/zones/x`.
    pub path: String,
    /// Comma-separated roles.
    pub roles: String,
    /// Comma-separated user ids.
    #[serde(default)]
    pub users: Option<String>,
    /// Comma-separated group ids.
    #[serde(default)]
    pub groups: Option<String>,
    /// Remove instead of add.
    #[serde(default)]
    pub remove: bool,
    /// Propagate (default true).
    #[serde(default)]
    pub propagate: Option<bool>,
}

/// Edits any ACL (administrators only).
pub async fn edit_cluster_acl(ops: &Ops, caller: &Caller, e: AclEdit) -> AppResult<Value> {
    static PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        regex::Regex::new(r"^/((pool|vms|storage)/[A-Za-z0-9_\-.]+|sdn/zones/[a-z][a-z0-9]{0,7}(/[A-Za-z0-9]{1,8})?)?$").expect("static")
    });
    static IDS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        regex::Regex::new(r"^[A-Za-z0-9_\-.@!]{1,128}(,[A-Za-z0-9_\-.@!]{1,128})*$")
            .expect("static")
    });
    static ROLES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        regex::Regex::new(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}(,[A-Za-z][A-Za-z0-9_\-]{0,63})*$")
            .expect("static")
    });
    let resource = e.path.clone();
    if !caller.is_admin() {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators may edit ACLs outside their pools",
        );
        ops.audit
            .refused(&caller.actor, AuditAction::AclUpdate, &resource, &err);
        return Err(err);
    }
    if !PATH.is_match(&e.path) {
        return Err(AppError::field(
            "path",
            "/, /pool/<id>, /vms/<id>, /storage/<id> or /sdn/zones/<zone>",
        ));
    }
    if !ROLES.is_match(&e.roles) {
        return Err(AppError::field("roles", "comma-separated role ids"));
    }
    let users = e.users.as_deref().filter(|s| !s.is_empty());
    let groups = e.groups.as_deref().filter(|s| !s.is_empty());
    if users.is_none() && groups.is_none() {
        return Err(AppError::field("users", "name users or groups"));
    }
    for (f, v) in [("users", users), ("groups", groups)] {
        if let Some(v) = v {
            if !IDS.is_match(v) {
                return Err(AppError::field(f, "comma-separated Proxmox ids"));
            }
        }
    }
    limit(
        ops,
        caller,
        Preset::AclModify,
        AuditAction::AclUpdate,
        &resource,
    )
    .await?;
    let mut form = vec![("path", e.path.clone()), ("roles", e.roles.clone())];
    if let Some(u) = users {
        form.push(("users", u.to_owned()));
    }
    if let Some(g) = groups {
        form.push(("groups", g.to_owned()));
    }
    if e.remove {
        form.push(("delete", "1".to_owned()));
    }
    form.push((
        "propagate",
        if e.propagate.unwrap_or(true) {
            "1"
        } else {
            "0"
        }
        .to_owned(),
    ));
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::AclUpdate,
            &resource,
            json!({ "roles": e.roles, "users": users, "groups": groups, "remove": e.remove }),
            async {
                let _: Value = ops.pve.put("access/acl", &form).await?;
                ops.acl.invalidate();
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}
