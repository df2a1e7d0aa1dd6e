//! Reads about nodes and their storages: nodes with their load, a node's status, charts and
//! tasks, storages with their media (ISO images, container templates) and content. Every list
//! is filtered by what the caller may see; a node's own status and tasks are for administrators.

use serde::Deserialize;
use serde_json::{json, Value};

use super::view;
use super::Ops;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, Node, Storage};

/// Whether the caller may see a storage: public storages, or an ACL giving
/// `Datastore.Audit`/`Datastore.AllocateSpace` on it (the same rule as reading its media).
pub fn storage_visible(v: &crate::acl::cache::View, c: &Caller, id: &str) -> bool {
    v.permits(&c.principal).may_read_storage(id)
}

/// Counts one read that goes to Proxmox against the caller's read limit.
async fn read(ops: &Ops, caller: &Caller, action: AuditAction, resource: &str) -> AppResult<()> {
    super::limit(ops, caller, crate::limits::Preset::Read, action, resource).await
}

/// Nodes with their load (every signed-in user sees the nodes they can create guests on).
pub async fn nodes(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let v = view(ops).await?;
    let nodes: Vec<Value> = v
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Node)
        .map(|r| {
            json!({
                "node": r.node, "status": r.status, "cpu": r.cpu, "maxcpu": r.maxcpu,
                "mem": r.mem, "maxmem": r.maxmem, "disk": r.disk, "maxdisk": r.maxdisk,
                "uptime": r.uptime,
            })
        })
        .collect();
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewNode,
        "cluster:nodes",
        Status::Success,
        json!({ "count": nodes.len() }),
    );
    Ok(Value::Array(nodes))
}

fn admin_only(
    ops: &Ops,
    caller: &Caller,
    v: &crate::acl::cache::View,
    what: &str,
) -> AppResult<()> {
    if v.engine.effective_admin(&caller.principal) {
        Ok(())
    } else {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            format!("Only administrators may see {what}"),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::ViewNode, what, &err);
        Err(err)
    }
}

/// A node's status (administrators).
pub async fn node_status(ops: &Ops, caller: &Caller, node: &str) -> AppResult<Value> {
    let node = Node::parse("node", node)?;
    read(ops, caller, AuditAction::ViewNode, &format!("node:{node}")).await?;
    let v = view(ops).await?;
    admin_only(ops, caller, &v, &format!("node:{node}"))?;
    let status: Value = ops
        .pve
        .get(ApiPath::lit("nodes").seg(&node).then("status"))
        .await?;
    Ok(json!({ "status": status }))
}

/// A node's chart data (administrators).
pub async fn node_rrd(
    ops: &Ops,
    caller: &Caller,
    node: &str,
    timeframe: Option<&str>,
    cf: Option<&str>,
) -> AppResult<Value> {
    let node = Node::parse("node", node)?;
    let timeframe = timeframe.unwrap_or("hour");
    if !super::guests::TIMEFRAMES.contains(&timeframe) && timeframe != "decade" {
        return Err(AppError::field(
            "timeframe",
            "use hour, day, week, month, year or decade",
        ));
    }
    let cf = cf.unwrap_or("AVERAGE");
    if cf != "AVERAGE" && cf != "MAX" {
        return Err(AppError::field("cf", "use AVERAGE or MAX"));
    }
    read(ops, caller, AuditAction::ViewNode, &format!("node:{node}")).await?;
    let v = view(ops).await?;
    admin_only(ops, caller, &v, &format!("node:{node}"))?;
    let data: Value = ops
        .pve
        .get_with(
            ApiPath::lit("nodes").seg(&node).then("rrddata"),
            &[("timeframe", timeframe.to_owned()), ("cf", cf.to_owned())],
        )
        .await?;
    Ok(json!({ "data": data }))
}

/// Content of one storage on a node (effective admins), optionally of one kind.
pub async fn storage_content(
    ops: &Ops,
    caller: &Caller,
    storage: &str,
    node: Option<&str>,
    content: Option<&str>,
) -> AppResult<Value> {
    let sid = Storage::parse("storage", storage)?;
    let node = Node::parse("node", node.unwrap_or_default())?;
    let content = content.filter(|c| !c.is_empty());
    if let Some(c) = content {
        if ![
            "images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import",
        ]
        .contains(&c)
        {
            return Err(AppError::field(
                "content",
                "images, rootdir, iso, vztmpl, backup, snippets or import",
            ));
        }
    }
    read(
        ops,
        caller,
        AuditAction::ViewStorage,
        &format!("storage:{sid}"),
    )
    .await?;
    let v = view(ops).await?;
    admin_only(ops, caller, &v, &format!("storage:{sid}"))?;
    let mut query = Vec::new();
    if let Some(c) = content {
        query.push(("content", c.to_owned()));
    }
    let items: Value = ops
        .pve
        .get_with(ApiPath::storage_content(&node, &sid), &query)
        .await?;
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewStorage,
        &format!("storage:{sid}"),
        Status::Success,
        json!({ "node": node, "content": content }),
    );
    Ok(json!({ "data": items }))
}

