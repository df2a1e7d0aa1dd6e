//! SDN routes: zones, VNets, the next free tag, applying pending changes and the network task
//! status. Thin wrappers over [`crate::services::sdn`].

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::{Body, Params, RecentFactor};
use crate::services::sdn::{self, VnetCreate, ZoneCreate};
use crate::services::Ops;
use crate::state::AppState;

/// SDN routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/sdn/zones", get(zones).post(create_zone))
        .route(
            "/api/proxmox/sdn/vnets",
            get(vnets).post(create_vnet).delete(delete_vnet),
        )
        .route("/api/proxmox/sdn/vnets/next-tag", get(next_tag))
        .route("/api/proxmox/sdn/apply-queue", get(apply_queue).post(apply))
        .route("/api/proxmox/sdn/status", get(status))
}

async fn zones(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(sdn::zones(&ops, &caller).await?))
}

async fn create_zone(
    State(ops): State<Ops>,
    caller: Caller,
    Body(input): Body<ZoneCreate>,
) -> AppResult<Json<Value>> {
    Ok(Json(sdn::create_zone(&ops, &caller, input).await?))
}

/// `?includeAll=true`.
#[derive(Debug, Deserialize)]
pub struct VnetsQuery {
    #[serde(default, rename = "includeAll")]
    include_all: Option<String>,
}

async fn vnets(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<VnetsQuery>,
) -> AppResult<Json<Value>> {
    let all = matches!(q.include_all.as_deref(), Some("true" | "1"));
    Ok(Json(sdn::vnets(&ops, &caller, all).await?))
}

async fn create_vnet(
    State(ops): State<Ops>,
    caller: Caller,
    Body(input): Body<VnetCreate>,
) -> AppResult<Json<Value>> {
    Ok(Json(sdn::create_vnet(&ops, &caller, input).await?))
}

/// `?vnet=` or the original's JSON body `{vnet}`.
#[derive(Debug, Default, Deserialize)]
pub struct VnetName {
    #[serde(default)]
    vnet: Option<String>,
}

async fn delete_vnet(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<VnetName>,
    body: Bytes,
) -> AppResult<Json<Value>> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        VnetName::default()
    } else {
        serde_json::from_slice::<VnetName>(&body).map_err(|e| {
            AppError::with_message(ErrorCode::InvalidInput, format!("Invalid JSON body: {e}"))
        })?
    };
    let vnet = q
        .vnet
        .or(from_body.vnet)
        .ok_or_else(|| AppError::field("vnet", "required"))?;
    Ok(Json(sdn::delete_vnet(&ops, &caller, &vnet).await?))
}

/// `?zone=`.
#[derive(Debug, Deserialize)]
pub struct ZoneQuery {
    #[serde(default)]
    zone: Option<String>,
}

async fn next_tag(
    State(ops): State<Ops>,
    caller: Caller,
    Params(q): Params<ZoneQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(sdn::next_tag(&ops, &caller, q.zone.as_deref()).await?))
}

async fn apply_queue(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(sdn::apply_queue(&ops, &caller).await?))
}

async fn apply(State(ops): State<Ops>, caller: Caller, _: RecentFactor) -> AppResult<Json<Value>> {
    Ok(Json(sdn::apply(&ops, &caller).await?))
}

async fn status(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(sdn::status(&ops, &caller).await?))
}
