//! Pool routes, pool and cluster ACLs, and quotas: thin wrappers over [`crate::services::pools`].

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, RecentFactor};
use crate::services::pools::{self, AclEdit, PoolCreate, PoolGrant};
use crate::services::Ops;
use crate::state::AppState;

/// Pool routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/pools", get(list).post(create))
        .route("/api/proxmox/pools/acl", post(grant).delete(revoke))
        .route("/api/proxmox/pools/{pool}", get(detail).delete(delete))
        .route("/api/proxmox/pools/{pool}/acl", get(acl))
        .route(
            "/api/proxmox/pools/{pool}/limits",
            get(get_limits)
                .put(set_limits)
                .post(set_limits)
                .delete(clear_limits),
        )
        .route("/api/proxmox/access/acl", get(cluster_acl).put(edit_acl))
}

async fn list(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(pools::list(&ops, &caller).await?))
}

async fn create(
    State(ops): State<Ops>,
    caller: Caller,
    Body(input): Body<PoolCreate>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::create(&ops, &caller, input).await?))
}

async fn detail(
    State(ops): State<Ops>,
    caller: Caller,
    Path(pool): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::detail(&ops, &caller, &pool).await?))
}

async fn delete(
    State(ops): State<Ops>,
    caller: Caller,
    _: RecentFactor,
    Path(pool): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::delete(&ops, &caller, &pool).await?))
}

async fn acl(
    State(ops): State<Ops>,
    caller: Caller,
    Path(pool): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::acl(&ops, &caller, &pool).await?))
}

async fn grant(
    State(ops): State<Ops>,
    caller: Caller,
    _: RecentFactor,
    Body(g): Body<PoolGrant>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::change_acl(&ops, &caller, g, false).await?))
}

async fn revoke(
    State(ops): State<Ops>,
    caller: Caller,
    Body(g): Body<PoolGrant>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::change_acl(&ops, &caller, g, true).await?))
}

async fn get_limits(
    State(ops): State<Ops>,
    caller: Caller,
    Path(pool): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::get_limits(&ops, &caller, &pool).await?))
}

async fn set_limits(
    State(ops): State<Ops>,
    caller: Caller,
    Path(pool): Path<String>,
    Body(body): Body<Value>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::set_limits(&ops, &caller, &pool, &body).await?))
}

async fn clear_limits(
    State(ops): State<Ops>,
    caller: Caller,
    Path(pool): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::clear_limits(&ops, &caller, &pool).await?))
}

async fn cluster_acl(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(pools::cluster_acl(&ops, &caller).await?))
}

async fn edit_acl(
    State(ops): State<Ops>,
    caller: Caller,
    _: RecentFactor,
    Body(e): Body<AclEdit>,
) -> AppResult<Json<Value>> {
    Ok(Json(pools::edit_cluster_acl(&ops, &caller, e).await?))
}
