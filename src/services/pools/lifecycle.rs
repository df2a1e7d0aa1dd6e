//! Creating a pool under the owner naming rule, with its owner's ACL, and deleting an empty one.

use serde::Deserialize;
use serde_json::{json, Value};

use super::not_found;
use crate::acl::{local_name, pool_owner_part, OwnerTag, UgidKind};
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::PoolId;
use crate::services::limit;
use crate::services::Ops;

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

pub(super) fn check_name(field: &str, name: &str) -> AppResult<()> {
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
    crate::services::validated(&input).map_err(fail)?;
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
