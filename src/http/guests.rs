//! Guest routes (QEMU and LXC alike; the type and node come from the cluster, so clients only
//! name the guest). Each route is a thin wrapper over [`crate::services::guests`], which the Socket.IO
//! events call too.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::http::input::{Body, Params, RecentFactor};
use crate::pve::path::Vmid;
use crate::services::guests::{
    self, CloneInput, ConfigChange, CreateCt, CreateVm, FirewallRule, Started,
};
use crate::services::Ops;
use crate::state::AppState;

/// Guest routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/vm/{vmid}", axum::routing::delete(destroy))
        .route("/api/proxmox/vm/{vmid}/status", get(status))
        .route("/api/proxmox/vm/{vmid}/power", post(power))
        .route(
            "/api/proxmox/vm/{vmid}/config",
            get(config).put(update_config),
        )
        .route("/api/proxmox/vm/{vmid}/resize", put(resize))
        .route("/api/proxmox/vm/{vmid}/rrddata", get(rrd))
        .route(
            "/api/proxmox/vm/{vmid}/snapshots",
            get(snapshots).post(snapshot_create).delete(snapshot_delete),
        )
        .route("/api/proxmox/vm/{vmid}/snapshots/rollback", post(rollback))
        .route("/api/proxmox/vm/{vmid}/template", post(template))
        .route(
            "/api/proxmox/vm/{vmid}/firewall/rules",
            get(firewall).post(firewall_add).delete(firewall_delete),
        )
        .route("/api/proxmox/vm/{vmid}/tasks", get(tasks))
        .route("/api/proxmox/vm/{vmid}/backups", get(backups).post(backup))
        .route("/api/proxmox/vm/{vmid}/restore", post(restore))
        .route("/api/proxmox/nodes/{node}/vzdump", post(vzdump))
        .route("/api/proxmox/nodes/{node}/qemu", post(create_vm))
        .route("/api/proxmox/nodes/{node}/lxc", post(create_ct))
        .route("/api/proxmox/clone", post(clone))
}

fn vmid(raw: &str) -> AppResult<Vmid> {
    Vmid::parse("vmid", raw)
}

async fn status(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(guests::status(&ops, &caller, vmid(&id)?).await?))
}

/// Body of a power request.
#[derive(Debug, Deserialize)]
pub struct PowerInput {
    action: String,
}

async fn power(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<PowerInput>,
) -> AppResult<Json<Started>> {
    let vmid = vmid(&id)?;
    let action = guests::action(&ops, &caller, vmid, &input.action)?;
    Ok(Json(guests::power(&ops, &caller, vmid, action).await?))
}

async fn config(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(guests::config(&ops, &caller, vmid(&id)?).await?))
}

/// Accepts `{set: {...}, delete: [...], override}` or the original's flat `{node, key: value}`.
async fn update_config(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> AppResult<Json<Value>> {
    let change = if body.contains_key("set") || body.contains_key("delete") {
        serde_json::from_value::<ConfigChange>(Value::Object(body))
            .map_err(|e| AppError::field("set", e))?
    } else {
        let override_quota = body
            .get("override")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let set = body
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "node" | "type" | "override"))
            .collect();
        ConfigChange {
            set,
            delete: Vec::new(),
            override_quota,
        }
    };
    Ok(Json(
        guests::update_config(&ops, &caller, vmid(&id)?, change).await?,
    ))
}

/// Body of a resize.
#[derive(Debug, Deserialize)]
pub struct ResizeInput {
    disk: String,
    size: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

async fn resize(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<ResizeInput>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::resize(
            &ops,
            &caller,
            vmid(&id)?,
            &input.disk,
            &input.size,
            input.override_quota,
        )
        .await?,
    ))
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
    Path(id): Path<String>,
    Params(q): Params<RrdQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        guests::rrd(
            &ops,
            &caller,
            vmid(&id)?,
            q.timeframe.as_deref(),
            q.cf.as_deref(),
        )
        .await?,
    ))
}

async fn snapshots(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(guests::snapshots(&ops, &caller, vmid(&id)?).await?))
}

/// Body of a new snapshot.
#[derive(Debug, Deserialize)]
pub struct SnapshotInput {
    snapname: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vmstate: bool,
}

async fn snapshot_create(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<SnapshotInput>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::snapshot_create(
            &ops,
            &caller,
            vmid(&id)?,
            &input.snapname,
            input.description.as_deref(),
            input.vmstate,
        )
        .await?,
    ))
}

