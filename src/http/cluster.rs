//! Cluster-wide reads: `GET /api/proxmox/resources`, filtered by the ACL engine so a user only
//! ever receives the pools, guests and storages they may see; the next free id, cloneable
//! templates and task status.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::Params;
use crate::pve::models::{Resource, ResourceKind};
use crate::services::cluster;
use crate::services::Ops;
use crate::state::AppState;

/// Cluster routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/resources", get(resources))
        .route("/api/proxmox/next-id", get(next_id))
        .route("/api/proxmox/templates", get(templates))
        .route("/api/proxmox/tasks/status", get(task_status))
}

async fn next_id(State(ops): State<Ops>, _caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(cluster::next_id(&ops).await?))
}

async fn templates(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(cluster::templates(&ops, &caller).await?))
}

/// `?upid=&node=&logs=`.
#[derive(Debug, Deserialize)]
pub struct TaskQuery {
    upid: Option<String>,
    node: Option<String>,
    #[serde(default)]
    logs: Option<String>,
}

async fn task_status(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<TaskQuery>,
) -> AppResult<Json<Value>> {
    let upid = q.upid.ok_or_else(|| AppError::field("upid", "required"))?;
    let logs = matches!(q.logs.as_deref(), Some("true" | "1"));
    Ok(Json(
        cluster::task_status(&ops, &caller, &upid, q.node.as_deref(), logs).await?,
    ))
}

/// `?type=` of the resource list.
#[derive(Debug, Deserialize)]
pub struct ResourcesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn resources(
    State(ops): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Query(q): Query<ResourcesQuery>,
) -> AppResult<Json<Value>> {
    let kinds: &[ResourceKind] = match q.kind.as_deref() {
        None | Some("") => &[],
        Some("vm") => &[ResourceKind::Qemu, ResourceKind::Lxc],
        Some("storage") => &[ResourceKind::Storage],
        Some("node") => &[ResourceKind::Node],
        Some("pool") => &[ResourceKind::Pool],
        Some("sdn") => &[ResourceKind::Sdn],
        Some(other) => {
            return Err(AppError::with_message(
                ErrorCode::InvalidInput,
                format!("Unknown resource type '{other}': use vm, storage, node, pool or sdn"),
            ));
        }
    };
    let view = crate::services::view(&ops).await?;
    let p = crate::auth::Caller::new(&session, None, None).principal;
    let items: Vec<Resource> = view
        .resources
        .iter()
        .filter(|r| kinds.is_empty() || kinds.contains(&r.kind))
        .cloned()
        .collect();
    let items =
        crate::acl::visible::visible(&view.engine, &p, &ops.config.tenancy.public_storages, items);
    ops.audit.record(
        &crate::auth::caller::actor(&session, &client),
        AuditAction::ViewResources,
        "cluster:resources",
        Status::Success,
        json!({ "type": q.kind, "count": items.len() }),
    );
    Ok(Json(json!({ "data": items })))
}
