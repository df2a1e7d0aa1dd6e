//! Proxmox roles and users, for the pool-sharing dialogs: administrators and managers of at
//! least one pool may read them. The gate is decided from the one shared ACL view (never one
//! ACL read per pool); managers get the roles they may grant and only `{userid, enable, expire}`
//! of each user.

use serde_json::{json, Value};

use super::limit;
use super::pools::GRANTABLE;
use super::Ops;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;

/// Who may read roles and users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// Everything.
    Admin,
    /// The restricted view.
    Manager,
}

/// Administrators, else managers of at least one pool, else refused (audited under `action`).
async fn reader(
    ops: &Ops,
    caller: &Caller,
    action: AuditAction,
    resource: &str,
) -> AppResult<Reader> {
    let v = super::sdn::view_or_refuse(ops, caller, action, resource).await?;
    let p = &caller.principal;
    if v.engine.effective_admin(p) {
        return Ok(Reader::Admin);
    }
    let manages = v
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Pool)
        .filter_map(|r| r.pool.as_deref())
        .any(|pool| v.engine.pool_access(p, pool).manage);
    if manages {
        return Ok(Reader::Manager);
    }
    let err = AppError::with_message(
        ErrorCode::Forbidden,
        "Only administrators and pool managers may list Proxmox roles and users",
    );
    ops.audit.refused(&caller.actor, action, resource, &err);
    Err(err)
}

/// `GET /access/roles`: all of them for administrators, the grantable ones for pool managers.
pub async fn roles(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let resource = "access:roles";
    limit(
        ops,
        caller,
        Preset::Search,
        AuditAction::ViewRoles,
        resource,
    )
    .await?;
    let who = reader(ops, caller, AuditAction::ViewRoles, resource).await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ViewRoles,
            resource,
            json!({ "restricted": who == Reader::Manager }),
            async {
                let roles: Vec<Value> = ops.pve.get("access/roles").await?;
                let roles: Vec<Value> = roles
                    .into_iter()
                    .filter(|r| {
                        who == Reader::Admin
                            || r.get("roleid")
                                .and_then(Value::as_str)
                                .is_some_and(|id| GRANTABLE.contains(&id))
                    })
                    .collect();
                let count = roles.len();
                Ok((Value::Array(roles), json!({ "count": count })))
            },
        )
        .await
}

/// `GET /access/users`: full entries for administrators, `{userid, enable, expire}` for pool
/// managers.
pub async fn users(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let resource = "access:users";
    limit(
        ops,
        caller,
        Preset::Search,
        AuditAction::ViewUsers,
        resource,
    )
    .await?;
    let who = reader(ops, caller, AuditAction::ViewUsers, resource).await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ViewUsers,
            resource,
            json!({ "restricted": who == Reader::Manager }),
            async {
                let users: Vec<Value> = ops.pve.get("access/users").await?;
                let users: Vec<Value> = match who {
                    Reader::Admin => users,
                    Reader::Manager => users
                        .iter()
                        .filter_map(|u| {
                            let id = u.get("userid")?.as_str()?;
                            Some(json!({
                                "userid": id,
                                "enable": u.get("enable").cloned().unwrap_or(json!(1)),
                                "expire": u.get("expire").cloned().unwrap_or(json!(0)),
                            }))
                        })
                        .collect(),
                };
                let count = users.len();
                Ok((Value::Array(users), json!({ "count": count })))
            },
        )
        .await
}