/// `?snapname=`.
#[derive(Debug, Deserialize)]
pub struct SnapQuery {
    snapname: String,
}

async fn snapshot_delete(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<SnapQuery>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::snapshot_delete(&ops, &caller, vmid(&id)?, &q.snapname).await?,
    ))
}

async fn rollback(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(q): Body<SnapQuery>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::snapshot_rollback(&ops, &caller, vmid(&id)?, &q.snapname).await?,
    ))
}

async fn template(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::make_template(&ops, &caller, vmid(&id)?).await?,
    ))
}

async fn firewall(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        guests::firewall_rules(&ops, &caller, vmid(&id)?).await?,
    ))
}

async fn firewall_add(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(rule): Body<FirewallRule>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        guests::firewall_add(&ops, &caller, vmid(&id)?, &rule).await?,
    ))
}

/// `?pos=`.
#[derive(Debug, Deserialize)]
pub struct PosQuery {
    pos: u32,
}

async fn firewall_delete(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<PosQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        guests::firewall_delete(&ops, &caller, vmid(&id)?, q.pos).await?,
    ))
}

async fn destroy(
    State(ops): State<Ops>,
    caller: Caller,
    _: RecentFactor,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let s = guests::delete(&ops, &caller, vmid(&id)?).await?;
    // The original answered `{success, task}`; `upid` is the name used everywhere else.
    Ok(Json(serde_json::json!({
        "success": true, "task": s.upid, "upid": s.upid, "vmid": s.vmid
    })))
}

/// `?limit=`.
#[derive(Debug, Deserialize)]
pub struct LimitQuery {
    limit: Option<u32>,
}

async fn tasks(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<LimitQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        guests::tasks(&ops, &caller, vmid(&id)?, q.limit).await?,
    ))
}

async fn backups(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(guests::backups(&ops, &caller, vmid(&id)?).await?))
}

/// Body of a backup.
#[derive(Debug, Deserialize)]
pub struct BackupInput {
    #[serde(default)]
    vmid: Option<u64>,
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    compress: Option<String>,
}

async fn backup(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<BackupInput>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::backup(
            &ops,
            &caller,
            vmid(&id)?,
            input.storage.as_deref(),
            input.mode.as_deref(),
            input.compress.as_deref(),
        )
        .await?,
    ))
}

/// The original's `POST /api/proxmox/nodes/{node}/vzdump {vmid, …}`: the node must be the
/// guest's.
async fn vzdump(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Body(input): Body<BackupInput>,
) -> AppResult<Json<Value>> {
    let id = input
        .vmid
        .ok_or_else(|| AppError::field("vmid", "required"))?;
    let id = Vmid::check("vmid", id)?;
    crate::pve::path::Node::parse("node", &node)?;
    let s = guests::backup(
        &ops,
        &caller,
        id,
        input.storage.as_deref(),
        input.mode.as_deref(),
        input.compress.as_deref(),
    )
    .await?;
    Ok(Json(serde_json::json!({ "upid": s.upid, "success": true })))
}

/// Body of a restore.
#[derive(Debug, Deserialize)]
pub struct RestoreInput {
    archive: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

async fn restore(
    State(ops): State<Ops>,
    caller: Caller,
    _: RecentFactor,
    Path(id): Path<String>,
    Body(input): Body<RestoreInput>,
) -> AppResult<Json<Started>> {
    Ok(Json(
        guests::restore(
            &ops,
            &caller,
            vmid(&id)?,
            &input.archive,
            input.override_quota,
        )
        .await?,
    ))
}

async fn create_vm(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Body(input): Body<CreateVm>,
) -> AppResult<Json<Value>> {
    let s = guests::create_vm(&ops, &caller, &node, input).await?;
    // The original answered `{data: UPID}`.
    Ok(Json(serde_json::json!({
        "success": true, "data": s.upid, "upid": s.upid, "vmid": s.vmid
    })))
}

async fn create_ct(
    State(ops): State<Ops>,
    caller: Caller,
    Path(node): Path<String>,
    Body(input): Body<CreateCt>,
) -> AppResult<Json<Value>> {
    let s = guests::create_ct(&ops, &caller, &node, input).await?;
    Ok(Json(serde_json::json!({
        "success": true, "data": s.upid, "upid": s.upid, "vmid": s.vmid
    })))
}

async fn clone(
    State(ops): State<Ops>,
    caller: Caller,
    Body(input): Body<CloneInput>,
) -> AppResult<Json<Started>> {
    Ok(Json(guests::clone(&ops, &caller, input).await?))
}
