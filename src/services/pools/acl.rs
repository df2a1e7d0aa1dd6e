//! The ACL entries of one pool, edited by its managers, and the cluster-wide ACL (administrators
//! only).

use serde::Deserialize;
use serde_json::{json, Value};

use super::lifecycle::check_name;
use super::{not_found, pve_groupid, pve_userid};
use crate::acl::{local_name, UgidKind};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::PoolId;
use crate::services::Ops;
use crate::services::{limit, view};

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
