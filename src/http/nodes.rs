//! Node and storage reads: nodes with their load, a node's status, charts and tasks, a node's
//! ISO images and container templates, storages and their content (all in `services::nodes`).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::Params;
use crate::services::nodes;
use crate::services::Ops;
use crate::state::AppState;

/// Node and storage routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/nodes", get(list))
        .route("/api/proxmox/nodes/{node}/status", get(status))
        .route("/api/proxmox/nodes/{node}/rrd", get(rrd))
        .route("/api/proxmox/nodes/{node}/storage/isos", get(isos))
        .route(
            "/api/proxmox/nodes/{node}/storage/ct-templates",
            get(ct_templates),
        )
        .route("/api/proxmox/nodes/{node}/tasks", get(tasks))
        .route("/api/proxmox/storage", get(storage))
        .route(
            "/api/proxmox/storage/{storage}/content",
            get(storage_content),
        )
}

async fn list(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(nodes::nodes(&ops, &caller).await?))
}

async fn status(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(nodes::node_status(&ops, &caller, &node).await?))
}

/// `?timeframe=&cf=`.
#[derive(Debug, Deserialize)]
pub struct RrdQuery {
    timeframe: Option<String>,
    cf: Option<String>,
}

async fn rrd(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Params(q): Params<RrdQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        nodes::node_rrd(
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
    Ok(Json(nodes::images(&ops, &caller, &node, "iso").await?))
}

async fn ct_templates(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(nodes::images(&ops, &caller, &node, "vztmpl").await?))
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
        nodes::storages(&ops, &caller, q.node.as_deref()).await?,
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
        nodes::storage_content(
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

async fn tasks(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Params(q): Params<NodeTasksQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        nodes::node_tasks(&ops, &caller, &node, q.vmid, q.limit).await?,
    ))
}
