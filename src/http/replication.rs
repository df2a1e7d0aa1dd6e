//! Replication routes (`/api/proxmox/cluster/replication`): thin wrappers over
//! [`crate::services::replication`].

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, Params};
use crate::services::replication::{self, ReplicationCreate};
use crate::services::Ops;
use crate::state::AppState;

/// Replication routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/cluster/replication", get(list).post(create))
        .route("/api/proxmox/cluster/replication/{id}", delete(remove))
}

/// `?vmid=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    vmid: Option<String>,
}

async fn list(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        replication::list(&ops, &caller, q.vmid.as_deref()).await?,
    ))
}

async fn create(
    State(ops): State<Ops>,
    caller: Caller,
    Body(input): Body<ReplicationCreate>,
) -> AppResult<Json<Value>> {
    Ok(Json(replication::create(&ops, &caller, input).await?))
}

async fn remove(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(replication::delete(&ops, &caller, &id).await?))
}