/// Recent tasks of a node: of one guest for whoever may see it, all of them for effective
/// admins.
pub async fn node_tasks(
    ops: &Ops,
    caller: &Caller,
    node: &str,
    vmid: Option<u32>,
    limit_n: Option<u32>,
) -> AppResult<Value> {
    let node = Node::parse("node", node)?;
    let n = limit_n.unwrap_or(50);
    if !(1..=500).contains(&n) {
        return Err(AppError::field("limit", "between 1 and 500"));
    }
    read(
        ops,
        caller,
        AuditAction::ViewTasks,
        &format!("node:{node}:tasks"),
    )
    .await?;
    let v = view(ops).await?;
    let mut query = vec![("limit", n.to_string())];
    match vmid {
        Some(id) => {
            let id = crate::pve::path::Vmid::check("vmid", u64::from(id))?;
            if v.guest(id.0).is_none()
                || !v
                    .engine
                    .guest_allows(&caller.principal, id.0, GuestAction::View)
            {
                return Err(AppError::with_message(
                    ErrorCode::NotFound,
                    format!("No guest {id}"),
                ));
            }
            query.push(("vmid", id.to_string()));
        }
        None => admin_only(ops, caller, &v, &format!("node:{node}:tasks"))?,
    }
    let items: Value = ops
        .pve
        .get_with(ApiPath::lit("nodes").seg(&node).then("tasks"), &query)
        .await?;
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewTasks,
        &format!("node:{node}:tasks"),
        Status::Success,
        json!({ "vmid": vmid, "limit": n }),
    );
    Ok(json!({ "data": items }))
}

/// Storages that hold guest disks, as the caller may see them.
pub async fn storages(ops: &Ops, caller: &Caller, node: Option<&str>) -> AppResult<Value> {
    let node = node
        .filter(|n| !n.is_empty())
        .map(|n| Node::parse("node", n))
        .transpose()?;
    let v = view(ops).await?;
    let list: Vec<Value> = v
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Storage)
        .filter(|r| {
            node.as_ref()
                .is_none_or(|n| r.node.as_deref() == Some(n.as_str()))
        })
        .filter(|r| {
            r.storage
                .as_deref()
                .is_some_and(|s| storage_visible(&v, caller, s))
        })
        .map(|r| {
            let total = r.maxdisk.unwrap_or(0);
            json!({
                "id": r.id, "storage": r.storage, "node": r.node, "status": r.status,
                "total": total, "used": r.disk.unwrap_or(0),
                "free": total.saturating_sub(r.disk.unwrap_or(0)),
            })
        })
        .collect();
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewStorage,
        "cluster:storage",
        Status::Success,
        json!({ "count": list.len(), "node": node }),
    );
    Ok(Value::Array(list))
}

#[derive(Debug, Deserialize)]
struct NodeStorage {
    storage: String,
    #[serde(default)]
    content: String,
}

/// ISO images (`content=iso`) or container templates (`content=vztmpl`) on a node's storages
/// the caller may see.
pub async fn images(
    ops: &Ops,
    caller: &Caller,
    node: &str,
    content: &'static str,
) -> AppResult<Value> {
    let node = Node::parse("node", node)?;
    read(
        ops,
        caller,
        AuditAction::ViewStorage,
        &format!("node:{node}"),
    )
    .await?;
    let v = view(ops).await?;
    if !v
        .resources
        .iter()
        .any(|r| r.kind == ResourceKind::Node && r.node.as_deref() == Some(node.as_str()))
    {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("No node {node}"),
        ));
    }
    let storages: Vec<NodeStorage> = ops
        .pve
        .get_with(
            ApiPath::node_storages(&node),
            &[("content", content.to_owned())],
        )
        .await?;
    let mut out = Vec::new();
    for s in storages
        .into_iter()
        .filter(|s| s.content.split(',').any(|c| c == content))
        .filter(|s| storage_visible(&v, caller, &s.storage))
    {
        let Ok(sid) = Storage::parse("storage", &s.storage) else {
            continue;
        };
        let items: Result<Value, _> = ops
            .pve
            .get_with(
                ApiPath::storage_content(&node, &sid),
                &[("content", content.to_owned())],
            )
            .await;
        match items {
            Ok(items) => out.push(json!({ "storage": s.storage, "items": items })),
            Err(e) => out.push(
                json!({ "storage": s.storage, "items": [], "error": AppError::from(e).message }),
            ),
        }
    }
    ops.audit.record(
        &caller.actor,
        if content == "iso" {
            AuditAction::ListIsos
        } else {
            AuditAction::ListCtTemplates
        },
        &format!("node:{node}"),
        Status::Success,
        json!({ "storages": out.len() }),
    );
    Ok(json!({ "data": out }))
}
