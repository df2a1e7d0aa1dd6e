//! Configuration changes: every key needs its own privilege and what the change adds is held to the pool's quota.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::*;
use crate::acl::cache::View;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::limits::Preset;
use crate::pve::path::{Node, Vmid};
use crate::services::quota::{self, Amounts, Ask, NewId};
use crate::services::Ops;
use crate::services::{guest, limit};

/// Input of a configuration change.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigChange {
    /// Keys to set.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Keys to remove.
    #[serde(default)]
    pub delete: Vec<String>,
    /// Admins only: skip the quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

/// Reserves `ask` against the quota of `pool` (nothing when the guest is in no pool, nothing is
/// asked, or an administrator overrides).
pub(super) async fn reserve_for(
    ops: &Ops,
    pool: Option<&str>,
    ask: Amounts,
    override_quota: bool,
) -> AppResult<Option<quota::Ticket>> {
    match pool {
        Some(pool) if !ask.is_zero() && !override_quota => Ok(Some(
            ops.quotas
                .reserve(Ask {
                    pool: Some(pool.to_owned()),
                    amounts: ask,
                    new_vmid: NewId::None,
                })
                .await?,
        )),
        _ => Ok(None),
    }
}

/// The CPU count of the node a guest runs on.
pub(super) fn cpus_of(view: &View, node: &Node) -> i64 {
    quota::node_cpus(&view.resources)
        .get(node.as_str())
        .copied()
        .unwrap_or(1)
}

/// Changes a guest's configuration. Every key needs its own privilege, every object named in a
/// value must be the caller's to use, and what the guest holds after the change (set and
/// delete applied) beyond what it holds now is held to the pool's quota.
pub async fn update_config(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    change: ConfigChange,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::VmUpdate,
        &resource,
    )
    .await?;
    let (g, view) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Configure,
        AuditAction::VmUpdate,
    )
    .await?;
    let override_quota = ops.audit.checked(
        &caller.actor,
        AuditAction::VmUpdate,
        &resource,
        reject_override(caller, change.override_quota),
    )?;
    let cfg = quota::guest_config(&ops.pve, g.node(), g.kind(), vmid).await?;
    let plan = plan::plan(
        ops,
        view.permits(&caller.principal),
        &g,
        &change.set,
        &change.delete,
        &cfg,
        cpus_of(&view, g.node()),
    )
    .await;
    let plan = ops
        .audit
        .checked(&caller.actor, AuditAction::VmUpdate, &resource, plan)?;
    let ask = Amounts::growth(&plan.before, &plan.after);
    let diff = plan.diff.clone();
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmUpdate,
            &resource,
            json!({ "diff": diff, "quotaOverride": override_quota, "adds": ask }),
            async {
                let ticket = reserve_for(ops, g.pool(), ask, override_quota).await?;
                let form: Vec<(&str, String)> = plan
                    .form
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                let v: Value = ops.pve.put(g.path("config"), &form).await?;
                if let Some(t) = ticket {
                    t.commit_task(upid_of(&v).as_deref());
                }
                ops.acl.invalidate();
                Ok((
                    json!({ "success": true, "upid": upid_of(&v), "diff": diff }),
                    Value::Null,
                ))
            },
        )
        .await
}
