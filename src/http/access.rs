//! Proxmox roles and users for administrators and pool managers: thin wrappers over
//! [`crate::services::access`].

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::services::access;
use crate::services::Ops;
use crate::state::AppState;

/// Access routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/access/roles", get(roles))
        .route("/api/proxmox/access/users", get(users))
}

async fn roles(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(access::roles(&ops, &caller).await?))
}

async fn users(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(access::users(&ops, &caller).await?))
}
