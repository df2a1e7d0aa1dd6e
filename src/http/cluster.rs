//! Cluster-wide reads: `GET /api/proxmox/resources`, filtered by the ACL engine so a user only
//! ever receives the pools, guests and storages they may see.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::acl::{Naming, Principal};
use crate::audit::AuditAction;
use crate::audit::{Actor, Status};
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
        .route("/api/proxmox/nodes", get(nodes))
        .route("/api/proxmox/nodes/{node}/status", get(node_status))
        .route("/api/proxmox/nodes/{node}/rrd", get(node_rrd))
        .route("/api/proxmox/nodes/{node}/storage/isos", get(isos))
        .route(
            "/api/proxmox/nodes/{node}/storage/ct-templates",
            get(ct_templates),
        )
        .route("/api/proxmox/storage", get(storage))
        .route(
            "/api/proxmox/storage/{storage}/content",
            get(storage_content),
        )
        .route("/api/proxmox/nodes/{node}/tasks", get(node_tasks))
        .route("/api/proxmox/next-id", get(next_id))
        .route("/api/proxmox/templates", get(templates))
        .route("/api/proxmox/tasks/status", get(task_status))
}

async fn nodes(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(cluster::nodes(&ops, &caller).await?))
}

async fn node_status(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(cluster::node_status(&ops, &caller, &node).await?))
}

/// `?timeframe=&cf=`.
#[derive(Debug, Deserialize)]
pub struct RrdQuery {
    timeframe: Option<String>,
    cf: Option<String>,
}

async fn node_rrd(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Params(q): Params<RrdQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cluster::node_rrd(
            &ops,
            &caller,
            &node,
            q.timeframe.as_deref(),
            q.cf.as_deref(),
        )
        .await?,
    ))
}

async fn isos(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(cluster::images(&ops, &caller, &node, "iso").await?))
}

async fn ct_templates(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(cluster::images(&ops, &caller, &node, "vztmpl").await?))
}

/// `?node=`.
#[derive(Debug, Deserialize)]
pub struct NodeQuery {
    node: Option<String>,
}

async fn storage(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<NodeQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cluster::storages(&ops, &caller, q.node.as_deref()).await?,
    ))
}

/// `?node=&content=`.
#[derive(Debug, Deserialize)]
pub struct ContentQuery {
    node: Option<String>,
    content: Option<String>,
}

async fn storage_content(
    State(ops): State<Ops>,
    caller: Caller,
    Path(storage): Path<String>,
    Params(q): Params<ContentQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cluster::storage_content(
            &ops,
            &caller,
            &storage,
            q.node.as_deref(),
            q.content.as_deref(),
        )
        .await?,
    ))
}

/// `?vmid=&limit=`.
#[derive(Debug, Deserialize)]
pub struct NodeTasksQuery {
    vmid: Option<u32>,
    limit: Option<u32>,
}

async fn node_tasks(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Params(q): Params<NodeTasksQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        cluster::node_tasks(&ops, &caller, &node, q.vmid, q.limit).await?,
    ))
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
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<TaskQuery>,
) -> AppResult<Json<Value>> {
    let upid = q.upid.ok_or_else(|| AppError::field("upid", "required"))?;
    let logs = matches!(q.logs.as_deref(), Some("true" | "1"));
    Ok(Json(
        cluster::task_status(&state.ops(), &caller, &upid, q.node.as_deref(), logs).await?,
    ))
}

/// The engine's view of a session.
pub fn principal(s: &CurrentSession) -> Principal {
    Principal {
        username: s.record.username.clone(),
        groups: s.groups.clone(),
        is_admin: s.record.is_admin,
    }
}

/// Name rules from the configuration.
pub fn naming(state: &AppState) -> Naming {
    Naming {
        realm: state.config.proxmox.user_realm.clone(),
    }
}

/// The audit actor of a request.
pub fn actor(s: &CurrentSession, client: &ClientInfo) -> Actor {
    Actor {
        username: s.record.username.clone(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}

/// `?type=` of the resource list.
#[derive(Debug, Deserialize)]
pub struct ResourcesQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn resources(
    State(state): State<AppState>,
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
    let view = crate::services::view(&state.ops()).await?;
    let p = principal(&session);
    let items: Vec<Resource> = view
        .resources
        .iter()
        .filter(|r| kinds.is_empty() || kinds.contains(&r.kind))
        .cloned()
        .collect();
    let items = crate::acl::visible::visible(
        &view.engine,
        &p,
        &state.config.tenancy.public_storages,
        items,
    );
    state.audit.record(
        &actor(&session, &client),
        AuditAction::ViewResources,
        "cluster:resources",
        Status::Success,
        json!({ "type": q.kind, "count": items.len() }),
    );
    Ok(Json(json!({ "data": items })))
}
